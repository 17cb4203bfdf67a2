"""Public API for serving plans: inference memory per GPU, latency, capacity, communication.

Every function is thin: it fills the documented defaults, evaluates graph nodes
(:mod:`xlcalc.formulas.inference_memory`, ``.latency``, ``.capacity``, ``.comm``) and
returns numbers in SI units (bytes, seconds, tokens/s) or a pandas breakdown.  Array
arguments broadcast (a DataFrame comes back).  A plan that does not fit is a result
(``fits`` False, negative ``headroom``), not an error; a context beyond the model's
``max_position_embeddings`` is reported in the ``warning`` entry, not raised.

Defaults (:data:`SERVING_DEFAULTS`; the others come from the engine and the GPU family):

=========================  ==============  ==============================================
input                      default         why
=========================  ==============  ==============================================
``engine``                 ``vllm``        the engine whose memory rules, batching
                                           defaults and per-step overhead apply
                                           (``xlcalc/presets/engines``: vllm, sglang,
                                           trt-llm, seed — the tutorials' plain rules)
``dtype``/``kv_dtype``     bf16            16-bit serving, as in the seeds
``compute_dtype``          auto            the weights' native compute where the GPU has its
                                           peak, else 16 bits (fp8/int4 weights on an A100
                                           run in bf16, as vLLM's Marlin kernels do)
``tp``, ``pp``             1               one GPU
``mfu``                    0 (calibrated)  GEMMs on the GPU family's measured curve by size
                                           (plateau + fixed time per GEMM), attention at its
                                           fused kernel's efficiency; > 0: every FLOP at
                                           that share of the peak (the seeds' 0.5)
``bw_eff``                 0 (calibrated)  the family's sustained (STREAM triad) share of
                                           the datasheet HBM bandwidth (0.88 on Hopper)
                                           times the engine's end-to-end share
``link_eff``               the family's    NCCL/RCCL all-reduce bus bandwidth share
``link_latency_us``        the family's    smallest NCCL/RCCL all-reduce (28 µs on Hopper)
``gpu_memory_utilization`` 0 (engine's)   vLLM 0.9 of the reported total; SGLang its
                                           ``mem_fraction_static`` rule; 1 for the seeds
``infer_reserve_bytes``    the engine's    vLLM's non-torch memory (0.13 GiB; +0.42 GiB of
                                           communication buffers when tp × pp > 1)
``max_num_batched_tokens`` the engine's    vLLM 8192 on ≥ 70 GiB GPUs, else 2048
``max_num_seqs``           the engine's    vLLM 1024 on ≥ 70 GiB GPUs, else 256
``block_size``             the engine's    vLLM 16-token pages (the seeds: 1, exact)
``comm_overlap``           0               prefill TP all-reduces exposed (vLLM)
``gpus_per_node``          8               one NVLink domain
``flash_attention``        1               FlashAttention (no s×s scores in HBM)
``flops_executed``         0 (useful)      causal attention pairs (what FlashAttention
                                           executes); 1: the full masked s² (eager)
``quant_group_size``       128             GPTQ/AWQ int4 groups (one 16-bit scale each)
=========================  ==============  ==============================================

Every default that is the engine's or the GPU family's is a node of the formula graph:
give the input to override it (``gpu_memory_utilization=0.95``, ``bw_eff=1.0``).  The
seeds' plain roofline is ``mfu=0.5, bw_eff=1.0, link_eff=1.0, scale_out_eff=1.0,
link_latency_us=8, engine="seed"``.

TPOT (time per output token) excludes the first token (TTFT): it is the mean decode
step, ``(e2e − ttft) / (output_len − 1)``.
"""

from __future__ import annotations

import numpy as np

from .errors import checked_keywords, invalid, unknown_choice
# the unchecked forms: each public function here checks its own keywords (checked_keywords)
from .estimate import (_breakdown as breakdown, _estimate as estimate, resolve,
                       scalar_function, sweep)
from .glossary import TERMS
from . import graph
from .engines import TIERS, engines_table, load_engine
from .formats import DTYPES, compute_dtypes_table
from .graph import load_all
from .hardware import load_gpu

