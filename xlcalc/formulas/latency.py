"""Latency by roofline: prefill (time to first token), decode steps, end-to-end, tokens/s.

Seed ``000_*`` §2.3, §5.4, §七 example 1 and 附录A; seed ``003_*`` §六 (after kipp.ly):

* a phase takes ``max(compute, memory)``: compute = FLOPs / (tp × dense peak × ``mfu``),
  memory = bytes read / (HBM bandwidth × ``bw_eff``) on each tensor-parallel rank
  (pipeline stages of one batch run one after another, so ``pp`` does not shorten it).
  Without an explicit ``mfu`` (the default, 0) the compute time is calibrated
  (:mod:`.efficiency`): the GEMMs at the GPU family's plateau plus a fixed time per GEMM
  (small decode batches run far below the plateau, large prefills at it), attention at
  the family's fused-kernel efficiency; ``bw_eff`` defaults to the family's sustained
  bandwidth share and the links to its measured NCCL/RCCL figures.  A decode step of an
  MLA model attends over the cached latent with the weights absorbed, as engines run it
  (:func:`decode_attention_width`);
* **prefill** (TTFT) reads the weights once and writes the prompt's KV cache; its
  tensor-parallel all-reduces are added unless hidden (``comm_overlap``);
* a **decode step** at context ``c`` reads the weights (for an MoE model, the experts the
  batch's tokens visit) and the KV cache of ``c`` tokens per sequence, and pays
  ``2 × n_layers`` small all-reduces (mostly their latency) and the pipeline sends;
* **TPOT** is the mean decode step over the ``output_len − 1`` steps after the first token
  (prefill produces the first token; TPOT excludes TTFT); **end-to-end** = TTFT + those
  steps with the context growing from ``prompt_len + 1`` to ``prompt_len + output_len − 1``,
  summed in closed form (:func:`sum_max_affine`).

The arithmetic intensity of a phase (FLOPs per byte of HBM traffic) against the ridge
point ``peak / bandwidth`` tells whether it is compute- or memory-bound; the verdict is
taken from the same two times that make up the latency (so ``mfu`` and ``bw_eff`` count).
"""

from ..expr import both, ceil, floor, maximum, minimum, ne, where
from ..glossary import Term, register_terms
from ..graph import derive, formula
from .efficiency import gemm_seconds
from .flops import attended_token_layers, indexed_token_layers
from .kv_cache import held_token_layers

S = "s"

register_terms(
    Term("acceptance_rate", "probability that the target model accepts a drafted token "
         "(Leviathan et al. 2023: α)", "", "real", 0, maximum=1, sample=(0.6, 0.75, 0.9),
         group="efficiency"),
    Term("draft_len", "tokens the draft model (or MTP module) proposes per verification "
         "step (γ; 0: no speculative decoding)", "tokens", minimum=0, default=0,
         sample=(2, 4, 8), maximum=1024),
    Term("draft_cost_ratio", "time of one draft-model step over one target-model step (c; "
         "0.05 ≈ a draft ~1/20 the target's size)", "", "real", 0, default=0.05,
         sample=(0, 0.05, 0.2), group="efficiency"),
)


# ------------------------------------------------------------------ rates, ridge

@formula("FLOP/s", "seed 000 §七: 8 × 990 TFLOP/s × 50 %")
def tp_flops_per_s(tp, peak_tflops, gemm_eff):
    """Achieved GEMM FLOP/s of a tensor-parallel group beyond the GEMMs' fixed time:
    ``tp × dense peak × mfu`` (``mfu`` not given: the family's calibrated plateau)."""
    return tp * peak_tflops * 1e12 * gemm_eff


@formula("FLOP/s", "attention at the fused kernel's efficiency (mfu when given)")
def tp_attention_flops_per_s(tp, peak_tflops, attention_compute_eff):
    """Achieved attention FLOP/s of a tensor-parallel group: ``tp × peak ×`` the family's
    fused-kernel efficiency (``mfu`` when given)."""
    return tp * peak_tflops * 1e12 * attention_compute_eff


@formula("bytes/s", "seed 000 §七: HBM 3.35 TB/s")
def hbm_bytes_per_s(memory_bandwidth_gb_per_s, bw_eff_used):
    """Achieved HBM bandwidth of one GPU: ``bandwidth × bw_eff``."""
    return memory_bandwidth_gb_per_s * 1e9 * bw_eff_used


