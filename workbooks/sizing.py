"""The serving-sizing workbook: a grid of candidate fleets as live formulas, the cheapest one
that meets the targets picked with classic functions, and a Pareto chart.

* **Inputs**: the model, the load (``request_rate``, ``prompt_len``, ``output_len``) and the
  targets (``ttft_ms_max``, ``tpot_ms_max``), the engine and the efficiencies.
* **Scenarios**: one row per candidate — GPU, weight dtype, tp, aggregated or disaggregated
  (prefill workers of tp 8), concurrency per replica, replicas beyond the fewest that keep
  up — and its live figures: replicas, GPUs, TTFT, TPOT, tokens/s per user and per GPU,
  $ per million output tokens, $ per month, fits / keeps up / meets the SLA.  Each row's
  steps are a column of *Scenario calculations*; prices come from the *GPU prices* sheet
  (its yellow price column is editable).  The rows are the candidates of
  :func:`xlcalc.plan_serving` with the same axes, in its order.
* **Answer** (on Results): the cheapest row that meets every target — ``MIN`` over a column
  that holds the cost only where the row meets the targets, ``MATCH`` for its row, ``INDEX``
  for its fields (LibreOffice 7.4 has no XLOOKUP/FILTER); how many rows pass each check.
* **Pareto**: each usable row (fits, keeps up, within the engine's batch limits) is on the
  frontier of tokens/s per GPU against tokens/s per user when ``SUMPRODUCT`` finds no usable
  row at least as good on both and better on one; the frontier, ordered, feeds a scatter
  chart beside all the candidates.

Every per-row figure is the core's formula (rendered by the generator); the cells added
here are built with :mod:`xlcalc.expr` and carry the values Python computes for them.
"""

from __future__ import annotations

import numpy as np

from xlcalc import expr as X
from xlcalc.sizing import SERVE_DEFAULTS, pareto_flags

from .generator import guard
from .spec import Output, Section, WorkbookSpec

__all__ = ["serving_sizing", "SIZING_AXES"]

#: the candidate grid (plan_serving's axes, in its order)
SIZING_AXES = dict(gpus=("h100-sxm", "h200", "b200"), dtypes=("bf16", "fp8"),
                   tps=(2, 4, 8), layouts=((0, 8), (1, 8)), concurrencies=(32, 128),
                   extra_replicas=(0, 2))

#: the per-row outputs (Scenarios columns after the inputs)
_OUTPUTS = (
    Output("replicas", "replicas", "Replicas (decode workers)", "replicas"),
    Output("prefill_workers", "serve_prefill_workers", "Prefill workers (if disaggregated)",
           "workers"),
    Output("gpus", "serve_gpus", "GPUs", "GPUs"),
    Output("ttft_ms", "serve_ttft_s", "TTFT", "ms"),
    Output("tpot_ms", "serve_tpot_s", "TPOT", "ms"),
    Output("tokens_per_s_per_user", "serve_tokens_per_s_per_user", "Tokens/s per user",
           "tokens/s"),
    Output("tokens_per_s_per_gpu", "output_tokens_per_s_per_gpu", "Tokens/s per GPU",
           "tokens/s"),
    Output("cost_per_m", "cost_per_m_output_tokens", "Cost per M output tokens", "$"),
    Output("cost_per_month", "cost_per_month", "Cost per month", "$"),
    Output("fits", "serve_plan_fits", "Fits", ""),
    Output("stable", "serve_stable", "Keeps up", ""),
    Output("budget_ok", "serve_token_budget_ok", "Within batch limits", ""),
    Output("meets_sla", "serve_meets_sla", "Meets SLA", ""),
)
_O = {o.name: k for k, o in enumerate(_OUTPUTS)}

#: the answer block: label, output (or input column) shown for the best row
_ANSWER = (("GPU", "gpu"), ("Weight dtype", "dtype"), ("Tensor parallel", "tp"),
           ("Disaggregated (1) or aggregated (0)", "disaggregated"),
           ("Concurrency per replica", "concurrency"), ("Replicas (decode workers)",
                                                        "replicas"),
           ("Prefill workers", "prefill_workers"), ("GPUs", "gpus"), ("TTFT (ms)", "ttft_ms"),
           ("TPOT (ms)", "tpot_ms"), ("$ per million output tokens", "cost_per_m"),
           ("$ per month", "cost_per_month"))