__all__ = ["inference_memory", "weights_memory", "inference_latency", "prefill_time",
           "decode_step",
           "serving_capacity", "max_batch", "gpus_needed", "comm", "allreduce_bytes",
           "transfer_time", "tp_comm_bytes", "kv_transfer", "speculative_decoding",
           "quantization_effect", "inference_plan_sweep",
           "INFER_MEMORY_PARTS", "INFER_FIT_PARTS", "LATENCY_PARTS", "DECODE_STEP_PARTS",
           "CAPACITY_PARTS", "GPUS_NEEDED_PARTS", "COMM_BYTES_PARTS", "COMM_TIME_PARTS",
           "KV_TRANSFER_PARTS", "SPECULATIVE_PARTS", "INFERENCE_PLAN_NODES",
           "SERVING_DEFAULTS"]

#: Labels of :func:`inference_memory` (the ``part`` argument of INFER_MEM) and their nodes.
INFER_MEMORY_PARTS = {
    "weights": "infer_weights_bytes",
    "kv_cache": "infer_kv_cache_bytes",
    "activations": "infer_activation_bytes",
    "reserve": "infer_non_torch_bytes",
    "total": "infer_total_bytes",
}

#: Added to :func:`inference_memory` when a ``gpu`` is given.
INFER_FIT_PARTS = {
    "budget": "infer_budget_bytes",
    "headroom": "infer_headroom_bytes",
    "fits": "infer_fits",
    "share": "infer_gpu_share",
}

#: Labels of :func:`inference_latency` and their nodes.
LATENCY_PARTS = {
    "ttft_s": "ttft_s",
    "tpot_s": "tpot_s",
    "e2e_s": "e2e_s",
    "decode_s": "decode_total_s",
    "tokens_per_s": "tokens_per_s",
    "tokens_per_s_per_user": "tokens_per_s_per_user",
    "decode_tokens_per_s": "decode_tokens_per_s",
    "prefill_compute_s": "prefill_compute_s",
    "prefill_memory_s": "prefill_memory_s",
    "prefill_comm_s": "prefill_comm_s",
    "decode_first_step_s": "decode_first_step_s",
    "decode_comm_s": "decode_comm_s",
    "prefill_flops": "prefill_flops",
    "prefill_intensity": "prefill_intensity",
    "decode_intensity": "decode_last_intensity",
    "ridge_intensity": "ridge_intensity",
    "ridge_intensity_effective": "ridge_intensity_effective",
    "prefill_bound": "prefill_bound",
    "decode_bound": "decode_last_bound",
    "tp_link": "tp_link",
    "compute_dtype": "compute_dtype_used",
    "gemm_eff": "gemm_eff",
    "attention_eff": "attention_compute_eff",
    "bw_eff": "bw_eff_used",
    "link_eff": "link_eff",
    "warning": "generation_warning",
}

#: Labels of :func:`decode_step` and their nodes (one step at ``context_len``).
DECODE_STEP_PARTS = {
    "step_s": "decode_step_s",
    "compute_s": "decode_compute_s",
    "memory_s": "decode_memory_s",
    "comm_s": "decode_comm_s",
    "flops": "decode_flops_mla_absorbed",
    "weights_read_bytes": "decode_weights_read_bytes",
    "kv_read_bytes": "decode_kv_read_bytes",
    "intensity": "decode_intensity",
    "bound": "decode_bound",
}

#: Labels of :func:`serving_capacity` and their nodes.
CAPACITY_PARTS = {
    "kv_budget": "kv_budget_bytes",
    "kv_per_sequence": "kv_sequence_bytes",
    "max_sequences": "max_sequences",
    "block_bytes": "kv_block_bytes",
    "num_blocks": "kv_num_blocks",
    "kv_tokens": "kv_tokens_fit",
    "max_concurrency_vllm": "max_concurrency",
    "block_waste_fraction": "kv_block_waste_fraction",
    "fits": "capacity_fits",
    "warning": "context_warning",
}
# (the tutorials' all-memory method, max_sequences_seed_003, is a worked example:
# ``xlcalc seed llama-13b-capacity``, not a planner's figure)
_CAPACITY_GPUS = {"replicas": "replicas_fit", "max_sequences_total": "max_sequences_total"}
_CAPACITY_USERS = {"replicas_needed": "replicas_needed", "nodes_needed": "nodes_needed"}

#: Labels of :func:`gpus_needed` and their nodes.
GPUS_NEEDED_PARTS = {
    "gpus_needed": "gpus_needed",
    "tp": "tp_needed",
    "pp": "pp_needed",
    "tp_max": "tp_max",
    "gpus_needed_rule": "gpus_needed_rule",
    "total_one_gpu": "infer_total_bytes_one_gpu",
}