@formula("FLOP/byte", "seed 000 §2.3: 990 TFLOP/s / 3.35 TB/s ≈ 295")
def ridge_intensity(peak_tflops, memory_bandwidth_gb_per_s):
    """Roofline ridge point of the GPU: dense peak FLOP/s over HBM bytes/s."""
    return peak_tflops * 1e12 / (memory_bandwidth_gb_per_s * 1e9)


@formula("FLOP/byte", "the ridge at the achieved rates")
def ridge_intensity_effective(ridge_intensity, gemm_eff, bw_eff_used):
    """The ridge point at the achieved GEMM rate (``mfu``, or the calibrated plateau) and
    ``bw_eff``: a phase above it is compute-bound."""
    return ridge_intensity * gemm_eff / bw_eff_used


@formula("GEMMs", "one forward pass: every layer's GEMMs and the LM head")
def step_gemms(num_layers, gemms_per_layer):
    """GEMM launches of one forward pass through every layer (the LM head included): the
    count of fixed GEMM times a prefill or decode step pays."""
    return num_layers * gemms_per_layer + 1


# Layer kinds (docs/models.md §2) enter latency through two token-layer series of the
# context c: T(c), the tokens the main attention reads summed over layers (windows,
# chunks and DeepSeek-V3.2's top-k cap it), and I(c), the index keys DeepSeek-V3.2's
# indexer reads (every token of every layer).  Linear layers read and write a fixed state.


# ------------------------------------------------------------------------ prefill

@formula(S, "seed 000 §七: FLOPs / (GPUs × peak × MFU); calibrated: GEMMs on the curve, "
            "attention at the fused kernel's rate")
def prefill_compute_s(prefill_linear_flops, prefill_attention_flops, tp_flops_per_s,
                      tp_attention_flops_per_s, step_gemms, gemm_fixed_s):
    """Compute time of the prefill of ``batch`` prompts (exact FLOPs of the core): the
    GEMMs at the achieved rate plus their fixed time (one forward pass), attention at the
    fused kernel's rate; with an explicit ``mfu``, FLOPs / (tp × peak × mfu)."""
    return gemm_seconds(prefill_linear_flops, step_gemms, tp_flops_per_s, gemm_fixed_s) + \
        prefill_attention_flops / tp_attention_flops_per_s


@formula("bytes", "weights read once; the prompt's KV (and linear state) written")
def prefill_bytes(model_weights_bytes, batch, prompt_len, num_full_layers, num_sliding_layers,
                  sliding_window, num_chunked_layers, attention_chunk_size,
                  kv_elements_per_token_layer, kv_dtype_bytes, state_cache_bytes, tp):
    """HBM bytes one tensor-parallel rank moves in prefill: its share of the weights plus
    the prompts' KV cache it writes (each layer kind what it holds) and the linear
    layers' state."""
    kv = batch * held_token_layers(prompt_len, num_full_layers, num_sliding_layers,
                                   sliding_window, num_chunked_layers, attention_chunk_size) * \
        kv_elements_per_token_layer * kv_dtype_bytes
    return model_weights_bytes / tp + kv + state_cache_bytes


@formula(S, "roofline memory time")
def prefill_memory_s(prefill_bytes, hbm_bytes_per_s):
    """Memory time of the prefill: bytes moved / achieved bandwidth."""
    return prefill_bytes / hbm_bytes_per_s


@formula("FLOP/byte", "seed 000 §5.4: prefill intensity ≈ seq")
def prefill_intensity(prefill_flops, tp, prefill_bytes):
    """Prefill FLOPs per HBM byte on one rank (≈ batch × prompt_len for 16-bit weights)."""
    return prefill_flops / tp / prefill_bytes


@formula("", "compute-bound when compute time ≥ memory time")
def prefill_bound(prefill_compute_s, prefill_memory_s):
    """``compute`` or ``memory``: which roofline limit sets the prefill time."""
    return where(prefill_compute_s >= prefill_memory_s, "compute", "memory")


@formula(S, "exposed TP all-reduces (comm_overlap hidden) + pipeline sends")
def prefill_comm_s(prefill_tp_comm_s, prefill_pp_comm_s, comm_overlap):
    """Communication the prefill waits for: the unhidden share of the tensor-parallel
    all-reduces plus the pipeline-boundary sends."""
    return (1 - comm_overlap) * prefill_tp_comm_s + prefill_pp_comm_s


