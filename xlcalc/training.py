"""Public API for training plans: memory per GPU, the fit search, time and cost,
communication, and the fewest GPUs.

Every function is thin: it fills the documented defaults from the glossary, evaluates
graph nodes (:mod:`xlcalc.formulas.training_memory`, ``.activations``,
``.training_time``, ``.training_comm``) and returns numbers in SI units (bytes, seconds,
FLOPs) or a pandas breakdown.  Array arguments broadcast (a DataFrame comes back).

``batch`` is the global batch; it splits over ``dp`` replicas, each running
``micro_batch`` sequences at a time (default: its whole share, no gradient accumulation).
A plan that does not fit is a result (``fits`` False, negative ``headroom``), not an error.
"""

from __future__ import annotations

from .estimate import breakdown, estimate, sweep
from .glossary import TERMS
from .graph import load_all

__all__ = ["train_memory", "train_fit_search", "training_time", "training_comm",
           "train_gpus_needed", "mfu_from_iteration", "train_plan_sweep",
           "TRAIN_MEMORY_PARTS", "TRAIN_FIT_PARTS", "TRAIN_TIME_PARTS", "TRAIN_COMM_PARTS",
           "TRAIN_PLAN_NODES", "TRAINING_DEFAULTS"]

#: Labels of :func:`train_memory` (the ``part`` argument of TRAIN_MEM) and their nodes.
TRAIN_MEMORY_PARTS = {
    "weights": "train_weights_bytes",
    "master_weights": "train_master_weights_bytes",
    "gradients": "train_gradients_bytes",
    "optimizer": "train_optimizer_bytes",
    "activations": "train_activation_bytes",
    "reserve": "train_reserve_bytes",
    "total": "train_total_bytes",
}

#: Added to :func:`train_memory` when a ``gpu`` is given.
TRAIN_FIT_PARTS = {
    "gpu_memory": "gpu_memory_bytes",
    "fits": "train_fits",
    "headroom": "train_headroom_bytes",
    "share": "train_memory_share",
    "gpus_needed": "train_gpus_needed",
}

#: Labels of :func:`training_time` and their nodes (``cost`` only with a price).
TRAIN_TIME_PARTS = {
    "flops": "train_flops",
    "peak_tflops": "train_peak_tflops",
    "mfu": "train_mfu",
    "seconds": "train_time_s",
    "days": "train_days",
    "gpu_hours": "train_gpu_hours",
    "tokens_per_s_per_gpu": "train_tokens_per_s_per_gpu",
    "chinchilla_tokens": "chinchilla_tokens",
}

#: Labels of :func:`training_comm` and their nodes (per optimizer step, per GPU).
TRAIN_COMM_PARTS = {
    "dp_bytes": "train_dp_comm_bytes",
    "tp_bytes": "train_tp_comm_bytes",
    "pp_bytes": "train_pp_comm_bytes",
    "dp_s": "train_dp_comm_s",
    "tp_s": "train_tp_comm_s",
    "pp_s": "train_pp_comm_s",
    "total_s": "train_comm_s",
}

#: What the training-plan sweep (and its benchmark) computes: memory and time.
TRAIN_PLAN_NODES = (*TRAIN_MEMORY_PARTS.values(), "train_fits", "train_headroom_bytes",
                    "train_gpus_needed", "train_flops", "train_plan_time_s")

#: Inputs every training plan reads, with their glossary defaults (documented there).
TRAINING_DEFAULTS = ("precision", "optimizer", "zero", "dp", "tp", "pp", "recompute",
                     "trainable_fraction", "train_reserve_bytes", "flash_attention",
                     "sequence_parallel", "dropout", "vp", "activation_rule", "mfu")
_COMM_DEFAULTS = ("gpus_per_node", "link_eff", "link_latency_us")


def _inputs(names, given: dict) -> dict:
    """``given`` with each None among ``names`` replaced by its glossary default; other
    None values (an optional ``micro_batch``, ``gpu``) are left out."""
    load_all()   # the training terms are registered by their formula modules
    ctx = {k: v for k, v in given.items() if v is not None}
    for name in names:
        if ctx.get(name) is None:
            ctx[name] = TERMS[name].default
    return ctx


