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
llm-analysis is imported and every contender warmed up before anything is timed; the
contenders run in interleaved rounds (same machine load); figures are medians over the
rounds, ratios taken within each round (machines here are shared and noisy).

    python bench/bench_training.py [--repeat 7] [--sample 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import xlcalc
from xlcalc.models import load_model

from _common import (grid_models, interleaved_rates, llm_analysis_model, print_rates,
                     warm_llm_analysis)
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


def llm_analysis_rows(axes, sample, rng):
    pick = random_configs(axes, sample, rng)
    return [tuple(pick[k][i].item() if hasattr(pick[k][i], "item") else pick[k][i]
                  for k in axes) for i in range(sample)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sample", type=int, default=300,
                        help="llm-analysis configurations per round")
    args = parser.parse_args(argv)
    axes = grid()
    n = int(np.prod([len(v) for v in axes.values()]))
    print("grid: " + " x ".join(f"{len(v)} {k}" for k, v in axes.items()) +
          f" = {n:,} configurations; quantities: {', '.join(TRAIN_PLAN_NODES)}")
    print(f"llm-analysis import (transformers), untimed: {warm_llm_analysis():.1f} s")
    rng = np.random.default_rng(0)
    rows = llm_analysis_rows(axes, args.sample, rng)
    refused = sum(llm_analysis_plan(*row) is None for row in rows)     # also its warm-up
    out = {}

    def grid_run():
        out["frame"] = xlcalc.train_plan_sweep(**axes, **FIXED)
        return n

    def flat_run():
        time_flat(axes, n, 1, rng)
        return n

    def la_run():
        for row in rows:
            llm_analysis_plan(*row)
        return len(rows)

    contenders = [("xlcalc grid", grid_run), ("xlcalc flat", flat_run), ("llm-analysis", la_run)]
    for _, fn in contenders[:2]:       # warm-up, untimed
        fn()
    print(f"configurations/s, {args.repeat} interleaved rounds (llm-analysis refuses "
          f"{refused} of its {len(rows)} by an assertion: plans that do not fit):")
    ratios = print_rates(interleaved_rates(contenders, args.repeat), "llm-analysis")
    frame = out["frame"]
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
    return ratios


if __name__ == "__main__":
    main()
