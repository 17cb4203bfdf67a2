"""Fine-tuning: LoRA and QLoRA adapters on a frozen base, beside full fine-tuning.

``finetune`` (table ``finetune``, ``presets/training/finetune.json``) says whether the
base model is trained (``full``) or frozen with LoRA adapters (``lora``), and whether the
frozen base's linear layers are stored in QLoRA's 4-bit NormalFloat with double
quantisation (``qlora``: 0.51587 bytes per parameter).  ``lora_targets`` (table) picks the
projections that get adapters and ``lora_rank`` their rank r.

A LoRA adapter on a linear layer W (m inputs, n outputs) is A (r × m) and B (n × r):
r·(m + n) trainable parameters (Hu et al. 2021 §4.1).  Per decoder layer and tensor-
parallel rank:

* attention q h→a·d, k and v h→k·d, o a·d→h; MLA: the query down/up projections
  (h→r_q→a·d_qk, or h→a·d_qk), the joint KV down/up projections (h→r_kv + d_rope,
  r_kv→a·(d_nope + d_v)) under ``v`` and the output a·d_v→h;
* MLP (``all-linear``): gate, up and down of the dense MLP ((2 + gated)·(h + f)) and of
  the shared experts; transformers' fused routed experts are not ``nn.Linear`` modules
  and get none.

The adapters get weights (recipe's weight bytes), master weights, gradients and
optimizer states like any trained parameter (:mod:`xlcalc.formulas.training_memory`);
the frozen base only its weights.  Activations are counted as for full training: the
frozen projections' inputs are still kept for the adapters and the other operations
(the r-wide adapter intermediates, e·t·r per adapter, are left out: < 1 % at r ≤ 64).
"""

from __future__ import annotations

from ..expr import where
from ..glossary import Term, register_terms
from ..graph import formula, lookup_node, register_table
from .training_memory import load_training_table

P = "parameters"

register_table("finetune_methods", lambda: load_training_table("finetune.json", "finetune"),
               "finetune", "full fine-tuning, LoRA, QLoRA (presets/training/finetune.json)")
register_table("lora_target_sets", lambda: load_training_table("lora_targets.json",
                                                               "lora_targets"),
               "lora_targets", "projections that get LoRA adapters "
               "(presets/training/lora_targets.json)")

register_terms(
    Term("finetune", "what is trained: full (every parameter), lora (adapters on a frozen "
         "base) or qlora (adapters on a 4-bit NF4 base)", "", "choice",
         table="finetune_methods", default="full"),
    Term("lora_rank", "rank r of the LoRA adapters", "", "int", 1, default=16,
         sample=(8, 16, 64), maximum=65536),
    Term("lora_targets", "projections with LoRA adapters: qv, attention or all-linear", "",
         "choice", table="lora_target_sets", default="all-linear"),
)

_F = "finetune table"
lookup_node("finetune_base_trainable", "finetune_methods", "finetune", "base_trainable",
            source=_F, doc="1 when the base model's parameters are trained")
lookup_node("finetune_adapters", "finetune_methods", "finetune", "adapters", source=_F,
            doc="1 when LoRA adapters are added")
lookup_node("finetune_base_quantized", "finetune_methods", "finetune", "base_quantized",
            source=_F, doc="1 when the frozen base's linear layers are 4-bit (QLoRA)")
lookup_node("finetune_quant_bytes", "finetune_methods", "finetune", "quant_bytes", unit="bytes",
            source=_F, doc="bytes per parameter of the quantised base (NF4 + double quant.)")
for _column in ("w_q", "w_k", "w_v", "w_o", "w_mlp"):
    lookup_node(f"lora_{_column}", "lora_target_sets", "lora_targets", _column,
                source="lora_targets table", doc=f"1 when {_column[2:]} projections get adapters")


@formula("", "bitsandbytes quantises the linear layers; embeddings, norms, LM head stay")
def train_linear_fraction(params_attention, params_mlp, params_total):
    """Share of the parameters in linear layers (attention and MLP projections): what
    QLoRA stores in 4 bits."""
    return (params_attention + params_mlp) / params_total


@formula("elements", "LoRA (Hu et al. 2021 §4.1): r(m + n) per adapted m×n projection")
def lora_width_per_layer(hidden_size, num_heads, num_kv_heads, head_dim, intermediate_size,
                         mlp_gated, num_layers, num_dense_layers,
                         shared_expert_intermediate_size, q_lora_rank, kv_lora_rank,
                         qk_rope_head_dim, qk_nope_head_dim, v_head_dim, lora_w_q, lora_w_k,
                         lora_w_v, lora_w_o, lora_w_mlp):
    """Σ(m + n) over the adapted projections of one layer (averaged over dense and MoE
    layers): multiply by r for the adapter parameters."""
    h, a = hidden_size, num_heads
    q = where(q_lora_rank > 0, h + 2 * q_lora_rank + a * head_dim, h + a * head_dim)
    kv_mla = h + 2 * kv_lora_rank + qk_rope_head_dim + a * (qk_nope_head_dim + v_head_dim)
    mla = lora_w_q * q + lora_w_v * kv_mla + lora_w_o * (a * v_head_dim + h)
    kv = h + num_kv_heads * head_dim
    gqa = lora_w_q * (h + a * head_dim) + (lora_w_k + lora_w_v) * kv + \
        lora_w_o * (a * head_dim + h)
    dense = num_dense_layers * (2 + mlp_gated) * (h + intermediate_size)
    shared = (num_layers - num_dense_layers) * 3 * where(shared_expert_intermediate_size > 0,
                                                         h + shared_expert_intermediate_size, 0)
    return where(kv_lora_rank > 0, mla, gqa) + lora_w_mlp * (dense + shared) / num_layers


@formula(P, "LoRA adapters of the first stage's layers, split over tp")
def train_adapter_params_per_gpu(finetune_adapters, lora_rank, lora_width_per_layer,
                                 stage_layers, tp):
    """Trainable adapter parameters one GPU of the first stage holds before ZeRO sharding
    (0 for full fine-tuning)."""
    return finetune_adapters * lora_rank * lora_width_per_layer * stage_layers / tp
