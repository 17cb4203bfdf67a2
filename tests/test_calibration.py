"""The calibrated defaults (issue 15): every number derived here by hand from the data files
(presets/efficiency/*.json, presets/engines/*.json), never pasted from the code's output.
"""

import json
import math
import statistics
from pathlib import Path

import pytest

import xlcalc
from xlcalc.efficiency import calibration_table
from xlcalc.estimate import estimate
from xlcalc.serving import SERVING_DEFAULTS
from xlcalc.sizing import serve

PRESETS = Path(__file__).parent.parent / "xlcalc" / "presets"
EFF = {n: json.loads((PRESETS / "efficiency" / f"{n}.json").read_text())
       for n in ("gemm", "attention", "hbm", "collectives")}
ENGINES = {n: {k: v["value"] for k, v in json.loads(
    (PRESETS / "engines" / f"{n}.json").read_text())["values"].items()}
    for n in ("vllm", "sglang", "trt-llm", "seed")}


def _measurement(name, **match):
    found = [m for m in EFF[name]["measurements"]
             if all(m.get(k) == v for k, v in match.items())]
    assert len(found) == 1, match
    return found[0]


def _plateau(m):
    return max(p["tflops"] for p in m["points"]) / m["peak_tflops"]


def test_hopper_row_by_hand():
    row = calibration_table().loc["hopper"]
    # fp8 plateaus: the H100 and H200 cuBLASLt sweeps' best shapes, the ml-engineering
    # shape searches on H100 and GH200 — the median of four
    fp8 = [_plateau(_measurement("gemm", gpu=g, dtype="fp8", kind=k))
           for g, k in (("h100-sxm", "shape_sweep"), ("h200", "shape_sweep"),
                        ("h100-sxm", "max_achievable"), ("gh200", "max_achievable"))]
    assert row["gemm_eff_8bit"] == pytest.approx(statistics.median(fp8))
    assert row["gemm_eff_8bit"] == pytest.approx((1382.2 / 1978.9 + 1402.6 / 1979) / 2)
    assert row["gemm_eff_16bit"] == pytest.approx((794.5 / 989 + 828.6 / 989) / 2)
    # the fixed time of one GEMM: the 1024³ point minus its FLOPs at the plateau rate
    flops = 2 * 1024 ** 3
    fixed = [flops / (small * 1e12) - flops / (best * 1e12)
             for small, best in ((274.1, 1382.2), (290.8, 1366.3))]
    assert row["gemm_fixed_us"] == pytest.approx(statistics.median(fixed) * 1e6)
    assert 5 < row["gemm_fixed_us"] < 7
    # FlashAttention-3's 740 TFLOP/s is the best fused kernel measured on Hopper
    assert row["attention_eff"] == pytest.approx(740 / 989.4)
    # STREAM triad over the datasheet, H100 and H200
    assert row["hbm_eff"] == pytest.approx((2.97 / 3.35 + 4.15 / 4.8) / 2)
    # NVLS all-reduce bus bandwidth at 8 GB over the 450 GB/s link (in-switch reduction)
    assert row["link_eff"] == pytest.approx((478.87 / 450 + 479.98 / 450) / 2)
    # 1 KB all-reduce on 8 GPUs: ring bytes 2·7/8·1024 over busBW 0.07 and 0.06 GB/s
    ring = 2 * 7 / 8 * 1024
    assert row["collective_latency_us"] == pytest.approx(
        (ring / 0.07e9 + ring / 0.06e9) / 2 * 1e6)
    assert "h200 triad" in row["sources"]


def test_a_family_without_a_measurement_takes_the_median_of_the_measured_ones():
    t = calibration_table()
    measured = ("ampere", "hopper", "cdna3")         # the only families with a triad figure
    assert t.loc["ada", "hbm_eff"] == pytest.approx(
        statistics.median(t.loc[list(measured), "hbm_eff"]))
    assert "median of the measured families" in t.loc["ada", "sources"]
    assert t.loc["generic", "hbm_eff"] == t.loc["ada", "hbm_eff"]
    # every GPU preset's family has a row
    from xlcalc.hardware import gpus_table
    assert set(gpus_table()["family"]) <= set(t.index)


