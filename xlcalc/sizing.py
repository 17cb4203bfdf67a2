"""Serving decisions: one plan at a load (:func:`serve`), and the cheapest fleet
(:func:`plan_serving`).

Both are thin over the formula graph (:mod:`xlcalc.formulas.serving_load`,
``.moe_serving``, ``.disagg``, ``.cost``): :func:`serve` fills the defaults and evaluates
the nodes of one plan; :func:`plan_serving` builds every candidate (GPU × dtype × tp × pp ×
attention DP × EP × layout (aggregated / disaggregated with each prefill tp) × concurrency
× replicas) as broadcasting axes and evaluates them in **one** vectorised graph
evaluation, then sorts, flags the Pareto frontier and says which target fails first.

The models behind the numbers (stated once, in the formula modules' docstrings):

* continuous batching with chunked prefill; TPOT includes the prefill work interleaved
  into every step; TTFT = chunked prefill + queueing, with a G/G/c wait for a slot of the
  running batch (Sakasegawa's approximation, Poisson arrivals, deterministic service) and an
  M/D/1 wait for the prefill lane (DistServe §3.1);
* disaggregated serving: M/D/1 per prefill worker, KV transfer over the prefill worker's
  network links, decode workers without prefill work;
* cost per million output tokens = price × GPUs ÷ (3600 × output tokens/s) × 1e6; input vs
  output split by the GPU time of each phase (see :mod:`xlcalc.formulas.cost`).

The engine (``engine``: ``vllm`` by default, ``sglang``, ``trt-llm``, ``seed``) is a row of
the engine presets (``xlcalc/presets/engines``): what it leaves for the KV cache, its KV
block size, its ``max_num_batched_tokens`` and ``max_num_seqs`` by GPU memory, the
activation peak and non-torch memory it subtracts.  Override one with its node name
(``gpu_memory_utilization=0.95``, ``max_num_batched_tokens=16384``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import graph
from .errors import XlcalcError, checked_keywords, invalid, unknown_choice
from .estimate import estimate
from .glossary import TERMS
from .hardware import load_gpu
from .models import load_model
from .serving import SERVING_DEFAULTS, _check_supported

__all__ = ["serve", "plan_serving", "gpu_prices", "SERVE_DEFAULTS",
           "SERVE_PARTS", "PLAN_COLUMNS", "plan_verdict", "pareto_flags"]

#: Inputs a serving plan reads and their defaults: the serving defaults (roofline
#: efficiencies, links), the vLLM engine, no MoE/speculative options, no load.
SERVE_DEFAULTS = {
    **SERVING_DEFAULTS, "engine": "vllm", "ep": 1, "dp_attention": 1, "moe_imbalance": 1.0,
    "draft_len": 0, "accepted_tokens_per_step": 1.0, "draft_params": 0.0, "draft_layers": 0,
    "extra_replicas": 0, "concurrent_users": 0, "request_rate": 0.0, "disaggregated": 0,
}

#: Labels of :func:`serve` and their nodes (every plan).
SERVE_PARTS = {
    "concurrency": "concurrency",
    "max_concurrency": "serve_max_concurrency",
    "replicas": "replicas",
    "gpus": "serve_gpus",
    "ttft_ms": "serve_ttft_ms",
    "tpot_ms": "serve_tpot_ms",
    "e2e_s": "serve_e2e_s",
    "output_tokens_per_s": "serve_output_tokens_per_s",
    "output_tokens_per_s_per_gpu": "output_tokens_per_s_per_gpu",
    "tokens_per_s_per_user": "serve_tokens_per_s_per_user",
    "requests_per_s": "serve_requests_per_s",
    "input_tokens_per_s": "serve_input_tokens_per_s",
    "capacity_requests_per_s": "serve_capacity_requests_per_s",
    "utilisation": "serve_utilisation",
    "fits": "serve_plan_fits",
    "stable": "serve_stable",
    "token_budget_ok": "serve_token_budget_ok",
    "memory_per_gpu": "serve_total_bytes",
    "weights_per_gpu": "infer_weights_bytes",
    "kv_cache_per_gpu": "serve_kv_bytes",
    "memory_budget_per_gpu": "infer_budget_bytes",
    "kv_budget_per_gpu": "kv_budget_bytes",
    "max_num_batched_tokens": "max_num_batched_tokens",
    "max_num_seqs": "max_num_seqs",
}
#: Added for aggregated serving: the parts of TTFT and of a step.
_AGG_PARTS = {
    "prefill_s_unqueued": "agg_prefill_s",
    "join_wait_s": "agg_join_wait_s",
    "ttft_admitted_s": "agg_ttft_admitted_s",
    "slot_wait_s": "agg_slot_wait_s",
    "prefill_wait_s": "agg_prefill_wait_s",
    "prefill_chunks": "agg_chunks",
    "step_s": "agg_step_s",
    "decode_only_step_s": "serve_decode_full_step_s",
    "interleaved_prefill_tokens": "serve_prefill_tokens",
}
#: Added when disaggregated.
_PD_PARTS = {
    "prefill_tp": "prefill_tp",
    "prefill_workers": "prefill_workers",
    "decode_workers": "replicas",
    "prefill_s": "pd_prefill_s",
    "kv_transfer_s": "pd_kv_transfer_s",
    "prefill_wait_s": "pd_prefill_wait_s",
    "decode_wait_s": "pd_decode_wait_s",
    "balance_ratio": "pd_balance_ratio",
    "kv_transfer_bytes": "kv_transfer_bytes",
}
#: Added for an MoE model.
_MOE_PARTS = {
    "ep": "ep",
    "dp_attention": "dp_attention",
    "a2a_bytes_per_layer": "moe_a2a_bytes_per_layer",
    "moe_comm_s_per_layer": "moe_comm_s_per_layer",
    "moe_link_gb_per_s": "moe_link_gb_per_s",
}
#: Added with a price.
_COST_PARTS = {
    "price_per_gpu_hour": "price_per_gpu_hour",
    "cost_per_hour": "serve_cost_per_hour",
    "cost_per_m_output_tokens": "cost_per_m_output_tokens",
    "cost_per_m_input_tokens": "cost_per_m_input_tokens",
    "cost_per_m_output_tokens_split": "cost_per_m_output_tokens_split",
    "cost_per_month": "cost_per_month",
}
#: Added with latency targets.
_SLA_PARTS = {"ttft_ms_max": "ttft_ms_max", "tpot_ms_max": "tpot_ms_max",
              "meets_sla": "serve_meets_sla"}
_BOOLS = ("fits", "stable", "token_budget_ok", "meets_sla")

@checked_keywords
def gpu_prices():
    """The indicative price table (``xlcalc/presets/gpu_prices.json``): price per GPU-hour,
    its range, date, source and conditions, one row per GPU."""
    graph.load_all()
    return graph.table("gpu_prices").frame().copy()


def _list_price(gpu_record):
    rows = graph.table("gpu_prices").rows()
    row = rows.get(gpu_record.name.lower())
    return None if row is None else float(row["price_per_gpu_hour"])


def _check_names(given: dict) -> None:
    for name in given:
        if name not in TERMS and name not in graph.NODES:
            raise unknown_choice("argument", name, list(TERMS) + list(graph.NODES))


def _check_targets(tpot_ms_max, tokens_per_s_per_user_min) -> None:
    if tpot_ms_max is not None and tokens_per_s_per_user_min is not None:
        raise XlcalcError("give tpot_ms_max or tokens_per_s_per_user_min, not both (one is "
                          "1000 / the other)", "tokens_per_s_per_user_min")


# ------------------------------------------------------------------------- serve

@checked_keywords
def serve(model, gpu, isl, osl, *, tp=1, pp=1, ep=1, dp_attention=1, dtype="bf16",
          kv_dtype="bf16", concurrency=None, request_rate=None, replicas=None,
          engine="vllm", price_per_gpu_hour=None, ttft_ms_max=None, tpot_ms_max=None,
          tokens_per_s_per_user_min=None, disaggregated=False, prefill_tp=None,
          prefill_workers=None, concurrent_users=None, **options):
    """One serving plan at a load, as a pandas Series.

    ``isl``/``osl`` are the prompt and output tokens per request.  An instance (replica) is
    ``tp × dp_attention × pp`` GPUs; ``ep`` splits an MoE model's routed experts;
    ``concurrency`` is each instance's running batch (None: the most its KV cache holds);
    ``request_rate`` requests/s arrive (Poisson) — or ``concurrent_users`` users in a closed
    loop — spread over ``replicas`` instances (None: the fewest that keep up; 1 with no
    load).  ``disaggregated=True`` serves prompts on ``prefill_workers`` workers of
    ``prefill_tp`` GPUs (None: ``tp``; workers None: the fewest that meet ``ttft_ms_max``,
    or that balance the decode workers' throughput when no target is given) and decodes on
    the ``replicas``.

    Returns ``concurrency``, ``replicas``, ``gpus``, ``ttft_ms``, ``tpot_ms``, ``e2e_s``,
    ``output_tokens_per_s`` (at the load, or at capacity without one),
    ``output_tokens_per_s_per_gpu``, ``tokens_per_s_per_user`` (1 / TPOT),
    ``requests_per_s``, ``fits``, ``stable`` …; with a price (``price_per_gpu_hour``, or
    the GPU's row of :func:`gpu_prices`) ``cost_per_m_output_tokens``,
    ``cost_per_m_input_tokens``, ``cost_per_m_output_tokens_split`` and ``cost_per_month``;
    with targets ``meets_sla``.  ``options`` set any other serving input (``mfu``,
    ``bw_eff``, ``accepted_tokens_per_step``, ``draft_len``, ``draft_params``,
    ``draft_layers``, ``moe_imbalance``, ``max_num_batched_tokens`` …)."""
    graph.load_all()
    _check_targets(tpot_ms_max, tokens_per_s_per_user_min)
    _check_names(options)
    m, g = load_model(model), load_gpu(gpu)
    pd_on = _flag("disaggregated", disaggregated)
    ctx = dict(SERVE_DEFAULTS, engine=engine)
    given = dict(model=m, gpu=g, prompt_len=isl, output_len=osl, tp=tp, pp=pp, ep=ep,
                 dp_attention=dp_attention, dtype=dtype, kv_dtype=kv_dtype,
                 concurrency=concurrency, request_rate=request_rate, replicas=replicas,
                 ttft_ms_max=ttft_ms_max, tpot_ms_max=tpot_ms_max,
                 tokens_per_s_per_user_min=tokens_per_s_per_user_min,
                 disaggregated=int(pd_on), concurrent_users=concurrent_users, **options)
    ctx.update((k, v) for k, v in given.items() if v is not None)
    ctx["prefill_tp"] = prefill_tp if prefill_tp is not None else tp
    price = price_per_gpu_hour if price_per_gpu_hour is not None else _list_price(g)
    if price is not None:
        ctx["price_per_gpu_hour"] = price
    targets = ttft_ms_max is not None and (tpot_ms_max is not None or
                                           tokens_per_s_per_user_min is not None)
    bind = None
    if not pd_on:
        ctx["prefill_workers"] = 1          # no prefill workers: the aggregated branch
    elif prefill_workers is not None:
        ctx["prefill_workers"] = prefill_workers
    elif ttft_ms_max is None:
        bind = {"prefill_workers": "prefill_workers_balanced"}
    _check_supported(ctx)
    parts = dict(SERVE_PARTS, **(_PD_PARTS if pd_on else _AGG_PARTS),
                 **(_MOE_PARTS if m["num_experts"] > 0 else {}),
                 **(_COST_PARTS if price is not None else {}),
                 **(_SLA_PARTS if targets else {}))
    values = estimate(tuple(parts.values()), bind=bind, **ctx)
    out = {}
    for label, node in parts.items():
        v = values[node]
        out[label] = bool(v) if label in _BOOLS else (v if isinstance(v, str) else float(v))
    import pandas as pd
    return pd.Series(out, name="serving plan", dtype=object)


def _flag(name, value) -> bool:
    if value in (0, 1, False, True):
        return bool(value)
    raise invalid(name, value, "True or False")


# ------------------------------------------------------------------- the planner

#: Columns of :func:`plan_serving` in order: label -> node (None: an axis of the search).
PLAN_COLUMNS = {
    "gpu": None, "dtype": None, "disaggregated": None, "tp": None, "pp": None,
    "dp_attention": None, "ep": None, "prefill_tp": None,
    "prefill_workers": "prefill_workers", "concurrency": None, "extra_replicas": None,
    "replicas": "replicas",
    "gpus": "serve_gpus", "ttft_ms": "serve_ttft_ms", "tpot_ms": "serve_tpot_ms",
    "e2e_s": "serve_e2e_s", "tokens_per_s_per_user": "serve_tokens_per_s_per_user",
    "output_tokens_per_s_per_gpu": "output_tokens_per_s_per_gpu",
    "output_tokens_per_s": "serve_output_tokens_per_s",
    "requests_per_s": "serve_requests_per_s", "utilisation": "serve_utilisation",
    "price_per_gpu_hour": None, "cost_per_hour": "serve_cost_per_hour",
    "cost_per_m_output_tokens": "cost_per_m_output_tokens",
    "cost_per_m_input_tokens": "cost_per_m_input_tokens",
    "cost_per_month": "cost_per_month",
    "fits": "serve_plan_fits", "token_budget_ok": "serve_token_budget_ok",
    "stable": "serve_stable", "ttft_ratio": "serve_ttft_ratio",
    "tpot_ratio": "serve_tpot_ratio", "meets_sla": "serve_meets_sla",
}

#: default search axes
PLAN_TPS = (1, 2, 4, 8)
PLAN_PPS = (1, 2, 4)
PLAN_CONCURRENCIES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512,
                      768, 1024)
PLAN_EXTRA_REPLICAS = tuple(range(32))
PLAN_DP_ATTENTION = (1, 2, 4, 8)
PLAN_DTYPES = ("bf16", "fp8")


@checked_keywords
def plan_serving(model, isl, osl, *, request_rate=None, concurrency=None, ttft_ms_max,
                 tpot_ms_max=None, tokens_per_s_per_user_min=None, gpus=None,
                 dtypes=PLAN_DTYPES, kv_dtype="bf16", price_per_gpu_hour=None,
                 max_gpus=1024, disaggregated=(False, True), tps=PLAN_TPS, pps=PLAN_PPS,
                 eps=None, dp_attentions=None, prefill_tps=None,
                 concurrencies=PLAN_CONCURRENCIES, extra_replicas=PLAN_EXTRA_REPLICAS,
                 engine="vllm", **options):
    """Every candidate fleet for a load and latency targets, cheapest first.

    The load is ``request_rate`` requests/s (Poisson) or ``concurrency`` users in a closed
    loop; targets ``ttft_ms_max`` and ``tpot_ms_max`` (or ``tokens_per_s_per_user_min``).
    The search: ``gpus`` (preset names; default every GPU with a price) × ``dtypes`` (those
    each GPU computes in) × ``tps`` × ``pps`` × for MoE models ``dp_attentions`` (attention
    DP ranks) × ``eps`` (``1`` and ``"all"``: experts over every GPU of a stage) × layout
    (aggregated, and disaggregated with each of ``prefill_tps``) × ``concurrencies`` (per
    instance) × replicas (the fewest that keep up, plus each of ``extra_replicas``) — one
    vectorised evaluation of the formula graph.

    Returns a DataFrame (:data:`PLAN_COLUMNS`), one row per candidate: first the plans that
    meet every target (``meets_sla``: fits, keeps up, TTFT and TPOT within their targets, at
    most ``max_gpus`` GPUs) from the cheapest (``cost_per_m_output_tokens``; at a fixed load
    the same order as the fleet's $/hour; ties: fewer GPUs), then the others in the order of
    the search axes (by cost when none meets the targets);
    ``pareto`` flags the frontier of ``output_tokens_per_s_per_gpu`` against
    ``tokens_per_s_per_user`` among the plans that fit and keep up.  ``frame.attrs
    ["verdict"]`` is a one-line answer (:func:`plan_verdict`): the best plan, or which
    target fails first and by how much.  ``price_per_gpu_hour`` is a number or a dict
    ``{gpu: price}`` overriding :func:`gpu_prices`."""
    grid = _Grid(model, isl, osl, request_rate=request_rate, users=concurrency,
                 ttft_ms_max=ttft_ms_max, tpot_ms_max=tpot_ms_max,
                 tokens_per_s_per_user_min=tokens_per_s_per_user_min, gpus=gpus,
                 dtypes=dtypes, kv_dtype=kv_dtype, prices=price_per_gpu_hour,
                 disaggregated=disaggregated, tps=tps, pps=pps, eps=eps,
                 dp_attentions=dp_attentions, prefill_tps=prefill_tps,
                 concurrencies=concurrencies, extra_replicas=extra_replicas, engine=engine,
                 options=options)
    values = grid.evaluate()
    frame = grid.frame(values, max_gpus)
    frame.attrs["verdict"] = plan_verdict(frame, ttft_ms_max=ttft_ms_max,
                                          tpot_ms_max=grid.tpot_target, max_gpus=max_gpus)
    frame.attrs["candidates"] = int(np.prod(grid.shape))
    return frame


def _by_cost(cost, gpus) -> np.ndarray:
    """The permutation ``np.lexsort((gpus, cost))``: by cost, ties by GPUs, then by position
    (NaN last, as numpy sorts).  One stable sort by cost; the GPU tie-break is re-sorted
    only when some tied costs are out of GPU order (at a fixed load the cost is the fleet's
    price, so equal costs mostly come with equal GPU counts)."""
    order = np.argsort(cost, kind="stable")
    c, g = cost[order], gpus[order]
    tied = (c[1:] == c[:-1]) | (np.isnan(c[1:]) & np.isnan(c[:-1]))
    down = (g[1:] < g[:-1]) | (np.isnan(g[:-1]) & ~np.isnan(g[1:]))
    if not (tied & down).any():
        return order
    group = np.concatenate(([0], np.cumsum(~tied)))
    if np.all((g >= 0) & (g < 2 ** 31) & (g == np.floor(g))):     # whole GPU counts (no NaN)
        # one stable sort of (tie group, GPUs) packed into an int64: nearly in order already
        key = (group.astype(np.int64) << 32) | g.astype(np.int64)
        return order[np.argsort(key, kind="stable")]
    return order[np.lexsort((g, group))]           # stable: positions keep their order


#: Above this many points, :func:`pareto_flags` first drops the points that the frontier of
#: a sample of about this many beats.
_PARETO_SAMPLE = 2048


def pareto_flags(x, y, usable=None):
    """True for the usable points that no other usable point beats on both ``x`` and ``y``
    (higher is better on both; equal points are all kept)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.ones(len(x), bool) if usable is None else np.asarray(usable, bool)
    out = np.zeros(len(x), bool)
    idx = np.flatnonzero(ok & np.isfinite(x) & np.isfinite(y))
    if len(idx) > 4 * _PARETO_SAMPLE:
        idx = _unbeaten(x, y, idx)
    out[idx[_frontier(x[idx], y[idx])]] = True
    return out


def _frontier(x, y) -> np.ndarray:
    """Positions of the points of (finite) ``x``, ``y`` that no other point beats: one sort
    by ``y`` (descending), the largest ``x`` of each equal-``y`` group, and a running
    maximum of ``x`` over the groups above it."""
    if not len(x):
        return np.zeros(0, dtype=np.intp)
    order = np.argsort(-y)
    xs, ys = x[order], y[order]
    new = np.empty(len(ys), bool)
    new[0] = True
    np.not_equal(ys[1:], ys[:-1], out=new[1:])
    best = np.maximum.reduceat(xs, np.flatnonzero(new))   # the largest x of each group
    group = np.cumsum(new) - 1
    before = np.empty_like(best)                           # the largest x of the groups above
    before[0] = -np.inf
    np.maximum.accumulate(best[:-1], out=before[1:])
    return order[(xs == best[group]) & (xs > before[group])]


def _unbeaten(x, y, idx) -> np.ndarray:
    """``idx`` without the points that a frontier point of a strided sample of them beats
    (a point beaten by any point is beaten by a frontier point, so the frontier of what is
    left is the whole frontier).  The sample's frontier, sorted by ``x``, has ``y``
    falling: the first of its points with ``x`` at least a point's is the highest of
    those that could beat it."""
    sample = idx[::len(idx) // _PARETO_SAMPLE]
    front = sample[_frontier(x[sample], y[sample])]
    by_x = np.argsort(x[front])
    fx = np.append(x[front][by_x], np.inf)
    fy = np.append(y[front][by_x], -np.inf)
    xi, yi = x[idx], y[idx]
    j = np.searchsorted(fx, xi)
    beaten = fy[j] > yi
    beaten |= (fy[j] == yi) & (fx[j] > xi)
    return idx[~beaten]


def plan_verdict(frame, *, ttft_ms_max, tpot_ms_max, max_gpus) -> str:
    """One line: the cheapest plan that meets every target, or the first target no plan
    meets (in the order memory, token budget, keeping up, GPU limit, TTFT, TPOT) and how
    close the best candidate that meets the ones before it comes."""
    if len(frame) and bool(frame["meets_sla"].iloc[0]):
        r = frame.iloc[0]
        return f"fits: the cheapest plan that meets every target is {describe(r)}"
    checks = (
        ("memory", frame["fits"], None),
        ("token budget (max_num_batched_tokens)", frame["token_budget_ok"], None),
        ("the load (every queue below 100 % utilisation)", frame["stable"],
         frame["utilisation"]),
        (f"max_gpus = {max_gpus:g}", frame["gpus"] <= max_gpus, frame["gpus"] / max_gpus),
        (f"ttft_ms_max = {ttft_ms_max:g}", frame["ttft_ratio"] <= 1, frame["ttft_ratio"]),
        (f"tpot_ms_max = {tpot_ms_max:g}", frame["tpot_ratio"] <= 1, frame["tpot_ratio"]),
    )
    alive = np.ones(len(frame), bool)
    for name, ok, ratio in checks:
        ok = np.asarray(ok, bool)
        if not (alive & ok).any():
            if ratio is None or not alive.any():
                return f"does not fit: no candidate passes {name}"
            r = np.asarray(ratio, float)
            k = int(np.flatnonzero(alive)[np.argmin(r[alive])])
            return (f"does not fit: no plan meets {name}; the closest misses it by "
                    f"{(r[k] - 1) * 100:.0f} % ({describe(frame.iloc[k])})")
        alive &= ok
    return "does not fit"


def describe(row) -> str:
    """A plan in words: ``12 × h100-sxm (tp 4, 3 replicas × 64 sequences, bf16): TTFT 290
    ms, TPOT 27.3 ms, $1.97 per million output tokens``."""
    layout = (f"{int(row['prefill_workers'])} prefill workers of tp {int(row['prefill_tp'])} + "
              f"{int(row['replicas'])} decode workers" if row["disaggregated"]
              else f"{int(row['replicas'])} replica{'s' if row['replicas'] != 1 else ''}")
    par = f"tp {int(row['tp'])}" + (f" pp {int(row['pp'])}" if row["pp"] > 1 else "") + \
        (f" dp {int(row['dp_attention'])}" if row["dp_attention"] > 1 else "") + \
        (f" ep {int(row['ep'])}" if row["ep"] > 1 else "")
    return (f"{int(row['gpus'])} × {row['gpu']} ({par}, {layout} × "
            f"{int(row['concurrency'])} sequences, {row['dtype']}): TTFT "
            f"{row['ttft_ms']:,.0f} ms, TPOT {row['tpot_ms']:,.1f} ms, "
            f"${row['cost_per_m_output_tokens']:,.2f} per million output tokens, "
            f"${row['cost_per_month']:,.0f}/month")


class _Grid:
    """The candidate axes of :func:`plan_serving`, shaped to broadcast (axis *i* along
    dimension *i*), and the one graph evaluation over them."""

    AXES = ("gpu", "dtype", "tp", "pp", "dp_attention", "ep_mode", "layout", "concurrency",
            "extra_replicas")

    def __init__(self, model, isl, osl, *, request_rate, users, ttft_ms_max, tpot_ms_max,
                 tokens_per_s_per_user_min, gpus, dtypes, kv_dtype, prices, disaggregated,
                 tps, pps, eps, dp_attentions, prefill_tps, concurrencies, extra_replicas,
                 engine, options):
        graph.load_all()
        _check_targets(tpot_ms_max, tokens_per_s_per_user_min)
        if tpot_ms_max is None and tokens_per_s_per_user_min is None:
            raise XlcalcError("give tpot_ms_max or tokens_per_s_per_user_min (the decode "
                              "speed target)", "tpot_ms_max")
        if request_rate is not None and users is not None:
            raise XlcalcError("give request_rate or concurrency (users in a closed loop), "
                              "not both", "concurrency")
        _check_names(options)
        self.model = load_model(model)
        m = self.model
        moe = m["num_experts"] > 0
        self.scalars = dict(SERVE_DEFAULTS, engine=engine)
        self.scalars.update(options)
        self.scalars.update(model=m, prompt_len=isl, output_len=osl, kv_dtype=kv_dtype,
                            ttft_ms_max=ttft_ms_max)
        if tpot_ms_max is not None:
            self.scalars["tpot_ms_max"] = tpot_ms_max
        else:
            self.scalars["tokens_per_s_per_user_min"] = tokens_per_s_per_user_min
        if request_rate is not None:
            self.scalars["request_rate"] = request_rate
        if users is not None:
            self.scalars["concurrent_users"] = users
        self.tpot_target = tpot_ms_max if tpot_ms_max is not None else \
            1000 / float(tokens_per_s_per_user_min)
        records = [load_gpu(x) for x in (_gpu_list(gpus))]
        self.gpus = records
        self.prices = [_price(r, prices) for r in records]
        self.dtypes = [str(d).strip().lower() for d in _seq("dtypes", dtypes)]
        heads, kv_heads = m["num_heads"], m["num_kv_heads"]
        ok_tp = [int(t) for t in _seq("tps", tps) if heads % t == 0 and
                 (kv_heads % t == 0 or t % kv_heads == 0)]
        if not ok_tp:
            raise invalid("tps", list(tps), f"tensor-parallel degrees dividing num_heads="
                          f"{heads:g}")
        self.tps = ok_tp
        self.pps = [int(p) for p in _seq("pps", pps) if p <= m["num_layers"]]
        self.dps = [int(d) for d in _seq("dp_attentions", dp_attentions or
                                         (PLAN_DP_ATTENTION if moe else (1,)))]
        ep_modes = eps if eps is not None else ((1, "all") if moe else (1,))
        self.ep_modes = [1 if e in (1, "1", "none") else 1 if not moe else "all"
                         for e in _seq("eps", ep_modes)]
        self.ep_modes = list(dict.fromkeys(self.ep_modes))
        layouts = []
        for d in _seq("disaggregated", disaggregated):
            if _flag("disaggregated", d):
                ptps = [int(t) for t in _seq("prefill_tps", prefill_tps or self.tps)
                        if heads % t == 0]
                layouts += [(1, t) for t in ptps]
            else:
                layouts.append((0, self.tps[0]))
        self.layouts = layouts
        self.concurrencies = [int(c) for c in _seq("concurrencies", concurrencies)]
        self.extra = [int(e) for e in _seq("extra_replicas", extra_replicas)]
        self.shape = (len(self.gpus), len(self.dtypes), len(self.tps), len(self.pps),
                      len(self.dps), len(self.ep_modes), len(self.layouts),
                      len(self.concurrencies), len(self.extra))

    def _axis(self, i, values):
        dims = [1] * len(self.shape)
        dims[i] = self.shape[i]
        return np.asarray(values, dtype=np.float64).reshape(dims)

    def context(self) -> dict:
        ctx = dict(self.scalars)
        dims = [1] * len(self.shape)
        dims[0] = self.shape[0]
        ctx["gpu"] = graph.Factor(self.gpus, np.arange(self.shape[0]).reshape(dims))
        ctx["price_per_gpu_hour"] = self._axis(0, self.prices)
        dims = [1] * len(self.shape)
        dims[1] = self.shape[1]
        ctx["dtype"] = graph.Factor(self.dtypes, np.arange(self.shape[1]).reshape(dims))
        tp = self._axis(2, self.tps)
        ctx["tp"] = tp
        ctx["pp"] = self._axis(3, self.pps)
        dp = self._axis(4, self.dps)
        ctx["dp_attention"] = dp
        mode = self._axis(5, [1.0 if e == "all" else 0.0 for e in self.ep_modes])
        experts = max(self.model["num_experts"], 1)
        group = tp * dp
        ep = np.where(mode > 0, group, 1.0)
        self.ep_ok = (experts % ep == 0) | (mode == 0)
        ctx["ep"] = np.where(self.ep_ok, ep, 1.0)
        ctx["disaggregated"] = self._axis(6, [lay[0] for lay in self.layouts])
        ctx["prefill_tp"] = self._axis(6, [lay[1] for lay in self.layouts])
        ctx["concurrency"] = self._axis(7, self.concurrencies)
        ctx["extra_replicas"] = self._axis(8, self.extra)
        self.ep = ctx["ep"]
        return ctx

    def evaluate(self) -> dict:
        """The one vectorised evaluation: every node of :data:`PLAN_COLUMNS` over the grid."""
        ctx = self.context()
        targets = [n for n in PLAN_COLUMNS.values() if n] + ["peak_tflops"]
        # absurd sizes overflow in some candidates: those rows are inf/NaN, never feasible
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return graph.evaluate_targets(tuple(dict.fromkeys(targets)), ctx)

    def flat(self, value, dtype=np.float64, out=None) -> np.ndarray:
        """``value`` (an array broadcasting to the grid) over the whole grid, flat in the
        order of the search axes: the array itself when it already is that, else written
        out (into ``out``, a scratch grid, when given)."""
        v = np.asarray(value)
        if v.shape == self.shape and v.dtype == dtype and v.flags.c_contiguous:
            return v.reshape(-1)
        if out is None:
            out = np.empty(self.shape, dtype)
        np.copyto(out.reshape(self.shape), v, casting="unsafe")
        return out.reshape(-1)

    def flag(self, value) -> np.ndarray:
        """A TRUE/FALSE node (a number > 0 is TRUE), flat over the grid."""
        return self.flat(np.asarray(value) > 0, bool)

    def valid(self, values) -> np.ndarray:
        """The candidates that exist, flat over the grid: a dtype the GPU computes in, an
        ep that divides the experts (else the duplicate of ep = 1 is dropped)."""
        return self.flat(np.isfinite(values["peak_tflops"]) & self.ep_ok, bool)

    def rows(self, values, max_gpus, ok):
        """The rows' order (flat grid indices) and how many lead: the plans that meet every
        target by cost per million output tokens (ties: fewer GPUs), then the others in
        the order of the search axes — or, when none meets the targets, every candidate
        by cost (and 0).  ``ok``: :meth:`valid`."""
        gpus = self.flat(values["serve_gpus"])
        cost = self.flat(values["cost_per_m_output_tokens"])
        meets = self.flag(values["serve_meets_sla"]) & ok
        meets &= gpus <= max_gpus
        first = np.flatnonzero(meets)
        if not len(first):
            idx = np.flatnonzero(ok)
            return idx[_by_cost(cost[idx], gpus[idx])], 0
        first = first[_by_cost(cost[first], gpus[first])]
        return np.concatenate([first, np.flatnonzero(ok & ~meets)]), len(first)

    def frame(self, values, max_gpus):
        """The DataFrame of :data:`PLAN_COLUMNS` (then ``within_max_gpus`` and ``pareto``),
        one row per candidate that exists, in the order of :meth:`rows`: each column read
        once from its node over the grid (a node on few axes written out into a scratch
        grid first) straight into its own array, the GPU and dtype as categoricals.  The
        number columns are written into the grids of intermediate nodes that no column
        reads and into each node's grid once its column is read (already in memory: new
        memory costs a page fault per page), which ``values`` gives up."""
        import pandas as pd
        ok = self.valid(values)
        order, n_first = self.rows(values, max_gpus, ok)
        n = len(order)
        flags = {label: self.flag(values[PLAN_COLUMNS[label]])
                 for label in ("fits", "token_budget_ok", "stable")}
        usable = ok & flags["fits"] & flags["stable"] & flags["token_budget_ok"]
        pareto = self.pareto(values["output_tokens_per_s_per_gpu"],
                             values["serve_tokens_per_s_per_user"], usable)
        spare = self._spare(values)
        scratch = spare.pop() if spare else np.empty(self.shape)

        def take(value, dtype=np.float64):
            src = self.flat(value, dtype, scratch if dtype == np.float64 else None)
            out = spare.pop().reshape(-1)[:n] if spare and dtype == np.float64 else None
            return np.take(src, order, out=out, mode="clip")     # clip: unbuffered

        layouts = np.array(self.layouts, dtype=float)
        pd_axis = self._axis(6, layouts[:, 0]) > 0
        axes = {"tp": self._axis(2, self.tps), "pp": self._axis(3, self.pps),
                "dp_attention": self._axis(4, self.dps), "ep": self.ep,
                "prefill_tp": self._axis(6, layouts[:, 1]),
                "concurrency": self._axis(7, self.concurrencies),
                "extra_replicas": self._axis(8, self.extra),
                "price_per_gpu_hour": self._axis(0, self.prices)}
        # the columns read from nodes first: each node's grid, once read, takes a later
        # column (the axes, on few values, come last)
        labels = sorted((label for label in PLAN_COLUMNS if label not in _TEXT and
                         label not in _FLAGS), key=lambda label: label in axes)
        reads = Counter(PLAN_COLUMNS[label] for label in labels if label not in axes)
        columns = {}
        for label in labels:
            node = PLAN_COLUMNS[label]
            source = axes[label] if label in axes else values[node]
            if label in ("prefill_tp", "prefill_workers"):      # aggregated: none
                source = np.where(pd_axis, source, np.nan)
            columns[label] = take(source)
            if label not in axes:
                reads[node] -= 1
                spare += self._used(values, node, reads)
        columns["gpu"] = pd.Categorical.from_codes(
            take(self._axis(0, range(self.shape[0])), np.int32), [x.name for x in self.gpus])
        columns["dtype"] = pd.Categorical.from_codes(
            take(self._axis(1, range(self.shape[1])), np.int32), self.dtypes)
        columns["disaggregated"] = take(pd_axis, bool)
        columns["meets_sla"] = np.arange(n) < n_first
        for label, flag in flags.items():
            columns[label] = np.take(flag, order)
        columns = {label: columns[label] for label in PLAN_COLUMNS}
        columns["within_max_gpus"] = columns["gpus"] <= max_gpus
        columns["pareto"] = np.take(pareto, order)
        return pd.DataFrame(columns, copy=False)

    def pareto(self, x, y, usable) -> np.ndarray:
        """:func:`pareto_flags` of ``x`` and ``y`` (arrays broadcasting to the grid) among
        the ``usable`` candidates (flat), flat over the grid.  Along the axes ``y`` does
        not vary on (the replica count: tokens/s per user is a property of one instance)
        only the largest usable ``x`` of each cell can be unbeaten (a smaller one is
        beaten by it at the same ``y``): the frontier of those cells' best points, then
        every point equal to its cell's best point on it."""
        y = np.asarray(y)
        free = tuple(i for i, n in enumerate(self.shape)
                     if n > 1 and (y.ndim != len(self.shape) or y.shape[i] == 1))
        if not free or y.ndim != len(self.shape):
            return pareto_flags(self.flat(x), self.flat(y), usable)
        xg = np.broadcast_to(x, self.shape)
        ok = usable.reshape(self.shape) & np.isfinite(xg) & np.isfinite(y)
        best = np.where(ok, xg, -np.inf).max(axis=free, keepdims=True)
        cells = ok.any(axis=free, keepdims=True)
        front = pareto_flags(best.ravel(), np.broadcast_to(y, best.shape).ravel(),
                             cells.ravel()).reshape(best.shape)
        return (ok & (xg == best) & front).reshape(-1)

    def _used(self, values, node, reads) -> list:
        """``[values[node]]`` taken out of ``values`` once no column reads it any more
        (``reads``: the reads left per node), when it is a grid of its own that no node
        still to be read shares: its memory takes the next column."""
        v = values.get(node)
        if reads[node] or not self._own_grid(v) or any(
                np.may_share_memory(v, values[n]) for n, left in reads.items()
                if left and n != node):
            return []
        return [values.pop(node)]

    def _own_grid(self, v) -> bool:
        """A float grid of the grid's shape that owns its writable memory."""
        return isinstance(v, np.ndarray) and v.shape == self.shape and \
            v.dtype == np.float64 and v.base is None and v.flags.c_contiguous and \
            v.flags.writeable

    def _spare(self, values) -> list:
        """The grids of float intermediates no column reads, taken out of ``values``:
        arrays of the grid's shape that own their memory and share none with a node a
        column reads."""
        read = {n for n in PLAN_COLUMNS.values() if n} | {"peak_tflops"}
        kept = [v for n, v in values.items() if n in read and isinstance(v, np.ndarray)]
        spare = []
        for name in list(values):
            v = values[name]
            if name in read or not isinstance(v, np.ndarray) or v.shape != self.shape or \
                    v.dtype != np.float64 or v.base is not None or \
                    not v.flags.c_contiguous or not v.flags.writeable or \
                    any(np.may_share_memory(v, k) for k in kept) or \
                    any(v is s for s in spare):
                continue
            spare.append(values.pop(name))
        return spare


_TEXT = ("gpu", "dtype")
_FLAGS = ("disaggregated", "fits", "token_budget_ok", "stable", "meets_sla")


def _seq(name, value) -> list:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        value = [value]
    value = list(value)
    if not value:
        raise invalid(name, value, "at least one value")
    return value


def _gpu_list(gpus) -> list:
    if gpus is None:
        graph.load_all()
        return list(graph.table("gpu_prices").rows())
    if isinstance(gpus, str):
        gpus = [g for g in gpus.split(",") if g.strip()]
    return _seq("gpus", gpus)


def _price(record, prices) -> float:
    """The price of one GPU: a number for all, a dict per GPU name, or the table."""
    if isinstance(prices, dict):
        for key, value in prices.items():
            if str(key).strip().lower() == record.name.lower():
                return float(_check_price(value))
    elif prices is not None:
        return float(_check_price(prices))
    listed = _list_price(record)
    if listed is None:
        raise XlcalcError(f"price_per_gpu_hour: no indicative price for gpu {record.name!r}; "
                          "give one, e.g. price_per_gpu_hour={" + repr(record.name) +
                          ": 2.5}", "price_per_gpu_hour")
    return listed


def _check_price(value):
    from .glossary import check
    return check("price_per_gpu_hour", value)
