"""Serving-plan benchmark: the full inference plan (memory + latency + capacity) over
≥1,000,000 configurations in one vectorised call, beside llm-analysis's ``inference()``.

xlcalc side: :func:`xlcalc.serving.inference_plan_sweep` over model presets × batch ×
prompt length × output length × tensor-parallel degree × weight dtype on one H100 SXM:
per-GPU weights, KV cache, activations, reserve, total, fit and headroom (at prompt +
output tokens), TTFT, TPOT, end-to-end latency (closed-form sum over the decode steps),
tokens/s, and the vLLM-style capacity (KV blocks, concurrent sequences).

llm-analysis side (PyPI ``llm-analysis==0.2.2``): one ``LLMAnalysis(...).inference(...)``
per configuration — it has no vectorised path — on a random sample of the same grid, in
the same process.  Prints configurations/second for both and their ratio, and one
configuration's figures from both.  llm-analysis is imported and both warmed up before
anything is timed; they run in interleaved rounds (same machine load); figures are medians
over the rounds, ratios taken within each round.

    python bench/bench_inference.py [--repeat 7] [--sample 100]
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from _common import grid_models as _grid_models
from _common import interleaved_rates, llm_analysis_model, print_rates, warm_llm_analysis
from xlcalc.serving import INFERENCE_PLAN_NODES, inference_plan_sweep

GPU = "h100-sxm"
#: xlcalc weight dtype -> llm-analysis dtype config (weights/activations/embeddings bits)
DTYPES = {"bf16": "w16a16e16", "int8": "w8a16e16", "int4": "w4a16e16"}


def grid_models():
    """Dense presets on the tp grid (llm-analysis has no MoE inference latency model
    worth comparing)."""
    return _grid_models(dense_only=True)


def _values(points, include):
    """Rounded distinct grid points plus the worked example's value."""
    return np.unique(np.append(points.round(), include)).astype(int)


def grid():
    return dict(
        model=grid_models(),
        gpu=GPU,
        batch=_values(np.geomspace(1, 256, 20), 8),
        prompt_len=_values(np.geomspace(64, 8192, 13), 512),
        output_len=_values(np.geomspace(16, 2048, 13), 256),
        tp=[1, 2, 4, 8],
        dtype=list(DTYPES),
        mfu=0.5, bw_eff=1.0,
    )


def n_configs(axes):
    return int(np.prod([len(v) if isinstance(v, (list, np.ndarray)) else 1
                        for v in axes.values()]))


def llm_analysis_inference(model_name, batch, prompt_len, output_len, tp, dtype):
    """llm-analysis's inference() for one configuration (same model fields, a gated MLP
    as its parameter-equivalent 1.5× wider two-matrix MLP, H100 SXM, MFU 0.5, HBM
    efficiency 1)."""
    from llm_analysis.analysis import LLMAnalysis
    from llm_analysis.config import (ParallelismConfig, get_dtype_config_by_name,
                                     get_gpu_config_by_name)
    config = llm_analysis_model(model_name, prompt_len + output_len, gated_as_wider=True)
    analysis = LLMAnalysis(config, get_gpu_config_by_name("h100-sxm-80gb"),
                           dtype_config=get_dtype_config_by_name(DTYPES[dtype]),
                           parallelism_config=ParallelismConfig(tp_size=tp),
                           flops_efficiency=0.5, hbm_memory_efficiency=1.0)
    return analysis.inference(batch_size_per_gpu=batch, seq_len=prompt_len,
                              num_tokens_to_generate=output_len)


def llm_analysis_picks(axes, sample, rng):
    return [(str(rng.choice(axes["model"])), int(rng.choice(axes["batch"])),
             int(rng.choice(axes["prompt_len"])), int(rng.choice(axes["output_len"])),
             int(rng.choice(axes["tp"])), str(rng.choice(axes["dtype"])))
            for _ in range(sample)]


def run_llm_analysis(picks) -> int:
    """llm-analysis on each pick; returns how many it refused (an assertion for a plan
    that does not fit, where xlcalc reports fits=False)."""
    rejected = 0
    for p in picks:
        try:
            llm_analysis_inference(*p)
        except AssertionError:
            rejected += 1
    return rejected


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sample", type=int, default=100,
                        help="llm-analysis configurations per round")
    args = parser.parse_args(argv)
    axes = grid()
    n = n_configs(axes)
    print(f"grid: {len(axes['model'])} models x {len(axes['batch'])} batch x "
          f"{len(axes['prompt_len'])} prompt_len x {len(axes['output_len'])} output_len x "
          f"{len(axes['tp'])} tp x {len(axes['dtype'])} dtype on {GPU} = {n:,} configurations")
    print(f"plan: {', '.join(INFERENCE_PLAN_NODES)}")
    print(f"llm-analysis import (transformers), untimed: {warm_llm_analysis():.1f} s")
    logging.disable(logging.CRITICAL)   # llm-analysis logs every step at INFO
    picks = llm_analysis_picks(axes, args.sample, np.random.default_rng(0))
    rejected = run_llm_analysis(picks)                    # warm-up, untimed
    out = {"frame": inference_plan_sweep(**axes)}         # warm-up, untimed

    def xlcalc_run():
        out["frame"] = inference_plan_sweep(**axes)
        return n

    def la_run():
        run_llm_analysis(picks)
        return len(picks)

    print(f"configurations/s, {args.repeat} interleaved rounds (llm-analysis refuses "
          f"{rejected} of its {len(picks)} by an assertion: plans that do not fit):")
    ratios = print_rates(interleaved_rates([("xlcalc", xlcalc_run), ("llm-analysis", la_run)],
                                           args.repeat), "llm-analysis")
    frame = out["frame"]
    one = frame[(frame.model == "llama-2-70b") & (frame.batch == 8) & (frame.tp == 8) &
                (frame.prompt_len == 512) & (frame.output_len == 256) & (frame.dtype == "bf16")]
    if len(one):
        row = one.iloc[0]
        logging.disable(logging.CRITICAL)
        la = llm_analysis_inference("llama-2-70b", 8, 512, 256, 8, "bf16")
        logging.disable(logging.NOTSET)
        print("check llama-2-70b, 8xH100 TP=8, batch 8, 512 in / 256 out:")
        print(f"  weights/GPU  xlcalc {row.infer_weights_bytes / 1e9:.2f} GB   llm-analysis "
              f"{la['weight_memory_per_gpu'] / 1e9:.2f} GB (it assumes a tied LM head)")
        print(f"  TTFT         xlcalc {row.ttft_s * 1e3:.1f} ms   llm-analysis "
              f"{la['prefill_latency'] * 1e3:.1f} ms")
        print(f"  TPOT         xlcalc {row.tpot_s * 1e3:.2f} ms   llm-analysis "
              f"{la['decode_latency'] * 1e3:.2f} ms (its decode step at the final context)")
        print(f"  end-to-end   xlcalc {row.e2e_s:.3f} s    llm-analysis "
              f"{la['total_latency']:.3f} s")
        print(f"  tokens/s     xlcalc {row.tokens_per_s:,.0f}      llm-analysis "
              f"{la['total_tokens_per_sec']:,.0f}")
    return ratios


if __name__ == "__main__":
    main()
