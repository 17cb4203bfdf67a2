"""Training activations of the ``torchtitan`` stack: what torchtitan's Llama keeps for
backward under its activation-checkpointing modes, and what is live at the step's peak.

Modelled on pytorch/torchtitan at 9dec370ad26b5f8e9a7333a0e36165018262644b (the commit of
its December 2024 benchmarks: torchtitan/models/llama/model.py, torchtitan/models/norms.py,
torchtitan/parallelisms/parallelize_llama.py, train.py) and measured on CPU with a model
written from that module structure (``tests/data/make_torchtitan_measurements.py``:
storages created by ops and still alive after the forward; the peak of live storages over
forward and backward; torch 2.13).  t = b·s/cp tokens, e = activation bytes (2 bf16, 4
fp32), h, a heads, k KV heads on the GPU, d head width, f MLP width, V vocabulary.

Per layer and token (every term measured, bf16 and fp32, GQA and MHA):

* ``recompute="none"`` — the two RMSNorms, which compute in fp32, each keep the fp32 copy
  of their input (in fp32 the input itself), the fp32 rsqrt, the normalised tensor and the
  output the projections read: 4h + 4 + 2e·h each; attention keeps q after the rotary
  embedding and K and V repeated to every query head (torchtitan repeats them before
  sdpa: a copy for GQA, the tensors themselves for MHA) and the sdpa output (the
  contiguous copy before the output projection is a no-op: the kernel writes its output
  token-major), e·4a·d, with the fp32 log-sum-exp 4a; the rotary embedding keeps nothing
  (its complex multiply needs only the constant table); SwiGLU keeps w1's output, the
  SiLU output, w3's output and their product, 4e·f.
* ``recompute="selective"`` — torchtitan's per-op policy (``selective_ac_option='op'``,
  the default of its Llama configs): each block is checkpointed and the outputs of the
  ops in its save list are kept, every second matrix multiply of the block excepted.  A
  Llama block runs seven (wq, wk, wv, wo, w1, w3, w2): wq, wv, w1 and w2 are kept, with
  the sdpa output and log-sum-exp and the block's input: e·(2h + 2a·d + k·d + f) + 4a.
* ``recompute="full"`` — the block's input, e·h.

Outside the layers: the token ids and labels (8t each), the final norm (4h + 4 + 2e·h),
the fp32 log-softmax of the up-cast logits (4V; train.py casts the logits to fp32 before
``cross_entropy``) — the hf stack's output count, identical for this model — and the
loss's backward: nll_loss's dense fp32 gradient and log_softmax's fp32 input gradient are
live together with the saved log-softmax, 8V more per token.  That is the step's peak
when 8V exceeds what one layer's backward adds (its gradients, and with full
recomputation its recomputed activations): so in every stored run (V/h of 23 and 31; Llama
3 has 31) and, in one run of the same script at V/h ≈ 4 (Llama 2's ratio, not stored),
with no and with selective checkpointing; with full recomputation that run's layer
backward added 1.2 × 8V per token, which is not modelled.  When torchtitan
shards (FSDP2 over ``dp_shard`` > 1 ranks, its default for data parallelism) the root
module (embedding, final norm, output layer) stays unsharded from forward to backward
(FSDP2 sets the root's ``reshard_after_forward`` to False: torch 2.13
torch/distributed/fsdp/_fully_shard/_fully_shard.py) and torchtitan does not reshard the
last block after forward (parallelize_llama.py ``apply_fsdp``): their weights in the
compute dtype are live at the peak too.

Architectures torchtitan's Llama does not implement (MoE, MLA, sliding/chunked/linear
attention, q/k norms, softcaps, sinks, biases, LayerNorm, fused qkv, learned positions,
non-SiLU MLPs) fall back to the ``hf`` stack's measured terms
(:mod:`xlcalc.formulas.activations_hf`) with the recomputation modes as it counts them,
plus the same loss-backward term.  Tensor parallelism (not measured) divides the head and
MLP-width terms by ``tp`` and the hidden-width terms by the sequence-parallel divisor.
The ``attention`` input does not change this count: torchtitan always calls sdpa with
``is_causal`` (flash or memory-efficient kernel).
"""

from __future__ import annotations

from ..expr import maximum, where
from ..graph import formula

B = "bytes"


@formula("", "torchtitan 9dec370 implements one dense architecture: Llama")
def tt_native(num_experts, kv_lora_rank, num_sliding_layers, num_chunked_layers,
              num_linear_layers, qk_norm, attn_softcap, final_softcap, attention_sinks,
              attention_output_gate, qkv_fused, norm_bias, norm_fp32_scale, qkv_bias, o_bias,
              mlp_bias, position_embeddings, mlp_gated, mlp_act_saved, norms_per_layer):
    """1 when the architecture is one torchtitan's Llama implements (RMSNorm, rotary
    positions, bias-free q/k/v/o, SwiGLU, two norms a layer, no MoE or other layer kinds),
    else 0 (the hf stack's terms are used)."""
    foreign = num_experts + kv_lora_rank + num_sliding_layers + num_chunked_layers + \
        num_linear_layers + qk_norm + attn_softcap + final_softcap + attention_sinks + \
        attention_output_gate + qkv_fused + norm_bias + norm_fp32_scale + qkv_bias + \
        o_bias + mlp_bias + position_embeddings + (1 - mlp_gated) + \
        maximum(mlp_act_saved - 1, 1 - mlp_act_saved) + \
        maximum(norms_per_layer - 2, 2 - norms_per_layer)
    return where(foreign > 0, 0, 1)


