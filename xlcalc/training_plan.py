"""Public API for training plans as they run: the step time (compute, pipeline bubble,
communication and what of it is hidden), the whole run's time and cost, and the fit
search over every parallelism axis.

Thin, like :mod:`xlcalc.training`: defaults from the glossary, arithmetic in the graph
(:mod:`xlcalc.formulas.training_step`, ``.training_comm``, ``.training_memory``).
"""

from __future__ import annotations

import itertools

from .errors import checked_keywords, invalid
# the unchecked forms: each public function here checks its own keywords (checked_keywords)
from .estimate import _breakdown as breakdown, _estimate as estimate
from .training import TRAIN_MEMORY_PARTS, TRAINING_DEFAULTS, _check_supported, _inputs

__all__ = ["training_step", "training_time", "train_fit_search", "TRAIN_STEP_PARTS",
           "TRAIN_TIME_PARTS", "TRAIN_RUN_PARTS", "STEP_DEFAULTS"]

#: Labels of :func:`training_step` (the rows of TRAIN_STEP) and their nodes.
TRAIN_STEP_PARTS = {
    "compute_s": "train_compute_s",
    "bubble_s": "train_bubble_s",
    "tp_comm_s": "train_tp_comm_s",
    "dp_comm_s": "train_dp_comm_s",
    "pp_comm_s": "train_pp_comm_s",
    "cp_comm_s": "train_cp_comm_s",
    "ep_comm_s": "train_ep_comm_s",
    "offload_s": "train_offload_s",
    "exposed_comm_s": "train_exposed_comm_s",
    "step_s": "train_step_s",
    "tokens_per_s_per_gpu": "train_step_tokens_per_s_per_gpu",
    "mfu": "train_step_mfu",
    "tflops_per_gpu": "train_step_tflops_per_gpu",
}

#: Units of :data:`TRAIN_STEP_PARTS` (for tables and the Excel function).
TRAIN_STEP_UNITS = {"tokens_per_s_per_gpu": "tokens/s", "mfu": "", "tflops_per_gpu": "TFLOP/s"}

#: Labels of :func:`training_time` without a plan (6ND at ``mfu``) and their nodes.
TRAIN_TIME_PARTS = {
    "flops": "train_flops",
    "peak_tflops": "train_peak_tflops",
    "mfu": "train_mfu",
    "seconds": "train_wall_s",
    "days": "train_wall_days",
    "gpu_hours": "train_wall_gpu_hours",
    "tokens_per_s_per_gpu": "train_tokens_per_s_per_gpu",
    "chinchilla_tokens": "chinchilla_tokens",
}

#: Labels of :func:`training_time` with a plan (batch and seq_len: the step model).
TRAIN_RUN_PARTS = {
    "flops": "train_run_flops",
    "peak_tflops": "train_peak_tflops",
    "step_s": "train_step_s",
    "steps": "train_steps",
    "seconds": "train_run_s",
    "days": "train_run_days",
    "gpu_hours": "train_run_gpu_hours",
    "tokens_per_s_per_gpu": "train_step_tokens_per_s_per_gpu",
    "mfu": "train_step_mfu",
    "chinchilla_tokens": "chinchilla_tokens",
}

#: Inputs of the step model besides :data:`xlcalc.training.TRAINING_DEFAULTS`.
STEP_DEFAULTS = ("compute_eff", "train_bw_eff", "dp_overlap", "mp_overlap", "goodput",
                 "gpus_per_node",
                 "link_eff", "link_latency_us", "host_link_gb_per_s")


def _step_context(model, gpu, batch, seq_len, **given) -> dict:
    _check_supported(gpu, given.get("precision"))
    return _inputs(TRAINING_DEFAULTS + STEP_DEFAULTS,
                   dict(model=model, gpu=gpu, batch=batch, seq_len=seq_len, **given))