def train_memory(model, batch, seq_len, precision="bf16-mixed", optimizer="adamw", zero=0, dp=1,
                 tp=1, pp=1, recompute="none", gpu=None, micro_batch=None, *,
                 sequence_parallel=None, flash_attention=None, dropout=None, vp=None,
                 trainable_fraction=None, train_reserve_bytes=None, activation_rule=None,
                 **overrides):
    """Training memory on the busiest GPU (first pipeline stage), in bytes, by part:
    ``weights``, ``master_weights``, ``gradients``, ``optimizer``, ``activations``,
    ``reserve``, ``total``; with a ``gpu`` also ``gpu_memory``, ``fits``, ``headroom``,
    ``share`` (total ÷ GPU memory) and ``gpus_needed`` (fewest GPUs with the model states
    fully sharded, :func:`train_gpus_needed`).

    ``precision``: fp32, fp16-mixed, bf16-mixed, seed-001, megatron-distopt; ``optimizer``:
    adamw, adam, sgd, sgd-momentum, adam-8bit, adafactor, lion; ``zero`` 0-3 (FSDP full
    sharding = 3); ``recompute``: none, selective, full.  Keyword-only switches default to
    the glossary (FlashAttention on, no sequence parallelism, no dropout, plain 1F1B, all
    parameters trained, 2 GB reserve, Korthikanti activations).  ``overrides`` set any
    other graph name, e.g. ``params_total=7e9`` for a seed's nominal size.
    """
    parts = dict(TRAIN_MEMORY_PARTS, **(TRAIN_FIT_PARTS if gpu is not None else {}))
    ctx = _inputs(TRAINING_DEFAULTS, dict(
        model=model, batch=batch, seq_len=seq_len, precision=precision, optimizer=optimizer,
        zero=zero, dp=dp, tp=tp, pp=pp, recompute=recompute, gpu=gpu, micro_batch=micro_batch,
        sequence_parallel=sequence_parallel, flash_attention=flash_attention, dropout=dropout,
        vp=vp, trainable_fraction=trainable_fraction, train_reserve_bytes=train_reserve_bytes,
        activation_rule=activation_rule, **overrides))
    result = breakdown(parts, name="training memory (bytes per GPU)", **ctx)
    if gpu is not None and "fits" in getattr(result, "index", ()):
        result = result.astype(object)
        result["fits"] = bool(result["fits"])
    return result


