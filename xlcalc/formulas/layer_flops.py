"""FLOPs of one layer, part by part; what the KV cache saves; MLA weight absorption.

The tutorials teach a layer's FLOPs as a sum of matrix products (seed ``000_*`` §2.2 and
§5.2, seed ``001_*`` §4.2 and §4.4, seed ``003_*`` §4.1, seed ``004_*``): the Q/K/V
projections, the scores ``QKᵀ``, the weighted sum ``P·V``, the output projection ``W_O``,
the MLP, and the LM head once per model.  Here each part is a node, for a prefill of
``batch × prompt_len`` tokens and for one decode step at ``context_len``, with the exact
widths of the model (GQA/MQA K and V, MLA, gated MLPs, MoE experts averaged over the
layers) and 2 FLOPs per multiply-add (a product ``[m,k]·[k,n]`` costs ``2mkn``).  The
parts of every layer plus the LM head add up to :func:`~xlcalc.formulas.flops.prefill_flops`
and :func:`~xlcalc.formulas.flops.decode_flops` for models without sliding windows
(``tests/test_tutorial_formulas.py``).  Prefill attention is causal (token ``i`` attends to
``i`` tokens: ``s(s+1)/2`` pairs); the LM head runs on the last token only, as in serving.

The KV cache's saving (seed 000 §2.4, seed 001 §4.4): without a cache every generated
token recomputes the forward pass of the whole sequence so far; with one, each token
passes through the layers once and attends to its prefix once.

MLA weight absorption (seed ``002_*`` §1.5; DeepSeek-V2 §2.1.2): in decode, ``W_UK`` is
folded into the query and ``W_UV`` into the output, so attention runs over the cached
latent (``r + d_rope`` values per token) instead of decompressed keys and values.
"""

from ..expr import where
from ..graph import derive, formula
from .flops import attended_token_layers, indexed_token_layers

F = "FLOPs"
P = "parameters"


# ----------------------------------------------------------------- matrix widths

@formula(P, "W_O: a·d_v·h (+ bias); DeepSeek-V2 §2.1 for MLA (a·d_v·h)")
def params_o_proj_per_layer(hidden_size, num_heads, head_dim, v_head_dim, kv_lora_rank,
                            o_bias):
    """Output-projection weights of one layer: ``a·d·h`` (plus the output bias), or
    ``a·d_v·h`` for MLA."""
    return where(kv_lora_rank > 0, num_heads * v_head_dim * hidden_size,
                 num_heads * head_dim * hidden_size + o_bias * hidden_size)


@formula(P, "all attention weights but W_O: W_Q, W_K, W_V (MLA: the down/up projections)")
def params_qkv_proj_per_layer(params_attention_per_layer, params_o_proj_per_layer):
    """Weights that make queries, keys and values in one layer (biases included)."""
    return params_attention_per_layer - params_o_proj_per_layer


@formula(P, "the MLP weights a token uses, averaged over the layers (dense or top-k experts)")
def params_mlp_per_layer_active(params_mlp_active, num_layers):
    """MLP weights one token multiplies in an average layer (MoE: its routed and shared
    experts and the router)."""
    return params_mlp_active / num_layers


@formula("elements", "the query/key head width (MLA: d_nope + d_rope)")
def qk_head_width(head_dim, kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim):
    """Width of one query/key head: ``head_dim``, or ``d_nope + d_rope`` for MLA."""
    return where(kv_lora_rank > 0, qk_nope_head_dim + qk_rope_head_dim, head_dim)


@formula("elements", "the value head width (MLA: v_head_dim)")
def v_head_width(head_dim, kv_lora_rank, v_head_dim):
    """Width of one value head: ``head_dim``, or ``v_head_dim`` for MLA."""
    return where(kv_lora_rank > 0, v_head_dim, head_dim)


@formula("heads", "seed 002 §三: n_local_heads = n_heads // model_parallel_size")
def heads_per_gpu(num_heads, tp):
    """Query heads each tensor-parallel rank computes."""
    return num_heads / tp


@formula("heads", "seed 002 §三 n_rep; seed 000 §1.4: 8 query heads share a K/V head")
def gqa_group_size(num_heads, num_kv_heads):
    """Query heads per K/V head (1 for MHA, the head count for MQA): the factor by which
    GQA shrinks the KV cache against MHA."""
    return num_heads / num_kv_heads


# ------------------------------------------------------------- generic pieces

def matmul_flops(tokens, weights):
    """``tokens`` rows through a weight matrix of ``weights`` elements: 2 FLOPs each."""
    return 2 * tokens * weights