#: Labels of :func:`comm` (bytes per GPU) and their nodes.
COMM_BYTES_PARTS = {
    "tp_message_bytes": "tp_message_bytes",
    "tp_allreduce_bytes": "tp_allreduce_bytes",
    "tp_bytes_per_stage": "tp_comm_bytes_per_stage",
    "tp_bytes": "tp_comm_bytes",
    "pp_message_bytes": "pp_message_bytes",
}
#: Added to :func:`comm` when a ``gpu`` is given (the links come from it).
COMM_TIME_PARTS = {
    "tp_s_per_stage": "tp_comm_s_per_stage",
    "tp_s": "tp_comm_s",
    "pp_s": "pp_comm_s",
    "tp_link": "tp_link",
    "pp_link": "pp_link",
}

#: Labels of :func:`kv_transfer` (disaggregated prefill/decode) and their nodes.
KV_TRANSFER_PARTS = {
    "bytes_per_request": "kv_transfer_bytes",
}
_KV_TRANSFER_RATE = {"bytes_per_s": "kv_transfer_bytes_per_s",
                     "gbit_per_s": "kv_transfer_gbit_per_s"}
_KV_TRANSFER_LINK = {"transfer_s": "kv_transfer_s"}
_KV_TRANSFER_BOTH = {"link_utilisation": "kv_link_utilisation"}

#: Labels of :func:`speculative_decoding` and their nodes.
SPECULATIVE_PARTS = {"expected_tokens": "spec_expected_tokens", "speedup": "spec_speedup"}

#: What the full inference plan (and its benchmark) computes: memory, latency, capacity.
INFERENCE_PLAN_NODES = (*INFER_MEMORY_PARTS.values(), "infer_fits", "infer_headroom_bytes",
                        "ttft_s", "tpot_s", "e2e_s", "tokens_per_s", "max_sequences",
                        "kv_num_blocks", "max_concurrency")

#: Inputs every serving plan reads and their defaults (see the module docstring).
SERVING_DEFAULTS = {
    "engine": "vllm", "dtype": "bf16", "kv_dtype": "bf16", "compute_dtype": "auto", "tp": 1,
    "pp": 1, "mfu": 0.0, "bw_eff": 0.0, "gpu_memory_utilization": 0.0, "comm_overlap": 0.0,
    "gpus_per_node": 8, "flash_attention": 1,
    "quant_group_size": 128, "dp_attention": 1,
    "draft_params": 0.0, "draft_layers": 0,
}


def _inputs(given: dict) -> dict:
    """``given`` without its None values, each missing serving input at its default.  A
    name that is neither a glossary input nor a graph node (a misspelt override) is an
    error, not silently ignored.  Without a ``gpu`` the engine's batching defaults are
    those of its largest GPUs (they depend on the GPU's memory)."""
    load_all()   # the serving terms are registered by their formula modules
    for name in given:
        if name not in TERMS and name not in graph.NODES:
            raise unknown_choice("argument", name, list(TERMS) + list(graph.NODES))
    ctx = {k: v for k, v in given.items() if v is not None}
    for name, value in SERVING_DEFAULTS.items():
        ctx.setdefault(name, value)
    if ctx.get("gpu") is None and isinstance(ctx["engine"], str):
        for name, value in _largest_tier(ctx["engine"]).items():
            ctx.setdefault(name, value)
    return ctx


def _largest_tier(engine: str) -> dict:
    """The engine's batching defaults on its largest GPUs (the last memory tier)."""
    load_engine(engine)                    # an unknown engine is an error naming it
    return dict(_LARGEST_TIERS.get(engine) or _largest_tier_row(engine))


_LARGEST_TIERS: dict = {}   # engine as typed -> its last tier's values: an engine preset does
#                             not change while the process runs, and building the engines'
#                             DataFrame took milliseconds on every call without a gpu


def _largest_tier_row(engine: str) -> tuple:
    row = engines_table().loc[engine.strip().lower()]
    values = tuple((name, float(row[f"tier{TIERS}_{name}"]))
                   for name in ("max_num_batched_tokens", "max_num_seqs"))
    if len(_LARGEST_TIERS) < 256:
        _LARGEST_TIERS[engine] = values
    return values