@formula(S, "seed 000 §七: Prefill延迟 = compute (+ communication); the engine's step overhead")
def ttft_s(prefill_compute_s, prefill_memory_s, prefill_comm_s, engine_step_overhead_s,
           engine_request_overhead_s):
    """Time to first token: ``max(compute, memory) + communication`` of the prefill, plus
    the engine's overhead of one step and of one request."""
    return maximum(prefill_compute_s, prefill_memory_s) + prefill_comm_s + \
        engine_step_overhead_s + engine_request_overhead_s


# ------------------------------------------------------------------ decode step

@formula("", "top-k routing: experts a batch visits, uniform routing")
def moe_expert_read_fraction(batch, num_experts, experts_per_token):
    """Expected share of an MoE layer's routed experts that ``batch`` tokens visit:
    ``1 − (1 − k/E)^batch`` (1 for a dense model)."""
    experts = maximum(num_experts, 1)
    return where(num_experts > 0, 1 - (1 - experts_per_token / experts) ** batch, 1)


@formula("bytes", "seed 000 §七: 140 GB / 8 = 17.5 GB per GPU per token")
def decode_weights_read_bytes(model_weights_bytes, num_layers, num_dense_layers, num_experts,
                              params_expert, weight_bytes_per_param, moe_expert_read_fraction,
                              tp):
    """Weight bytes one tensor-parallel rank reads per decode step: all of its share,
    less the routed experts no token of the batch visits."""
    routed = (num_layers - num_dense_layers) * num_experts * params_expert * \
        weight_bytes_per_param
    return (model_weights_bytes - routed * (1 - moe_expert_read_fraction)) / tp


@formula("bytes", "seed 000 §2.3: KV cache read, growing with the context, per layer kind")
def decode_kv_read_bytes(batch, context_len, num_full_layers, num_sliding_layers,
                         sliding_window, num_chunked_layers, attention_chunk_size, index_topk,
                         num_attention_layers, kv_attention_elements_per_token_layer,
                         index_head_dim, kv_dtype_bytes):
    """KV bytes one rank reads in a decode step at ``context_len`` for ``batch`` sequences:
    the keys/values (or latents) each layer attends to — the window, the current chunk, the
    top-k — and every index key DeepSeek-V3.2's indexer scores."""
    main = attended_token_layers(context_len, num_full_layers, num_sliding_layers,
                                 sliding_window, num_chunked_layers, attention_chunk_size,
                                 index_topk)
    index = indexed_token_layers(context_len, num_attention_layers, index_head_dim)
    return batch * (main * kv_attention_elements_per_token_layer + index * index_head_dim) * \
        kv_dtype_bytes


@formula("bytes", "linear-attention state read and written back every step")
def decode_state_bytes(state_cache_bytes):
    """Linear-attention state bytes one rank moves per decode step: each sequence's state
    is read and written once (0 without linear layers)."""
    return 2 * state_cache_bytes


@formula(S, "decode FLOPs / (GPUs × peak × MFU); calibrated: GEMMs on the curve")
def decode_compute_s(decode_linear_flops, decode_attention_flops, tp_flops_per_s,
                     tp_attention_flops_per_s, step_gemms, gemm_fixed_s):
    """Compute time of one decode step at ``context_len``: the GEMMs at the achieved rate
    plus their fixed time, attention (over the MLA latent as engines run it) at the fused
    kernel's rate; with an explicit ``mfu``, FLOPs / (tp × peak × mfu)."""
    return gemm_seconds(decode_linear_flops, step_gemms, tp_flops_per_s, gemm_fixed_s) + \
        decode_attention_flops / tp_attention_flops_per_s


@formula(S, "seed 000 §七: 17.5 GB / 3.35 TB/s = 5.2 ms")
def decode_memory_s(decode_weights_read_bytes, decode_kv_read_bytes, decode_state_bytes,
                    hbm_bytes_per_s):
    """Memory time of one decode step: (weights + KV read + linear state) / achieved
    bandwidth."""
    return (decode_weights_read_bytes + decode_kv_read_bytes + decode_state_bytes) / \
        hbm_bytes_per_s


@formula("FLOP/byte", "seed 000 §2.3: FLOPs / bytes ≈ 1 at batch 1 (16-bit)")
def decode_intensity(decode_flops_mla_absorbed, tp, decode_weights_read_bytes,
                     decode_kv_read_bytes, decode_state_bytes):
    """Decode-step FLOPs (as engines run them) per HBM byte on one rank at
    ``context_len``."""
    return decode_flops_mla_absorbed / tp / (decode_weights_read_bytes + decode_kv_read_bytes +
                                             decode_state_bytes)


