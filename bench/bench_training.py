"""Training-plan benchmark: memory per GPU and training time over ≥1,000,000 configurations.

Times one vectorised ``xlcalc.train_plan_sweep`` (weights, master weights, gradients,
optimizer states, activations, reserve, total, fits, headroom, fewest GPUs, training FLOPs
and wall-clock time) over a grid of model presets × global batch × sequence length ×
precision recipe × ZeRO stage × data × tensor × pipeline parallelism × recomputation,
then the same quantities for as many *independent random* configurations (flat arrays, no
grid structure to exploit), and, in the same process, the same quantities from
llm-analysis (PyPI ``llm-analysis``: one ``LLMAnalysis(...).training(...)`` per
configuration, it has no vectorised path) on a random sample of the grid.  Prints
configurations per second for each and the ratios, plus one configuration side by side.
Medians over repeated runs (machines here are shared and noisy).

    python bench/bench_training.py [--repeat 5] [--sample 2000]
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
from xlcalc.training import TRAIN_PLAN_NODES

FIXED = dict(gpu="h100-sxm", tokens=1e12, mfu=0.4)


def grid():
    return dict(
        model=grid_models(),
        batch=[128, 256, 512, 1024],
        seq_len=[1024, 2048, 4096, 8192],
        precision=["bf16-mixed", "fp16-mixed"],
        zero=[0, 1, 2, 3],
        dp=[1, 2, 4, 8, 16, 32],
        tp=[1, 2, 4, 8],
        pp=[1, 2, 4, 8],
        recompute=["none", "selective", "full"],
    )


def time_grid(axes, repeat):
    times, frame = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        frame = xlcalc.train_plan_sweep(**axes, **FIXED)
        times.append(time.perf_counter() - t0)
    return frame, times


def random_configs(axes, n, rng):
    """``n`` independent configurations drawn from the grid's values."""
    pick = {k: np.asarray(v)[rng.integers(0, len(v), n)] for k, v in axes.items()}
    return pick


def time_flat(axes, n, repeat, rng):
    """The same quantities for ``n`` random configurations given as flat arrays: every
    row is computed on its own (categorical inputs as factors of codes)."""
    from xlcalc import graph
    from xlcalc.estimate import estimate
    from xlcalc.training import TRAINING_DEFAULTS, _inputs
    pick = random_configs(axes, n, rng)
    records = [load_model(m) for m in axes["model"]]
    codes = {k: rng.integers(0, len(axes[k]), n) for k in ("model", "precision", "recompute")}
    inputs = {k: v.astype(float) for k, v in pick.items()
              if k not in ("model", "precision", "recompute")}
    inputs["model"] = graph.Factor(records, codes["model"])
    inputs["precision"] = graph.Factor(axes["precision"], codes["precision"])
    inputs["recompute"] = graph.Factor(axes["recompute"], codes["recompute"])
    ctx = _inputs(TRAINING_DEFAULTS, {**inputs, **FIXED})
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        estimate(list(TRAIN_PLAN_NODES), **ctx)
        times.append(time.perf_counter() - t0)
    return times


_RECOMPUTE = {"none": "NONE", "selective": "SELECTIVE", "full": "FULL"}


def llm_analysis_plan(model_name, batch, seq_len, precision, zero, dp, tp, pp, recompute):
    """The same plan from llm-analysis for one configuration: weights, gradients, optimizer
    states, activations per GPU and total training seconds (None when it refuses a plan
    that does not fit: it asserts instead of reporting)."""
    from llm_analysis.analysis import ActivationRecomputation, DSZeRO, LLMAnalysis
    from llm_analysis.config import (ParallelismConfig, get_dtype_config_by_name,
                                     get_gpu_config_by_name)
    f = load_model(model_name).fields
    config = llm_analysis_model(model_name, seq_len)
    analysis = LLMAnalysis(config, get_gpu_config_by_name("h100-sxm-80gb"),
                           dtype_config=get_dtype_config_by_name("w16a16e16"),
                           parallelism_config=ParallelismConfig(tp_size=tp, pp_size=pp,
                                                                dp_size=dp),
                           flops_efficiency=FIXED["mfu"], hbm_memory_efficiency=1.0)
    try:
        r = analysis.training(batch_size_per_gpu=batch // dp, gradient_accumulation_steps=1,
                              seq_len=seq_len, total_num_tokens=FIXED["tokens"],
                              activation_recomputation=getattr(ActivationRecomputation,
                                                               _RECOMPUTE[recompute]),
                              ds_zero=DSZeRO(zero), flash_attn=True,
                              mlp_gated_linear_units=bool(f["mlp_gated"]))
    except AssertionError:
        return None
    return (r["weight_memory_per_gpu"], r["gradient_memory_per_gpu"],
            r["optimizer_state_memory_per_gpu"], r["activation_memory_per_gpu"],
            r["total_training_latency"])