@formula(B, "measured: tests/data/torchtitan_measurements.json (recompute none)")
def tt_act_layer_body_bytes(act_tokens, hidden_size, num_heads, head_dim, act_mlp_width, tp,
                            train_sp_divisor, precision_act_bytes):
    """Everything one torchtitan Llama block keeps for backward with no checkpointing:
    two fp32-computing RMSNorms (4h + 4 + 2e·h each), q, repeated K and V and the sdpa
    output (4e·a·d) with the fp32 log-sum-exp (4a), SwiGLU's four tensors (4e·f); heads
    and f ÷ tp, norms ÷ the sequence-parallel divisor."""
    e, t, h = precision_act_bytes, act_tokens, hidden_size
    norms = 2 * (4 * h + 4 + 2 * e * h) / train_sp_divisor
    attention = (4 * e * head_dim + 4) * num_heads / tp
    return t * (norms + attention + 4 * e * act_mlp_width / tp)


@formula(B, "torchtitan parallelize_llama.py _save_list, every second mm recomputed; measured")
def tt_act_layer_selective_bytes(act_tokens, hidden_size, num_heads, head_dim,
                                 kv_heads_per_gpu, act_mlp_width, tp, train_sp_divisor,
                                 precision_act_bytes):
    """What torchtitan's per-op selective checkpointing keeps of one Llama block: its input
    and w2's output (e·h each), wq's output and the sdpa output (e·a·d each), wv's output
    (e·k·d), w1's output (e·f) and the fp32 log-sum-exp (4a)."""
    e, t, h = precision_act_bytes, act_tokens, hidden_size
    heads = num_heads / tp
    return t * (2 * e * h / train_sp_divisor + heads * (2 * e * head_dim + 4) +
                e * kv_heads_per_gpu * head_dim + e * act_mlp_width / tp)


@formula(B, "torchtitan activation checkpointing modes; hf terms where it has no model")
def tt_act_per_layer_bytes(tt_native, recompute_keep_layer, recompute_keep_scores,
                           recompute_keep_input, tt_act_layer_body_bytes,
                           tt_act_layer_selective_bytes, act_layer_input_bytes,
                           hf_act_per_layer_bytes):
    """torchtitan-stack activation bytes per layer per micro-batch on one GPU: everything
    (none), the per-op save list (selective) or the block input (full); the hf stack's
    count for architectures torchtitan does not implement."""
    selective = recompute_keep_layer * (1 - recompute_keep_scores)
    native = recompute_keep_scores * tt_act_layer_body_bytes + \
        selective * tt_act_layer_selective_bytes + recompute_keep_input * act_layer_input_bytes
    return tt_native * native + (1 - tt_native) * hf_act_per_layer_bytes


@formula(B, "measured: token ids; the rotary table is a model buffer")
def tt_act_model_bytes(tt_native, act_tokens, hf_act_model_bytes):
    """What torchtitan keeps before the first layer per micro-batch: the token ids the
    embedding saves (8t); the hf count where torchtitan has no model."""
    return tt_native * 8 * act_tokens + (1 - tt_native) * hf_act_model_bytes


@formula(B, "train.py: cross_entropy(logits.float()); measured peak at the loss's backward")
def tt_loss_backward_bytes(act_tokens, vocab_size, tp):
    """The loss's backward working set beyond what is saved: nll_loss's dense fp32
    gradient and log_softmax's fp32 input gradient, 8·t·V/tp (the step's peak)."""
    return 8 * act_tokens * vocab_size / tp


@formula(B, "FSDP2 keeps the root unsharded after forward; torchtitan apply_fsdp keeps the "
         "last block unsharded")
def tt_fsdp_unsharded_bytes(dp_shard, pp, params_embedding, params_final_norm,
                            params_lm_head, params_per_layer_avg, precision_act_bytes, tp):
    """Weights FSDP holds gathered at the loss when torchtitan shards (``dp_shard`` > 1:
    torchtitan applies FSDP2 over its shard degree, by default every data-parallel rank;
    one pipeline stage): the root module (embedding, final norm, output layer) and the
    last block, in the compute dtype (e bytes), ÷ tp.  The model states' own sharding is
    the ``zero`` input (3 for torchtitan's FSDP)."""
    gathered = params_embedding + params_final_norm + params_lm_head + params_per_layer_avg
    return where(dp_shard > 1, where(pp > 1, 0, precision_act_bytes * gathered / tp), 0)


@formula(B, "hf output count + the loss's backward + FSDP2's gathered root and last block")
def tt_act_output_bytes(hf_act_output_bytes, tt_loss_backward_bytes, tt_fsdp_unsharded_bytes):
    """The last stage's memory after the layers at the step's peak: the final norm, the
    LM head's input, the fp32 log-softmax and labels (as the hf stack counts them), the
    loss's backward gradients and, under FSDP, the gathered root module and last block."""
    return hf_act_output_bytes + tt_loss_backward_bytes + tt_fsdp_unsharded_bytes
