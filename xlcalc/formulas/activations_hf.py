"""Training activations of the ``hf`` stack: what transformers' PyTorch modules keep for
backward, term by term, per layer and per micro-batch on one GPU.

Every term was read off the saved tensors of real architectures (shrunk configs of
Llama-3.2, Mistral, Qwen2.5, Gemma-2, Mixtral, DeepSeek-V3, Phi-3, GPT-2, OPT, Falcon)
measured on CPU with ``torch.autograd.graph.saved_tensors_hooks``, deduplicated by
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
  - ``eager`` (and ``sdpa`` on Gemma-2, which transformers runs eagerly for its logit
    softcap): q, K and V repeated to every head, the o-projection input
    (e·t(2a·d + 2a·d_v)), the softmax in fp32 plus a copy in the activation dtype
    ((4 + e)·a·b·s², 4 in fp32; GPT-2 and Falcon: e only) and the softcap's tanh (e).
* **MLP**: the gated product's operands and result and the activation function's input:
  e·t·f·(saved + 1 + 2·gated) (SiLU/GELU save 1, ReLU 0, GPT-2's gelu_new 4).  MoE
  (transformers' grouped_mm experts): router probabilities 4·tE, top-k indices and
  weights 12·tk, 4t; DeepSeek's router an fp32 copy of its input 4·th (bf16), group
  scores 16·t·G, 8·t·G_k, a t·E mask; the experts the gathered inputs and outputs
  e·tk·2h, gate‖up, activation and product e·tk·4f_e, three index arrays 24·tk, the
  slot weights 4·tk and offsets 4E; shared experts as a gated MLP.
* **Outside the layers**: token ids 8t; rotary cos/sin 2·s·d_rot·e; the final norm, the
  LM head's input, Gemma's final softcap (e·tV) and the fp32 log-softmax 4·tV with the
  labels 8t.
* **Checkpointing** (``recompute="full"``, non-reentrant): each layer's input (e·th);
  the masks passed to the layers (eager: e·b·s² per mask kind; sdpa with windows: the
  boolean b·s²) and the position ids (8s) stay alive in the checkpoint's closures.

Measured against this model: within 1 % for the modern families (Llama, Mistral, Qwen2,
Gemma-2, Mixtral, OPT, Phi-3; DeepSeek-V3 within 2 %); GPT-2 and Falcon at batch 1 differ
by up to 13 % because a reshape that is a view at batch 1 keeps the fused projection's
output alive (a copy at batch > 1) — a CPU storage effect, not modelled.
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
         "fp32 q/K/V (math)")
def hf_act_attention_bytes(act_tokens, micro_batch, seq_len, cp, num_layers, num_heads,
                           head_dim, attn_v_head_dim, kv_heads_per_gpu, tp, qkv_fused,
                           hf_attn_eager, hf_attn_math, hf_masked_layers,
                           precision_act_bytes):
    """Attention activations of one layer (averaged over the layers), s² scores excepted:
    flash e·t(a·d + k·d + k·d_v + a·d_v) + 4·a·t (+ e·t·a·d_v with a fused qkv);
    masked sdpa e·t(2a·d + 2a·d_v) + 4·a·t + e·b·s²; eager e·t(2a·d + 2a·d_v); math
    4·t(2a·d + a·d_v) + e·t·a·d_v.  Heads ÷ tp."""
    e, t = precision_act_bytes, act_tokens
    wq, wo = num_heads * head_dim / tp, num_heads * attn_v_head_dim / tp
    wkv = kv_heads_per_gpu * (head_dim + attn_v_head_dim)
    lse = 4 * t * num_heads / tp
    flash = e * t * (wq + wkv + wo + qkv_fused * wo) + lse
    repeated = e * t * (2 * wq + 2 * wo)
    masked = repeated + lse + e * micro_batch * seq_len / cp * seq_len
    math = 4 * t * (2 * wq + wo) + e * t * wo
    sdpa_layers = hf_masked_layers / num_layers
    direct = (1 - hf_attn_eager - hf_attn_math) * \
        (sdpa_layers * masked + (1 - sdpa_layers) * flash)
    return direct + hf_attn_eager * repeated + hf_attn_math * math


@formula(B, "measured: eager fp32 softmax + copy (+ softcap tanh); math path fp32 scores")
def hf_act_scores_bytes(micro_batch, seq_len, cp, num_heads, tp, attn_softmax_fp32,
                        attn_softcap, hf_attn_eager, hf_attn_math, dropout,
                        precision_act_bytes):
    """The s×s tensors one layer keeps (what selective recomputation drops): eager
    (4 + e)·a·b·s² (4 in fp32; e where the softmax runs in the model dtype) plus e for a
    softcap's tanh and 1 for a dropout mask; the math path 4·a·b·s²."""
    e = precision_act_bytes
    rows = num_heads / tp * micro_batch * seq_len / cp * seq_len
    softmax = where(attn_softmax_fp32 > 0, 4 + where(e < 4, e, 0), e)
    return rows * (hf_attn_eager * (softmax + attn_softcap * e + dropout) + hf_attn_math * 4)


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
                     moe_intermediate_size, shared_expert_intermediate_size, moe_groups,
                     moe_topk_groups, moe_router_fp32, tp, precision_act_bytes):
    """MLP activations of one layer, averaged over dense and MoE layers: dense
    e·t·f(saved + 1 + 2·gated)/tp; MoE router, experts and shared experts (see the module
    docstring)."""
    e, t, h, k = precision_act_bytes, act_tokens, hidden_size, experts_per_token
    dense = e * t * intermediate_size / tp * (mlp_act_saved + 1 + 2 * mlp_gated)
    router = 4 * t * num_experts + 12 * t * k + 4 * t + moe_router_fp32 * (
        where(e < 4, 4 * t * h, 0) + 16 * t * moe_groups + 8 * t * moe_topk_groups +
        t * num_experts)
    experts = 28 * t * k + 4 * num_experts + \
        e * t * k * (2 * h + 4 * moe_intermediate_size / tp)
    shared = e * t * shared_expert_intermediate_size / tp * (mlp_act_saved + 3)
    moe_layers = num_layers - num_dense_layers
    return (num_dense_layers * dense + moe_layers * (router + experts + shared)) / num_layers