def time_llm_analysis(axes, sample, rng):
    pick = random_configs(axes, sample, rng)
    rows = [tuple(pick[k][i].item() if hasattr(pick[k][i], "item") else pick[k][i]
                  for k in axes) for i in range(sample)]
    refused, refused_s = 0, 0.0
    t0 = time.perf_counter()
    for row in rows:
        t1 = time.perf_counter()
        if llm_analysis_plan(*row) is None:
            refused += 1
            refused_s += time.perf_counter() - t1
    return time.perf_counter() - t0, refused, refused_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)      # llm-analysis warns on most configurations
    axes = grid()
    n = int(np.prod([len(v) for v in axes.values()]))
    print("grid: " + " x ".join(f"{len(v)} {k}" for k, v in axes.items()) +
          f" = {n:,} configurations; quantities: {', '.join(TRAIN_PLAN_NODES)}")
    xlcalc.train_plan_sweep(**{k: v[:1] for k, v in axes.items()}, **FIXED)   # warm-up
    frame, times = time_grid(axes, args.repeat)
    med = statistics.median(times)
    print(f"xlcalc grid sweep (DataFrame out): median {med:.3f} s over {args.repeat} runs "
          f"(min {min(times):.3f}, max {max(times):.3f}) -> {n / med:,.0f} configurations/s")
    rng = np.random.default_rng(0)
    flat = time_flat(axes, n, args.repeat, rng)
    fmed = statistics.median(flat)
    print(f"xlcalc flat: {n:,} independent random configurations, median {fmed:.3f} s "
          f"(min {min(flat):.3f}, max {max(flat):.3f}) -> {n / fmed:,.0f} configurations/s")
    t, refused, refused_s = time_llm_analysis(axes, args.sample, rng)
    rate = args.sample / t
    done = (args.sample - refused) / (t - refused_s)
    print(f"llm-analysis: {args.sample:,} sampled configurations in {t:.2f} s "
          f"({refused:,} refused as not fitting, an assertion) -> {rate:,.0f} configurations/s "
          f"overall, {done:,.0f}/s on the {args.sample - refused:,} it completes")
    print(f"ratio xlcalc / llm-analysis: {n / med / rate:,.0f}x (grid), "
          f"{n / fmed / rate:,.0f}x (flat)")
    print(f"plans that fit on an 80 GB H100 (xlcalc): {frame.train_fits.mean():.1%}")
    cfg = ("llama-2-7b", 256, 4096, "fp16-mixed", 1, 32, 1, 1, "full")
    one = xlcalc.train_memory(cfg[0], cfg[1], cfg[2], cfg[3], zero=cfg[4], dp=cfg[5],
                              tp=cfg[6], pp=cfg[7], recompute=cfg[8])
    days = xlcalc.training_time(cfg[0], FIXED["tokens"], FIXED["gpu"], cfg[5] * cfg[6] * cfg[7],
                                FIXED["mfu"], cfg[8], cfg[3])["days"]
    la = llm_analysis_plan(*cfg)
    print(f"check {cfg}: GB per GPU xlcalc / llm-analysis: weights {one['weights'] / 1e9:.2f} / "
          f"{la[0] / 1e9:.2f}, gradients {one['gradients'] / 1e9:.2f} / {la[1] / 1e9:.2f}, "
          f"master+optimizer {(one['master_weights'] + one['optimizer']) / 1e9:.2f} / "
          f"{la[2] / 1e9:.2f}, activations {one['activations'] / 1e9:.2f} / {la[3] / 1e9:.2f}; "
          f"days {days:.1f} / {la[4] / 86400:.1f}")
    return med


if __name__ == "__main__":
    main()