def _candidates():
    import pandas as pd
    rows = []
    a = SIZING_AXES
    for gpu in a["gpus"]:
        for dtype in a["dtypes"]:
            for tp in a["tps"]:
                for dis, ptp in a["layouts"]:
                    for c in a["concurrencies"]:
                        for extra in a["extra_replicas"]:
                            rows.append(dict(gpu=gpu, dtype=dtype, tp=tp, disaggregated=dis,
                                             prefill_tp=ptp, concurrency=c,
                                             extra_replicas=extra))
    return pd.DataFrame(rows)


def serving_sizing() -> WorkbookSpec:
    from xlcalc.graph import load_all
    load_all()      # the serving terms are registered by their formula modules
    inputs = dict(model="llama-3.1-70b", prompt_len=2048, output_len=500, request_rate=20.0,
                  ttft_ms_max=1000.0, tpot_ms_max=33.0,
                  # one plan computed step by step on Calculations (each Scenarios row
                  # overrides these with its own)
                  gpu="h100-sxm", dtype="fp8", tp=4, disaggregated=0, prefill_tp=8,
                  concurrency=64, extra_replicas=0)
    # link_eff and link_latency_us are not inputs here: their defaults are the GPU family's
    # (and the engine's custom all-reduce), computed by formula for each candidate's GPU
    for name in ("engine", "kv_dtype", "compute_dtype", "pp", "ep", "dp_attention", "mfu", "bw_eff",
                 "gpu_memory_utilization", "gpus_per_node", "comm_overlap",
                 "moe_imbalance", "draft_len", "accepted_tokens_per_step", "draft_params",
                 "draft_layers", "concurrent_users", "flash_attention", "quant_group_size"):
        inputs[name] = SERVE_DEFAULTS[name]
    return WorkbookSpec(
        name="serving-sizing",
        title="Serving sizing for {model}: {request_rate} requests/s, {prompt_len} tokens in / "
              "{output_len} out, TTFT ≤ {ttft_ms_max} ms, TPOT ≤ {tpot_ms_max} ms",
        description="Type the load and the latency targets; every candidate fleet below is "
        "recomputed live and the cheapest one that meets every target is picked.",
        inputs=inputs,
        sections=(Section("Model", (
            Output("params", "params_total", "Parameters", "parameters"),
            Output("active_params", "params_active", "Active parameters per token",
                   "parameters"),
            Output("total_len", "total_len", "Tokens per request (prompt + output)", "tokens"),
        )),),
        scenarios=_candidates(), scenario_outputs=_OUTPUTS,
        bind={"price_per_gpu_hour": "gpu_list_price_per_hour"},
        editable={"gpu_prices": ("price_per_gpu_hour",)},
        labels={"prompt_len": "prompt_len (isl)", "output_len": "output_len (osl)"},
        extras=_extras)


# ------------------------------------------------------------------ the added cells

class _Grid:
    """Where the Scenarios sheet put things: rows, input and output columns."""

    def __init__(self, b):
        frame = b.spec.scenarios
        self.n = len(frame)
        self.first, self.last = 4, 3 + self.n
        self.inputs = {name: 2 + j for j, name in enumerate(frame.columns)}
        self.first_out = 2 + len(frame.columns)
        self.outputs = {o.name: self.first_out + k for k, o in enumerate(_OUTPUTS)}
        self.next_col = self.first_out + len(_OUTPUTS)

    def col(self, name):
        return self.outputs[name] if name in self.outputs else self.inputs[name]

    def range(self, name_or_col, absolute=True):
        from openpyxl.utils import get_column_letter
        c = get_column_letter(name_or_col if isinstance(name_or_col, int) else self.col(name_or_col))
        return X.Ref(f"Scenarios!${c}${self.first}:${c}${self.last}")

    def cell(self, name_or_col, row):
        from openpyxl.utils import get_column_letter
        c = get_column_letter(name_or_col if isinstance(name_or_col, int) else self.col(name_or_col))
        return X.Ref(f"${c}{row}")


