"""Training activations per GPU: the bookkeeping every training stack shares (batch,
micro-batches, context parallelism, pipeline in-flight micro-batches, the stack and
attention-kernel tables) and the Megatron stack (Korthikanti et al. 2022, "Reducing
Activation Recomputation in Large Transformer Models", arXiv:2205.05198 §4; seed ``001_*``
§3.3).  The ``hf`` stack (transformers' modules, measured) is in
:mod:`xlcalc.formulas.activations_hf`; ``stack`` picks one per plan, ``attention`` the
kernel (``flash``, ``sdpa``, ``eager``).

Notation as in the paper: s = ``seq_len``, b = ``micro_batch`` (sequences one data-parallel
rank runs through the model at once), h = ``hidden_size``, a = ``num_heads``, L =
``num_layers``, t = ``tp``, p = ``pp``, v = ``vocab_size``.  Activations are 2-byte
(``precision_act_bytes`` = e; 4 for the fp32 recipe) and dropout masks 1 byte.

One layer stores, in bytes (the paper's §4.1 with its assumptions made explicit):

* replicated over tensor-parallel ranks (÷ t only with sequence parallelism): the inputs
  of the two norms, of the QKV projection and of the MLP's first projection (4e·sbh), and
  the attention and MLP dropout masks (2·sbh when ``dropout`` = 1);
* split over t: Q (e·sb·a·d), K and V (**GQA adjustment**: 2e·sb·d per KV head, with
  ceil(k/t) KV heads on each rank, i.e. stored at their own width as FlashAttention and
  Transformer Engine keep them), the attention output (e·sb·a·d) and the MLP's inner
  activations, e·sb·f·2 for a plain MLP (activation input and second projection input)
  and e·sb·f·3 for a **gated MLP** (the gate‖up tensor 2f wide, which the SwiGLU backward
  keeps, and the down-projection input); f averages dense and routed-expert widths
  (top-k experts plus shared experts) over the layers of an MoE model;
* attention scores: softmax output (e·as²b), plus with dropout its mask (as²b) and the
  dropped-out copy (e·as²b): 5as²b for e = 2 with dropout as in the paper, ÷ t.
  **FlashAttention** stores no s² tensor, only the softmax log-sum-exp (4 bytes per head
  and token, 4·asb/t), and regenerates its dropout mask.

With a = h/d, k = a, f = 4h, e = 2, dropout and no FlashAttention this is exactly the
paper's Table 2: sbh(10 + 24/t + 5as/(ht)) with tensor parallelism, sbh(34/t + 5as/(ht))
with sequence parallelism, and sbh(34 + 5as/h) with neither.  Selective recomputation
drops the score terms; full recomputation keeps only each layer's input, 2sbh (÷ t with
sequence parallelism).

The first pipeline stage (the busiest) holds ceil(L/p) layers for min(p, micro-batches)
micro-batches in flight under 1F1B, times 1 + (p − 1)/(p·vp) with the interleaved
schedule (vp model chunks per GPU); plus the embedding dropout mask (sbh per micro-batch
in flight) and, with no pipeline, the final norm and output-layer inputs and the fp32
logits, 4sbh(1 + v/h)/t in the paper's §4.3 (with sequence parallelism).

MLA (DeepSeek): Q and K at the q/k head width, V and the attention output at
``v_head_dim``, plus the two latents (each the input of its norm and of its up-projection,
2e·sb·(r_q + r_kv)).  MoE: each GPU runs its tokens' top-k experts (balanced routing:
expert parallelism moves the tokens, not the total).  Context parallelism (``cp``) gives
each GPU s/cp tokens of every sequence: every term is ÷ cp (the s×s scores become
(s/cp)×s).  Attention kernels: ``flash`` and ``sdpa`` (Transformer Engine's fused
attention) store no s×s tensor; ``eager`` stores the scores.

The global ``batch`` splits over ``dp`` replicas; each replica runs ``micro_batch``
sequences at a time and accumulates gradients over ``batch / (dp · micro_batch)`` steps.
``micro_batch`` defaults to the whole per-replica batch (no gradient accumulation), as in
the seeds' examples.
"""

from __future__ import annotations

from ..expr import eq, minimum, where
from ..glossary import Term, register_terms
from ..graph import formula, lookup_node, register_table
from .training_memory import load_training_table

B = "bytes"

register_table("recompute_modes", lambda: load_training_table("recompute.json", "recompute"),
               "recompute", "activation recomputation modes (presets/training/recompute.json)")
