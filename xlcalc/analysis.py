"""Public API for the analyses the tutorials teach beside the plans: one GEMM's roofline,
the critical decode batch and decode's share of peak, a layer's FLOPs part by part, what
the KV cache, prefix caching and checkpointing save, all-reduce algorithms side by side,
eager attention against FlashAttention, element-wise operators and the
compute-to-communication ratio.

Every function is thin: it fills the serving (or training) defaults, evaluates graph nodes
(:mod:`xlcalc.formulas.roofline`, ``.layer_flops``, ``.prefix_cache``, ``.checkpointing``,
``.collectives``) and returns numbers in SI units as a pandas Series (a DataFrame for the
layer breakdown).  Keyword ``overrides`` set any graph name; a misspelt one is an error.
"""

from __future__ import annotations

from .errors import checked_keywords
from .estimate import breakdown
from .serving import _check_supported, _inputs as _serving_inputs
from .training import TRAINING_DEFAULTS, _inputs as _training_inputs

__all__ = ["gemm_roofline", "critical_batch", "layer_flops", "kv_cache_savings",
           "mla_decode_flops", "prefix_caching", "checkpointing", "allreduce_algorithms",
           "attention_traffic", "operator_traffic", "compute_comm_ratio",
           "GEMM_PARTS", "CRITICAL_BATCH_PARTS", "LAYER_FLOPS_PARTS", "KV_SAVINGS_PARTS",
           "MLA_PARTS", "PREFIX_PARTS", "CHECKPOINT_PARTS", "ALLREDUCE_PARTS",
           "ATTENTION_PARTS", "OPERATOR_PARTS", "CCR_PARTS"]

#: Labels of :func:`gemm_roofline` and their nodes.
GEMM_PARTS = {"flops": "gemm_flops", "bytes": "gemm_bytes", "intensity": "gemm_intensity",
              "ridge": "ridge_intensity", "compute_s": "gemm_compute_s",
              "memory_s": "gemm_memory_s", "time_s": "gemm_time_s", "bound": "gemm_bound"}

#: Labels of :func:`critical_batch` and their nodes.
CRITICAL_BATCH_PARTS = {"critical_batch": "decode_critical_batch",
                        "compute_utilisation": "decode_compute_utilisation",
                        "intensity": "decode_intensity", "ridge": "ridge_intensity",
                        "step_s": "decode_step_s", "bound": "decode_bound",
                        "attention_intensity": "decode_attention_intensity"}

#: Rows of :func:`layer_flops`: the part and its prefill / decode nodes.
LAYER_FLOPS_PARTS = {
    "qkv": ("prefill_qkv_flops_layer", "decode_qkv_flops_layer"),
    "scores": ("prefill_scores_flops_layer", "decode_scores_flops_layer"),
    "attention_v": ("prefill_av_flops_layer", "decode_av_flops_layer"),
    "o_proj": ("prefill_o_flops_layer", "decode_o_flops_layer"),
    "mlp": ("prefill_mlp_flops_layer", "decode_mlp_flops_layer"),
    "layer": ("prefill_flops_layer", "decode_flops_layer"),
    "lm_head": ("lm_head_flops_per_pass", "lm_head_flops_per_pass"),
    "model": ("prefill_flops", "decode_flops"),
}

#: Labels of :func:`kv_cache_savings` and their nodes.
KV_SAVINGS_PARTS = {"flops_with_cache": "generation_flops_kv_cache",
                    "flops_without_cache": "generation_flops_no_cache",
                    "saved_fraction": "kv_cache_flops_saved_fraction",
                    "token_passes_with_cache": "cached_token_passes",
                    "token_passes_without_cache": "no_cache_token_passes"}

#: Labels of :func:`mla_decode_flops` and their nodes.
MLA_PARTS = {"decode_flops": "decode_flops", "decode_flops_absorbed": "decode_flops_mla_absorbed",
             "attention_flops_absorbed": "mla_absorbed_attention_flops_per_token",
             "attention_flops_materialised": "attention_flops_per_token",
             "decompress_flops": "mla_decompress_flops_per_token"}