@checked_keywords
def training_step(model, gpu, batch, seq_len, micro_batch=None, dp=1, tp=1, pp=1, vp=1, cp=1,
                  ep=1, zero=0, precision="bf16-mixed", recompute="none", stack="megatron",
                  attention="flash", **options):
    """One optimizer step of ``batch`` sequences of ``seq_len`` tokens on dp·tp·pp·cp GPUs
    as it runs, in seconds unless named otherwise: ``compute_s`` (the executed FLOPs at
    ``compute_eff`` of the peak), ``bubble_s`` ((p − 1)/(m·v) of it), the communication
    per kind before overlap (``tp_comm_s``, ``dp_comm_s``, ``pp_comm_s``, ``cp_comm_s``,
    ``ep_comm_s``, ``offload_s``), ``exposed_comm_s`` (what ``dp_overlap`` and
    ``mp_overlap`` leave), ``step_s``, ``tokens_per_s_per_gpu``, ``mfu`` and
    ``tflops_per_gpu`` (model FLOPs, Megatron's count).  ``options`` set any other input
    (``compute_eff``, ``dp_overlap``, ``mp_overlap``, ``etp``, ``dp_shard``, ``offload``,
    ``finetune``, ``gpus_per_node``, ``link_eff`` …)."""
    ctx = _step_context(model, gpu, batch, seq_len, micro_batch=micro_batch, dp=dp, tp=tp,
                        pp=pp, vp=vp, cp=cp, ep=ep, zero=zero, precision=precision,
                        recompute=recompute, stack=stack, attention=attention, **options)
    return breakdown(TRAIN_STEP_PARTS, name="training step", **ctx)