def test_gemm_curve_by_size():
    """One GEMM of F FLOPs runs at plateau × F / (F + plateau × peak × fixed): a decode
    GEMV of 8 tokens through a 4096 × 4096 weight sits far below the plateau, a prefill
    chunk of 8192 tokens at it (H100, bf16)."""
    row = calibration_table().loc["hopper"]
    plateau, fixed, peak = row["gemm_eff_16bit"], row["gemm_fixed_us"] * 1e-6, 989.4e12

    def by_hand(m):
        f = 2 * m * 4096 * 4096
        return plateau * f / (f + plateau * peak * fixed)

    for m in (8, 8192):
        got = estimate("gemm_curve_eff", gpu="h100-sxm", dtype="bf16", compute_dtype="auto",
                       mfu=0, engine="seed", gemm_flops=2 * m * 4096 * 4096)["gemm_curve_eff"]
        assert got == pytest.approx(by_hand(m))
    assert by_hand(8) < 0.1 * plateau and by_hand(8192) > 0.95 * plateau
    # fp8 weights compute on the fp8 tensor cores: the 8-bit plateau applies
    fp8 = estimate("gemm_eff_max", gpu="h100-sxm", dtype="fp8", compute_dtype="auto")
    assert fp8["gemm_eff_max"] == row["gemm_eff_8bit"]
    # an explicit mfu is the plain roofline: every FLOP at that share, no fixed time
    plain = estimate(["gemm_curve_eff", "gemm_fixed_s"], gpu="h100-sxm", dtype="bf16",
                     compute_dtype="auto", mfu=0.5, engine="vllm", gemm_flops=2.1e9)
    assert plain["gemm_curve_eff"] == 0.5 and plain["gemm_fixed_s"] == 0


def test_default_efficiencies_of_a_plan_and_explicit_values_win():
    """vLLM on an H100: HBM at the triad share × the engine's end-to-end share, links at
    the NCCL figures; given values replace them."""
    row = calibration_table().loc["hopper"]
    share = ENGINES["vllm"]["kernel_eff"]
    s = xlcalc.inference_latency("llama-3.1-8b", "h100-sxm", 1, 128, 16)
    assert s["bw_eff"] == pytest.approx(row["hbm_eff"] * share)
    assert s["gemm_eff"] == pytest.approx(row["gemm_eff_16bit"] * share)
    assert s["attention_eff"] == pytest.approx(row["attention_eff"] * share)
    assert s["link_eff"] == pytest.approx(row["link_eff"])
    given = xlcalc.inference_latency("llama-3.1-8b", "h100-sxm", 1, 128, 16, mfu=0.5,
                                     bw_eff=0.9, link_eff=0.8)
    assert (given["gemm_eff"], given["attention_eff"], given["bw_eff"], given["link_eff"]) == \
        (0.5, 0.5, 0.9, 0.8)


def test_training_step_compute_eff_is_the_plateau_times_the_fitted_step_share():
    """compute_eff by hand: the family's GEMM plateau for the recipe's tensor cores (16-bit
    for bf16-mixed, 8-bit for fp8) × presets/training/step_compute_share.json's value;
    a given compute_eff wins."""
    share = json.loads((Path(xlcalc.__file__).parent / "presets" / "training" /
                        "step_compute_share.json").read_text())["value"]
    assert 0 < share <= 1.2
    plan = dict(batch=8, seq_len=2048, micro_batch=1, dp=8)
    for gpu, precision, family, column in (("a100-80gb", "bf16-mixed", "ampere", "gemm_eff_16bit"),
                                           ("h100-sxm", "bf16-mixed", "hopper", "gemm_eff_16bit"),
                                           ("h100-sxm", "fp8-current", "hopper", "gemm_eff_8bit")):
        want = calibration_table().loc[family, column] * share
        got = estimate("compute_eff", model="llama-2-7b", gpu=gpu, precision=precision)
        assert got["compute_eff"] == pytest.approx(want)
        step = xlcalc.training_step("llama-2-7b", gpu, precision=precision, **plan)
        given = xlcalc.training_step("llama-2-7b", gpu, precision=precision, compute_eff=want,
                                     **plan)
        assert step["compute_s"] == pytest.approx(given["compute_s"])
    # compute_eff is what the compute phase runs at: half of it, more than the time again
    half = xlcalc.training_step("llama-2-7b", gpu, precision=precision, compute_eff=want / 2,
                                **plan)
    assert half["compute_s"] > 1.5 * step["compute_s"]