#: Labels of :func:`prefix_caching` and their nodes.
PREFIX_PARTS = {"shared_tokens": "prefix_shared_tokens", "kv_saved": "prefix_kv_saved_bytes",
                "prefill_flops": "prefill_flops",
                "prefill_flops_skipped": "prefix_prefill_flops_skipped",
                "prefill_skipped_fraction": "prefix_prefill_skipped_fraction"}

#: Labels of :func:`checkpointing` and their nodes.
CHECKPOINT_PARTS = {"segment_layers": "checkpoint_segment_layers",
                    "sqrt_activation_bytes": "sqrt_checkpoint_activation_bytes",
                    "memory_ratio": "sqrt_checkpoint_memory_ratio",
                    "extra_flops_fraction": "recompute_extra_flops_fraction",
                    "recompute_share": "recompute_flops_share"}

#: Labels of :func:`allreduce_algorithms` and their nodes.
ALLREDUCE_PARTS = {"ring_s": "allreduce_ring_s", "tree_s": "allreduce_tree_s",
                   "hierarchical_s": "allreduce_hierarchical_s",
                   "ring_bytes": "ring_allreduce_bytes",
                   "link_gb_per_s": "collective_link_gb_per_s"}

#: Labels of :func:`attention_traffic` and their nodes.
ATTENTION_PARTS = {"flops": "attention_core_flops", "eager_bytes": "attention_eager_hbm_bytes",
                   "flash_bytes": "attention_flash_hbm_bytes", "eager_s": "attention_eager_s",
                   "flash_s": "attention_flash_s", "speedup": "flash_attention_speedup"}

#: Labels of :func:`operator_traffic` and their nodes.
OPERATOR_PARTS = {"bytes": "op_traffic_bytes", "time_s": "op_time_s",
                  "intensity": "op_intensity", "ridge": "ridge_intensity"}

#: Labels of :func:`compute_comm_ratio` and their nodes.
CCR_PARTS = {"ccr": "compute_comm_ratio", "gb_per_s_needed": "comm_gb_per_s_needed",
             "link_utilisation": "link_utilisation"}


def _serving(given, check=True):
    ctx = _serving_inputs(given)
    if check and "gpu" in ctx:
        _check_supported(ctx)
    return ctx


@checked_keywords
def gemm_roofline(m, n, k, gpu, dtype="bf16", mfu=None, bw_eff=None, engine=None):
    """Roofline of one GEMM ``[m, k] · [k, n]`` in ``dtype`` on ``gpu`` (seed 002 §1.10):
    ``flops`` (2mnk), ``bytes`` ((mk + kn + mn) × dtype bytes), ``intensity``, the GPU's
    ``ridge``, ``compute_s`` at ``mfu`` of the dense peak (not given: on the GPU family's
    calibrated curve by size, the engine's share of it), ``memory_s`` at ``bw_eff`` of the
    HBM bandwidth (not given: calibrated), ``time_s`` (the longer) and ``bound``.  The
    tutorials' plain roofline is ``mfu=0.5, bw_eff=1.0``."""
    ctx = _serving(dict(gemm_m=m, gemm_n=n, gemm_k=k, gpu=gpu, dtype=dtype, mfu=mfu,
                        bw_eff=bw_eff, engine=engine))
    return breakdown(GEMM_PARTS, name="GEMM roofline", **ctx)


@checked_keywords
def critical_batch(model, gpu, context_len, batch=1, tp=1, dtype="bf16", kv_dtype="bf16",
                   mfu=None, bw_eff=None, **overrides):
    """Where decode turns compute-bound (seed 001 §4.4, seed 000 §2.3): the
    ``critical_batch`` (sequences per step at ``context_len``; 0 when the KV reads keep
    it memory-bound at any batch) and, for a step of ``batch`` sequences, its
    ``compute_utilisation`` (FLOPs over the GPUs' dense peak in the step's time), arithmetic
    ``intensity`` against the ``ridge``, time, bound, and the ``attention_intensity`` of
    decode attention alone."""
    ctx = _serving(dict(model=model, gpu=gpu, context_len=context_len, batch=batch, tp=tp,
                        dtype=dtype, kv_dtype=kv_dtype, mfu=mfu, bw_eff=bw_eff, **overrides))
    return breakdown(CRITICAL_BATCH_PARTS, name="decode roofline", **ctx)