@formula("", "compute-bound when compute time ≥ memory time")
def decode_bound(decode_compute_s, decode_memory_s):
    """``compute`` or ``memory``: which roofline limit sets the decode step."""
    return where(decode_compute_s >= decode_memory_s, "compute", "memory")


@formula(S, "TP all-reduces of one token per sequence + pipeline sends")
def decode_comm_s(decode_tp_comm_s, decode_pp_comm_s):
    """Communication of one decode step (latency-dominated; never hidden)."""
    return decode_tp_comm_s + decode_pp_comm_s


@formula(S, "seed 000 附录A: Decode延迟 ≈ 模型大小 / 显存带宽, generalised")
def decode_step_s(decode_compute_s, decode_memory_s, decode_comm_s, engine_step_overhead_s):
    """Time of one decode step at ``context_len``: ``max(compute, memory) + comm`` plus the
    engine's per-step overhead."""
    return maximum(decode_compute_s, decode_memory_s) + decode_comm_s + engine_step_overhead_s


# ------------------------------------------ decode time as affine functions of T(c)
# compute(c) = a1 + s1·T(c), memory(c) = a2 + s2·T(c), T(c) = Σ_layers attended tokens

@formula(S, "2·N_matmul FLOPs per token, any context; linear layers' state work")
def decode_compute_fixed_s(batch, params_matmul_active, linear_mixer_flops_per_token,
                           tp_flops_per_s, tp_attention_flops_per_s, step_gemms,
                           gemm_fixed_s):
    """Part of a decode step's compute time that does not grow with the context: the
    GEMMs (with their fixed time: a small batch runs far below the plateau) and the
    linear layers' state work."""
    return gemm_seconds(batch * 2 * params_matmul_active, step_gemms, tp_flops_per_s,
                        gemm_fixed_s) + batch * linear_mixer_flops_per_token / \
        tp_attention_flops_per_s


@formula(S, "2·a·(d_qk + d_v) FLOPs per attended token per layer (MLA absorbed: 2·a·(2r + "
            "d_rope))")
def decode_compute_per_token_layer_s(batch, num_heads, decode_attention_width,
                                     tp_attention_flops_per_s):
    """Compute time a decode step adds per attended token per layer."""
    return batch * 2 * num_heads * decode_attention_width / tp_attention_flops_per_s


@formula(S, "DeepSeek-V3.2 indexer: 2·heads·d_idx FLOPs per scored token per layer")
def decode_compute_per_index_layer_s(batch, index_num_heads, index_head_dim,
                                     tp_attention_flops_per_s):
    """Compute time a decode step adds per index key scored per layer."""
    return batch * 2 * index_num_heads * index_head_dim / tp_attention_flops_per_s


@formula(S, "weights read every step; linear state read and written")
def decode_memory_fixed_s(decode_weights_read_bytes, decode_state_bytes, hbm_bytes_per_s):
    """Part of a decode step's memory time that does not grow with the context."""
    return (decode_weights_read_bytes + decode_state_bytes) / hbm_bytes_per_s


@formula(S, "KV read per attended token per layer")
def decode_memory_per_token_layer_s(batch, kv_attention_elements_per_token_layer,
                                    kv_dtype_bytes, hbm_bytes_per_s):
    """Memory time a decode step adds per attended token per layer."""
    return batch * kv_attention_elements_per_token_layer * kv_dtype_bytes / hbm_bytes_per_s


@formula(S, "index key read per scored token per layer")
def decode_memory_per_index_layer_s(batch, index_head_dim, kv_dtype_bytes, hbm_bytes_per_s):
    """Memory time a decode step adds per index key read per layer."""
    return batch * index_head_dim * kv_dtype_bytes / hbm_bytes_per_s


@formula(S, "compute minus memory, fixed part")
def decode_excess_fixed_s(decode_compute_fixed_s, decode_memory_fixed_s):
    """``a1 − a2``: how far compute exceeds memory time before any context."""
    return decode_compute_fixed_s - decode_memory_fixed_s


@formula(S, "compute minus memory, per attended token-layer")
def decode_excess_per_token_layer_s(decode_compute_per_token_layer_s,
                                    decode_memory_per_token_layer_s):
    """``s1 − s2``: how compute's lead changes per attended token per layer."""
    return decode_compute_per_token_layer_s - decode_memory_per_token_layer_s


def sum_affine(intercept, slope, lo, hi):
    """``Σ_{c=lo}^{hi} (intercept + slope·c)``: an arithmetic series, 0 when ``hi < lo``."""
    return maximum(hi - lo + 1, 0) * (intercept + slope * (lo + hi) / 2)


