"""Training activations of the ``hf`` stack: what transformers' PyTorch modules keep for
backward, term by term, per layer and per micro-batch on one GPU.

Every term was read off the saved tensors of real architectures (shrunk configs of
Llama-3.2, Mistral, Qwen2.5, Gemma-2, Mixtral, DeepSeek-V3, Phi-3, GPT-2, OPT, Falcon;
gpt-oss, Gemma 3, Qwen3, Qwen3-MoE, Qwen3-Next, Llama 4) measured on CPU with ``torch.autograd.graph.saved_tensors_hooks``, deduplicated by
storage, parameters excluded (``tests/data/make_activation_measurements.py``; torch 2.13,
transformers 5.24).  t = b·s/cp tokens on the GPU, e = activation bytes (2 for bf16, 4
for fp32), h, a, k, d, d_v, f as in :mod:`xlcalc.formulas.activations`.

* **Norms.**  transformers' RMSNorm keeps an fp32 copy of its input (4·th; in fp32 the
  input itself), the fp32 reciprocal RMS (4·t) and the normalised tensor (e·th); Gemma's
  multiplies by (1 + weight) in fp32 (the normalised tensor in fp32 and a 4h copy of the
  weight).  LayerNorm (GPT-2, OPT, Falcon) keeps its input (e·th) and mean/rstd (8·t,
  fp32 on a GPU).  The norm outputs that feed projections are kept once more (e·th each,
  two per layer: one when attention and MLP share a norm, Falcon-7B).
* **Attention** (the path transformers takes):
  - ``flash`` (FlashAttention-2), or ``sdpa`` with no mask: q, k, v at their own widths,
    the output (the o-projection's input) and the fp32 log-sum-exp (4·a·t); fused-qkv
    models (Phi-3, GPT-2, Falcon) keep a separate copy of the output (e·t·a·d_v);
  - ``sdpa`` with a mask (a sliding window shorter than the sequence): K/V repeated to
    every query head, and the e·b·s² mask saved by each layer;
  - ``sdpa`` when q and v widths differ (MLA) or with Falcon's expanded MQA: the math
    path, q, K, V in fp32 (4·t(2a·d + a·d_v)), fp32 scores 4·a·b·s², the output copy;
  - ``eager`` (and ``sdpa`` on Gemma-2 and gpt-oss, which transformers runs eagerly for
    their logit softcap and attention sinks): q, K and V repeated to every head (a view
    at their own width for one sequence with one KV head), the o-projection input
    (e·t(2a·d + 2a·d_v)), the softmax in fp32 plus a copy in the activation dtype
    ((4 + e)·a·b·s², 4 in fp32; GPT-2, Falcon, gpt-oss, Llama 4: e only), the softcap's
    tanh (e), the sink column and row-max indices ((e + 8)·a·b·s);
  - learned q/k norms (Qwen3, Gemma 3, OLMo) keep an fp32 copy, the rsqrt per head and the
    normalised q and k; Llama 4's L2 norm on its chunked layers the fp32 copy and rsqrt;
    Qwen3-Next's output gate its sigmoid and the ungated output; chunked layers (Llama 4)
    take sdpa's masked path like sliding ones.
* **Linear attention** (gated DeltaNet: Qwen3-Next, Qwen3.5): the convolution input and
  its padded copy, the gated norm and output projection's input, and the fp32 tensors of
  transformers' chunked delta rule (its PyTorch path; flash-linear-attention keeps less).
* **MLP**: the gated product's operands and result and the activation function's input:
  e·t·f·(saved + 1 + 2·gated) (SiLU/GELU save 1, ReLU 0, GPT-2's gelu_new 4).  MoE
  (transformers' grouped_mm experts): router probabilities 4·tE, top-k indices and
  weights 12·tk, 4t (gpt-oss: the top-k logits softmaxed in the model dtype, (8 + e)·tk);
  DeepSeek's router an fp32 copy of its input 4·th (bf16), group scores 16·t·G,
  8·t·G_k, a t·E mask; the experts the gathered inputs and outputs e·tk·2h, gate‖up,
  the activation's own tensors and the product e·tk·(saved + 3)f_e (gpt-oss's clamped
  GLU 7f_e), three index arrays 24·tk, the slot weights 4·tk and offsets 4E; Llama 4
  runs every expert on every token (e·tE(1 + 2h + 4f_e)); shared experts as a gated MLP
  (with a sigmoid gate: e·t(h + 1) more).
* **Outside the layers**: token ids 8t; rotary cos/sin 2·s·d_rot·e; the final norm, the
  LM head's input, Gemma's final softcap (e·tV) and the fp32 log-softmax 4·tV with the
  labels 8t.
* **Checkpointing** (``recompute="full"``, non-reentrant): each layer's input (e·th);
  the masks passed to the layers (eager: e·b·s² per mask kind; sdpa with windows: the
  boolean b·s²) and the position ids (8s) stay alive in the checkpoint's closures.

Measured against this model: within 2 % for Llama, Mistral, Qwen2/3, Gemma-2, Mixtral,
Qwen3-MoE, DeepSeek-V3, Phi-3, OPT, Falcon, gpt-oss, Llama 4; within 3.5 % for Gemma 3
and Qwen3-Next; GPT-2 within 6 % (at batch 1 its fused c_attn output stays alive through
views, not modelled).
Dropout masks are counted as 1 byte (the GPU kernel; CPU keeps a full-width noise
tensor): 2·th per layer, plus a·b·s² for eager attention.  Tensor parallelism divides
the head and MLP-width terms by ``tp`` (transformers' own ``tp_plan``).
"""