def _check_supported(ctx: dict) -> None:
    """An explicit compute dtype the accelerator has no peak for (bf16 on V100/T4, fp8 on
    A100 …) is an error naming it and what the GPU supports, never a NaN/inf result.  The
    default (``auto``) always has a peak: the weights' native compute or 16 bits."""
    keys = ("gpu", "dtype", "compute_dtype")
    values = estimate(["peak_tflops"], **{k: ctx[k] for k in keys if k in ctx})
    peak = np.asarray(values["peak_tflops"], dtype=np.float64)
    bad = np.isnan(peak)
    if not bad.any():
        return
    first = int(np.flatnonzero(bad.ravel())[0])
    gpu, compute = (_element(values[k], first, peak.shape) for k in ("gpu", "compute_dtype"))
    raise invalid("compute_dtype", compute, f"a compute dtype {_gpu_name(gpu)} supports "
                  f"({', '.join(_supported_compute(gpu))})")


def _element(value, index, shape):
    """Element ``index`` of ``value`` broadcast to ``shape`` (a scalar or record as is)."""
    if isinstance(value, (np.ndarray, list, tuple)) or hasattr(value, "codes"):
        return np.broadcast_to(np.asarray(value, dtype=object), shape).ravel()[index]
    return value


def _gpu_name(gpu) -> str:
    return getattr(gpu, "name", str(gpu))


def _supported_compute(gpu) -> list:
    """The compute dtypes ``gpu`` has a dense peak for (``auto`` always)."""
    record = load_gpu(gpu) if isinstance(gpu, (str, dict, list, tuple)) else gpu
    table = compute_dtypes_table()
    return [name for name, field in table["peak_field"].items()
            if not np.isnan(record[field])]


def _with_bool(result, key):
    """Show a boolean part as True/False (breakdown returns floats)."""
    if key in getattr(result, "index", ()):
        result = result.astype(object)
        result[key] = bool(result[key])
    elif key in getattr(result, "columns", ()):
        result[key] = result[key].astype(bool)
    return result


# ------------------------------------------------------------------------- memory

@checked_keywords
def inference_memory(model, batch, seq_len, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
                     gpu=None, *, engine=None, block_size=None, gpu_memory_utilization=None,
                     infer_reserve_bytes=None, max_num_batched_tokens=None,
                     flash_attention=None, quant_group_size=None, **overrides):
    """Inference memory on the busiest GPU, in bytes, by part: ``weights``, ``kv_cache``,
    ``activations`` (the peak the engine holds back, or the batch's transient when
    larger), ``reserve`` (the engine's non-torch memory), ``total`` (= the sum of the
    parts); with a ``gpu`` also ``budget`` (``gpu_memory_utilization × (memory −
    context)``), ``headroom`` (negative: does not fit), ``fits`` and ``share`` (total ÷ the
    GPU's memory); ``warning`` is non-empty when ``seq_len`` exceeds the model's
    ``max_position_embeddings``.

    The engine (``engine``, default ``vllm``; ``sglang``, ``trt-llm``, ``seed``) sets the
    budget, reserve, activation profile and KV block size (vLLM: 0.9 of the total the
    driver reports, 16-token pages).  ``dtype`` is the weights' storage (int8/fp8 one
    byte, int4 weight-only half a byte plus group scales; embedding and LM head stay
    16-bit), ``kv_dtype`` the KV cache's; ``tp``/``pp`` split the model (the busiest
    pipeline stage is reported).  Keyword options default to :data:`SERVING_DEFAULTS` and
    the engine's; ``overrides`` set any graph name (e.g. ``params_total=70e9`` for a
    seed's nominal size)."""
    parts = dict(INFER_MEMORY_PARTS, **(INFER_FIT_PARTS if gpu is not None else {}),
                 warning="context_warning")
    ctx = _inputs(dict(model=model, batch=batch, seq_len=seq_len, dtype=dtype, kv_dtype=kv_dtype,
                       tp=tp, pp=pp, gpu=gpu, engine=engine, block_size=block_size,
                       gpu_memory_utilization=gpu_memory_utilization,
                       infer_reserve_bytes=infer_reserve_bytes,
                       max_num_batched_tokens=max_num_batched_tokens,
                       flash_attention=flash_attention, quant_group_size=quant_group_size,
                       **overrides))
    result = breakdown(parts, name="inference memory (bytes per GPU)", **ctx)
    return _with_bool(result, "fits")