def train_fit_search(model, batch, seq_len, gpu, precision="bf16-mixed", optimizer="adamw",
                     tp=1, pp=1, dp=None, zero=(0, 1, 2, 3),
                     recompute=("none", "selective", "full"), max_gpus=None, **options):
    """Which data-parallel degree, ZeRO stage and recomputation make the plan fit: one
    vectorised sweep over ``dp`` × ``zero`` × ``recompute`` (``dp`` defaults to every
    divisor of ``batch``, up to ``max_gpus / (tp·pp)``), returned as a DataFrame with the
    memory parts, ``gpus`` and ``fits``.  Rows are ordered by preference: fitting plans
    first, then fewer GPUs, less recomputation (in the order given), lower ZeRO stage (less
    communication) — the first row is the smallest plan that fits, if any does."""
    if dp is None:
        limit = batch if max_gpus is None else min(batch, max_gpus // (tp * pp))
        dp = [d for d in range(1, int(limit) + 1) if batch % d == 0]
    axes = _inputs(TRAINING_DEFAULTS, dict(
        model=model, batch=batch, seq_len=seq_len, gpu=gpu, precision=precision,
        optimizer=optimizer, tp=tp, pp=pp, dp=list(dp), zero=list(zero),
        recompute=list(recompute), **options))
    targets = [*TRAIN_MEMORY_PARTS.values(), "train_world_size", "train_headroom_bytes",
               "train_fits"]
    frame = sweep(targets, **axes)[["dp", "tp", "pp", "zero", "recompute", *targets]]
    frame = frame.rename(columns={v: k for k, v in TRAIN_MEMORY_PARTS.items()} | {
        "train_world_size": "gpus", "train_headroom_bytes": "headroom",
        "train_fits": "fits"})
    frame[["dp", "tp", "pp", "zero"]] = frame[["dp", "tp", "pp", "zero"]].astype(int)
    frame["recompute_rank"] = frame["recompute"].astype(str).map(
        {r: i for i, r in enumerate(recompute)})
    frame = frame.sort_values(["fits", "gpus", "recompute_rank", "zero"],
                              ascending=[False, True, True, True], kind="stable")
    columns = ["dp", "tp", "pp", "zero", "recompute", "gpus", *TRAIN_MEMORY_PARTS, "headroom",
               "fits"]
    return frame[columns].reset_index(drop=True)


def training_time(model, tokens, gpu, n_gpus, mfu=None, recompute="none",
                  precision="bf16-mixed", price_per_gpu_hour=None, **overrides):
    """Time and cost of training on ``tokens`` tokens with ``n_gpus`` GPUs at ``mfu`` of
    the accelerator's dense peak for the precision (not given: calibrated, the GPU
    family's GEMM plateau times the training step's end-to-end share fitted on published
    runs, ``train_mfu``): ``flops`` (6ND, 8ND with full recomputation), ``peak_tflops``,
    ``mfu``, ``seconds``, ``days``, ``gpu_hours``, ``tokens_per_s_per_gpu``,
    ``chinchilla_tokens`` (20 per parameter, a reference) and, with a price per GPU-hour,
    ``cost``."""
    parts = dict(TRAIN_TIME_PARTS, **({"cost": "train_cost"} if price_per_gpu_hour is not None
                                      else {}))
    _check_supported(gpu, precision)
    ctx = _inputs(("mfu",), dict(mfu=mfu))
    return breakdown(parts, name="training time", model=model, tokens=tokens, gpu=gpu,
                     n_gpus=n_gpus, recompute=recompute, precision=precision,
                     price_per_gpu_hour=price_per_gpu_hour, **ctx, **overrides)


def _check_supported(gpu, precision) -> None:
    """A recipe whose compute type the accelerator lacks (bf16 on a V100 or T4) is an error
    naming the recipe and the ones the GPU supports, never a NaN result."""
    import numpy as np
    from .errors import invalid
    from .graph import table
    from .hardware import load_gpu
    if not isinstance(precision, str):
        return
    peak = estimate("train_peak_tflops", gpu=gpu, precision=precision)["train_peak_tflops"]
    if not np.isnan(peak):
        return
    record = load_gpu(gpu)
    fields = table("precisions").frame()["peak_field"]
    ok = [name for name, field in fields.items() if not np.isnan(record[field])]
    raise invalid("precision", precision,
                  f"a recipe {record.name} computes in ({', '.join(ok)})")


def training_comm(model, batch, seq_len, gpu, dp=1, tp=1, pp=1, zero=0, precision="bf16-mixed",
                  recompute="none", micro_batch=None, **options):
    """Communication per optimizer step on one GPU of the first pipeline stage: bytes sent
    for data parallelism (gradient all-reduce, ZeRO reduce-scatter/all-gathers), tensor
    parallelism (all-reduces per layer) and pipeline sends, and their seconds on the
    intra-/inter-node links (``gpus_per_node``, ``link_eff``, ``link_latency_us`` from the
    glossary unless given)."""
    ctx = _inputs(TRAINING_DEFAULTS + _COMM_DEFAULTS, dict(
        model=model, batch=batch, seq_len=seq_len, gpu=gpu, dp=dp, tp=tp, pp=pp, zero=zero,
        precision=precision, recompute=recompute, micro_batch=micro_batch, **options))
    return breakdown(TRAIN_COMM_PARTS, name="training communication per step", **ctx)


def train_gpus_needed(model, gpu, batch, seq_len, precision="bf16-mixed", optimizer="adamw",
                      tp=1, pp=1, recompute="none", **options):
    """Fewest GPUs for the plan when the model states are fully sharded over data
    parallelism (ZeRO-3 / FSDP) on top of ``tp`` × ``pp`` and the batch's activations
    spread over the replicas (a lower bound; see the ``train_gpus_needed`` node)."""
    ctx = _inputs(TRAINING_DEFAULTS, dict(
        model=model, gpu=gpu, batch=batch, seq_len=seq_len, precision=precision,
        optimizer=optimizer, tp=tp, pp=pp, recompute=recompute, **options))
    return estimate("train_gpus_needed", **ctx)["train_gpus_needed"]


def mfu_from_iteration(model, batch, seq_len, iteration_time_s, gpu, n_gpus,
                       precision="bf16-mixed"):
    """Model FLOPs utilisation of a measured iteration (Korthikanti et al. 2022 Table 5):
    Megatron's model FLOPs of one iteration over ``batch`` sequences ÷ (seconds × GPUs ×
    dense peak)."""
    _check_supported(gpu, precision)
    return estimate("train_mfu_measured", model=model, batch=batch, seq_len=seq_len,
                    iteration_time_s=iteration_time_s, gpu=gpu, n_gpus=n_gpus,
                    precision=precision)["train_mfu_measured"]


def train_plan_sweep(targets=TRAIN_PLAN_NODES, **axes):
    """:func:`xlcalc.sweep` of the training plan (memory and time by default) over the
    given axes, the other training inputs at their glossary defaults."""
    return sweep(list(targets), **_inputs(TRAINING_DEFAULTS, axes))