def sum_positive_part(intercept, slope, lo, hi):
    """``Σ_{c=lo}^{hi} max(intercept + slope·c, 0)`` in closed form.

    ``d(c) = intercept + slope·c`` changes sign once, at ``c* = −intercept/slope``; the
    positive terms are ``c ≥ ceil(c*)`` (slope > 0) or ``c ≤ floor(c*)`` (slope < 0), an
    arithmetic series; with slope 0 every term is ``max(intercept, 0)``."""
    safe = where(ne(slope, 0), slope, 1)
    crossing = -intercept / safe
    rising = sum_affine(intercept, slope, maximum(lo, ceil(crossing)), hi)
    falling = sum_affine(intercept, slope, lo, minimum(hi, floor(crossing)))
    flat = maximum(hi - lo + 1, 0) * maximum(intercept, 0)
    return where(slope > 0, rising, where(slope < 0, falling, flat))


def sum_max_affine(a1, s1, a2, s2, lo, hi):
    """``Σ_{c=lo}^{hi} max(a1 + s1·c, a2 + s2·c)`` in closed form.

    ``max(u, v) = v + max(u − v, 0)``: the memory-time series plus the positive part of
    the compute lead, which is linear in ``c`` and so splits at its one crossover into
    an arithmetic series and zeros — at most two arithmetic series in all."""
    return sum_affine(a2, s2, lo, hi) + sum_positive_part(a1 - a2, s1 - s2, lo, hi)


@formula("tokens", "the step after the first token sees the prompt and that token")
def decode_first_context(prompt_len):
    """Context of the first decode step: ``prompt_len + 1`` tokens."""
    return prompt_len + 1


@formula("tokens", "output_len tokens: the first from prefill, output_len − 1 decode steps")
def decode_last_context(prompt_len, output_len):
    """Context of the last decode step: ``prompt_len + output_len − 1`` (below
    :func:`decode_first_context` when ``output_len`` is 1: no decode step)."""
    return prompt_len + output_len - 1


# The decode steps c = first … last: T(c) is affine in c between breakpoints — the sliding
# window, DeepSeek-V3.2's top-k, and the ends of the chunk the first step is in and of the
# next one (chunked layers restart there).  Four breakpoints, sorted, cut the steps into
# five segments; on each, compute and memory are affine in c and Σ max(compute, memory)
# is closed-form (sum_max_affine).  Exact when the steps cross at most two chunk
# boundaries (outputs up to one chunk, 8192 tokens for Llama 4); past that, chunked
# layers are taken to keep growing (an upper bound).

def _raw_breaks(sliding_window, num_sliding_layers, index_topk, num_full_layers,
                attention_chunk_size, num_chunked_layers, first, last):
    window = where(both(sliding_window > 0, num_sliding_layers > 0), sliding_window, last)
    topk = where(both(index_topk > 0, num_full_layers > 0), index_topk, last)
    has_chunk = both(attention_chunk_size > 0, num_chunked_layers > 0)
    chunk = where(has_chunk, attention_chunk_size, 1)
    end1 = where(has_chunk, chunk * ceil(first / chunk), last)
    end2 = where(has_chunk, end1 + chunk, last)
    return window, topk, end1, end2


def _sorted4(a, b, c, d):
    """The four values in increasing order (a sorting network of min/max)."""
    lo1, hi1 = minimum(a, b), maximum(a, b)
    lo2, hi2 = minimum(c, d), maximum(c, d)
    first, top = minimum(lo1, lo2), maximum(hi1, hi2)
    mid_a, mid_b = maximum(lo1, lo2), minimum(hi1, hi2)
    return first, minimum(mid_a, mid_b), maximum(mid_a, mid_b), top


def _break(i):
    def node(sliding_window, num_sliding_layers, index_topk, num_full_layers,
             attention_chunk_size, num_chunked_layers, decode_first_context,
             decode_last_context):
        return _sorted4(*_raw_breaks(sliding_window, num_sliding_layers, index_topk,
                                     num_full_layers, attention_chunk_size,
                                     num_chunked_layers, decode_first_context,
                                     decode_last_context))[i]
    node.__doc__ = f"""The {i + 1}. of the four sorted breakpoints of the decode steps'
    token-layer series (window, top-k, the first two chunk ends; the last step when
    absent)."""
    return node


for _i in range(4):
    derive(f"decode_break_{_i + 1}", _break(_i), "tokens",
           "sorted breakpoints of T(c): window, top-k, chunk ends")