@checked_keywords
def weights_memory(model, dtype="bf16", tp=1, pp=1, *, quant_group_size=None, **overrides):
    """Weight bytes on the busiest GPU (``WEIGHTS_MEM``): the layers at ``dtype`` split
    ``tp`` ways, the busiest of ``pp`` stages."""
    if not overrides and quant_group_size is None:      # an Excel cell's call
        return _cell_weights(model, dtype, tp, pp)
    return _weights_general(model, dtype, tp, pp, quant_group_size, **overrides)


def _cell_weights(model, dtype, tp, pp):
    """:func:`weights_memory` without overrides or a group size (``WEIGHTS_MEM``)."""
    return _weights_bytes(model, dtype, tp, pp, SERVING_DEFAULTS["quant_group_size"],
                          SERVING_DEFAULTS["dp_attention"])


def _weights_general(model, dtype, tp, pp, quant_group_size, dp_attention=None, **overrides):
    ctx = _inputs(dict(model=model, dtype=dtype, tp=tp, pp=pp, quant_group_size=quant_group_size,
                       dp_attention=dp_attention, **overrides))
    return estimate("infer_weights_bytes", **ctx)["infer_weights_bytes"]


#: :func:`weights_memory`'s scalar path: the inputs the weights depend on, the serving
#: defaults filled as :func:`_inputs` fills them (anything else: :func:`_weights_general`)
_weights_bytes = scalar_function(
    "infer_weights_bytes", ("model", "dtype", "tp", "pp", "quant_group_size", "dp_attention"),
    general=_weights_general)


@checked_keywords
def gpus_needed(model, gpu, batch, seq_len, dtype="bf16", kv_dtype="bf16", *, engine=None,
                block_size=None, gpu_memory_utilization=None, infer_reserve_bytes=None,
                max_num_batched_tokens=None, flash_attention=None, gpus_per_node=None,
                **overrides):
    """Fewest GPUs that serve ``batch`` sequences of ``seq_len`` tokens, and the split
    chosen: ``gpus_needed = tp × pp``, searched over every power-of-two ``tp`` the model and
    node allow (it divides the heads, suits the KV heads and is at most ``gpus_per_node``;
    ``tp_max`` is the largest) with the fewest pipeline stages for each; on a tie the larger
    ``tp``.  0 when no split fits (the engine's budget and reserve, default ``vllm``).
    ``gpus_needed_rule`` is the seeds' count (single-GPU total ÷ GPU memory, rounded up)."""
    ctx = _inputs(dict(model=model, gpu=gpu, batch=batch, seq_len=seq_len, dtype=dtype,
                       kv_dtype=kv_dtype, engine=engine, block_size=block_size,
                       gpu_memory_utilization=gpu_memory_utilization,
                       infer_reserve_bytes=infer_reserve_bytes,
                       max_num_batched_tokens=max_num_batched_tokens,
                       flash_attention=flash_attention, gpus_per_node=gpus_per_node,
                       **overrides))
    return breakdown(GPUS_NEEDED_PARTS, name="fewest GPUs", **ctx)


# ------------------------------------------------------------------------ latency

@checked_keywords
def inference_latency(model, gpu, batch, prompt_len, output_len, tp=1, pp=1, dtype="bf16",
                      kv_dtype="bf16", mfu=None, bw_eff=None, *, engine=None,
                      compute_dtype=None, link_eff=None, link_latency_us=None,
                      comm_overlap=None, gpus_per_node=None, **overrides):
    """Roofline latency of generating ``output_len`` tokens for ``batch`` prompts of
    ``prompt_len`` tokens: ``ttft_s`` (prefill: max(compute, memory) + exposed TP/PP
    communication), ``tpot_s`` (mean decode step after the first token — it does not
    include TTFT), ``e2e_s`` (TTFT + every decode step with the context growing, in closed
    form), ``tokens_per_s`` (``batch × output_len / e2e``), per user, the phases' parts,
    arithmetic intensities (decode at its last step) against the ridge point and the
    ``compute``/``memory`` verdicts; ``warning`` when prompt + output exceed the model's
    maximum context.

    ``dtype`` is the weights' storage (memory and the bytes a decode step reads),
    ``compute_dtype`` the dtype the matrix multiplications run in (default ``auto``: the
    weights' native compute where the GPU has its peak, else 16 bits).  Efficiencies are
    calibrated per GPU family unless given (:mod:`xlcalc.formulas.efficiency`): GEMMs on
    the measured curve by size, attention at the fused kernel's rate (``mfu`` > 0: every
    FLOP at that share of the dense peak), HBM at the sustained share (``bw_eff``),
    collectives at the NCCL/RCCL bus bandwidth (``link_eff``) plus ``link_latency_us``
    each; every step pays the engine's overhead (``engine``, default ``vllm``).  An
    explicit compute dtype the GPU has no peak for is an error."""
    ctx = _inputs(dict(model=model, gpu=gpu, batch=batch, prompt_len=prompt_len,
                       output_len=output_len, tp=tp, pp=pp, dtype=dtype, kv_dtype=kv_dtype,
                       engine=engine,
                       compute_dtype=compute_dtype, mfu=mfu, bw_eff=bw_eff, link_eff=link_eff,
                       link_latency_us=link_latency_us, comm_overlap=comm_overlap,
                       gpus_per_node=gpus_per_node, **overrides))
    ctx = resolve(ctx)
    _check_supported(ctx)
    return breakdown(LATENCY_PARTS, name="inference latency", **ctx)