def attention_matmul_flops(batch, num_heads, width, pairs):
    """One of the two attention products (``QKᵀ`` with the q/k width, ``P·V`` with the
    value width) over ``pairs`` (query, key) pairs per sequence: 2·a·width per pair."""
    return 2 * batch * num_heads * width * pairs


@formula("tokens", "a prefill pushes batch × prompt_len tokens through every layer")
def prefill_tokens(batch, prompt_len):
    """Tokens of one prefill pass."""
    return batch * prompt_len


@formula("token pairs", "causal: token i attends to i tokens, s(s+1)/2 pairs per sequence")
def prefill_pairs_per_layer(prompt_len):
    """(query, key) pairs of one full-attention layer for one prompt."""
    return prompt_len * (prompt_len + 1) / 2


_PREFILL = "seed 000 §2.2 / seed 001 §4.2 (causal, exact widths)"
_DECODE = "seed 001 §4.4 decode: one token per sequence, exact widths"

derive("prefill_qkv_flops_layer", matmul_flops, F, _PREFILL + ": Q/K/V projections",
       doc="Q, K and V projections of one layer in a prefill (seed 000: 3 × 2 × b × s × h² "
           "for MHA).", tokens="prefill_tokens", weights="params_qkv_proj_per_layer")
derive("prefill_scores_flops_layer", attention_matmul_flops, F, _PREFILL + ": QKᵀ",
       doc="Scores QKᵀ of one full-attention layer in a causal prefill.",
       width="qk_head_width", pairs="prefill_pairs_per_layer")
derive("prefill_av_flops_layer", attention_matmul_flops, F, _PREFILL + ": P·V",
       doc="Weighted sum of values P·V of one full-attention layer in a causal prefill.",
       width="v_head_width", pairs="prefill_pairs_per_layer")
derive("prefill_o_flops_layer", matmul_flops, F, _PREFILL + ": W_O",
       doc="Output projection of one layer in a prefill.", tokens="prefill_tokens",
       weights="params_o_proj_per_layer")
derive("prefill_mlp_flops_layer", matmul_flops, F, _PREFILL + ": MLP",
       doc="MLP (gate, up, down; MoE: the experts each token visits) of an average layer "
           "in a prefill.", tokens="prefill_tokens", weights="params_mlp_per_layer_active")

derive("decode_qkv_flops_layer", matmul_flops, F, _DECODE + ": Q/K/V projections",
       doc="Q, K and V projections of one layer in one decode step.", tokens="batch",
       weights="params_qkv_proj_per_layer")
derive("decode_scores_flops_layer", attention_matmul_flops, F, _DECODE + ": q·Kᵀ",
       doc="Scores of one new token per sequence against context_len cached keys, one "
           "full-attention layer.", width="qk_head_width", pairs="context_len")
derive("decode_av_flops_layer", attention_matmul_flops, F, _DECODE + ": p·V",
       doc="Weighted sum over context_len cached values, one full-attention layer.",
       width="v_head_width", pairs="context_len")
derive("decode_o_flops_layer", matmul_flops, F, _DECODE + ": W_O",
       doc="Output projection of one layer in one decode step.", tokens="batch",
       weights="params_o_proj_per_layer")
derive("decode_mlp_flops_layer", matmul_flops, F, _DECODE + ": MLP",
       doc="MLP of an average layer in one decode step.", tokens="batch",
       weights="params_mlp_per_layer_active")


@formula(F, "seed 001 §4.3 logits: [b, h] × [h, V], the last token of each sequence")
def lm_head_flops_per_pass(batch, hidden_size, vocab_size):
    """LM-head FLOPs of one prefill or decode step: the last token of each sequence
    (seed 001's decode total writes 2bshV, an extra factor s)."""
    return 2 * batch * hidden_size * vocab_size


@formula(F, "seed 001 §4.4 prefill: MHA block 8sh² + 4s²h (full square)")
def prefill_attention_flops_layer(prefill_qkv_flops_layer, prefill_scores_flops_layer,
                                  prefill_av_flops_layer, prefill_o_flops_layer):
    """The attention block of one full-attention layer in a prefill: projections, scores,
    weighted sum and output projection."""
    return prefill_qkv_flops_layer + prefill_scores_flops_layer + prefill_av_flops_layer + \
        prefill_o_flops_layer