@checked_keywords
def layer_flops(model, batch, prompt_len, context_len=None, **overrides):
    """FLOPs of one layer part by part (seed 000 §2.2, seed 001 §4.2 and §4.4): rows
    ``qkv``, ``scores``, ``attention_v``, ``o_proj``, ``mlp`` and their sum ``layer`` (a
    full-attention layer; MLP averaged over the layers for MoE), ``lm_head`` (last token of
    each sequence) and the whole ``model``; columns ``prefill`` (``batch × prompt_len``
    tokens, causal) and ``decode`` (one step at ``context_len``, default
    ``prompt_len + 1``)."""
    import pandas as pd
    context_len = prompt_len + 1 if context_len is None else context_len
    ctx = _serving(dict(model=model, batch=batch, prompt_len=prompt_len,
                        context_len=context_len, **overrides))
    from .estimate import estimate
    names = sorted({n for pair in LAYER_FLOPS_PARTS.values() for n in pair})
    v = estimate(names, **ctx)
    return pd.DataFrame({"prefill": [float(v[p]) for p, _ in LAYER_FLOPS_PARTS.values()],
                         "decode": [float(v[d]) for _, d in LAYER_FLOPS_PARTS.values()]},
                        index=pd.Index(list(LAYER_FLOPS_PARTS), name="part"))


@checked_keywords
def kv_cache_savings(model, prompt_len, output_len, batch=1, **overrides):
    """What the KV cache saves over generating ``output_len`` tokens after a
    ``prompt_len``-token prompt (seed 000 §2.4, seed 001 §4.4): FLOPs with and without it,
    the ``saved_fraction``, and the token passes through the layers (without a cache:
    ``n·p + n(n−1)/2``, e.g. 5050 for a 1-token prompt and 100 tokens)."""
    ctx = _serving(dict(model=model, prompt_len=prompt_len, output_len=output_len,
                        batch=batch, **overrides))
    return breakdown(KV_SAVINGS_PARTS, name="KV cache savings", **ctx)


@checked_keywords
def mla_decode_flops(model, batch, context_len, **overrides):
    """Decode FLOPs of an MLA model three ways (seed 002 §1.5, DeepSeek-V2 §2.1.2):
    ``decode_flops`` as xlcalc counts it (keys and values as if materialised),
    ``decode_flops_absorbed`` (``W_UK``/``W_UV`` absorbed, attention over the latent), the
    per-token attention FLOPs of both, and the ``decompress_flops`` of re-expanding every
    cached latent each step (what absorption avoids)."""
    ctx = _serving(dict(model=model, batch=batch, context_len=context_len, **overrides))
    return breakdown(MLA_PARTS, name="MLA decode FLOPs", **ctx)


@checked_keywords
def prefix_caching(model, batch, prompt_len, prefix_len, hit_rate, kv_dtype="bf16", tp=1,
                   block_size=16, **overrides):
    """What prefix caching saves (seed 000 §6.4): of ``batch`` requests with
    ``prompt_len``-token prompts, a share ``hit_rate`` find their first ``prefix_len``
    tokens cached; ``shared_tokens`` (whole ``block_size`` blocks), ``kv_saved`` bytes per
    GPU, the batch's ``prefill_flops`` without caching, the FLOPs skipped and their share."""
    ctx = _serving(dict(model=model, batch=batch, prompt_len=prompt_len,
                        prefix_len=prefix_len, prefix_hit_rate=hit_rate, kv_dtype=kv_dtype,
                        tp=tp, block_size=block_size, **overrides))
    return breakdown(PREFIX_PARTS, name="prefix caching", **ctx)