@checked_keywords
def prefill_time(model, gpu, batch, prompt_len, tp=1, dtype="bf16", mfu=None, *, pp=1,
                 kv_dtype="bf16", engine=None, compute_dtype=None, bw_eff=None, link_eff=None,
                 link_latency_us=None, comm_overlap=None, gpus_per_node=None, **overrides):
    """Time to first token in seconds (``PREFILL_MS`` / 1000): the prefill of ``batch``
    prompts of ``prompt_len`` tokens, ``max(compute, memory)`` + exposed communication +
    the engine's step overhead (compute at the peak of ``compute_dtype``, default auto, at
    the calibrated efficiencies unless ``mfu`` is given; engine default ``vllm``)."""
    ctx = _inputs(dict(model=model, gpu=gpu, batch=batch, prompt_len=prompt_len, tp=tp, pp=pp,
                       engine=engine,
                       dtype=dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, mfu=mfu,
                       bw_eff=bw_eff,
                       link_eff=link_eff, link_latency_us=link_latency_us,
                       comm_overlap=comm_overlap, gpus_per_node=gpus_per_node, **overrides))
    ctx = resolve(ctx)
    _check_supported(ctx)
    return estimate("ttft_s", **ctx)["ttft_s"]


@checked_keywords
def decode_step(model, gpu, batch, context_len, tp=1, pp=1, dtype="bf16", kv_dtype="bf16",
                mfu=None, bw_eff=None, *, engine=None, compute_dtype=None, link_eff=None,
                link_latency_us=None, gpus_per_node=None, **overrides):
    """One decode step (``DECODE_MS``) for ``batch`` sequences attending to ``context_len``
    tokens: ``step_s = max(compute_s, memory_s) + comm_s`` + the engine's overhead
    (``engine``, default ``vllm``) with its parts, FLOPs (as engines run them: MLA over
    the latent), bytes read (the weights' storage bytes), intensity and verdict;
    efficiencies calibrated per GPU family unless ``mfu``/``bw_eff`` are given."""
    ctx = _inputs(dict(model=model, gpu=gpu, batch=batch, context_len=context_len, tp=tp, pp=pp,
                       engine=engine,
                       dtype=dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, mfu=mfu,
                       bw_eff=bw_eff,
                       link_eff=link_eff, link_latency_us=link_latency_us,
                       gpus_per_node=gpus_per_node, **overrides))
    ctx = resolve(ctx)
    _check_supported(ctx)
    return breakdown(DECODE_STEP_PARTS, name="decode step", **ctx)


# ----------------------------------------------------------------------- capacity