from __future__ import annotations

from ..expr import maximum, minimum, where
from ..graph import formula

B = "bytes"


def _norm_bytes_per_token(width, e, norm_bias, norm_fp32_scale):
    """Bytes one norm of ``width`` keeps per token: LayerNorm its input and mean/rstd;
    transformers' RMSNorm an fp32 input copy, the fp32 rsqrt and the normalised tensor
    (fp32 for Gemma)."""
    rms = 4 * width + 4 + width * where(norm_fp32_scale > 0, 4, e)
    return where(norm_bias > 0, e * width + 8, rms)


# ------------------------------------------------------------------ attention path

@formula("", "transformers refuses sdpa for Gemma-2's softcap and gpt-oss's sinks: eager")
def hf_attn_eager(attention_is_eager, attention_is_sdpa, attn_softcap, attention_sinks):
    """1 when transformers runs eager attention: asked for, or sdpa on a soft-capped model
    or one with attention sinks (transformers refuses sdpa for those)."""
    return minimum(attention_is_eager + attention_is_sdpa * maximum(attn_softcap,
                                                                    attention_sinks), 1)


@formula("", "measured: sdpa with q/v widths that differ (or Falcon's MQA) saves fp32 scores")
def hf_attn_math(attention_is_sdpa, hf_attn_eager, attn_sdpa_math):
    """1 when transformers' sdpa runs PyTorch's math path (fp32 q, K, V and scores)."""
    return attention_is_sdpa * (1 - hf_attn_eager) * attn_sdpa_math


@formula("layers", "measured: sdpa with a window shorter than the sequence needs a mask")
def hf_masked_layers(attention_is_sdpa, hf_attn_eager, attn_sdpa_math, num_sliding_layers,
                     sliding_window, num_chunked_layers, attention_chunk_size, seq_len):
    """Layers whose sdpa call gets a mask (K/V repeated to every head, the mask saved):
    the sliding-window layers when the sequence reaches the window, the chunked layers
    when it reaches the chunk."""
    sdpa = attention_is_sdpa * (1 - hf_attn_eager) * (1 - attn_sdpa_math)
    sliding = num_sliding_layers * where(seq_len >= maximum(sliding_window, 1), 1, 0)
    chunked = num_chunked_layers * where(seq_len >= maximum(attention_chunk_size, 1), 1, 0)
    return sdpa * (sliding + chunked)


@formula(B, "measured: q, k, v, output and log-sum-exp (flash); repeated K/V (mask, eager); "
         "fp32 q/K/V (math); q/k norms; the output gate")
