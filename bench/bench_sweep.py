"""Sweep benchmark for the core: parameters, KV cache and training FLOPs over ≥1,000,000 configurations.

Times one vectorised ``xlcalc.sweep`` over a grid of model presets × batch × sequence
length × tensor-parallel degree × KV dtype, and, in the same process, the same
quantities from llm-analysis (PyPI ``llm-analysis``, one ``LLMAnalysis`` object per
configuration: that library has no vectorised path) on a random sample of the grid.
Prints configurations per second for both, their ratio, and a value check on one
configuration.  llm-analysis is imported and every contender warmed up before anything is
timed; the contenders run in interleaved rounds (same machine load) and the figures are
medians over the rounds, ratios taken within each round.

    python bench/bench_sweep.py [--repeat 7] [--sample 300] [--scalar-only] [--wait-load 1.5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

import xlcalc
from xlcalc.models import load_model

from _common import (grid_models, interleaved_rates, llm_analysis_model, load_line,
                     print_rates, wait_for_load, warm_llm_analysis)

TARGETS = ["params_total", "params_active", "kv_cache_bytes", "kv_cache_bytes_per_token",
           "megatron_training_flops_glu"]


def grid():
    return dict(
        model=grid_models(),
        batch=np.arange(1, 65),
        seq_len=np.unique(np.geomspace(128, 131072, 72).round()).astype(int),
        tp=[1, 2, 4, 8],
        kv_dtype=["bf16", "fp8"],
    )


def time_flat(axes, n, repeat, rng):
    """The same quantities for ``n`` independent random configurations (flat arrays, no
    grid structure to exploit): every row is computed on its own."""
    from xlcalc import graph
    from xlcalc.estimate import estimate
    records = [load_model(m) for m in axes["model"]]
    inputs = dict(
        model=graph.Factor(records, rng.integers(0, len(records), n)),
        batch=rng.choice(axes["batch"], n).astype(float),
        seq_len=rng.choice(axes["seq_len"], n).astype(float),
        tp=rng.choice(axes["tp"], n).astype(float),
        kv_dtype=graph.Factor(axes["kv_dtype"], rng.integers(0, len(axes["kv_dtype"]), n)),
        block_size=1,
    )
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        estimate(TARGETS, **inputs)
        times.append(time.perf_counter() - t0)
    return times


def llm_analysis_quantities(model_name, batch, seq_len, tp, kv_bytes):
    """The same quantities from llm-analysis for one configuration."""
    from llm_analysis.analysis import LLMAnalysis
    from llm_analysis.config import ParallelismConfig, get_gpu_config_by_name
    f = load_model(model_name).fields
    config = llm_analysis_model(model_name)
    analysis = LLMAnalysis(config, get_gpu_config_by_name("a100-sxm-80gb"),
                           parallelism_config=ParallelismConfig(tp_size=tp))
    return (analysis.get_num_params_total(),
            analysis.get_memory_kv_cache_per_layer(batch, seq_len, kv_bytes) * f["num_layers"],
            3 * analysis.get_num_flops_fwd_total(batch, seq_len))  # fwd + bwd (2x fwd)


def llm_analysis_picks(axes, sample, rng):
    return [(str(rng.choice(axes["model"])), int(rng.choice(axes["batch"])),
             int(rng.choice(axes["seq_len"])), int(rng.choice(axes["tp"])),
             2 if rng.random() < 0.5 else 1) for _ in range(sample)]


def scalar_call_us(repeat=15, calls=2000):
    """One scalar answer (KV bytes per GPU of llama-2-70b, batch 8 × 4096 at tp 8): the
    xlcalc API call against llm-analysis's method on an object built beforehand (what a
    caller of that library keeps), interleaved; median µs per call."""
    from llm_analysis.analysis import LLMAnalysis
    from llm_analysis.config import ParallelismConfig, get_gpu_config_by_name
    layers = load_model("llama-2-70b").fields["num_layers"]
    analysis = LLMAnalysis(llm_analysis_model("llama-2-70b"),
                           get_gpu_config_by_name("a100-sxm-80gb"),
                           parallelism_config=ParallelismConfig(tp_size=8))
    pairs = {"xlcalc.kv_cache_bytes": lambda: xlcalc.kv_cache_bytes("llama-2-70b", 8, 4096,
                                                                     tp=8),
             "llm-analysis method": lambda: analysis.get_memory_kv_cache_per_layer(
                 8, 4096, 2) * layers}
    assert math.isclose(pairs["xlcalc.kv_cache_bytes"](), pairs["llm-analysis method"]())
    for fn in pairs.values():          # warm-up, untimed (the compiled plan, the presets)
        for _ in range(200):
            fn()
    times = {k: [] for k in pairs}
    for _ in range(repeat):
        for label, fn in pairs.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            times[label].append((time.perf_counter() - t0) / calls * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sample", type=int, default=300,
                        help="llm-analysis configurations per round")
    parser.add_argument("--scalar-only", action="store_true",
                        help="only the one-scalar-answer comparison")
    parser.add_argument("--wait-load", type=float, default=None,
                        help="wait (at most 10 minutes) until the 1-minute load average is "
                             "below this (the machine is shared)")
    args = parser.parse_args(argv)
    wait_for_load(args.wait_load)
    print(load_line("before"))
    if args.scalar_only:
        print(f"llm-analysis import (transformers), untimed: {warm_llm_analysis():.1f} s")
        one_call = scalar_call_us()
        print("one scalar answer (median µs per call, interleaved): " +
              ", ".join(f"{k} {v:.1f} µs" for k, v in one_call.items()))
        print(load_line("after"))
        return one_call
    axes = grid()
    n = int(np.prod([len(v) for v in axes.values()]))
    print(f"grid: {len(axes['model'])} models x {len(axes['batch'])} batch x "
          f"{len(axes['seq_len'])} seq_len x {len(axes['tp'])} tp x {len(axes['kv_dtype'])} "
          f"kv_dtype = {n:,} configurations; quantities: {', '.join(TARGETS)}")
    print(f"llm-analysis import (transformers), untimed: {warm_llm_analysis():.1f} s")
    rng = np.random.default_rng(0)
    picks = llm_analysis_picks(axes, args.sample, rng)
    frame = {}

    def grid_run():
        frame["grid"] = xlcalc.sweep(TARGETS, block_size=1, **axes)
        return n

    def flat_run():
        time_flat(axes, n, 1, rng)
        return n

    def la_run():
        for p in picks:
            llm_analysis_quantities(*p)
        return len(picks)

    contenders = [("xlcalc grid", grid_run), ("xlcalc flat", flat_run), ("llm-analysis", la_run)]
    for _, fn in contenders:      # warm-up, untimed
        fn()
    print(f"configurations/s, {args.repeat} interleaved rounds:")
    print_rates(interleaved_rates(contenders, args.repeat), "llm-analysis")
    one_call = scalar_call_us()
    print("one scalar answer (median µs per call, interleaved): " +
          ", ".join(f"{k} {v:.1f} µs" for k, v in one_call.items()))
    frame = frame["grid"]
    one = frame[(frame.model == "llama-2-70b") & (frame.batch == 8) & (frame.tp == 8) &
                (frame.kv_dtype == "bf16")].iloc[0]
    la = llm_analysis_quantities("llama-2-70b", 8, int(one.seq_len), 8, 2)
    print(f"check llama-2-70b batch 8 seq {int(one.seq_len)} tp 8: params xlcalc "
          f"{one.params_total:,.0f} vs llm-analysis {la[0]:,.0f} (llm-analysis counts a two-matrix MLP "
          f"and a tied LM head); KV bytes/GPU {one.kv_cache_bytes:,.0f} vs {la[1]:,.0f}")
    print(load_line("after"))
    return one_call


if __name__ == "__main__":
    main()