@checked_keywords
def serving_capacity(model, gpu, seq_len, tp=1, pp=1, dtype="bf16", kv_dtype="bf16",
                     n_gpus=None, concurrent_users=None, *, engine=None, block_size=None,
                     gpu_memory_utilization=None, infer_reserve_bytes=None,
                     max_num_batched_tokens=None, flash_attention=None, gpus_per_node=None,
                     **overrides):
    """Concurrent sequences of ``seq_len`` tokens (prompt + output) one replica of
    ``tp × pp`` GPUs serves, as the engine (``engine``, default ``vllm``) sizes its KV
    cache: ``kv_budget`` (utilisation × memory − weights − activation peak − reserve;
    SGLang and TensorRT-LLM by their own rules), ``num_blocks`` of the engine's
    ``block_size`` tokens (vLLM 16), ``kv_tokens``,
    ``max_sequences`` (whole sequences) and vLLM's ``max_concurrency_vllm`` (num_blocks ×
    block_size / seq_len); ``fits`` (at least one sequence per replica).  With ``n_gpus``:
    ``replicas`` and ``max_sequences_total``; with ``concurrent_users``: ``replicas_needed``
    and ``nodes_needed`` (NaN when the plan does not fit: no number of nodes serves it)."""
    parts = dict(CAPACITY_PARTS, **(_CAPACITY_GPUS if n_gpus is not None else {}),
                 **(_CAPACITY_USERS if concurrent_users is not None else {}))
    ctx = _inputs(dict(model=model, gpu=gpu, seq_len=seq_len, tp=tp, pp=pp, dtype=dtype,
                       kv_dtype=kv_dtype, n_gpus=n_gpus, concurrent_users=concurrent_users,
                       engine=engine, block_size=block_size, gpu_memory_utilization=gpu_memory_utilization,
                       infer_reserve_bytes=infer_reserve_bytes,
                       max_num_batched_tokens=max_num_batched_tokens,
                       flash_attention=flash_attention, gpus_per_node=gpus_per_node,
                       **overrides))
    return _with_bool(breakdown(parts, name="serving capacity", **ctx), "fits")


@checked_keywords
def max_batch(model, gpu, seq_len, n_gpus=1, dtype="bf16", kv_dtype="bf16", *, engine=None,
              block_size=None, **options):
    """Most concurrent sequences of ``seq_len`` tokens that fit on ``n_gpus`` GPUs serving
    one model replica with tensor parallelism ``tp = n_gpus`` (``MAX_BATCH``), in the
    engine's KV budget and blocks (``engine``, default ``vllm``)."""
    ctx = _inputs(dict(model=model, gpu=gpu, seq_len=seq_len, tp=n_gpus, dtype=dtype,
                       kv_dtype=kv_dtype, engine=engine, block_size=block_size, **options))
    return estimate("max_sequences", **ctx)["max_sequences"]


# -------------------------------------------------------------------------- comm

@checked_keywords
def comm(model, batch, seq_len, tp=1, pp=1, gpu=None, dtype="bf16", *, link_eff=None,
         link_latency_us=None, gpus_per_node=None, scale_out_eff=None, **overrides):
    """Tensor- and pipeline-parallel traffic of one pass of ``batch`` sequences of
    ``seq_len`` tokens (prefill: the prompt; decode: 1), bytes per GPU: the all-reduce
    message, the ring bytes per all-reduce (``2(tp−1)/tp ×`` message), per stage and for
    all layers (two all-reduces per layer), the pipeline boundary message; with a ``gpu``
    the times (bytes / (link × efficiency) + latency: ``link_eff`` on NVLink,
    ``scale_out_eff`` on the network) and which link each uses."""
    parts = dict(COMM_BYTES_PARTS, **(COMM_TIME_PARTS if gpu is not None else {}))
    ctx = _inputs(dict(model=model, batch=batch, seq_len=seq_len, tp=tp, pp=pp, gpu=gpu,
                       dtype=dtype, link_eff=link_eff, link_latency_us=link_latency_us,
                       gpus_per_node=gpus_per_node, scale_out_eff=scale_out_eff,
                       **overrides))
    return breakdown(parts, name="communication per pass", **ctx)


@checked_keywords
def allreduce_bytes(size_bytes, n):
    """Bytes each of ``n`` ranks sends in a ring all-reduce of ``size_bytes``
    (``ALLREDUCE_BYTES``): ``2(n − 1)/n × size_bytes``."""
    return estimate("ring_allreduce_bytes", message_bytes=size_bytes,
                    n_gpus=n)["ring_allreduce_bytes"]


@checked_keywords
def transfer_time(size_bytes, link_gb_per_s, link_latency_us=8.0, link_eff=1.0):
    """Seconds to move ``size_bytes`` over a link of ``link_gb_per_s`` GB/s (``COMM_MS`` in
    seconds): bytes / (link × ``link_eff``, default 1) + ``link_latency_us`` (default 8, the
    seeds' figure: a bare link has no GPU family to calibrate from)."""
    ctx = _inputs(dict(message_bytes=size_bytes, link_gb_per_s=link_gb_per_s,
                       link_latency_us=link_latency_us, link_eff=link_eff))
    return estimate("transfer_s", **ctx)["transfer_s"]


