"""Training activations per GPU (Korthikanti et al. 2022, "Reducing Activation
Recomputation in Large Transformer Models", arXiv:2205.05198 §4; seed ``001_*`` §3.3).

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

Approximations stated: MLA models (DeepSeek) are counted as attention with ``head_dim``
(q/k width) per head and their ``num_kv_heads``, not their compressed latents; MoE
experts are not spread by expert parallelism (each GPU runs its tokens' top-k experts).

The global ``batch`` splits over ``dp`` replicas; each replica runs ``micro_batch``
sequences at a time and accumulates gradients over ``batch / (dp · micro_batch)`` steps.
``micro_batch`` defaults to the whole per-replica batch (no gradient accumulation), as in
the seeds' examples.
"""

from __future__ import annotations

from ..expr import minimum, where
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

@formula("elements", "Megatron num_floating_point_operations: MLP widths averaged over layers")
def act_mlp_width(num_layers, num_dense_layers, intermediate_size, experts_per_token,
                  moe_intermediate_size, shared_expert_intermediate_size):
    """MLP inner width a token passes through, averaged over the layers: f for dense
    layers, top-k expert widths plus shared experts for MoE layers."""
    moe = experts_per_token * moe_intermediate_size + shared_expert_intermediate_size
    return (num_dense_layers * intermediate_size + (num_layers - num_dense_layers) * moe) / \
        num_layers


@formula(B, "Korthikanti et al. 2022 §4.1 (attention 11sbh, MLP 19sbh, norms 4sbh), "
         "generalised to GQA, gated MLPs and no dropout")
def act_layer_body_bytes(micro_batch, seq_len, hidden_size, num_heads, head_dim,
                         kv_heads_per_gpu, act_mlp_width, mlp_gated, dropout,
                         precision_act_bytes, tp, train_sp_divisor):
    """Activation bytes one layer stores for one micro-batch on one GPU, attention
    scores excepted: (4e + 2·dropout)·sbh/sp + e·sb·(2ad/t + 2d·k_gpu + f(2 + gated)/t)."""
    e, sb = precision_act_bytes, micro_batch * seq_len
    replicated = (4 * e + 2 * dropout) * hidden_size / train_sp_divisor
    split = 2 * num_heads * head_dim / tp + 2 * head_dim * kv_heads_per_gpu + \
        act_mlp_width * (2 + mlp_gated) / tp
    return sb * (replicated + e * split)


@formula(B, "Korthikanti et al. 2022 §4.1 (5as²b); FlashAttention keeps the log-sum-exp")
def act_layer_scores_bytes(micro_batch, seq_len, num_heads, flash_attention, dropout,
                           precision_act_bytes, tp):
    """Attention-core activations of one layer for one micro-batch on one GPU:
    (e + dropout·(e + 1))·as²b/t, or 4·asb/t with FlashAttention."""
    heads_sb = num_heads / tp * micro_batch * seq_len
    e = precision_act_bytes
    return heads_sb * where(flash_attention > 0, 4, (e + dropout * (e + 1)) * seq_len)


@formula(B, "Korthikanti et al. 2022 §4.2.2 and Table 2 (full recomputation: 2sbh)")
def act_layer_input_bytes(micro_batch, seq_len, hidden_size, precision_act_bytes,
                          train_sp_divisor):
    """The layer input that full recomputation keeps: e·sbh (÷ t with sequence
    parallelism)."""
    return precision_act_bytes * micro_batch * seq_len * hidden_size / train_sp_divisor


@formula(B, "Korthikanti et al. 2022 Table 2, by recomputation mode")
def train_act_per_layer_bytes(recompute_keep_layer, recompute_keep_scores, recompute_keep_input,
                              act_layer_body_bytes, act_layer_scores_bytes,
                              act_layer_input_bytes):
    """Activation bytes per layer per micro-batch on one GPU under the recomputation
    mode: everything (none), everything but the attention core (selective), or the
    layer input only (full)."""
    stored = act_layer_body_bytes + recompute_keep_scores * act_layer_scores_bytes
    return recompute_keep_layer * stored + recompute_keep_input * act_layer_input_bytes


# ------------------------------------------------------------- pipeline and totals

@formula("micro-batches", "Korthikanti et al. 2022 §4.2.3: 1F1B keeps p micro-batches in "
         "flight on the first stage; interleaving × (1 + (p−1)/(p·m))")
def train_act_inflight(pp, vp, grad_accum_steps):
    """Micro-batches whose activations the first pipeline stage holds at its peak:
    min(pp, micro-batches per step), times the interleaved schedule's factor."""
    interleave = where(vp > 1, 1 + (pp - 1) / (pp * vp), 1)
    return minimum(pp, grad_accum_steps) * interleave


@formula(B, "Korthikanti et al. 2022 §4.3: embedding dropout sbhp/t")
def train_act_embedding_bytes(micro_batch, seq_len, hidden_size, dropout, train_sp_divisor,
                              train_act_inflight):
    """Embedding-dropout masks on the first stage for the micro-batches in flight."""
    return dropout * micro_batch * seq_len * hidden_size / train_sp_divisor * train_act_inflight


@formula(B, "Korthikanti et al. 2022 §4.3: 4sbh/t·(1 + v/h) when p = 1")
def train_act_output_bytes(micro_batch, seq_len, hidden_size, vocab_size, precision_act_bytes,
                           train_sp_divisor, tp, pp):
    """Final-norm and output-layer inputs (e·sbh each, ÷ t with sequence parallelism)
    and fp32 logits (4·sbv/t, vocab-parallel), on the first stage only when pp = 1."""
    sb = micro_batch * seq_len
    stored = 2 * precision_act_bytes * sb * hidden_size / train_sp_divisor + \
        4 * sb * vocab_size / tp
    return where(pp > 1, 0, stored)


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