def hf_act_attention_bytes(act_tokens, micro_batch, seq_len, cp, num_layers, num_heads,
                           head_dim, attn_v_head_dim, kv_heads_per_gpu, tp, qkv_fused,
                           hf_attn_eager, hf_attn_math, hf_masked_layers, num_linear_layers,
                           num_chunked_layers, qk_norm, qk_norm_per_head, norm_fp32_scale,
                           attn_qk_l2norm, attention_output_gate, precision_act_bytes):
    """Attention activations of one layer (averaged over the layers: linear-attention
    layers have none), s² scores excepted: flash e·t(a·d + k·d + k·d_v + a·d_v) + 4·a·t
    (+ e·t·a·d_v with a fused qkv); masked sdpa e·t(2a·d + 2a·d_v) + 4·a·t + e·b·s²;
    eager e·t(2a·d + 2a·d_v) (K/V at their own width when repeat_kv is a view: one
    sequence, one KV head); math 4·t(2a·d + a·d_v) + e·t·a·d_v.  Learned q/k norms
    keep an fp32 copy, the rsqrt per head and the normalised q and k; Llama 4's L2 norm
    the fp32 copy and rsqrt on its chunked layers; an output gate its sigmoid and the
    ungated output (2e·t·a·d).  Heads ÷ tp."""
    e, t = precision_act_bytes, act_tokens
    wq, wo = num_heads * head_dim / tp, num_heads * attn_v_head_dim / tp
    wkv = kv_heads_per_gpu * (head_dim + attn_v_head_dim)
    lse = 4 * t * num_heads / tp
    flash = e * t * (wq + wkv + wo + qkv_fused * wo) + lse
    # repeat_kv expands and reshapes: a view (K/V at their own width) only for one
    # sequence of a single KV head (MQA at micro-batch 1), a copy otherwise
    kv_rep = where(micro_batch * kv_heads_per_gpu <= 1, wkv, wq + wo)
    repeated = e * t * (wq + kv_rep + wo)
    masked = repeated + lse + e * micro_batch * seq_len / cp * seq_len
    math = 4 * t * (wq + kv_rep) + e * t * wo
    attention_layers = maximum(num_layers - num_linear_layers, 1)
    sdpa_layers = hf_masked_layers / attention_layers
    direct = (1 - hf_attn_eager - hf_attn_math) * \
        (sdpa_layers * masked + (1 - sdpa_layers) * flash)
    qk_width = wq + kv_heads_per_gpu * head_dim
    rows = where(qk_norm_per_head > 0, num_heads / tp + kv_heads_per_gpu, 2)
    qk = qk_norm * (t * (qk_width * (4 + where(norm_fp32_scale > 0, 4, e)) + 4 * rows) +
                    8 * head_dim * norm_fp32_scale)
    l2 = attn_qk_l2norm * num_chunked_layers / attention_layers * \
        4 * t * (qk_width + num_heads / tp + kv_heads_per_gpu)
    layer = direct + hf_attn_eager * repeated + hf_attn_math * math + qk + l2 + \
        attention_output_gate * 2 * e * t * wo
    return layer * (num_layers - num_linear_layers) / num_layers


@formula(B, "measured: gated DeltaNet through transformers' PyTorch path (chunks of 64)")
def hf_act_linear_bytes(act_tokens, micro_batch, num_layers, num_linear_layers,
                        linear_num_key_heads, linear_key_head_dim, linear_num_value_heads,
                        linear_value_head_dim, linear_conv_kernel, tp, precision_act_bytes):
    """Linear-attention activations of one layer (averaged over the layers): the
    convolution's input and its padded copy e·t·2c + e·b·c(K − 1) (c = 2G·N + H·P
    channels), the gate scalars, the gated output norm's e·t·2H·P and the output
    projection's input e·t·H·P; in fp32 the chunked delta rule's q, k, v, β·k, β·v and their
    chunked and transposed copies (6N + 7P per value head and token; 2N + 2P more in
    fp32), five C×C chunk matrices (5C), the chunk states (N·P/C) and nine per-head
    scalars.  Measured with
    transformers' reference (CPU) path, C = 64; flash-linear-attention's kernels keep
    less."""
    e, t = precision_act_bytes, act_tokens
    heads = linear_num_value_heads / tp
    n, p, c = linear_key_head_dim, linear_value_head_dim, 64
    channels = (2 * linear_num_key_heads * n + linear_num_value_heads * p) / tp
    bf16 = e * t * (2 * channels + heads + 3 * heads * p) + \
        e * micro_batch * channels * maximum(linear_conv_kernel - 1, 0)
    # in fp32 the casts are no-ops and the chunk loop keeps four more head-wide tensors
    fp32 = 4 * t * heads * (6 * n + 7 * p + 5 * c + n * p / c + 9 +
                            where(e >= 4, 2 * n + 2 * p, 0)) + c * c
    return num_linear_layers / num_layers * (bf16 + fp32)