def test_decode_step_at_the_calibrated_defaults_by_hand():
    """Llama-3.1-8B, batch 1, context 1000, one H100, vLLM: memory-bound — the bf16
    weights (8,030,261,248 × 2 bytes) and 1000 tokens of KV (32 layers × 2 × 8 × 128 × 2
    bytes) at 3.35 TB/s × triad share × the engine's share, plus its step overhead."""
    bw = 3350e9 * calibration_table().loc["hopper", "hbm_eff"] * ENGINES["vllm"]["kernel_eff"]
    weights = 8_030_261_248 * 2
    kv = 1000 * 32 * 2 * 8 * 128 * 2
    step = xlcalc.decode_step("llama-3.1-8b", "h100-sxm", 1, 1000)
    assert step["memory_s"] == pytest.approx((weights + kv) / bw)
    assert step["bound"] == "memory"
    assert step["step_s"] == pytest.approx(step["memory_s"] + ENGINES["vllm"]["step_overhead_s"])


def test_tensor_parallel_all_reduces_use_the_engines_custom_kernel():
    """Decode at tp 4: 2 × 80 all-reduces of one token's 8192 bf16 values; each ring bytes
    over NVLink at the bus efficiency plus the engine's custom all-reduce latency (vLLM
    9.1 µs, TensorRT-LLM 4.8 µs; the seed engine falls back to the NCCL figure)."""
    row = calibration_table().loc["hopper"]
    ring = 2 * 3 / 4 * 8192 * 2
    for engine, latency in (("vllm", 9.1e-6), ("trt-llm", 4.8e-6),
                            ("seed", row["collective_latency_us"] * 1e-6)):
        step = xlcalc.decode_step("llama-3.1-70b", "h100-sxm", 1, 100, tp=4, engine=engine)
        assert step["comm_s"] == pytest.approx(
            160 * (ring / (450e9 * row["link_eff"]) + latency)), engine


def test_engine_constants_are_pooled_fits_with_their_source():
    for name in ("vllm", "sglang", "trt-llm"):
        data = json.loads((PRESETS / "engines" / f"{name}.json").read_text())["values"]
        for key in ("kernel_eff", "step_overhead_s", "request_overhead_s"):
            assert data[key]["source"]["tool"] == "tools/fit_engine_calibration.py"
            assert "calibration half" in data[key]["source"]["data"]
            assert data[key]["value"] == ENGINES["vllm"][key]        # pooled
        assert data["allreduce_latency_us"]["source"]["url"].startswith("https://")
    assert 0 < ENGINES["vllm"]["kernel_eff"] <= 1
    assert (ENGINES["seed"]["kernel_eff"], ENGINES["seed"]["step_overhead_s"],
            ENGINES["seed"]["request_overhead_s"]) == (1, 0, 0)


def test_ttft_carries_the_engines_request_overhead_and_the_join_wait():
    base = dict(concurrency=8, mfu=0.5, bw_eff=1.0)
    s = serve("llama-3.1-8b", "h100-sxm", 512, 64, **base)
    none = serve("llama-3.1-8b", "h100-sxm", 512, 64, engine_request_overhead_s=0, **base)
    assert s["ttft_admitted_s"] - none["ttft_admitted_s"] == \
        pytest.approx(ENGINES["vllm"]["request_overhead_s"])
    assert s["join_wait_s"] == pytest.approx(s["step_s"] / 2)


# ------------------------------------------------------------- MLA decode as engines run it