def _segment_t0(lo, num_full_layers, num_sliding_layers, sliding_window, num_chunked_layers,
                attention_chunk_size, index_topk):
    """T at the first step of a segment."""
    return attended_token_layers(lo, num_full_layers, num_sliding_layers, sliding_window,
                                 num_chunked_layers, attention_chunk_size, index_topk)


def _segment_slope(lo, num_full_layers, num_sliding_layers, sliding_window,
                   num_chunked_layers, attention_chunk_size, index_topk):
    """How T grows per step inside a segment (T is affine there): T(lo + 1) − T(lo)."""
    kinds = (num_full_layers, num_sliding_layers, sliding_window, num_chunked_layers,
             attention_chunk_size, index_topk)
    return attended_token_layers(lo + 1, *kinds) - attended_token_layers(lo, *kinds)


def _segment_sum(decode_compute_fixed_s, decode_compute_per_token_layer_s,
                 decode_compute_per_index_layer_s, decode_memory_fixed_s,
                 decode_memory_per_token_layer_s, decode_memory_per_index_layer_s,
                 num_attention_layers, index_head_dim, t0, slope, lo, hi):
    """Σ_{c=lo}^{hi} max(compute(c), memory(c)) on a segment where T(c) = t0 + slope·(c − lo)
    and the indexer reads I(c) = L·c: two affine series (sum_max_affine)."""
    index_layers = where(index_head_dim > 0, num_attention_layers, 0)
    intercept = t0 - slope * lo
    return sum_max_affine(
        decode_compute_fixed_s + decode_compute_per_token_layer_s * intercept,
        decode_compute_per_token_layer_s * slope + decode_compute_per_index_layer_s * index_layers,
        decode_memory_fixed_s + decode_memory_per_token_layer_s * intercept,
        decode_memory_per_token_layer_s * slope + decode_memory_per_index_layer_s * index_layers,
        lo, hi)


def _after(decode_first_context, b):
    """First step of a segment: after the previous breakpoint, not before the first step."""
    return maximum(decode_first_context, b + 1)


def _upto(decode_last_context, b):
    """Last step of a segment: its breakpoint, not after the last step."""
    return minimum(decode_last_context, b)


for _i in range(5):
    lo = "decode_first_context" if _i == 0 else f"decode_segment_{_i + 1}_lo"
    if _i:
        derive(f"decode_segment_{_i + 1}_lo", _after, "tokens", "segment start",
               doc=f"First decode step of segment {_i + 1}.", b=f"decode_break_{_i}")
    hi = "decode_last_context" if _i == 4 else f"decode_segment_{_i + 1}_hi"
    if _i < 4:
        derive(f"decode_segment_{_i + 1}_hi", _upto, "tokens", "segment end",
               doc=f"Last decode step of segment {_i + 1}.", b=f"decode_break_{_i + 1}")
    derive(f"decode_segment_{_i + 1}_t0", _segment_t0, "token-layers",
           "T(c) at the segment's first step", doc=f"Attended token-layers at the first "
           f"decode step of segment {_i + 1}.", lo=lo)
    derive(f"decode_segment_{_i + 1}_slope", _segment_slope, "token-layers",
           "T(c) is affine inside a segment", doc=f"Growth of the attended token-layers "
           f"per decode step in segment {_i + 1}.", lo=lo)
    derive(f"decode_sum_{_i + 1}_s", _segment_sum, S,
           "Σ max(compute, memory) on one affine segment (sum_max_affine)",
           doc=f"Σ of max(compute, memory) over the decode steps of segment {_i + 1} of 5 "
           "(between the sorted breakpoints of the layer kinds' reach).",
           t0=f"decode_segment_{_i + 1}_t0", slope=f"decode_segment_{_i + 1}_slope",
           lo=lo, hi=hi)


@formula(S, "seed 000 §七: 256 tokens × per-token latency, with the context growing")
def decode_total_s(decode_sum_1_s, decode_sum_2_s, decode_sum_3_s, decode_sum_4_s,
                   decode_sum_5_s, output_len, decode_comm_s, engine_step_overhead_s):
    """Time of all ``output_len − 1`` decode steps: the closed-form sums of
    ``max(compute, memory)`` over the five segments plus each step's communication and the
    engine's per-step overhead."""
    return decode_sum_1_s + decode_sum_2_s + decode_sum_3_s + decode_sum_4_s + \
        decode_sum_5_s + (output_len - 1) * (decode_comm_s + engine_step_overhead_s)