# --------------------------------------------------------------------- per layer

@formula(B, "sum of the measured terms")
def hf_act_layer_body_bytes(hf_act_norms_bytes, hf_act_attention_bytes, hf_act_mlp_bytes):
    """hf-stack activations of one layer for one micro-batch, s² scores excepted."""
    return hf_act_norms_bytes + hf_act_attention_bytes + hf_act_mlp_bytes


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
                       qk_rope_head_dim, position_embeddings, num_layers, num_sliding_layers,
                       hf_attn_eager, hf_masked_layers, recompute_keep_input,
                       precision_act_bytes):
    """What transformers keeps before the first layer per micro-batch: the token ids
    (8t), the rotary cos and sin (2·(s/cp)·d_rot·e) and, with checkpointing, the position
    ids and the masks the layers receive (eager: e·b·s² per mask kind, sliding and full;
    sdpa with windows: a boolean b·s²)."""
    e, rows = precision_act_bytes, micro_batch * seq_len / cp * seq_len
    d_rot = where(position_embeddings > 0, 0, where(kv_lora_rank > 0, qk_rope_head_dim,
                                                    head_dim))
    mixed = where(num_sliding_layers > 0, where(num_sliding_layers < num_layers, 2, 1), 1)
    masks = hf_attn_eager * e * rows * mixed + where(hf_masked_layers > 0, rows, 0)
    kept = recompute_keep_input * (8 * seq_len / cp + masks)
    return 8 * act_tokens + 2 * seq_len / cp * d_rot * e + kept


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