@formula(B, "measured: eager fp32 softmax + copy (+ softcap tanh); math path fp32 scores")
def hf_act_scores_bytes(micro_batch, seq_len, cp, num_heads, tp, attn_softmax_fp32,
                        attn_softcap, attention_sinks, hf_attn_eager, hf_attn_math, dropout,
                        num_layers, num_linear_layers, precision_act_bytes):
    """The s×s tensors one layer keeps (what selective recomputation drops), averaged over
    the layers: eager (4 + e)·a·b·s² (4 in fp32; e where the softmax runs in the model
    dtype) plus e for a softcap's tanh and 1 for a dropout mask — with attention sinks one
    more column and the row maxima's int64 indices (e + 8)·a·b·s; the math path
    4·a·b·s²."""
    e = precision_act_bytes
    heads = num_heads / tp * micro_batch * seq_len / cp
    softmax = where(attn_softmax_fp32 > 0, 4 + where(e < 4, e, 0), e)
    eager = heads * seq_len * (softmax + attn_softcap * e + dropout) + \
        attention_sinks * heads * (e + 8)
    layer = hf_attn_eager * eager + hf_attn_math * 4 * heads * seq_len
    return layer * (num_layers - num_linear_layers) / num_layers


# ------------------------------------------------------------------------ norms, MLP

@formula(B, "measured: transformers' RMSNorm/LayerNorm and the norm outputs projections keep")
def hf_act_norms_bytes(act_tokens, hidden_size, norms_per_layer, norm_bias, norm_fp32_scale,
                       q_lora_rank, kv_lora_rank, qk_rope_head_dim, dropout,
                       precision_act_bytes):
    """Norm activations of one layer: each norm's own tensors, the outputs that feed
    projections (two, or one when attention and MLP share a norm), MLA's latent norms
    and up-projection inputs, and 1-byte residual-dropout masks."""
    e, t, h = precision_act_bytes, act_tokens, hidden_size

    def norm(width):
        return _norm_bytes_per_token(width, e, norm_bias, norm_fp32_scale)

    main = norms_per_layer * norm(h) + minimum(norms_per_layer, 2) * e * h + 2 * dropout * h
    # in fp32 the KV latent norm keeps a view of the whole down-projection (rope part too)
    latents = where(q_lora_rank > 0, norm(q_lora_rank) + e * q_lora_rank, 0) + \
        norm(kv_lora_rank) + e * kv_lora_rank + where(e >= 4, 4 * qk_rope_head_dim, 0)
    return t * (main + where(kv_lora_rank > 0, latents, 0)) + \
        norms_per_layer * 4 * h * norm_fp32_scale


@formula(B, "measured: transformers' gated/plain MLP and grouped_mm MoE")
def hf_act_mlp_bytes(act_tokens, hidden_size, intermediate_size, mlp_gated, mlp_act_saved,
                     num_layers, num_dense_layers, num_experts, experts_per_token,
                     moe_intermediate_size, shared_expert_intermediate_size,
                     shared_expert_gate, moe_groups, moe_topk_groups, moe_router_fp32,
                     moe_router_topk_softmax, moe_dense_experts, tp, precision_act_bytes):
    """MLP activations of one layer, averaged over dense and MoE layers: dense
    e·t·f(saved + 1 + 2·gated)/tp; MoE router, experts and shared experts (see the module
    docstring)."""
    e, t, h, k, n = precision_act_bytes, act_tokens, hidden_size, experts_per_token, \
        num_experts
    f_e = moe_intermediate_size / tp
    dense = e * t * intermediate_size / tp * (mlp_act_saved + 1 + 2 * mlp_gated)
    router = where(moe_router_topk_softmax > 0, (8 + e) * t * k,
                   4 * t * n + 12 * t * k + 4 * t) + moe_router_fp32 * (
        where(e < 4, 4 * t * h, 0) + 16 * t * moe_groups + 8 * t * moe_topk_groups + t * n)
    act = mlp_act_saved + 3          # gate‖up (2), the activation's own, the product
    routed = 24 * t * k + 4 * n + where(moe_router_topk_softmax > 0, e, 4) * t * k + \
        e * t * k * (2 * h + act * f_e)
    dense_experts = 4 * t * n - 4 * t * k + e * t * n * (1 + 2 * h + act * f_e)
    experts = where(moe_dense_experts > 0, dense_experts, routed)
    shared = e * t * shared_expert_intermediate_size / tp * (mlp_act_saved + 3) + \
        shared_expert_gate * e * t * (h + 1)
    moe_layers = num_layers - num_dense_layers
    return (num_dense_layers * dense + moe_layers * (router + experts + shared)) / num_layers


