"""Excel functions for serving decisions: SERVE, SERVING_PLAN, COST_PER_M_TOKENS.

Registered into :data:`xlcalc.udfs.CATALOGUE` by :mod:`xlcalc.udfs` (which imports this
module at its end, so ``from xlcalc.udfs import *`` and xlwings' *UDF Modules =
xlcalc.udfs* see them); thin wrappers over :func:`xlcalc.serve` and
:func:`xlcalc.plan_serving`, with the catalogue's conventions (floats for integers, None
for an omitted argument, a range for a list, ``#`` texts for errors, tables header first).
"""

from __future__ import annotations

import functools

from .errors import XlcalcError, invalid
from .sizing import plan_serving, serve
from .udfs import (_choice, _empty, _gpu, _model, _number, _scalar, _table, _text,
                   excel_function)

__all__ = ["SERVE", "SERVING_PLAN", "COST_PER_M_TOKENS"]

_DOCS = {
    "isl": "input (prompt) tokens per request (a positive integer)",
    "osl": "output tokens per request (a positive integer)",
    "gpus": "GPU presets to consider: a comma-separated text (\"h100-sxm,h200\") or a range "
            "of names; default every GPU with a price",
    "dtypes": "weight dtypes to consider: comma-separated text or a range; default "
              "\"bf16,fp8\"",
    "top": "plans to return (a positive integer)",
    "disaggregated": "TRUE (or 1) for prefill/decode disaggregation; in SERVING_PLAN, FALSE "
                     "searches aggregated serving only",
    "what": "plans (default: the best plans), verdict (one line) or pareto (the frontier)",
    "which": "output (default: the whole fleet per output token), input or output_split "
             "(the split rule's two prices)",
    "price_per_gpu_hour": "price of one GPU-hour in $ (default: the indicative price table); "
                          "in SERVING_PLAN also a two-column range of GPU and price",
    "max_gpus": "largest fleet to consider (a positive integer)",
}

#: the columns SERVING_PLAN spills (label -> plan_serving column)
PLAN_TABLE = {"gpu": "gpu", "dtype": "dtype", "disaggregated": "disaggregated", "tp": "tp",
              "pp": "pp", "dp_attention": "dp_attention", "ep": "ep",
              "prefill_tp": "prefill_tp", "prefill_workers": "prefill_workers",
              "concurrency": "concurrency", "replicas": "replicas", "gpus": "gpus",
              "ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms",
              "tokens_per_s_per_user": "tokens_per_s_per_user",
              "output_tokens_per_s_per_gpu": "output_tokens_per_s_per_gpu",
              "cost_per_m_output_tokens": "cost_per_m_output_tokens",
              "cost_per_month": "cost_per_month", "meets_sla": "meets_sla",
              "pareto": "pareto"}

_WHAT = ("plans", "verdict", "pareto")
_TOKENS = {"output": "cost_per_m_output_tokens", "input": "cost_per_m_input_tokens",
           "output_split": "cost_per_m_output_tokens_split"}


def _names(name, value, default):
    """A list of names: a comma-separated text, or a range (row or column) of texts."""
    if _empty(value):
        return default
    one = _scalar(value)
    if isinstance(one, str):
        items = [x.strip() for x in one.split(",") if x.strip()]
    elif isinstance(value, (list, tuple)):
        items = []
        for row in value:
            for cell in (row if isinstance(row, (list, tuple)) else [row]):
                if cell is None or (isinstance(cell, str) and not cell.strip()):
                    continue
                if not isinstance(cell, str):
                    raise invalid(name, cell, "names (text)")
                items.append(cell.strip())
    else:
        raise invalid(name, one, "a comma-separated text or a range of names")
    if not items or any(len(x) > 64 for x in items) or len(items) > 64:
        raise invalid(name, one if isinstance(one, str) else "a range",
                      "1 to 64 short names")
    return items