@checked_keywords
def tp_comm_bytes(model, batch, tokens, tp, dtype="bf16"):
    """Tensor-parallel bytes each GPU sends for one pass of ``batch`` sequences of
    ``tokens`` tokens through all layers (``TP_COMM``)."""
    return estimate("tp_comm_bytes", model=model, batch=batch, seq_len=tokens, tp=tp,
                    dtype=dtype)["tp_comm_bytes"]


@checked_keywords
def kv_transfer(model, prompt_len, request_rate=None, kv_dtype="bf16", gpu=None, tp=1, *,
                link_eff=None, link_latency_us=None):
    """Disaggregated prefill/decode (seed 002 §五, DistServe): KV bytes per request, and at
    a ``request_rate`` the bytes/s and Gbit/s the link must carry; with a ``gpu`` the
    seconds to send one request over the prefill instance's ``tp`` network links (and,
    with both, the links' utilisation).  The links are the network: ``link_eff`` here is
    their efficiency (the graph's ``scale_out_eff``; default: the efficiency table's)."""
    parts = dict(KV_TRANSFER_PARTS, **(_KV_TRANSFER_RATE if request_rate is not None else {}),
                 **(_KV_TRANSFER_LINK if gpu is not None else {}),
                 **(_KV_TRANSFER_BOTH if gpu is not None and request_rate is not None else {}))
    ctx = _inputs(dict(model=model, prompt_len=prompt_len, request_rate=request_rate,
                       kv_dtype=kv_dtype, gpu=gpu, tp=tp, scale_out_eff=link_eff,
                       link_latency_us=link_latency_us))
    return breakdown(parts, name="KV transfer", **ctx)


@checked_keywords
def speculative_decoding(acceptance_rate, draft_len, draft_cost_ratio=0.05):
    """Speculative decoding (seed 000 §6.3; Leviathan et al. 2023): expected tokens per
    target step ``(1 − α^(γ+1))/(1 − α)`` and the expected decode speed-up
    ``tokens / (γ·c + 1)`` for acceptance rate α, draft length γ and draft cost ratio c."""
    return breakdown(SPECULATIVE_PARTS, name="speculative decoding",
                     acceptance_rate=acceptance_rate, draft_len=draft_len,
                     draft_cost_ratio=draft_cost_ratio)


# ------------------------------------------------------------- sweeps of the plan

@checked_keywords
def quantization_effect(model, gpu, batch, prompt_len, output_len, tp=1, dtypes=None,
                        kv_dtype="bf16", mfu=None, bw_eff=None, **options):
    """Quantization's effect: weights per GPU, total memory at ``prompt_len + output_len``
    tokens and whether it fits, the concurrent sequences that fit, the first decode step,
    TPOT, end-to-end latency and tokens/s for each weight storage ``dtype`` (default: every
    format of the dtypes table; each computes in the best dtype the GPU supports for it
    unless ``compute_dtype`` is given), as a DataFrame from one vectorised sweep."""
    if dtypes is None:
        dtypes = DTYPES()
    _check_supported({"gpu": gpu, "dtype": np.asarray(list(dtypes), dtype=object),
                      "compute_dtype": options.get("compute_dtype") or "auto"})
    seq_len = estimate("total_len", prompt_len=prompt_len, output_len=output_len)["total_len"]
    axes = _inputs(dict(model=model, gpu=gpu, batch=batch, prompt_len=prompt_len,
                        output_len=output_len, seq_len=seq_len, tp=tp, dtype=list(dtypes),
                        kv_dtype=kv_dtype, mfu=mfu, bw_eff=bw_eff, **options))
    targets = ["infer_weights_bytes", "infer_total_bytes", "infer_fits", "max_sequences",
               "decode_first_step_s", "tpot_s", "e2e_s", "tokens_per_s"]
    frame = sweep(targets, **axes)
    return frame[["dtype", *targets]]


@checked_keywords
def inference_plan_sweep(targets=INFERENCE_PLAN_NODES, **axes):
    """The full inference plan — memory and capacity at ``prompt_len + output_len`` tokens,
    latency for ``prompt_len`` in / ``output_len`` out — over every combination of the
    given input values (each keyword one value or a list), in one vectorised call: a tidy
    DataFrame, one row per combination (see :func:`xlcalc.sweep`).  Missing serving inputs
    take :data:`SERVING_DEFAULTS`; pick GPUs and dtypes they support (no check here)."""
    return sweep(list(targets), bind={"seq_len": "total_len"}, **_inputs(axes))