def _at(context, a1, s1, s1i, a2, s2, s2i, num_attention_layers, index_head_dim, *kinds):
    """compute and memory time of the decode step at ``context``."""
    main = attended_token_layers(context, *kinds)
    index = indexed_token_layers(context, num_attention_layers, index_head_dim)
    return a1 + s1 * main + s1i * index, a2 + s2 * main + s2i * index


@formula(S, "the first decode step (context prompt_len + 1)")
def decode_first_step_s(decode_compute_fixed_s, decode_compute_per_token_layer_s,
                        decode_compute_per_index_layer_s, decode_memory_fixed_s,
                        decode_memory_per_token_layer_s, decode_memory_per_index_layer_s,
                        num_attention_layers, index_head_dim, num_full_layers,
                        num_sliding_layers, sliding_window, num_chunked_layers,
                        attention_chunk_size, index_topk, decode_first_context, decode_comm_s,
                        engine_step_overhead_s):
    """Time of the first decode step (what a second output token costs)."""
    compute, memory = _at(decode_first_context, decode_compute_fixed_s,
                          decode_compute_per_token_layer_s, decode_compute_per_index_layer_s,
                          decode_memory_fixed_s, decode_memory_per_token_layer_s,
                          decode_memory_per_index_layer_s, num_attention_layers,
                          index_head_dim, num_full_layers, num_sliding_layers, sliding_window,
                          num_chunked_layers, attention_chunk_size, index_topk)
    return maximum(compute, memory) + decode_comm_s + engine_step_overhead_s


@formula(S, "TPOT = (e2e − TTFT) / (output_len − 1): excludes the first token")
def tpot_s(decode_total_s, output_len, decode_first_step_s):
    """Time per output token after the first: the mean decode step (the first decode
    step when ``output_len`` is 1).  TTFT is not included."""
    return where(output_len > 1, decode_total_s / maximum(output_len - 1, 1),
                 decode_first_step_s)


@formula(S, "seed 000 §七: 端到端延迟 = prefill + decode")
def e2e_s(ttft_s, decode_total_s):
    """End-to-end latency of the batch: TTFT + every decode step."""
    return ttft_s + decode_total_s


@formula("tokens/s", "seed 000 §七: 吞吐量 = 8 × 256 / 1.55")
def tokens_per_s(batch, output_len, e2e_s):
    """Generated tokens per second for the batch: ``batch × output_len / e2e``."""
    return batch * output_len / e2e_s


@formula("tokens/s", "what one user sees")
def tokens_per_s_per_user(output_len, e2e_s):
    """Generated tokens per second for one sequence: ``output_len / e2e``."""
    return output_len / e2e_s


@formula("tokens/s", "steady-state decode throughput")
def decode_tokens_per_s(batch, tpot_s):
    """Tokens per second the batch generates while decoding: ``batch / TPOT``."""
    return batch / tpot_s


@formula("tokens", "seed 003 §5.4: s + o tokens of KV at the end")
def total_len(prompt_len, output_len):
    """Prompt plus generated tokens: the KV a finished sequence holds."""
    return prompt_len + output_len


@formula("", "a warning, not an error")
def generation_warning(total_len, max_position_embeddings):
    """Text warning when prompt + output exceed the model's ``max_position_embeddings``."""
    return where(total_len > max_position_embeddings,
                 "prompt_len + output_len exceeds the model's max_position_embeddings", "")


def _last_step(fixed, per_token_layer, per_index_layer, num_attention_layers, index_head_dim,
               num_full_layers, num_sliding_layers, sliding_window, num_chunked_layers,
               attention_chunk_size, index_topk, decode_last_context, decode_first_context):
    """An affine-in-T time (compute or memory) at the last decode step."""
    c = maximum(decode_last_context, decode_first_context)
    main = attended_token_layers(c, num_full_layers, num_sliding_layers, sliding_window,
                                 num_chunked_layers, attention_chunk_size, index_topk)
    index = indexed_token_layers(c, num_attention_layers, index_head_dim)
    return fixed + per_token_layer * main + per_index_layer * index


@formula(S, "compute time at the last decode step")
def decode_last_compute_s(decode_compute_fixed_s, decode_compute_per_token_layer_s,
                          decode_compute_per_index_layer_s, num_attention_layers,
                          index_head_dim, num_full_layers, num_sliding_layers, sliding_window,
                          num_chunked_layers, attention_chunk_size, index_topk,
                          decode_last_context, decode_first_context):
    """Compute time of the last decode step (context ``prompt_len + output_len − 1``)."""
    return _last_step(decode_compute_fixed_s, decode_compute_per_token_layer_s,
                      decode_compute_per_index_layer_s, num_attention_layers, index_head_dim,
                      num_full_layers, num_sliding_layers, sliding_window, num_chunked_layers,
                      attention_chunk_size, index_topk, decode_last_context,
                      decode_first_context)