def test_mla_decode_attends_over_the_latent_in_serving():
    """DeepSeek-V3 (61 layers, 128 heads, r = 512, d_rope = 64): a decode step computes
    2·a·(2r + d_rope) FLOPs per cached token per layer over the latent (weights
    absorbed, FlashMLA) and reads 512 + 64 cached values per token per layer."""
    a, r, rope, layers = 128, 512, 64, 61
    v = estimate(["decode_attention_width", "decode_attention_flops",
                  "kv_attention_elements_per_token_layer"],
                 model="deepseek-v3", batch=2, context_len=4096, tp=1)
    assert v["decode_attention_width"] == 2 * r + rope
    assert v["decode_attention_flops"] == 2 * 2 * a * (2 * r + rope) * 4096 * layers
    assert v["kv_attention_elements_per_token_layer"] == r + rope
    # the serving step's decode attention reads the same width (one sequence, one token)
    step = estimate(["serve_decode_step_attention_flops"], **dict(
        SERVING_DEFAULTS, model="deepseek-v3", gpu="h200", prompt_len=4096, output_len=2,
        concurrency=1, draft_len=0, accepted_tokens_per_step=1.0, pp=1, moe_imbalance=1.0,
        ep=1))["serve_decode_step_attention_flops"]
    assert step == pytest.approx(2 * a * (2 * r + rope) * 4097 * layers)
    # a model without MLA keeps d_qk + d_v
    dense = estimate("decode_attention_width", model="llama-3.1-8b")
    assert dense["decode_attention_width"] == 2 * 128


# ------------------------------------------------------------------- FLOPs conventions

def test_useful_and_executed_attention_flops():
    """Gemma-3-27B (62 layers: 10 full, 52 sliding over 1024 tokens): a 4096-token prompt
    has Σ i causal pairs in a full layer and Σ min(i, 1024) in a sliding one (useful), or
    4096² in every layer when a masked kernel computes them all (executed)."""
    s, w = 4096, 1024
    full = s * (s + 1) / 2
    sliding = w * (w + 1) / 2 + (s - w) * w
    useful = estimate("prefill_attention_pairs", model="gemma-3-27b", prompt_len=s)
    assert useful["prefill_attention_pairs"] == 10 * full + 52 * sliding
    executed = estimate("prefill_attention_pairs", model="gemma-3-27b", prompt_len=s,
                        flops_executed=1)
    assert executed["prefill_attention_pairs"] == 62 * s * s
    # the convention reaches the prefill FLOPs and its time
    a = estimate(["prefill_flops", "prefill_attention_flops", "prefill_linear_flops"],
                 model="llama-3.1-8b", batch=1, prompt_len=s)
    b = estimate(["prefill_flops", "prefill_attention_flops"], model="llama-3.1-8b",
                 batch=1, prompt_len=s, flops_executed=1)
    per_pair = 2 * 32 * 2 * 128
    assert b["prefill_attention_flops"] - a["prefill_attention_flops"] == \
        pytest.approx(per_pair * 32 * (s * s - full))
    assert a["prefill_flops"] == a["prefill_linear_flops"] + a["prefill_attention_flops"]
    assert math.isclose(b["prefill_flops"] - a["prefill_flops"],
                        per_pair * 32 * (s * s - full))


def test_the_stored_training_shares_are_what_the_fit_tool_gives_today():
    """presets/training/step_share.json and step_compute_share.json hold what
    tools/fit_engine_calibration.py --training fits on the calibration half with today's
    formulas (a change to the step model that moves the fit must refit and store it)."""
    import importlib.util
    tool = Path(__file__).parent.parent / "tools" / "fit_engine_calibration.py"
    spec = importlib.util.spec_from_file_location("fit_engine_calibration", tool)
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    from xlcalc.efficiency import fitted_training_share
    from xlcalc.validation import load_measurements
    rows = [r for r in load_measurements()["rows"]
            if r["kind"] in fit.TRAINING_KINDS and not r["held_out"]]
    assert not any(r["held_out"] for r in rows)
    _, share = fit.fit_training(rows)
    assert share == pytest.approx(fitted_training_share("training_share")["value"])
    throughput = [r for r in rows if r["kind"] == "training_throughput"]
    _, step_share = fit.fit_training(throughput, fit.step_loss)
    assert step_share == pytest.approx(fitted_training_share("step_compute_share")["value"])
