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

from .errors import checked_keywords
# the unchecked forms: each public function here checks its own keywords (checked_keywords)
from .estimate import _breakdown as breakdown, _estimate as estimate, sweep
from .glossary import TERMS
from .graph import load_all

__all__ = ["train_memory", "training_comm",
           "train_gpus_needed", "mfu_from_iteration", "train_plan_sweep",
           "TRAIN_MEMORY_PARTS", "TRAIN_FIT_PARTS", "TRAIN_COMM_PARTS",
           "TRAIN_PLAN_NODES", "TRAINING_DEFAULTS"]

#: Labels of :func:`train_memory` (the ``part`` argument of TRAIN_MEM) and their nodes.
TRAIN_MEMORY_PARTS = {
    "weights": "train_weights_bytes",
    "adapters": "train_adapter_bytes",
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

#: Labels of :func:`training_comm` and their nodes (per optimizer step, per GPU).
TRAIN_COMM_PARTS = {
    "dp_bytes": "train_dp_comm_bytes",
    "tp_bytes": "train_tp_comm_bytes",
    "pp_bytes": "train_pp_comm_bytes",
    "cp_bytes": "train_cp_comm_bytes",
    "ep_bytes": "train_ep_comm_bytes",
    "dp_s": "train_dp_comm_s",
    "tp_s": "train_tp_comm_s",
    "pp_s": "train_pp_comm_s",
    "cp_s": "train_cp_comm_s",
    "ep_s": "train_ep_comm_s",
    "total_s": "train_comm_s",
    "offload_bytes": "train_offload_bytes",
    "offload_s": "train_offload_s",
}

#: What the training-plan sweep (and its benchmark) computes: memory and time.
TRAIN_PLAN_NODES = (*TRAIN_MEMORY_PARTS.values(), "train_fits", "train_headroom_bytes",
                    "train_gpus_needed", "train_flops", "train_plan_time_s")

#: Inputs every training plan reads, with their glossary defaults (documented there).
TRAINING_DEFAULTS = ("precision", "optimizer", "zero", "dp", "tp", "pp", "recompute",
                     "trainable_fraction", "train_reserve_bytes", "stack", "attention", "cp",
                     "ep", "offload", "finetune", "lora_rank", "lora_targets",
                     "sequence_parallel", "dropout", "vp", "activation_rule", "mfu")

#: Added to :func:`train_memory` when something is offloaded to host memory.
TRAIN_HOST_PARTS = {"host": "train_host_bytes", "host_per_node": "train_host_bytes_per_node"}
_COMM_DEFAULTS = ("gpus_per_node", "link_eff", "link_latency_us", "host_link_gb_per_s")


def _inputs(names, given: dict) -> dict:
    """``given`` with each None among ``names`` replaced by its glossary default (left out
    where the term has none: the graph computes it, e.g. the GPU family's calibrated
    ``link_eff``); other None values (an optional ``micro_batch``, ``gpu``) are left out."""
    load_all()   # the training terms are registered by their formula modules
    ctx = {k: v for k, v in given.items() if v is not None}
    for name in names:
        # a term without a default (link_eff, link_latency_us) is a calibrated node then
        if ctx.get(name) is None and TERMS[name].default is not None:
            ctx[name] = TERMS[name].default
    return ctx


@checked_keywords
def train_memory(model, batch, seq_len, precision="bf16-mixed", optimizer="adamw", zero=0, dp=1,
                 tp=1, pp=1, recompute="none", gpu=None, micro_batch=None, *, stack=None,
                 attention=None, cp=None, ep=None, etp=None, dp_shard=None, offload=None,
                 finetune=None, lora_rank=None, lora_targets=None, sequence_parallel=None,
                 dropout=None, vp=None, trainable_fraction=None, train_reserve_bytes=None,
                 activation_rule=None, gpus_per_node=None, flash_attention=None, **overrides):
    """Training memory on the busiest GPU (first pipeline stage), in bytes, by part:
    ``weights``, ``master_weights``, ``gradients``, ``optimizer``, ``activations``,
    ``reserve``, ``total``; with a ``gpu`` also ``gpu_memory``, ``fits``, ``headroom``,
    ``share`` (total ÷ GPU memory) and ``gpus_needed`` (fewest GPUs with the model states
    fully sharded, :func:`train_gpus_needed`).

    ``precision``: fp32, fp16-mixed, bf16-mixed, seed-001, megatron-distopt, fp8-delayed,
    fp8-current, fp8-block, mxfp8; ``optimizer``: adamw, adamw-bf16, adam, sgd,
    sgd-momentum, adam-8bit, adafactor, lion; ``zero`` 0-3 (FSDP full sharding = 3);
    ``recompute``: none, selective, full.  ``stack``: megatron (Megatron-LM /
    Transformer Engine, the default) or hf (transformers' modules); ``attention``: flash
    (default), sdpa or eager; ``cp``: context-parallel degree; ``ep``/``etp``: expert-
    parallel and expert-tensor-parallel degrees; ``dp_shard``: HSDP shard group (default
    dp); ``offload``: none, optimizer, optimizer+params (adds ``host`` and
    ``host_per_node``); ``finetune``: full, lora, qlora with ``lora_rank`` and
    ``lora_targets`` (qv, attention, all-linear; ``adapters`` shows their weights).
    Keyword-only switches
    default to the glossary (no sequence parallelism, no dropout, plain 1F1B, all
    parameters trained, 2 GB reserve, xlcalc's activation model; ``flash_attention`` 1/0 is
    the older spelling of ``attention`` flash/eager).  ``overrides`` set any
    other graph name, e.g. ``params_total=7e9`` for a seed's nominal size.
    """
    if flash_attention is not None:      # before the attention input: 1 flash, 0 eager
        if attention is not None:
            from .errors import invalid
            raise invalid("flash_attention", flash_attention, "left out when attention is given")
        attention = "flash" if flash_attention else "eager"
    parts = dict(TRAIN_MEMORY_PARTS, **(TRAIN_FIT_PARTS if gpu is not None else {}),
                 **(TRAIN_HOST_PARTS if offload not in (None, "none") else {}))
    ctx = _inputs(TRAINING_DEFAULTS + (("gpus_per_node",) if offload not in (None, "none")
                                       else ()), dict(
        model=model, batch=batch, seq_len=seq_len, precision=precision, optimizer=optimizer,
        zero=zero, dp=dp, tp=tp, pp=pp, recompute=recompute, gpu=gpu, micro_batch=micro_batch,
        stack=stack, attention=attention, cp=cp, ep=ep, etp=etp, dp_shard=dp_shard,
        offload=offload, finetune=finetune, lora_rank=lora_rank, lora_targets=lora_targets,
        sequence_parallel=sequence_parallel, dropout=dropout, vp=vp,
        trainable_fraction=trainable_fraction, train_reserve_bytes=train_reserve_bytes,
        activation_rule=activation_rule, gpus_per_node=gpus_per_node, **overrides))
    result = breakdown(parts, name="training memory (bytes per GPU)", **ctx)
    if gpu is not None and "fits" in getattr(result, "index", ()):
        result = result.astype(object)
        result["fits"] = bool(result["fits"])
    return result


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


@checked_keywords
def training_comm(model, batch, seq_len, gpu, dp=1, tp=1, pp=1, zero=0, precision="bf16-mixed",
                  recompute="none", micro_batch=None, **options):
    """Communication per optimizer step on one GPU of the first pipeline stage: bytes sent
    for data parallelism (gradient all-reduce, ZeRO reduce-scatter/all-gathers, HSDP),
    tensor parallelism (all-reduces per layer), pipeline sends, context parallelism (ring
    K/V exchange, ``cp``) and expert parallelism (all-to-alls, ``ep``), and their seconds on
    the intra-/inter-node links (``gpus_per_node``, ``link_eff``, ``link_latency_us`` from
    the glossary unless given), before any overlap (:func:`xlcalc.training_step` says what
    is exposed); with ``offload`` the PCIe bytes and seconds to and from host memory
    (``host_link_gb_per_s``)."""
    ctx = _inputs(TRAINING_DEFAULTS + _COMM_DEFAULTS, dict(
        model=model, batch=batch, seq_len=seq_len, gpu=gpu, dp=dp, tp=tp, pp=pp, zero=zero,
        precision=precision, recompute=recompute, micro_batch=micro_batch, **options))
    return breakdown(TRAIN_COMM_PARTS, name="training communication per step", **ctx)


@checked_keywords
def train_gpus_needed(model, gpu, batch, seq_len, precision="bf16-mixed", optimizer="adamw",
                      tp=1, pp=1, recompute="none", **options):
    """Fewest GPUs for the plan when the model states are fully sharded over data
    parallelism (ZeRO-3 / FSDP) on top of ``tp`` × ``pp`` and the batch's activations
    spread over the replicas (a lower bound; see the ``train_gpus_needed`` node)."""
    ctx = _inputs(TRAINING_DEFAULTS, dict(
        model=model, gpu=gpu, batch=batch, seq_len=seq_len, precision=precision,
        optimizer=optimizer, tp=tp, pp=pp, recompute=recompute, **options))
    return estimate("train_gpus_needed", **ctx)["train_gpus_needed"]


@checked_keywords
def mfu_from_iteration(model, batch, seq_len, iteration_time_s, gpu, n_gpus,
                       precision="bf16-mixed"):
    """Model FLOPs utilisation of a measured iteration (Korthikanti et al. 2022 Table 5):
    Megatron's model FLOPs of one iteration over ``batch`` sequences ÷ (seconds × GPUs ×
    dense peak)."""
    _check_supported(gpu, precision)
    return estimate("train_mfu_measured", model=model, batch=batch, seq_len=seq_len,
                    iteration_time_s=iteration_time_s, gpu=gpu, n_gpus=n_gpus,
                    precision=precision)["train_mfu_measured"]


@checked_keywords
def train_plan_sweep(targets=TRAIN_PLAN_NODES, **axes):
    """:func:`xlcalc.sweep` of the training plan (memory and time by default) over the
    given axes, the other training inputs at their glossary defaults."""
    return sweep(list(targets), **_inputs(TRAINING_DEFAULTS, axes))


def __getattr__(name):
    """The plan functions live in :mod:`xlcalc.training_plan` (step time, whole run, fit
    search); ``xlcalc.training.training_time`` keeps working."""
    if name in ("training_step", "training_time", "train_fit_search", "TRAIN_TIME_PARTS",
                "TRAIN_STEP_PARTS", "TRAIN_RUN_PARTS"):
        from . import training_plan
        return getattr(training_plan, name)
    raise AttributeError(f"module 'xlcalc.training' has no attribute {name!r}")