register_table("activation_rules",
               lambda: load_training_table("activation_rules.json", "activation_rule"),
               "activation_rule", "which activation estimate the training total uses "
               "(presets/training/activation_rules.json)")
register_table("training_stacks", lambda: load_training_table("stacks.json", "stack"),
               "stack", "training stacks whose activations are counted "
               "(presets/training/stacks.json)")
register_table("attention_kernels",
               lambda: load_training_table("attention_kernels.json", "attention"),
               "attention", "attention kernels (presets/training/attention_kernels.json)")


def _flag(name, description, default):
    return Term(name, description, "", "flag", 0, default=default, group="workload")


register_terms(
    Term("recompute", "activation recomputation: none, selective (attention core) or full "
         "(each layer's input only)", "", "choice", table="recompute_modes", default="none"),
    Term("activation_rule", "activation estimate used in the training total: korthikanti "
         "(xlcalc's model) or a seed's rule of thumb", "", "choice", table="activation_rules",
         default="korthikanti"),
    # shared with the serving family (xlcalc.formulas.inference_memory): same term, same text
    Term("flash_attention", "1 when attention never writes the s×s score matrix to HBM "
         "(FlashAttention, vLLM's default), 0 for eager attention", "", "flag", 0,
         default=1, sample=(0, 1)),
    _flag("sequence_parallel", "1 with Megatron sequence parallelism (norm/dropout "
          "activations split over tp)", 0),
    _flag("dropout", "1 when the model trains with dropout (masks stored: GPT/Megatron); 0 "
          "for LLaMA-style training without dropout", 0),
    Term("vp", "model chunks per GPU of the interleaved 1F1B pipeline schedule (1 = plain "
         "1F1B)", "", "int", 1, default=1, sample=(1, 2), maximum=1024),
    Term("stack", "training implementation whose activations are counted: megatron "
         "(Megatron-LM / Transformer Engine, fused kernels) or hf (transformers' modules: "
         "Trainer, TRL, axolotl)", "", "choice", table="training_stacks", default="megatron"),
    Term("attention", "attention kernel: flash (FlashAttention / TE fused), sdpa (PyTorch "
         "scaled_dot_product_attention as transformers calls it) or eager", "", "choice",
         table="attention_kernels", default="flash"),
    Term("cp", "context-parallel degree: GPUs each sequence is split across (ring "
         "attention)", "GPUs", "int", 1, default=1, sample=(1, 2, 4), maximum=65536,
         relations=(("seq_len", lambda v, o: eq(o % v, 0),
                     "a divisor of {other}={other_value} (each GPU takes seq_len/cp "
                     "tokens)"),)),
)

_T = "recompute_modes table"
lookup_node("recompute_keep_layer", "recompute_modes", "recompute", "keep_layer", source=_T,
            doc="1 when a layer's activations are stored (no full recomputation)")
lookup_node("recompute_keep_scores", "recompute_modes", "recompute", "keep_scores", source=_T,
            doc="1 when the attention-core activations are stored")
lookup_node("recompute_keep_input", "recompute_modes", "recompute", "keep_input", source=_T,
            doc="1 when only each layer's input is stored (full recomputation)")
lookup_node("recompute_extra_forward", "recompute_modes", "recompute", "extra_forward",
            source=_T, doc="extra forward passes the recomputation runs (1 for full)")
lookup_node("stack_megatron", "training_stacks", "stack", "w_megatron", source="stacks table",
            doc="1 when the Megatron (Transformer Engine) stack's activations are counted")
lookup_node("stack_hf", "training_stacks", "stack", "w_hf", source="stacks table",
            doc="1 when transformers' (hf) activations are counted")
for _kernel in ("flash", "sdpa", "eager"):
    lookup_node(f"attention_is_{_kernel}", "attention_kernels", "attention", _kernel,
                source="attention_kernels table", doc=f"1 for the {_kernel} attention kernel")
for _column in ("w_model", "w_seed_000", "w_seed_000_recompute", "w_seed_001"):
    lookup_node(f"activation_rule_{_column}", "activation_rules", "activation_rule", _column,
                source="activation_rules table", doc=f"weight of {_column[2:]} in the total")


# ---------------------------------------------------------------- batch bookkeeping

@formula("sequences", "data parallelism splits the global batch over dp replicas")
def batch_per_replica(batch, dp):
    """Sequences each data-parallel replica processes per optimizer step."""
    return batch / dp