@checked_keywords
def training_time(model, tokens, gpu, n_gpus, mfu=None, recompute="none",
                  precision="bf16-mixed", price_per_gpu_hour=None, *, goodput=None,
                  batch=None, seq_len=None, **plan):
    """Time and cost of training on ``tokens`` tokens with ``n_gpus`` GPUs.

    Without ``batch`` and ``seq_len``: 6ND (8ND with full recomputation) at ``mfu`` of the
    dense peak for the precision (not given: calibrated, the GPU family's GEMM plateau times
    the training step's end-to-end share fitted on published runs, ``train_mfu``) (other keywords override graph names, e.g.
    ``params_total=70e9``).  With them: the step model of :func:`training_step`
    (``plan`` gives its other inputs — tp, pp, cp, ep, vp, micro_batch, zero, stack,
    attention, compute_eff …; dp defaults to n_gpus/(tp·pp·cp)).  Either way the wall
    clock is divided by ``goodput`` (restarts, evaluation; glossary default 0.9).
    Returns ``flops``, ``peak_tflops``, ``mfu`` (the rate used), ``seconds``, ``days``,
    ``gpu_hours``, ``tokens_per_s_per_gpu``, ``chinchilla_tokens`` (20 per parameter, a
    reference), with a plan also ``step_s`` and ``steps``, and with a price per GPU-hour
    ``cost``."""
    _check_supported(gpu, precision)
    cost = {"cost": "train_wall_cost"} if price_per_gpu_hour is not None else {}
    goodput = {"goodput": goodput} if goodput is not None else {}
    if batch is None and seq_len is None:
        # ``plan`` holds graph overrides here (``params_total=70e9`` for a seed's nominal size)
        return breakdown(dict(TRAIN_TIME_PARTS, **cost), name="training time", model=model,
                         tokens=tokens, gpu=gpu, n_gpus=n_gpus, recompute=recompute,
                         precision=precision, price_per_gpu_hour=price_per_gpu_hour,
                         **_inputs(("goodput", "mfu"), dict(goodput, mfu=mfu)), **plan)
    if batch is None or seq_len is None:
        raise invalid("batch" if batch is None else "seq_len", None,
                      "given together with the other for the step model")
    from .glossary import check
    n_gpus = check("n_gpus", n_gpus)          # validated before the arithmetic below
    split = 1.0
    for axis in ("tp", "pp", "cp"):
        split *= check(axis, plan.get(axis, 1))
    plan.setdefault("dp", n_gpus // split)
    if plan["dp"] * split != n_gpus:
        raise invalid("n_gpus", n_gpus, f"dp·tp·pp·cp = {plan['dp'] * split} for the plan")
    ctx = _step_context(model, gpu, batch, seq_len, tokens=tokens, precision=precision,
                        recompute=recompute, price_per_gpu_hour=price_per_gpu_hour,
                        **goodput, **plan)
    parts = dict(TRAIN_RUN_PARTS, **({"cost": "train_run_cost"} if cost else {}))
    return breakdown(parts, name="training time", **ctx)


# -------------------------------------------------------------------------- fit search

_AXES = ("tp", "pp", "cp", "ep", "dp", "micro_batch", "zero", "recompute")


def _as_list(name, value):
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return [value]
    values = list(value)
    if not values:
        raise invalid(name, value, "a value or a non-empty list of values")
    return values


def _powers_of_two(limit):
    return [2 ** i for i in range(0, 12) if 2 ** i <= limit]


def _candidates(model, batch, seq_len, gpus_per_node, axes: dict) -> list[dict]:
    """Every plan the axes span that the glossary's relations allow (invalid combinations
    are left out rather than reported: the search spans them on purpose)."""
    m = model
    heads, kv, layers = m.num_heads, m.num_kv_heads, m.num_layers
    experts = m.num_experts
    tp = axes["tp"] or [t for t in _powers_of_two(gpus_per_node) if heads % t == 0]
    pp = axes["pp"] or [p for p in _powers_of_two(16) if p <= layers]
    ep = axes["ep"] or ([e for e in _powers_of_two(64) if experts % e == 0] if experts else [1])
    plans = []
    for t, p, c, e in itertools.product(tp, pp, axes["cp"] or [1], ep):
        if heads % t or (kv % t and t % kv) or p > layers or seq_len % c or \
                (experts and experts % e) or (not experts and e != 1):
            continue
        dps = axes["dp"] or [d for d in range(1, batch + 1) if batch % d == 0]
        for d in dps:
            if batch % d or (t * c * d) % e:
                continue
            replica = batch // d
            mbs = axes["micro_batch"] or sorted({b for b in _powers_of_two(replica)
                                                 if replica % b == 0} | {replica})
            for mb in mbs:
                if replica % mb:
                    continue
                for z, r in itertools.product(axes["zero"], axes["recompute"]):
                    plans.append(dict(tp=t, pp=p, cp=c, ep=e, dp=d, micro_batch=mb, zero=z,
                                      recompute=r))
    return plans


_COLUMNS = {"train_world_size": "gpus", "train_total_bytes": "total",
            "train_headroom_bytes": "headroom", "train_fits": "fits",
            "train_step_s": "step_s", "train_step_tokens_per_s_per_gpu": "tokens_per_s_per_gpu",
            "train_step_mfu": "mfu"}


@checked_keywords
def train_fit_search(model, batch, seq_len, gpu, precision="bf16-mixed", optimizer="adamw",
                     tp=None, pp=None, dp=None, zero=(0, 1, 2, 3),
                     recompute=("none", "selective", "full"), max_gpus=None, *, cp=1, ep=None,
                     micro_batch=None, n_gpus=None, top=5, **options):
    """The plans that fit, best first, searched over every axis: ``tp``, ``pp``, ``cp``,
    ``ep``, ``dp``, ``micro_batch`` (gradient accumulation), ``zero`` and ``recompute`` —
    each a single value or a list (None: tp the powers of two dividing the heads within a
    node, pp powers of two up to the layers, ep those dividing the experts, dp the
    divisors of ``batch``, micro-batches the powers of two dividing the replica's share).

    ``n_gpus`` keeps the plans on exactly that many GPUs (dp·tp·pp·cp), ``max_gpus`` those
    on at most that many.  Rows: the axes, ``gpus``, the memory parts, ``total``,
    ``headroom``, ``fits``, ``step_s``, ``tokens_per_s_per_gpu``, ``mfu``; ranked by step
    time — for a fixed GPU count; across counts by GPU-seconds per step (tokens/s per
    GPU) — and the first ``top`` returned.  When nothing fits, the ``top`` plans with the
    smallest shortfall come back (``fits`` False) and ``frame.attrs["message"]`` says
    ``nothing fits on N GPUs: smallest shortfall …``."""
    import numpy as np
    import pandas as pd
    from .estimate import resolve
    ctx = _inputs(TRAINING_DEFAULTS + STEP_DEFAULTS, dict(
        model=model, batch=batch, seq_len=seq_len, gpu=gpu, precision=precision,
        optimizer=optimizer, **options))
    for name in _AXES:
        ctx.pop(name, None)
    ctx = resolve(ctx)
    _check_supported(ctx["gpu"], precision)
    given = dict(tp=tp, pp=pp, cp=cp, ep=ep, dp=dp, micro_batch=micro_batch, zero=zero,
                 recompute=recompute)
    axes = {k: None if v is None else _as_list(k, v) for k, v in given.items()}
    plans = _candidates(ctx["model"], int(batch), int(seq_len), int(ctx["gpus_per_node"]), axes)
    world = [p["dp"] * p["tp"] * p["pp"] * p["cp"] for p in plans]
    plans = [p for p, w in zip(plans, world) if (n_gpus is None or w == n_gpus)
             and (max_gpus is None or w <= max_gpus)]
    if not plans:
        raise invalid("n_gpus" if n_gpus is not None else "max_gpus",
                      n_gpus if n_gpus is not None else max_gpus,
                      "a GPU count some dp·tp·pp·cp split of the axes reaches")
    columns = {k: [p[k] for p in plans] for k in _AXES}
    targets = [*TRAIN_MEMORY_PARTS.values(), *_COLUMNS]
    values = estimate(targets, **ctx, **{k: (np.asarray(v) if k != "recompute" else v)
                                         for k, v in columns.items()})
    frame = pd.DataFrame(columns)
    for node, label in {**{v: k for k, v in TRAIN_MEMORY_PARTS.items()}, **_COLUMNS}.items():
        frame[label] = np.broadcast_to(values[node], (len(plans),))
    frame["fits"] = frame["fits"].astype(bool)
    frame["gpus"] = frame["gpus"].astype(int)
    frame["gpu_seconds"] = frame["step_s"] * frame["gpus"]
    order = {r: i for i, r in enumerate(axes["recompute"])}
    frame["recompute_rank"] = frame["recompute"].map(order)
    fitting = frame[frame["fits"]]
    if len(fitting):
        # ties (communication fully hidden): fewer GPUs, less recomputation, lower ZeRO
        key = "step_s" if n_gpus is not None else "gpu_seconds"
        best = fitting.sort_values([key, "gpus", "recompute_rank", "zero"],
                                   kind="stable").head(top)
        best.attrs["message"] = ""
    else:
        best = frame.sort_values("headroom", ascending=False, kind="stable").head(top)
        short = -best["headroom"].iloc[0]
        where = f"{n_gpus} GPUs" if n_gpus is not None else \
            f"up to {max_gpus} GPUs" if max_gpus is not None else "the GPUs searched"
        best.attrs["message"] = (f"nothing fits on {where}: smallest shortfall "
                                 f"{short / 1e9:.2f} GB per GPU ({_describe(best.iloc[0])})")
    return best.drop(columns=["gpu_seconds", "recompute_rank"]).reset_index(drop=True)


def _describe(row) -> str:
    return (f"dp {row.dp}, tp {row.tp}, pp {row.pp}, cp {row.cp}, ep {row.ep}, micro-batch "
            f"{row.micro_batch}, ZeRO-{row.zero}, recompute {row.recompute}")