def _values(b, grid):
    """Python's values of the Scenarios columns, row by row (as the sheet shows them)."""
    ws = b.wb["Scenarios"]
    from openpyxl.utils import get_column_letter
    out = {}
    for name in list(grid.inputs) + list(grid.outputs):
        letter = get_column_letter(grid.col(name))
        col = []
        for r in range(grid.first, grid.last + 1):
            coord = f"{letter}{r}"
            col.append(b.cached[("Scenarios", coord)] if ("Scenarios", coord) in b.cached
                       else ws[coord].value)
        out[name] = col
    return out


def _put(b, ws, row, col, expr, value, fmt=None):
    """A formula cell built with xlcalc.expr, with the value Python computes for it."""
    c = ws.cell(row=row, column=col, value="=" + X.as_expr(expr).excel())
    b.cached[(ws.title, c.coordinate)] = value.item() if isinstance(value, np.generic) else value
    if fmt:
        c.number_format = fmt
    return c


def _extras(b):
    grid = _Grid(b)
    v = _values(b, grid)
    ws = b.wb["Scenarios"]
    meets = np.array(v["meets_sla"], bool)
    cost = np.array(v["cost_per_m"], float)
    x = np.array(v["tokens_per_s_per_gpu"], float)
    y = np.array(v["tokens_per_s_per_user"], float)
    usable = np.array(v["fits"], bool) & np.array(v["stable"], bool) & \
        np.array(v["budget_ok"], bool)
    pareto = pareto_flags(x, y, usable)
    ids = np.arange(1, grid.n + 1)
    rank = np.array([1 + int(np.sum(pareto & (y > y[i]))) +
                     int(np.sum(pareto & (y == y[i]) & (ids < ids[i]))) if pareto[i] else 0
                     for i in range(grid.n)])
    feasible_col, pareto_col, rank_col = grid.next_col, grid.next_col + 1, grid.next_col + 2
    for j, label in enumerate(("Cost if it meets the SLA ($/M)", "Pareto (1/0)",
                               "Frontier order")):
        b.text(ws, 3, feasible_col + j, label, bold=True, fill="1F4E78", color="FFFFFF")
    X_, Y_ = grid.range("tokens_per_s_per_gpu"), grid.range("tokens_per_s_per_user")
    fits_r, stable_r, ok_r = grid.range("fits"), grid.range("stable"), grid.range("budget_ok")
    ids_r = X.Ref(f"Scenarios!$A${grid.first}:$A${grid.last}")
    p_r = grid.range(pareto_col)
    for i, r in enumerate(range(grid.first, grid.last + 1)):
        _put(b, ws, r, feasible_col,
             guard(X.where(grid.cell("meets_sla", r), grid.cell("cost_per_m", r), "")),
             float(cost[i]) if meets[i] else "", '#,##0.000')
        xi, yi = grid.cell("tokens_per_s_per_gpu", r), grid.cell("tokens_per_s_per_user", r)
        dominated = X.Call("SUMPRODUCT", fits_r * stable_r * ok_r * (X_ >= xi) * (Y_ >= yi) *
                           ((X_ > xi) + (Y_ > yi) > 0))
        ok_i = X.both(X.both(grid.cell("fits", r), grid.cell("stable", r)),
                      grid.cell("budget_ok", r))
        _put(b, ws, r, pareto_col, guard(X.where(X.both(ok_i, X.eq(dominated, 0)), 1, 0)),
             int(pareto[i]))
        pi = grid.cell(pareto_col, r)
        before = X.Call("SUMPRODUCT", p_r * (Y_ > yi)) + \
            X.Call("SUMPRODUCT", p_r * X.eq(Y_, yi) * (ids_r < X.Ref(f"$A{r}")))
        _put(b, ws, r, rank_col, guard(X.where(X.eq(pi, 1), before + 1, 0)), int(rank[i]))
    _answer(b, grid, v, meets, cost, feasible_col)
    _pareto_sheet(b, grid, x, y, pareto, rank, rank_col)


#: the answer's verdict, as the other templates' "fits" / "does NOT fit" line
MEETS, MISSES = "meets every target", "no candidate meets every target"