def _flag(name, value, default):
    if _empty(value):
        return default
    v = _scalar(value)
    if isinstance(v, bool) or v in (0, 1, 0.0, 1.0):
        return bool(v)
    raise invalid(name, v, "TRUE or FALSE (1 or 0)")


def _prices(value):
    """A number, or a two-column range of GPU names and prices."""
    if _empty(value):
        return None
    one = _scalar(value)
    if not isinstance(one, (list, tuple)):
        return _number("price_per_gpu_hour", one)
    out = {}
    for row in value:
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            raise invalid("price_per_gpu_hour", "a range", "a number or two columns: GPU, "
                          "price")
        name, price = row
        if name is None and price is None:
            continue
        if not isinstance(name, str):
            raise invalid("price_per_gpu_hour", name, "a GPU name in the first column")
        out[name.strip()] = _number("price_per_gpu_hour", price)
    return out


def _serve(model, gpu, isl, osl, tp, pp, ep, dp_attention, dtype, kv_dtype, concurrency,
           request_rate, replicas, price_per_gpu_hour, ttft_ms_max, tpot_ms_max,
           disaggregated, prefill_tp, prefill_workers, engine):
    def opt(name, value):
        return None if _empty(value) else _number(name, value)
    return serve(_model(model), _gpu(gpu), _number("isl", isl), _number("osl", osl),
                 tp=_number("tp", tp, 1), pp=_number("pp", pp, 1), ep=_number("ep", ep, 1),
                 dp_attention=_number("dp_attention", dp_attention, 1),
                 dtype=_text("dtype", dtype, "bf16"), kv_dtype=_text("kv_dtype", kv_dtype,
                                                                      "bf16"),
                 concurrency=opt("concurrency", concurrency),
                 request_rate=opt("request_rate", request_rate),
                 replicas=opt("replicas", replicas),
                 price_per_gpu_hour=opt("price_per_gpu_hour", price_per_gpu_hour),
                 ttft_ms_max=opt("ttft_ms_max", ttft_ms_max),
                 tpot_ms_max=opt("tpot_ms_max", tpot_ms_max),
                 disaggregated=_flag("disaggregated", disaggregated, False),
                 prefill_tp=opt("prefill_tp", prefill_tp),
                 prefill_workers=opt("prefill_workers", prefill_workers),
                 engine=_text("engine", engine, "vllm"))


#: the core names the lengths prompt_len/output_len; these functions isl/osl
_RENAME = {"prompt_len": "isl", "output_len": "osl"}


@excel_function(spill=True, docs=_DOCS, rename=_RENAME)
def SERVE(model, gpu, isl, osl, dtype="bf16", kv_dtype="bf16", tp=1, pp=1, ep=1,
          dp_attention=1, concurrency=None, request_rate=None, replicas=None,
          price_per_gpu_hour=None, ttft_ms_max=None, tpot_ms_max=None, disaggregated=False,
          prefill_tp=None, prefill_workers=None, engine="vllm"):
    """One serving plan at a load as a table to spill: concurrency, replicas, GPUs, TTFT,
    TPOT, throughput per GPU and per user, cost per million tokens and per month, fits and
    meets the targets (engine vllm unless named, calibrated efficiencies)."""
    # plan arguments in the catalogue's order (udfs.ARGUMENT_ORDER): dtype, kv_dtype, then
    # tp, pp; the MoE and attention splits (ep, dp_attention) follow the parallel split
    s = _serve(model, gpu, isl, osl, tp, pp, ep, dp_attention, dtype, kv_dtype, concurrency,
               request_rate, replicas, price_per_gpu_hour, ttft_ms_max, tpot_ms_max,
               disaggregated, prefill_tp, prefill_workers, engine)
    return _table(("quantity", "value"), [[k, v] for k, v in s.items()])


