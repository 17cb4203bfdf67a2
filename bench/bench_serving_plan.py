"""Serving-plan search benchmark: candidate plans evaluated per second by plan_serving().

The question of issue 14: "how many GPUs, of which type, serve 200 requests/s of
2k-in/500-out for Llama-3.3-70B (Llama-3.1-70B's architecture) with TTFT under 1 s and
TPOT under 33 ms?"  Two grids:

* the CLI's default search (GPU h100-sxm/h200/b200 × dtype bf16/fp8 × tp 1-8 × pp 1-4 ×
  aggregated + disaggregated with 4 prefill tps × 18 concurrencies × 32 replica counts);
* a larger one (every GPU with a price × 128 replica counts): over 1,000,000 candidates in
  one vectorised evaluation.

For each, two timings, interleaved in every repeat (imports, preset loading and one
warm-up run are outside the timing): the one graph evaluation over the broadcast axes
(``_Grid.evaluate``: every figure of every candidate), and the whole ``plan_serving`` call
(that evaluation, the DataFrame of every candidate, the sort, the Pareto frontier and the
verdict).  Medians, and the machine's load average before and after (``os.getloadavg``:
the machine is shared, so rerun when it is idle and report both; ``--wait-load 1.5`` first
waits, up to ten minutes, for the 1-minute load average to fall below 1.5).  Target (issue
14): at least 1,000,000 candidates per second for the whole call.

    python bench/bench_serving_plan.py [--repeat 7] [--wait-load 1.5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import load_line, wait_for_load
from xlcalc import sizing

MODEL = "llama-3.1-70b"
LOAD = dict(request_rate=200.0, ttft_ms_max=1000.0, tpot_ms_max=33.0)
ISL, OSL = 2048, 500
TARGET = 1_000_000          # candidates per second for the whole call (issue 14)


def grids() -> dict:
    common = dict(dtypes=("bf16", "fp8"), tps=sizing.PLAN_TPS, pps=sizing.PLAN_PPS,
                  concurrencies=sizing.PLAN_CONCURRENCIES, disaggregated=(False, True))
    return {
        "CLI default (3 GPUs, 32 replica counts)":
            dict(common, gpus=("h100-sxm", "h200", "b200"),
                 extra_replicas=sizing.PLAN_EXTRA_REPLICAS),
        "large (4 GPUs, 128 replica counts)":
            dict(common, gpus=None, extra_replicas=tuple(range(128))),
    }


def make_grid(kw):
    return sizing._Grid(MODEL, ISL, OSL, request_rate=LOAD["request_rate"], users=None,
                        ttft_ms_max=LOAD["ttft_ms_max"], tpot_ms_max=LOAD["tpot_ms_max"],
                        tokens_per_s_per_user_min=None, gpus=kw["gpus"], dtypes=kw["dtypes"],
                        kv_dtype="bf16", prices=None, disaggregated=kw["disaggregated"],
                        tps=kw["tps"], pps=kw["pps"], eps=None, dp_attentions=None,
                        prefill_tps=None, concurrencies=kw["concurrencies"],
                        extra_replicas=kw["extra_replicas"], engine="vllm", options={})


def run(name, kw, repeat):
    grid = make_grid(kw)
    n = int(np.prod(grid.shape))
    grid.evaluate()                                     # warm-up (tables, plans)
    frame = sizing.plan_serving(MODEL, ISL, OSL, **LOAD, **kw)
    evals, fulls = [], []
    for _ in range(repeat):                             # interleaved
        t0 = time.perf_counter()
        grid.evaluate()
        evals.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        frame = sizing.plan_serving(MODEL, ISL, OSL, **LOAD, **kw)
        fulls.append(time.perf_counter() - t0)
    e, f = statistics.median(evals), statistics.median(fulls)
    print(f"{name}: {n:,} candidates on the grid, {len(frame):,} valid rows")
    print(f"  one graph evaluation: median {e:.3f} s (min {min(evals):.3f}) -> "
          f"{n / e:,.0f} candidates/s")
    print(f"  whole plan_serving (DataFrame, sort, Pareto, verdict): median {f:.3f} s "
          f"(min {min(fulls):.3f}) -> {n / f:,.0f} candidates/s "
          f"({'meets' if n / f >= TARGET else 'misses'} the {TARGET:,} /s target)")
    print(f"  {frame.attrs['verdict']}")
    return n, e, f


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--wait-load", type=float, default=None,
                        help="wait (at most 10 minutes) until the 1-minute load average is "
                             "below this")
    args = parser.parse_args(argv)
    wait_for_load(args.wait_load)
    print(load_line("before"))
    results = {name: run(name, kw, args.repeat) for name, kw in grids().items()}
    print(load_line("after"))
    return results


if __name__ == "__main__":
    main()