def _answer(b, grid, v, meets, cost, feasible_col):
    """The Answer block on Results: a verdict, then MIN / MATCH / INDEX over the candidate
    grid; every cell shows "check inputs" while the input check fails (the guard only
    changes what Excel shows: the generator writes valid inputs, so the cached values are
    the figures)."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill

    from .generator import _BAD_FILL, _GOOD_FILL
    ws = b.wb["Results"]
    row = ws.max_row + 2
    b.text(ws, row, 1, "Answer: the cheapest candidate that meets every target", bold=True,
           fill="DDEBF7")
    for col in (2, 3, 4):
        b.text(ws, row, col, None, fill="DDEBF7")
    feasible = grid.range(feasible_col)
    best_cost = float(cost[meets].min()) if meets.any() else 0.0
    best_row = int(np.flatnonzero(meets & (cost == best_cost))[0]) + 1 if meets.any() else 0
    row += 1
    b.text(ws, row, 1, "Verdict", bold=True)
    c = _put(b, ws, row, 2, guard(X.where(X.Name("best_scenario") > 0, MEETS, MISSES)),
             MEETS if best_row else MISSES)
    for text, fill in ((MEETS, _GOOD_FILL), (MISSES, _BAD_FILL)):
        ws.conditional_formatting.add(c.coordinate, FormulaRule(
            formula=[X.eq(X.Ref(c.coordinate), text).excel()],
            fill=PatternFill("solid", bgColor=fill)))
    row += 1
    b.text(ws, row, 1, "Cheapest cost that meets the SLA ($/M output tokens)")
    _put(b, ws, row, 2, guard(X.Call("MIN", feasible)), best_cost, '#,##0.000')
    b.define("best_cost_per_m_output_tokens", ws, row, 2)
    row += 1
    b.text(ws, row, 1, "Scenario (row of the Scenarios sheet)")
    match = X.iferror(X.Call("MATCH", X.Name("best_cost_per_m_output_tokens"), feasible, 0), 0)
    _put(b, ws, row, 2, guard(X.where(X.Name("best_cost_per_m_output_tokens") > 0, match, 0)),
         best_row)
    b.define("best_scenario", ws, row, 2)
    b.note(ws, row, 4, "0: no candidate meets every target (see the counts below)", 80)
    for label, name in _ANSWER:
        row += 1
        b.text(ws, row, 1, label)
        values = v[name]
        shown = values[best_row - 1] if best_row else "—"
        if isinstance(shown, (bool, np.bool_)):
            shown = int(shown)
        src = grid.range(name)
        picked = X.Call("INDEX", src, X.Name("best_scenario"))
        _put(b, ws, row, 2, guard(X.where(X.Name("best_scenario") > 0, picked, "—")), shown,
             '#,##0.###')
        b.define(f"best_{name}", ws, row, 2)
    row += 2
    b.text(ws, row, 1, "Candidates passing each check", bold=True)
    checks = (("that fit in memory", X.Call("COUNTIF", grid.range("fits"), True),
               int(np.sum(v["fits"]))),
              ("that keep up with the load", X.Call("COUNTIF", grid.range("stable"), True),
               int(np.sum(v["stable"]))),
              ("within TTFT target", X.Call("SUMPRODUCT", (grid.range("ttft_ms") <=
                                                           X.Name("ttft_ms_max")) * 1),
               int(np.sum(np.array(v["ttft_ms"], float) <= b.values["ttft_ms_max"]))),
              ("within TPOT target", X.Call("SUMPRODUCT", (grid.range("tpot_ms") <=
                                                           X.Name("tpot_ms_max")) * 1),
               int(np.sum(np.array(v["tpot_ms"], float) <= b.values["tpot_ms_max"]))),
              ("meeting every target", X.Call("COUNTIF", grid.range("meets_sla"), True),
               int(np.sum(v["meets_sla"]))),
              ("in all", X.Call("ROWS", grid.range("meets_sla")), grid.n))
    for label, expr, value in checks:
        row += 1
        b.text(ws, row, 1, f"Candidates {label}")
        _put(b, ws, row, 2, guard(expr), value, "#,##0")


def _pareto_sheet(b, grid, x, y, pareto, rank, rank_col):
    """The frontier in order (each row k: the k-th frontier point, the last one repeated
    after the frontier ends, so the chart's line stops there) and the scatter chart."""
    from openpyxl.chart import Reference, ScatterChart, Series
    ws = b.sheet("Pareto")
    b.text(ws, 1, 1, "Pareto frontier: tokens/s per GPU against tokens/s per user among the "
           "candidates that fit, keep up and stay within the engine's batch limits (a "
           "candidate is on it when no other is at least as good on both and better on one).")
    b.header(ws, 3, ["k", "Tokens/s per GPU", "Tokens/s per user", "Scenario"], [8, 20, 20, 12])
    count = int(pareto.sum())
    order = np.argsort(np.where(rank > 0, rank, np.inf))
    n_front = X.Call("MAX", X.Call("SUM", grid.range(grid.next_col + 1)), 1)
    ranks = grid.range(rank_col)
    for k in range(1, grid.n + 1):
        r = 3 + k
        b.text(ws, r, 1, k)
        pick = X.Call("MATCH", X.Call("MIN", X.Ref(f"$A{r}"), n_front), ranks, 0)
        idx = int(order[min(k, max(count, 1)) - 1]) if count else None
        for col, name, values in ((2, "tokens_per_s_per_gpu", x), (3, "tokens_per_s_per_user", y)):
            value = float(values[idx]) if idx is not None else 0
            _put(b, ws, r, col, guard(X.iferror(X.Call("INDEX", grid.range(name), pick), 0)),
                 value, '#,##0.0')
        _put(b, ws, r, 4, guard(X.iferror(pick, 0)), idx + 1 if idx is not None else 0)
    chart = ScatterChart()
    chart.title = "Pareto: tokens/s per GPU vs tokens/s per user"
    chart.x_axis.title = "tokens/s per GPU"
    chart.y_axis.title = "tokens/s per user"
    sc = b.wb["Scenarios"]
    xs = Reference(sc, min_col=grid.col("tokens_per_s_per_gpu"), min_row=grid.first,
                   max_row=grid.last)
    ys = Reference(sc, min_col=grid.col("tokens_per_s_per_user"), min_row=grid.first,
                   max_row=grid.last)
    everyone = Series(ys, xs, title="candidates")
    everyone.marker.symbol = "circle"
    everyone.graphicalProperties.line.noFill = True
    chart.series.append(everyone)
    fx = Reference(ws, min_col=2, min_row=4, max_row=3 + grid.n)
    fy = Reference(ws, min_col=3, min_row=4, max_row=3 + grid.n)
    front = Series(fy, fx, title="Pareto frontier")
    front.marker.symbol = "diamond"
    chart.series.append(front)
    chart.height, chart.width = 10, 18
    ws.add_chart(chart, "F3")
    results = b.wb["Results"]
    results.add_chart(_copy_chart(chart, sc, ws, grid), "F4")


def _copy_chart(chart, sc, ws, grid):
    """The same scatter for the Results sheet (openpyxl charts belong to one sheet)."""
    from openpyxl.chart import Reference, ScatterChart, Series
    c = ScatterChart()
    c.title, c.x_axis.title, c.y_axis.title = chart.title, "tokens/s per GPU", \
        "tokens/s per user"
    xs = Reference(sc, min_col=grid.col("tokens_per_s_per_gpu"), min_row=grid.first,
                   max_row=grid.last)
    ys = Reference(sc, min_col=grid.col("tokens_per_s_per_user"), min_row=grid.first,
                   max_row=grid.last)
    s1 = Series(ys, xs, title="candidates")
    s1.marker.symbol = "circle"
    s1.graphicalProperties.line.noFill = True
    c.series.append(s1)
    s2 = Series(Reference(ws, min_col=3, min_row=4, max_row=3 + grid.n),
                Reference(ws, min_col=2, min_row=4, max_row=3 + grid.n), title="Pareto frontier")
    s2.marker.symbol = "diamond"
    c.series.append(s2)
    c.height, c.width = 9, 16
    return c