@formula(F, "seed 001 §4.4 decode: MHA block 8h² + 4(s+1)h per token")
def decode_attention_flops_layer(decode_qkv_flops_layer, decode_scores_flops_layer,
                                 decode_av_flops_layer, decode_o_flops_layer):
    """The attention block of one full-attention layer in a decode step."""
    return decode_qkv_flops_layer + decode_scores_flops_layer + decode_av_flops_layer + \
        decode_o_flops_layer


@formula(F, "sum of the parts of one full-attention layer")
def prefill_flops_layer(prefill_qkv_flops_layer, prefill_scores_flops_layer,
                        prefill_av_flops_layer, prefill_o_flops_layer, prefill_mlp_flops_layer):
    """FLOPs of one full-attention layer in a prefill (seed 001: 24bsh² + 4bs²h for a
    standard MHA layer, with the full square of scores; causal here)."""
    return prefill_qkv_flops_layer + prefill_scores_flops_layer + prefill_av_flops_layer + \
        prefill_o_flops_layer + prefill_mlp_flops_layer


@formula(F, "sum of the parts of one full-attention layer")
def decode_flops_layer(decode_qkv_flops_layer, decode_scores_flops_layer, decode_av_flops_layer,
                       decode_o_flops_layer, decode_mlp_flops_layer):
    """FLOPs of one full-attention layer in a decode step (seed 001: MHA 8h² + 4(s+1)h
    and MLP 16h² per token, for a standard layer attending to s + 1 tokens)."""
    return decode_qkv_flops_layer + decode_scores_flops_layer + decode_av_flops_layer + \
        decode_o_flops_layer + decode_mlp_flops_layer


# ------------------------------------------------------- what the KV cache saves

def _tetrahedral(m):
    """Σ_{j=1..m} j(j+1)/2 = m(m+1)(m+2)/6 (0 for m = 0)."""
    return m * (m + 1) * (m + 2) / 6


@formula("tokens", "seed 000 §2.4: 1 + 2 + … + 100 = 5050 single-token passes")
def no_cache_token_passes(prompt_len, output_len):
    """Tokens pushed through the layers to generate ``output_len`` tokens after a
    ``prompt_len``-token prompt when nothing is cached: the prefill, then every step
    recomputes the whole sequence so far, ``Σ_{m=p}^{p+n−1} m = n·p + n(n−1)/2``."""
    return output_len * prompt_len + output_len * (output_len - 1) / 2


@formula("tokens", "with a KV cache each token passes through the layers once")
def cached_token_passes(prompt_len, output_len):
    """Tokens pushed through the layers with a KV cache: the prompt, then one per
    decode step (the last generated token is never fed back): ``p + n − 1``."""
    return prompt_len + output_len - 1


def _generation_flops(batch, linear_tokens, attended_pairs, output_len, params_matmul_active,
                      vocab_size, hidden_size, num_heads, attention_head_width, num_layers):
    """FLOPs of a generation: ``linear_tokens`` through every weight but the LM head, the
    LM head once per generated token, attention over ``attended_pairs`` per layer."""
    head = vocab_size * hidden_size
    return batch * (2 * linear_tokens * (params_matmul_active - head) + 2 * output_len * head +
                    2 * num_heads * attention_head_width * attended_pairs * num_layers)


@formula(F, "seed 001 §4.4: with the cache, O(s²h) attention in total")
def generation_flops_kv_cache(batch, prompt_len, output_len, cached_token_passes,
                              params_matmul_active, vocab_size, hidden_size, num_heads,
                              attention_head_width, num_layers):
    """FLOPs to generate ``output_len`` tokens with a KV cache (every layer full
    attention): each of the ``p + n − 1`` tokens passes once and attends to its prefix
    once, ``(p+n−1)(p+n)/2`` pairs per layer."""
    total = prompt_len + output_len - 1
    return _generation_flops(batch, cached_token_passes, total * (total + 1) / 2, output_len,
                             params_matmul_active, vocab_size, hidden_size, num_heads,
                             attention_head_width, num_layers)


@formula(F, "seed 001 §4.4: without the cache, O(s³h) attention in total")
def generation_flops_no_cache(batch, prompt_len, output_len, no_cache_token_passes,
                              params_matmul_active, vocab_size, hidden_size, num_heads,
                              attention_head_width, num_layers):
    """FLOPs to generate ``output_len`` tokens recomputing everything each step: passes of
    ``p, p+1, … p+n−1`` tokens, each a causal prefill, ``Σ m(m+1)/2`` pairs per layer."""
    last = prompt_len + output_len - 1
    pairs = _tetrahedral(last) - _tetrahedral(prompt_len - 1)
    return _generation_flops(batch, no_cache_token_passes, pairs, output_len,
                             params_matmul_active, vocab_size, hidden_size, num_heads,
                             attention_head_width, num_layers)