# --------------------------------------------------------------------- per layer

@formula(B, "sum of the measured terms")
def hf_act_layer_body_bytes(hf_act_norms_bytes, hf_act_attention_bytes, hf_act_linear_bytes,
                            hf_act_mlp_bytes):
    """hf-stack activations of one layer for one micro-batch, s² scores excepted."""
    return hf_act_norms_bytes + hf_act_attention_bytes + hf_act_linear_bytes + \
        hf_act_mlp_bytes


@formula(B, "measured; checkpointing keeps each layer's input (non-reentrant)")
def hf_act_per_layer_bytes(recompute_keep_layer, recompute_keep_scores, recompute_keep_input,
                           hf_act_layer_body_bytes, hf_act_scores_bytes,
                           act_layer_input_bytes):
    """hf-stack activation bytes per layer per micro-batch on one GPU under the
    recomputation mode (selective drops the s×s tensors; full keeps the layer input)."""
    stored = hf_act_layer_body_bytes + recompute_keep_scores * hf_act_scores_bytes
    return recompute_keep_layer * stored + recompute_keep_input * act_layer_input_bytes


# ------------------------------------------------------------ outside the layers

@formula(B, "measured: token ids, rotary cos/sin, masks checkpointing keeps alive")
def hf_act_model_bytes(act_tokens, micro_batch, seq_len, cp, head_dim, kv_lora_rank,
                       qk_rope_head_dim, position_embeddings, rope_tables, num_layers,
                       num_sliding_layers, num_chunked_layers, hf_attn_eager, hf_masked_layers,
                       recompute_keep_input, precision_act_bytes):
    """What transformers keeps before the first layer per micro-batch: the token ids
    (8t), the rotary cos and sin (2·(s/cp)·d_rot·e per table) and, with checkpointing, the
    position
    ids and the masks the layers receive (eager: e·b·s² per mask kind, sliding and full;
    sdpa with windows: a boolean b·s²)."""
    e, rows = precision_act_bytes, micro_batch * seq_len / cp * seq_len
    d_rot = where(position_embeddings > 0, 0, where(kv_lora_rank > 0, qk_rope_head_dim,
                                                    head_dim))
    local = num_sliding_layers + num_chunked_layers
    mixed = where(local > 0, where(local < num_layers, 2, 1), 1)
    masks = hf_attn_eager * e * rows * mixed + where(hf_masked_layers > 0, rows, 0)
    kept = recompute_keep_input * (8 * seq_len / cp + masks)
    return 8 * act_tokens + rope_tables * 2 * seq_len / cp * d_rot * e + kept


@formula(B, "measured: final norm, LM-head input, softcap, fp32 log-softmax and labels")
def hf_act_output_bytes(act_tokens, hidden_size, vocab_size, norm_bias, norm_fp32_scale,
                        final_softcap, tp, precision_act_bytes):
    """The last stage's activations after the layers: the final norm, the LM head's input
    (e·th), Gemma's final softcap (e·tV), the fp32 log-softmax of the logits (4·tV) and
    the labels (8t)."""
    e, t = precision_act_bytes, act_tokens
    norm = _norm_bytes_per_token(hidden_size, e, norm_bias, norm_fp32_scale)
    logits = (final_softcap * e + 4) * vocab_size / tp
    return t * (norm + e * hidden_size + logits + 8) + 4 * hidden_size * norm_fp32_scale + 4