@formula("sequences", "default: the whole per-replica batch at once (no accumulation)",
         input_default=True)
def micro_batch(batch_per_replica):
    """Sequences per micro-batch when not given: the replica's whole share of the batch."""
    return batch_per_replica


@formula("micro-batches", "gradient accumulation: global = micro × dp × steps (seed 000 §4.3)")
def grad_accum_steps(batch_per_replica, micro_batch):
    """Micro-batches each replica accumulates per optimizer step."""
    return batch_per_replica / micro_batch


@formula("", "Korthikanti et al. 2022 §4.2.2: sequence parallelism splits the rest over t")
def train_sp_divisor(sequence_parallel, tp):
    """t with sequence parallelism, else 1: what divides the norm/dropout activations."""
    return where(sequence_parallel > 0, tp, 1)


# ------------------------------------------------------------------- one layer

@formula("tokens", "context parallelism splits every sequence over cp GPUs")
def act_tokens(micro_batch, seq_len, cp):
    """Tokens of one micro-batch that one GPU holds: b·s/cp."""
    return micro_batch * seq_len / cp


@formula("elements", "Megatron num_floating_point_operations: MLP widths averaged over layers")
def act_mlp_width(num_layers, num_dense_layers, intermediate_size, experts_per_token,
                  moe_intermediate_size, shared_expert_intermediate_size):
    """MLP inner width a token passes through, averaged over the layers: f for dense
    layers, top-k expert widths plus shared experts for MoE layers."""
    moe = experts_per_token * moe_intermediate_size + shared_expert_intermediate_size
    return (num_dense_layers * intermediate_size + (num_layers - num_dense_layers) * moe) / \
        num_layers


@formula("elements", "DeepSeek-V2 §2.1: values of v_head_dim; other models head_dim")
def attn_v_head_dim(head_dim, kv_lora_rank, v_head_dim):
    """Width of one value head (and of the attention output per head): v_head_dim for
    MLA, head_dim otherwise."""
    return where(kv_lora_rank > 0, v_head_dim, head_dim)


@formula(B, "Korthikanti et al. 2022 §4.1 (attention 11sbh, MLP 19sbh, norms 4sbh), "
         "generalised to GQA, MLA, gated MLPs, context parallelism and no dropout")
def act_layer_body_bytes(act_tokens, hidden_size, num_heads, head_dim, attn_v_head_dim,
                         kv_heads_per_gpu, act_mlp_width, mlp_gated, dropout,
                         precision_act_bytes, precision_gemm_input_bytes, tp, train_sp_divisor,
                         q_lora_rank, kv_lora_rank):
    """Activation bytes one layer of the Megatron stack stores for one micro-batch on one
    GPU, attention scores excepted, t = b·s/cp tokens: the two norm inputs and the QKV
    and MLP inputs (2e + 2g + 2·dropout)·th/sp; Q, K, V e·t(a·d/tp + k_gpu(d + d_v)); the
    output projection's input g·t·a·d_v/tp; the MLP's e·t·f(1 + gated)/tp and its second
    projection's input g·t·f/tp; MLA's latents 2e·t(r_q + r_kv)/sp.  g = e except for fp8
    recipes, which keep the projections' inputs quantised (Transformer Engine)."""
    e, g, t = precision_act_bytes, precision_gemm_input_bytes, act_tokens
    replicated = (2 * e + 2 * g + 2 * dropout) * hidden_size / train_sp_divisor
    qkv = e * (num_heads * head_dim / tp + kv_heads_per_gpu * (head_dim + attn_v_head_dim))
    proj = g * num_heads * attn_v_head_dim / tp
    mlp = act_mlp_width / tp * (e * (1 + mlp_gated) + g)
    latents = 2 * e * (q_lora_rank + kv_lora_rank) / train_sp_divisor
    return t * (replicated + qkv + proj + mlp + latents)


@formula(B, "Korthikanti et al. 2022 §4.1 (5as²b); FlashAttention keeps the log-sum-exp")
def act_layer_scores_bytes(act_tokens, seq_len, num_heads, attention_is_eager, dropout,
                           precision_act_bytes, tp):
    """Attention-core activations of one Megatron layer for one micro-batch on one GPU:
    (e + dropout·(e + 1))·a·s·t/tp (t = b·s/cp query rows against s keys), or the fp32
    log-sum-exp 4·a·t/tp with FlashAttention / fused attention (``flash`` and ``sdpa``)."""
    heads_t = num_heads / tp * act_tokens
    e = precision_act_bytes
    return heads_t * where(attention_is_eager > 0, (e + dropout * (e + 1)) * seq_len, 4)