@excel_function(spill=True, docs=_DOCS, rename=dict(_RENAME, gpu="gpus", dtype="dtypes"))
def SERVING_PLAN(model, isl, osl, request_rate, ttft_ms_max, tpot_ms_max, gpus=None,
                 dtypes=None, top=5, max_gpus=1024, disaggregated=True,
                 price_per_gpu_hour=None, what="plans", engine="vllm"):
    """The best serving plans for a load and latency targets as a table to spill, cheapest
    first (GPU, dtype, parallelism, concurrency, replicas, TTFT, TPOT, cost, meets SLA);
    or the one-line verdict, or the Pareto frontier."""
    what = _choice("what", what, _WHAT, "plans")
    frame = _plan(_model(model), _number("isl", isl), _number("osl", osl),
                  _number("request_rate", request_rate), _number("ttft_ms_max", ttft_ms_max),
                  _number("tpot_ms_max", tpot_ms_max),
                  tuple(_names("gpus", gpus, ())) or None,
                  tuple(_names("dtypes", dtypes, ["bf16", "fp8"])),
                  _count("max_gpus", max_gpus, 1024),
                  _flag("disaggregated", disaggregated, True),
                  _frozen(_prices(price_per_gpu_hour)), _text("engine", engine, "vllm"))
    if what == "verdict":
        return frame.attrs["verdict"]
    n = _count("top", top, 5)
    rows = frame[frame["pareto"]].sort_values("tokens_per_s_per_user") if what == "pareto" \
        else frame.head(int(n))
    body = [[_cell(r[c]) for c in PLAN_TABLE.values()] for _, r in rows.iterrows()]
    return _table(PLAN_TABLE, body or [[""] * len(PLAN_TABLE)])


@excel_function(docs=_DOCS, rename=_RENAME)
def COST_PER_M_TOKENS(model, gpu, isl, osl, price_per_gpu_hour=None, dtype="bf16", tp=1,
                      concurrency=None, request_rate=None, replicas=None, which="output",
                      engine="vllm"):
    """Cost in $ per million tokens of a serving plan: price × GPUs / (3600 × output
    tokens/s) × 1e6, or the input / output price of the split rule."""
    which = _choice("which", which, _TOKENS, "output")
    s = _serve(model, gpu, isl, osl, tp, 1, 1, 1, dtype, "bf16", concurrency, request_rate,
               replicas, price_per_gpu_hour, None, None, False, None, None, engine)
    label = _TOKENS[which]
    if label not in s.index:
        raise XlcalcError(f"price_per_gpu_hour: no indicative price for gpu "
                          f"{_gpu(gpu).name!r}; give one", "price_per_gpu_hour")
    return float(s[label])


def _count(name, value, default):
    """A whole number ≥ 1 (not a glossary input: checked here)."""
    v = _number(name, value, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 1 or v != int(v) \
            or v > 1e6:
        raise invalid(name, v, "a positive integer")
    return int(v)


def _cell(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v != v:
        return ""                       # not applicable (prefill workers of aggregated plans)
    return v


def _frozen(prices):
    return tuple(sorted(prices.items())) if isinstance(prices, dict) else prices


def _plan(*args):
    """plan_serving, remembered for the same arguments (a recalculation repeats them);
    arguments that cannot be remembered (a range where a number belongs) go to the core,
    which names them."""
    try:
        hash(args)
    except TypeError:
        return _plan_now(*args)
    return _plan_cached(*args)


@functools.lru_cache(maxsize=16)
def _plan_cached(*args):
    return _plan_now(*args)


def _plan_now(model, isl, osl, rate, ttft, tpot, gpus, dtypes, max_gpus, disaggregated,
              prices, engine):
    if isinstance(prices, tuple):
        prices = dict(prices)
    return plan_serving(model, isl, osl, request_rate=rate, ttft_ms_max=ttft,
                        tpot_ms_max=tpot, gpus=list(gpus) if gpus else None,
                        dtypes=list(dtypes), max_gpus=max_gpus, price_per_gpu_hour=prices,
                        disaggregated=(False, True) if disaggregated else (False,),
                        engine=engine)
