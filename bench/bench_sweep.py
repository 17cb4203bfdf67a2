"""Sweep benchmark for the core: parameters, KV cache and training FLOPs over ≥1,000,000 configurations.

Times one vectorised ``xlcalc.sweep`` over a grid of model presets × batch × sequence
length × tensor-parallel degree × KV dtype, and, in the same process, the same
quantities from llm-analysis (PyPI ``llm-analysis``, one ``LLMAnalysis`` object per
configuration: that library has no vectorised path) on a random sample of the grid.
Prints configurations per second for both, their ratio, and a value check on one
configuration.  Medians over repeated runs; machines here are shared and noisy.

    python bench/bench_sweep.py [--repeat 5] [--sample 2000]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np

import xlcalc
from xlcalc.models import load_model

from _common import grid_models, llm_analysis_model

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


def time_xlcalc(axes, repeat):
    """Median-friendly timings of one vectorised sweep over the whole grid."""
    times = []
    frame = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        frame = xlcalc.sweep(TARGETS, block_size=1, **axes)
        times.append(time.perf_counter() - t0)
    return frame, times


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


def time_llm_analysis(axes, sample, rng):
    logging.getLogger("llm_analysis").setLevel(logging.ERROR)
    picks = [(str(rng.choice(axes["model"])), int(rng.choice(axes["batch"])),
              int(rng.choice(axes["seq_len"])), int(rng.choice(axes["tp"])),
              2 if rng.random() < 0.5 else 1) for _ in range(sample)]
    t0 = time.perf_counter()
    for p in picks:
        llm_analysis_quantities(*p)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args(argv)
    axes = grid()
    n = int(np.prod([len(v) for v in axes.values()]))
    print(f"grid: {len(axes['model'])} models x {len(axes['batch'])} batch x "
          f"{len(axes['seq_len'])} seq_len x {len(axes['tp'])} tp x {len(axes['kv_dtype'])} "
          f"kv_dtype = {n:,} configurations; quantities: {', '.join(TARGETS)}")
    frame, times = time_xlcalc(axes, args.repeat)
    med = statistics.median(times)
    print(f"xlcalc sweep: median {med:.3f} s over {args.repeat} runs "
          f"(min {min(times):.3f}, max {max(times):.3f}) -> {n / med:,.0f} configurations/s")
    rng = np.random.default_rng(0)
    flat = time_flat(axes, n, args.repeat, rng)
    fmed = statistics.median(flat)
    print(f"xlcalc flat: {n:,} independent random configurations, median {fmed:.3f} s "
          f"-> {n / fmed:,.0f} configurations/s")
    t = time_llm_analysis(axes, args.sample, rng)
    rate = args.sample / t
    print(f"llm-analysis: {args.sample:,} sampled configurations in {t:.2f} s "
          f"-> {rate:,.0f} configurations/s")
    print(f"ratio xlcalc / llm-analysis: {n / med / rate:,.0f}x (grid), "
          f"{n / fmed / rate:,.0f}x (flat)")
    one = frame[(frame.model == "llama-2-70b") & (frame.batch == 8) & (frame.tp == 8) &
                (frame.kv_dtype == "bf16")].iloc[0]
    la = llm_analysis_quantities("llama-2-70b", 8, int(one.seq_len), 8, 2)
    print(f"check llama-2-70b batch 8 seq {int(one.seq_len)} tp 8: params xlcalc "
          f"{one.params_total:,.0f} vs llm-analysis {la[0]:,.0f} (llm-analysis counts a two-matrix MLP "
          f"and a tied LM head); KV bytes/GPU {one.kv_cache_bytes:,.0f} vs {la[1]:,.0f}")
    return med


if __name__ == "__main__":
    main()