@formula(B, "Korthikanti et al. 2022 §4.2.2 and Table 2 (full recomputation: 2sbh)")
def act_layer_input_bytes(act_tokens, hidden_size, precision_act_bytes, train_sp_divisor):
    """The layer input that full recomputation keeps: e·th (÷ t with sequence
    parallelism), t = b·s/cp tokens."""
    return precision_act_bytes * act_tokens * hidden_size / train_sp_divisor


@formula(B, "Korthikanti et al. 2022 Table 2, by recomputation mode")
def megatron_act_per_layer_bytes(recompute_keep_layer, recompute_keep_scores,
                                 recompute_keep_input, act_layer_body_bytes,
                                 act_layer_scores_bytes, act_layer_input_bytes):
    """Megatron-stack activation bytes per layer per micro-batch on one GPU under the
    recomputation mode: everything (none), everything but the attention core
    (selective), or the layer input only (full)."""
    stored = act_layer_body_bytes + recompute_keep_scores * act_layer_scores_bytes
    return recompute_keep_layer * stored + recompute_keep_input * act_layer_input_bytes


@formula(B, "stacks table: the chosen stack's count per layer")
def train_act_per_layer_bytes(stack_megatron, stack_hf, megatron_act_per_layer_bytes,
                              hf_act_per_layer_bytes):
    """Activation bytes per layer per micro-batch on one GPU for the training stack."""
    return stack_megatron * megatron_act_per_layer_bytes + stack_hf * hf_act_per_layer_bytes


# ------------------------------------------------------------- pipeline and totals

@formula("micro-batches", "Korthikanti et al. 2022 §4.2.3: 1F1B keeps p micro-batches in "
         "flight on the first stage; interleaving × (1 + (p−1)/(p·m))")
def train_act_inflight(pp, vp, grad_accum_steps):
    """Micro-batches whose activations the first pipeline stage holds at its peak:
    min(pp, micro-batches per step), times the interleaved schedule's factor."""
    interleave = where(vp > 1, 1 + (pp - 1) / (pp * vp), 1)
    return minimum(pp, grad_accum_steps) * interleave


@formula(B, "Korthikanti et al. 2022 §4.3: embedding dropout sbhp/t; hf: token ids, rotary "
         "tables, masks kept for checkpointing")
def train_act_embedding_bytes(act_tokens, hidden_size, dropout, train_sp_divisor,
                              train_act_inflight, stack_megatron, stack_hf,
                              hf_act_model_bytes):
    """First-stage activations outside the layers for the micro-batches in flight: the
    embedding-dropout masks (Megatron) or what transformers keeps before the first layer
    (:func:`hf_act_model_bytes`)."""
    megatron = dropout * act_tokens * hidden_size / train_sp_divisor
    return (stack_megatron * megatron + stack_hf * hf_act_model_bytes) * train_act_inflight


@formula(B, "Korthikanti et al. 2022 §4.3: 4sbh/t·(1 + v/h) when p = 1")
def train_act_output_bytes(act_tokens, hidden_size, vocab_size, precision_act_bytes,
                           train_sp_divisor, tp, pp, stack_megatron, stack_hf,
                           hf_act_output_bytes):
    """Megatron: final-norm and output-layer inputs (e·th each, ÷ t with sequence
    parallelism) and fp32 logits (4·tv/tp, vocab-parallel); hf:
    :func:`hf_act_output_bytes`.  On the first stage only when pp = 1."""
    megatron = 2 * precision_act_bytes * act_tokens * hidden_size / train_sp_divisor + \
        4 * act_tokens * vocab_size / tp
    return where(pp > 1, 0, stack_megatron * megatron + stack_hf * hf_act_output_bytes)


@formula(B, "Korthikanti et al. 2022 §4 (first pipeline stage)")
def train_act_model_bytes(train_act_per_layer_bytes, stage_layers,
                          train_act_inflight, train_act_embedding_bytes, train_act_output_bytes):
    """Activation bytes on the busiest GPU: its layers for every micro-batch in flight,
    the embedding and (no pipeline) the output terms."""
    return train_act_per_layer_bytes * stage_layers * train_act_inflight + \
        train_act_embedding_bytes + train_act_output_bytes