@formula("", "seed 001 §4.4: 节省比率 ≈ 1 − 1/s")
def kv_cache_flops_saved_fraction(generation_flops_kv_cache, generation_flops_no_cache):
    """Share of a generation's FLOPs the KV cache saves: 1 − with / without."""
    return 1 - generation_flops_kv_cache / generation_flops_no_cache


# ------------------------------------------------------------ MLA weight absorption

@formula("elements", "DeepSeek-V2 §2.1.2 / FlashMLA: scores over the 512 + 64 latent, values "
                     "the 512 latent")
def decode_attention_width(kv_lora_rank, qk_rope_head_dim, attention_head_width):
    """``d_qk + d_v`` of one head as a decode step computes it: with MLA weight absorption
    (vLLM, SGLang, TensorRT-LLM, FlashMLA) the query meets the cached latent and its rope
    key (``r + d_rope``: 576 for DeepSeek-V3) and the weighted sum runs over the latent
    (``r``), ``2r + d_rope`` in all; otherwise ``d_qk + d_v``."""
    return where(kv_lora_rank > 0, 2 * kv_lora_rank + qk_rope_head_dim, attention_head_width)


@formula(F, "DeepSeek-V2 §2.1.2: W_UK absorbed into the query, W_UV into the output; "
         "attention over the cached latent")
def mla_absorbed_attention_flops_per_token(num_layers, num_heads, kv_lora_rank,
                                           decode_attention_width, context_len):
    """Attention FLOPs of one decode token with MLA weight absorption: scores over the
    latent and its rope key, ``2·a·(r + d_rope)`` per cached token per layer, and the
    weighted sum of latents, ``2·a·r`` (the two absorbed products are the ``kv_b``
    weights, counted with the other weights); 0 for models without MLA."""
    return where(kv_lora_rank > 0, 2 * num_heads * decode_attention_width * context_len *
                 num_layers, 0)


@formula(F, "DeepSeek-V2 §2.1.2: decompressing the cached latents every step")
def mla_decompress_flops_per_token(num_layers, num_heads, kv_lora_rank, qk_nope_head_dim,
                                   v_head_dim, context_len):
    """FLOPs of one decode token without absorption when only the latent is cached: the
    ``context_len`` cached latents go through ``W_UK`` and ``W_UV`` again,
    ``2·r·a·(d_nope + d_v)`` per cached token per layer (0 for models without MLA)."""
    return where(kv_lora_rank > 0, 2 * kv_lora_rank * num_heads *
                 (qk_nope_head_dim + v_head_dim) * context_len * num_layers, 0)


@formula(F, "2 FLOPs per weight per sequence")
def decode_linear_flops(batch, params_matmul_active):
    """GEMM FLOPs of one decode step: every sequence's new token through every weight."""
    return batch * 2 * params_matmul_active


@formula(F, "attention as engines run it: each layer kind at its reach, MLA absorbed")
def decode_attention_flops(batch, num_heads, decode_attention_width, num_full_layers,
                           num_sliding_layers, sliding_window, num_chunked_layers,
                           attention_chunk_size, index_topk, num_attention_layers,
                           index_num_heads, index_head_dim, linear_mixer_flops_per_token,
                           context_len):
    """Attention FLOPs of one decode step at ``context_len``: scores and weighted values
    over the tokens each layer reads (window, chunk, DeepSeek-V3.2's top-k) at the decode
    width (MLA: over the latent, weights absorbed), the indexer over every cached key, and
    the linear layers' state work."""
    main = attended_token_layers(context_len, num_full_layers, num_sliding_layers,
                                 sliding_window, num_chunked_layers, attention_chunk_size,
                                 index_topk)
    index = indexed_token_layers(context_len, num_attention_layers, index_head_dim)
    return batch * (2 * num_heads * decode_attention_width * main +
                    2 * index_num_heads * index_head_dim * index + linear_mixer_flops_per_token)


@formula(F, "decode step with MLA weight absorption (vLLM, SGLang, FlashMLA)")
def decode_flops_mla_absorbed(decode_linear_flops, decode_attention_flops):
    """FLOPs of one decode step as engines run it: 2 per weight plus attention over the
    MLA latent with the weights absorbed (:func:`decode_attention_width`); equal to
    ``decode_flops`` for models without MLA.  Serving times use this count."""
    return decode_linear_flops + decode_attention_flops