@formula(S, "memory time at the last decode step")
def decode_last_memory_s(decode_memory_fixed_s, decode_memory_per_token_layer_s,
                         decode_memory_per_index_layer_s, num_attention_layers, index_head_dim,
                         num_full_layers, num_sliding_layers, sliding_window, num_chunked_layers,
                         attention_chunk_size, index_topk, decode_last_context,
                         decode_first_context):
    """Memory time of the last decode step (the largest KV read)."""
    return _last_step(decode_memory_fixed_s, decode_memory_per_token_layer_s,
                      decode_memory_per_index_layer_s, num_attention_layers, index_head_dim,
                      num_full_layers, num_sliding_layers, sliding_window, num_chunked_layers,
                      attention_chunk_size, index_topk, decode_last_context,
                      decode_first_context)


@formula("FLOP/byte", "seed 000 §2.3 at the last decode step")
def decode_last_intensity(decode_last_compute_s, decode_last_memory_s, tp_flops_per_s, tp,
                          hbm_bytes_per_s):
    """Decode FLOPs per HBM byte on one rank at the last step (the largest KV)."""
    return decode_last_compute_s * tp_flops_per_s / tp / (decode_last_memory_s * hbm_bytes_per_s)


@formula("", "compute- or memory-bound at the last decode step")
def decode_last_bound(decode_last_compute_s, decode_last_memory_s):
    """``compute`` or ``memory``: which limit sets the last decode step."""
    return where(decode_last_compute_s >= decode_last_memory_s, "compute", "memory")


# ---------------------------------------------------- seed 003 §六 (kipp.ly) method

@formula(S, "seed 003 §六 (kipp.ly): max(2P/(N·A_bm), B·2P/(N·A_f)) + comms")
def decode_step_s_seed_003(params_total, dtype_bytes, batch, tp, memory_bandwidth_gb_per_s,
                           peak_tflops, num_layers, hidden_size, tp_link_gb_per_s,
                           link_latency_us):
    """The seed's decode floorline per token: weights read ``bytes·P / (N·A_bm)`` (small
    batch) or compute ``B·2P / (N·A_f)`` (large batch), whichever is larger, at the spec
    sheet's peaks; plus, with N > 1 GPUs, the larger of the latency term
    ``4·n_layers·latency`` and the bandwidth term ``B·2·4·n_layers·d_model / A_c``.  No KV
    read, no efficiencies: a lower bound, as the seed says."""
    memory = dtype_bytes * params_total / (tp * memory_bandwidth_gb_per_s * 1e9)
    compute = batch * 2 * params_total / (tp * peak_tflops * 1e12)
    comms = maximum(4 * num_layers * link_latency_us * 1e-6,
                    batch * 2 * 4 * num_layers * hidden_size / (tp_link_gb_per_s * 1e9))
    return maximum(memory, compute) + where(tp > 1, comms, 0)


# --------------------------------------------------------- speculative decoding

@formula("tokens", "Leviathan et al. 2023 eq. (1): (1 − α^(γ+1)) / (1 − α)")
def spec_expected_tokens(acceptance_rate, draft_len):
    """Expected tokens one target-model verification step yields with ``draft_len``
    drafted tokens accepted with probability ``acceptance_rate`` each (γ + 1 at α = 1)."""
    a, g = acceptance_rate, draft_len
    return where(a < 1, (1 - a ** (g + 1)) / where(a < 1, 1 - a, 1), g + 1)


@formula("", "Leviathan et al. 2023 Theorem 3.8: (1 − α^(γ+1)) / ((1 − α)(γc + 1))")
def spec_speedup(spec_expected_tokens, draft_len, draft_cost_ratio):
    """Expected decode speed-up of speculative decoding: tokens per step over the step's
    cost (one target step, verifying γ + 1 tokens at about the cost of one when
    memory-bound, plus γ draft steps of relative cost ``c``)."""
    return spec_expected_tokens / (draft_len * draft_cost_ratio + 1)


@formula(S, "seed 000 §6.3: 加速比 2-3 倍 (decode)")
def spec_tpot_s(tpot_s, spec_speedup):
    """Time per output token with speculative decoding."""
    return tpot_s / spec_speedup