# ------------------------------------------------------- the papers' and seeds' forms

@formula(B, "Korthikanti et al. 2022 Table 2: no parallelism")
def act_layer_korthikanti(micro_batch, seq_len, hidden_size, num_heads):
    """Per-layer activations without parallelism: sbh(34 + 5as/h)."""
    s, b, h, a = seq_len, micro_batch, hidden_size, num_heads
    return s * b * h * (34 + 5 * a * s / h)


@formula(B, "Korthikanti et al. 2022 Table 2: tensor parallel (baseline)")
def act_layer_korthikanti_tp(micro_batch, seq_len, hidden_size, num_heads, tp):
    """Per-layer activations with tensor parallelism: sbh(10 + 24/t + 5as/(ht))."""
    s, b, h, a, t = seq_len, micro_batch, hidden_size, num_heads, tp
    return s * b * h * (10 + 24 / t + 5 * a * s / (h * t))


@formula(B, "Korthikanti et al. 2022 Table 2: tensor + sequence parallel")
def act_layer_korthikanti_tp_sp(micro_batch, seq_len, hidden_size, num_heads, tp):
    """Per-layer activations with tensor and sequence parallelism: sbh(34/t + 5as/(ht))."""
    s, b, h, a, t = seq_len, micro_batch, hidden_size, num_heads, tp
    return s * b * h * (34 / t + 5 * a * s / (h * t))


@formula(B, "Korthikanti et al. 2022 Table 2: tensor parallel + selective recomputation")
def act_layer_korthikanti_tp_selective(micro_batch, seq_len, hidden_size, tp):
    """Per-layer activations, tensor parallel with selective recomputation: sbh(10 + 24/t)."""
    return seq_len * micro_batch * hidden_size * (10 + 24 / tp)


@formula(B, "Korthikanti et al. 2022 Table 2: tensor + sequence parallel + selective")
def act_layer_korthikanti_tp_sp_selective(micro_batch, seq_len, hidden_size, tp):
    """Per-layer activations with sequence parallelism and selective recomputation:
    sbh·34/t."""
    return seq_len * micro_batch * hidden_size * 34 / tp


@formula(B, "Korthikanti et al. 2022 Table 2: full activation recomputation")
def act_layer_korthikanti_full(micro_batch, seq_len, hidden_size):
    """Per-layer activations with full recomputation: 2sbh."""
    return 2 * seq_len * micro_batch * hidden_size


@formula(B, "seed 000 §四 4.2 and appendix A: batch × seq × hidden × layers × 34 × 2")
def activations_seed_rule(micro_batch, seq_len, hidden_size, num_layers):
    """Seed 000's rule of thumb for training activations (it multiplies Korthikanti's
    34 bytes by 2 again and leaves out the 5as/h score term)."""
    return micro_batch * seq_len * hidden_size * num_layers * 34 * 2


@formula(B, "seed 000 §七 example 2: batch × seq × hidden × layers × 2 × 2 (recomputation)")
def activations_seed_recompute_rule(micro_batch, seq_len, hidden_size, num_layers):
    """Seed 000's activations with recomputation (twice Korthikanti's 2sbh per layer)."""
    return micro_batch * seq_len * hidden_size * num_layers * 2 * 2


@formula(B, "seed 001 §3.3: (34bsh + 5bas²) × l")
def activations_seed_001(micro_batch, seq_len, hidden_size, num_heads, num_layers):
    """Seed 001's summary: Korthikanti's per-layer count without parallelism times the
    layers, embedding and output terms ignored."""
    s, b, h, a = seq_len, micro_batch, hidden_size, num_heads
    return num_layers * (34 * b * s * h + 5 * b * a * s * s)


@formula(B, "activation_rules table: xlcalc's model or a seed's rule of thumb")
def train_activation_bytes(activation_rule_w_model, activation_rule_w_seed_000,
                           activation_rule_w_seed_000_recompute, activation_rule_w_seed_001,
                           train_act_model_bytes, activations_seed_rule,
                           activations_seed_recompute_rule, activations_seed_001):
    """Activation bytes on the busiest GPU by the chosen ``activation_rule``."""
    return activation_rule_w_model * train_act_model_bytes + \
        activation_rule_w_seed_000 * activations_seed_rule + \
        activation_rule_w_seed_000_recompute * activations_seed_recompute_rule + \
        activation_rule_w_seed_001 * activations_seed_001
