"""``xlcalc plan``: the cheapest fleet for a load and latency targets (registered with
:func:`xlcalc.cli.command`).

    xlcalc plan llama-3.1-70b --isl 2048 --osl 500 --rate 200 --ttft-ms 1000 --tpot-ms 33 \\
        --gpus h100-sxm,h200,b200

prints a one-line verdict (the cheapest plan that meets every target, or which target
fails first and by how much), then the best plans, cheapest first; exit status 1 when no
plan meets the targets.  ``--json`` prints the verdict and the plans as JSON; ``--csv FILE``
writes every candidate.
"""

from __future__ import annotations

import argparse

from .cli import _number, command, verdict

_INT = (lambda text: _number(text, int))

#: columns of the printed table: label -> frame column
SHOWN = {"gpu": "gpu", "dtype": "dtype", "layout": None, "tp": "tp", "pp": "pp", "ep": "ep",
         "conc": "concurrency", "gpus": "gpus", "ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms",
         "tok/s/user": "tokens_per_s_per_user", "tok/s/gpu": "output_tokens_per_s_per_gpu",
         "$/M out": "cost_per_m_output_tokens", "$/M in": "cost_per_m_input_tokens",
         "$/month": "cost_per_month", "meets": "meets_sla", "pareto": "pareto"}


def _prices(text):
    """``h100-sxm=2.2,h200=3.1`` or one number for every GPU."""
    try:
        return float(text)
    except ValueError:
        pass
    out = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"not GPU=PRICE: {item!r}")
        out[name.strip()] = _number(value)
    return out


def _list(kind=str):
    def parse(text):
        return [kind(x) if kind is str else _number(x, kind) for x in text.split(",")
                if x.strip()]
    return parse


def _setup_plan(p):
    p.add_argument("model", help="preset name or path to a config.json")
    p.add_argument("--isl", type=_INT, required=True, help="prompt (input) tokens per request")
    p.add_argument("--osl", type=_INT, required=True, help="output tokens per request")
    load = p.add_mutually_exclusive_group(required=True)
    load.add_argument("--rate", type=_number, help="requests per second (Poisson arrivals)")
    load.add_argument("--users", type=_INT,
                      help="concurrent users in a closed loop, instead of --rate")
    p.add_argument("--ttft-ms", type=_number, required=True, help="time-to-first-token target")
    speed = p.add_mutually_exclusive_group(required=True)
    speed.add_argument("--tpot-ms", type=_number, help="time-per-output-token target")
    speed.add_argument("--tokens-per-user", type=_number,
                       help="decode speed each user must see, tokens/s (= 1000 / TPOT ms)")
    p.add_argument("--gpus", type=_list(), default=None,
                   help="comma-separated GPU presets (default: every GPU with a price)")
    p.add_argument("--dtypes", type=_list(), default=["bf16", "fp8"],
                   help="weight dtypes to try (default bf16,fp8)")
    p.add_argument("--kv-dtype", default="bf16", help="KV cache dtype (default bf16)")
    p.add_argument("--price", type=_prices, default=None,
                   help="$/GPU-hour: GPU=PRICE,... or one number (default: the price table)")
    p.add_argument("--max-gpus", type=_INT, default=1024, help="largest fleet (default 1024)")
    p.add_argument("--no-disagg", action="store_true",
                   help="aggregated serving only (default: also prefill/decode disaggregation)")
    p.add_argument("--tps", type=_list(int), default=None, help="tensor-parallel degrees")
    p.add_argument("--top", type=_INT, default=10, help="plans to print (default 10)")
    p.add_argument("--pareto", action="store_true",
                   help="print the Pareto frontier (tokens/s/GPU vs tokens/s/user) instead")
    p.add_argument("--csv", default=None, help="write every candidate to this CSV file")


@command("plan", "the cheapest fleet (GPU, parallelism, concurrency, replicas) for a load and "
         "TTFT/TPOT targets, with a one-line verdict", _setup_plan)
def cmd_plan(args):
    from .sizing import PLAN_TPS, plan_serving
    frame = plan_serving(args.model, args.isl, args.osl, request_rate=args.rate,
                         concurrency=args.users, ttft_ms_max=args.ttft_ms,
                         tpot_ms_max=args.tpot_ms,
                         tokens_per_s_per_user_min=args.tokens_per_user, gpus=args.gpus,
                         dtypes=args.dtypes, kv_dtype=args.kv_dtype,
                         price_per_gpu_hour=args.price, max_gpus=args.max_gpus,
                         disaggregated=(False,) if args.no_disagg else (False, True),
                         tps=args.tps or PLAN_TPS)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    rows = frame[frame["pareto"]].sort_values("tokens_per_s_per_user") if args.pareto \
        else frame.head(args.top)
    table = table_of(rows)
    return verdict(table, bool(frame["meets_sla"].iloc[0]), frame.attrs["verdict"])


def table_of(rows):
    """The printed table: the plans in short columns (layout: ``agg`` or ``x P + y D``)."""
    import pandas as pd
    out = {}
    for label, column in SHOWN.items():
        if column is None:
            out[label] = [f"{int(r.prefill_workers)}P(tp{int(r.prefill_tp)})+{int(r.replicas)}D"
                          if r.disaggregated else f"{int(r.replicas)} x agg"
                          for r in rows.itertuples()]
        else:
            out[label] = rows[column].to_numpy()
    frame = pd.DataFrame(out, index=range(1, len(rows) + 1))
    return frame.round(_DIGITS)


#: digits the table shows (the JSON and CSV keep every digit)
_DIGITS = {"ttft_ms": 0, "tpot_ms": 1, "tok/s/user": 1, "tok/s/gpu": 0, "$/M out": 3,
           "$/M in": 3, "$/month": 0}