@checked_keywords
def checkpointing(model, seq_len, micro_batch=1, precision="bf16-mixed", tp=1, pp=1,
                  **overrides):
    """√N activation checkpointing (seed 000 §4.3, Chen et al. 2016) for one micro-batch on
    the first stage: ``segment_layers`` (ceil √L), ``sqrt_activation_bytes``, its
    ``memory_ratio`` to storing every layer, and what recomputing one forward pass costs:
    ``extra_flops_fraction`` (over a step without it, 1/3) and ``recompute_share`` (of the
    recomputing step, 1/4)."""
    given = dict(model=model, seq_len=seq_len, micro_batch=micro_batch, batch=micro_batch,
                 precision=precision, tp=tp, pp=pp, tokens=seq_len * micro_batch, **overrides)
    ctx = _training_inputs(TRAINING_DEFAULTS, _serving_inputs(given))
    return breakdown(CHECKPOINT_PARTS, name="activation checkpointing", **ctx)


@checked_keywords
def allreduce_algorithms(size_bytes, n, gpu, gpus_per_node=8, link_eff=None,
                         link_latency_us=None, scale_out_eff=None):
    """Ring, tree and hierarchical all-reduce of ``size_bytes`` over ``n`` GPUs of ``gpu``
    (seed 002 §四, seed 000 附录A): each one's time in the α-β model, the bytes each rank
    sends in the ring, and the link a flat collective runs at (NVLink inside a node, the
    network beyond); ``link_eff`` (NVLink) and ``link_latency_us`` default to the GPU
    family's measured NCCL/RCCL figures (the tutorials': 1.0 and 8 µs), ``scale_out_eff``
    (the network, beyond ``gpus_per_node``) to the efficiency table's."""
    ctx = _serving(dict(message_bytes=size_bytes, n_gpus=n, gpu=gpu, gpus_per_node=gpus_per_node,
                        link_eff=link_eff, link_latency_us=link_latency_us,
                        scale_out_eff=scale_out_eff), check=False)
    return breakdown(ALLREDUCE_PARTS, name="all-reduce", **ctx)


@checked_keywords
def attention_traffic(model, gpu, batch, seq_len, dtype="bf16", tp=1, flash_block_size=128,
                      mfu=None, bw_eff=None, **overrides):
    """Eager attention against FlashAttention-2 in one layer's forward pass (seed 004, seed
    002 §1.7, seed 000 §6.1): the ``flops`` of both products, each one's HBM bytes and
    roofline time (calibrated efficiencies unless ``mfu``/``bw_eff`` are given), and the
    ``speedup`` this implies."""
    ctx = _serving(dict(model=model, gpu=gpu, batch=batch, seq_len=seq_len, dtype=dtype, tp=tp,
                        flash_block_size=flash_block_size, mfu=mfu, bw_eff=bw_eff,
                        **overrides))
    return breakdown(ATTENTION_PARTS, name="attention HBM traffic", **ctx)


@checked_keywords
def operator_traffic(operator, elements, gpu, dtype="bf16", mfu=None, bw_eff=None):
    """HBM traffic of an element-wise or reduction ``operator`` (``operators`` table:
    elementwise, residual-add, rmsnorm, layernorm, softmax-naive/-safe/-online) over
    ``elements`` elements (seed 004): ``bytes``, ``time_s``, ``intensity`` and the GPU's
    ``ridge``."""
    ctx = _serving(dict(operator=operator, op_elements=elements, gpu=gpu, dtype=dtype,
                        mfu=mfu, bw_eff=bw_eff))
    return breakdown(OPERATOR_PARTS, name="operator traffic", **ctx)


@checked_keywords
def compute_comm_ratio(work_flops, message_bytes, gpu, link_gb_per_s, dtype="bf16", mfu=None,
                       link_eff=None):
    """Compute-to-communication ratio (seed 002 §七): ``ccr`` = FLOPs per byte
    communicated, the link bandwidth a GPU computing at ``mfu`` of its peak needs (not
    given: the family's calibrated GEMM plateau), and the ``link_utilisation`` of a
    ``link_gb_per_s`` link (above 1: communication-bound)."""
    ctx = _serving(dict(work_flops=work_flops, message_bytes=message_bytes, gpu=gpu,
                        link_gb_per_s=link_gb_per_s, dtype=dtype, mfu=mfu, link_eff=link_eff))
    return breakdown(CCR_PARTS, name="compute to communication", **ctx)
