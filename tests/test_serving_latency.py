"""Latency: the closed-form decode sum against the loop it replaces, and invariants."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xlcalc
from xlcalc.estimate import estimate
from xlcalc.formulas.latency import sum_max_affine
from xlcalc.serving import SERVING_DEFAULTS

#: the seeds' plain roofline (the defaults before the calibrated efficiencies: the hand
#: arithmetic below is at these figures)
ROOFLINE = dict(mfu=0.5, bw_eff=1.0, link_eff=1.0, scale_out_eff=1.0, link_latency_us=8.0,
                engine="seed")
PLAN = dict(SERVING_DEFAULTS, **ROOFLINE)


def ctx(**kw):
    return {**PLAN, "gpu": "h100-sxm", **kw}


def brute_decode_total(**kw):
    """Σ of decode_step_s over every step, context prompt_len + 1 … prompt_len + output_len − 1."""
    c = ctx(**kw)
    p, o = c["prompt_len"], c["output_len"]
    contexts = np.arange(p + 1, p + o, dtype=float)
    if len(contexts) == 0:
        return 0.0
    return float(np.sum(estimate("decode_step_s", **{**c, "context_len": contexts})
                        ["decode_step_s"]))


def test_sum_max_affine_matches_a_loop():
    rng = np.random.default_rng(3)
    for _ in range(300):
        a1, a2 = rng.normal(size=2) * 10
        s1, s2 = rng.normal(size=2) * rng.choice([0, 0.01, 1])
        lo = int(rng.integers(-20, 50))
        hi = lo + int(rng.integers(-3, 60))
        loop = sum(max(a1 + s1 * c, a2 + s2 * c) for c in range(lo, hi + 1))
        assert sum_max_affine(a1, s1, a2, s2, lo, hi) == pytest.approx(loop, rel=1e-9,
                                                                       abs=1e-9)


@pytest.mark.parametrize("model,tp,batch,prompt,output", [
    ("llama-2-70b", 8, 8, 512, 256),          # memory-bound throughout
    ("llama-2-7b", 1, 256, 2048, 300),        # compute-bound early, memory-bound later
    ("llama-2-7b", 1, 512, 16, 4000),         # crossover inside the range
    ("mistral-7b", 2, 64, 3000, 3000),        # sliding window (4096) reached mid-decode
    ("gemma-2-9b", 2, 32, 4000, 900),         # half the layers slide
    ("mixtral-8x7b", 4, 16, 512, 128),        # MoE: experts visited by the batch
    ("deepseek-v3", 8, 4, 1024, 64),          # MLA latent KV
    ("llama-3.1-8b", 1, 1, 100, 1),           # a single output token: no decode step
    ("llama-3.1-8b", 1, 1, 100, 2),           # exactly one decode step
    # layer kinds (issue 11)
    ("gemma-3-27b", 2, 16, 900, 400),         # 52 of 62 layers slide: window 1024 mid-decode
    ("gpt-oss-120b", 4, 64, 100, 200),        # window 128 crossed at once, MoE with biases
    ("llama-4-scout", 8, 8, 8000, 9000),      # chunked layers restart at 8192 and 16384
    ("llama-4-scout", 8, 1024, 8100, 300),    # chunked, large batch: near the crossover
    ("deepseek-v3.2", 8, 4, 1900, 400),       # sparse MLA: top-k 2048 reached mid-decode
    ("qwen3-next-80b-a3b", 4, 32, 512, 256),  # gated DeltaNet: a fixed state read per step
    ("granite-4.0-h-small", 1, 8, 2000, 100), # Mamba-2 + 4 attention layers
])
def test_closed_form_decode_equals_the_step_loop(model, tp, batch, prompt, output):
    kw = dict(model=model, tp=tp, batch=batch, prompt_len=prompt, output_len=output)
    got = estimate(["decode_total_s", "tpot_s", "e2e_s", "ttft_s", "decode_first_step_s"],
                   **ctx(**kw))
    loop = brute_decode_total(**kw)
    assert got["decode_total_s"] == pytest.approx(loop, rel=1e-10, abs=1e-15)
    assert got["e2e_s"] == pytest.approx(got["ttft_s"] + loop, rel=1e-12)
    if output > 1:   # TPOT excludes TTFT: the mean of the output_len − 1 decode steps
        assert got["tpot_s"] == pytest.approx(loop / (output - 1), rel=1e-10)
    else:
        assert got["tpot_s"] == got["decode_first_step_s"]


def test_crossover_case_really_crosses():
    c = ctx(model="llama-2-7b", tp=1, batch=512, prompt_len=16, output_len=4000)
    first = estimate("decode_bound", **{**c, "context_len": 17})["decode_bound"]
    last = estimate("decode_bound", **{**c, "context_len": 4015})["decode_bound"]
    assert (first, last) == ("compute", "memory")


def test_decode_step_parts_reuse_the_core_counts():
    c = ctx(model="llama-2-70b", tp=8, batch=8, context_len=1000)
    v = estimate(["decode_compute_s", "decode_flops", "tp_flops_per_s", "decode_memory_s",
                  "decode_step_s", "decode_comm_s"], **c)
    # GEMMs and attention timed apart (the calibrated rates differ), so equal up to rounding
    assert v["decode_compute_s"] == pytest.approx(v["decode_flops"] / (8 * 989.4e12 * 0.5),
                                                  rel=1e-12)
    assert v["decode_step_s"] == max(v["decode_compute_s"], v["decode_memory_s"]) + \
        v["decode_comm_s"]
    assert v["decode_flops"] == xlcalc.decode_flops("llama-2-70b", 8, 1000)


def test_moe_decode_reads_only_visited_experts():
    one = xlcalc.decode_step("mixtral-8x7b", "h100-sxm", 1, 512, tp=2)
    many = xlcalc.decode_step("mixtral-8x7b", "h100-sxm", 256, 512, tp=2)
    mem = xlcalc.inference_memory("mixtral-8x7b", 1, 512, tp=2)
    # batch 1 visits 2 of 8 experts per layer; 256 tokens visit essentially all of them
    assert one["weights_read_bytes"] < 0.45 * mem["weights"]
    assert many["weights_read_bytes"] == pytest.approx(mem["weights"], rel=1e-6)


# ------------------------------------------------------------------- invariants

MODELS = ["llama-2-7b", "llama-2-70b", "mistral-7b", "gemma-2-9b", "qwen2.5-7b",
          "mixtral-8x7b", "gpt2", "llama-3.1-8b"]
lengths = st.integers(min_value=1, max_value=6000)
batches = st.integers(min_value=1, max_value=300)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(MODELS), batch=batches, prompt=lengths, output=lengths,
       more=st.integers(min_value=1, max_value=500), tp=st.sampled_from([1, 2, 4]),
       dtype=st.sampled_from(["bf16", "fp8", "int4"]))
def test_latency_grows_with_context_and_batch(model, batch, prompt, output, more, tp, dtype):
    base = dict(model=model, tp=tp, dtype=dtype)
    v = lambda **kw: estimate(["ttft_s", "e2e_s", "decode_total_s", "decode_step_s"],
                              **ctx(**base, **kw))
    ref = v(batch=batch, prompt_len=prompt, output_len=output, context_len=prompt)
    longer_prompt = v(batch=batch, prompt_len=prompt + more, output_len=output,
                      context_len=prompt + more)
    longer_output = v(batch=batch, prompt_len=prompt, output_len=output + more,
                      context_len=prompt)
    bigger_batch = v(batch=batch + more, prompt_len=prompt, output_len=output,
                     context_len=prompt)
    for other in (longer_prompt, bigger_batch):
        for key in ("ttft_s", "e2e_s", "decode_total_s", "decode_step_s"):
            assert other[key] >= ref[key] * (1 - 1e-12), key
    assert longer_output["e2e_s"] > ref["e2e_s"]
    assert longer_prompt["decode_step_s"] >= ref["decode_step_s"]


@settings(max_examples=80, deadline=None)
@given(model=st.sampled_from(MODELS), batch=batches, prompt=lengths, output=lengths,
       tp=st.sampled_from([1, 2, 4]))
def test_throughput_is_batch_times_tokens_over_time(model, batch, prompt, output, tp):
    s = xlcalc.inference_latency(model, "a100-80gb", batch, prompt, output, tp=tp)
    assert s["tokens_per_s"] == pytest.approx(batch * output / s["e2e_s"], rel=1e-12)
    assert s["tokens_per_s_per_user"] == pytest.approx(output / s["e2e_s"], rel=1e-12)
    assert s["e2e_s"] == pytest.approx(s["ttft_s"] + s["decode_s"], rel=1e-12)
    assert s["decode_s"] == pytest.approx(s["tpot_s"] * (output - 1), rel=1e-9) or output == 1


@settings(max_examples=80, deadline=None)
@given(model=st.sampled_from(MODELS), dtype=st.sampled_from(["fp32", "bf16", "int8", "int4"]),
       pp=st.sampled_from([1, 2, 4]))
def test_more_tp_never_increases_weights_per_gpu(model, dtype, pp):
    heads = xlcalc.load_model(model).fields["num_heads"]
    tps = [t for t in (1, 2, 4, 8) if heads % t == 0]
    weights = [xlcalc.weights_memory(model, dtype, t, pp) for t in tps]
    assert all(a >= b for a, b in zip(weights, weights[1:]))
    more_pp = [xlcalc.weights_memory(model, dtype, 1, p) for p in (1, 2, 4)]
    assert all(a >= b for a, b in zip(more_pp, more_pp[1:]))


def test_verdicts_follow_the_roofline():
    big = xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 4096, 64)
    assert big["prefill_bound"] == "compute" and big["decode_bound"] == "memory"
    assert big["prefill_intensity"] > big["ridge_intensity_effective"] > big["decode_intensity"]
    tiny = xlcalc.inference_latency("llama-2-7b", "h100-sxm", 1, 4, 8)
    assert tiny["prefill_bound"] == "memory"


def test_speculative_decoding():
    s = xlcalc.speculative_decoding(0.8, 4, 0.05)
    assert s["expected_tokens"] == pytest.approx((1 - 0.8 ** 5) / 0.2)
    assert s["speedup"] == pytest.approx((1 - 0.8 ** 5) / 0.2 / 1.2)
    assert xlcalc.speculative_decoding(1.0, 4, 0)["expected_tokens"] == 5      # α = 1
    assert xlcalc.speculative_decoding(0.0, 4, 0)["expected_tokens"] == 1      # α = 0


def test_quantization_lowers_memory_and_decode_time():
    q = xlcalc.quantization_effect("llama-2-70b", "h100-sxm", 8, 512, 256, tp=8,
                                   dtypes=["bf16", "int8", "int4"]).set_index("dtype")
    assert q.loc["bf16", "infer_weights_bytes"] > q.loc["int8", "infer_weights_bytes"] > \
        q.loc["int4", "infer_weights_bytes"]
    assert q.loc["bf16", "tpot_s"] > q.loc["int8", "tpot_s"] > q.loc["int4", "tpot_s"]
    assert q.loc["int4", "max_sequences"] > q.loc["bf16", "max_sequences"]
    # default: every storage format; each computes in what the GPU supports for it (fp8
    # weights on an A100 are dequantised to bf16), so every row has numbers
    every = xlcalc.quantization_effect("llama-2-7b", "a100-80gb", 1, 128, 16)
    assert "fp8" in set(every.dtype) and every.tpot_s.notna().all()


def test_plan_sweep_rows_equal_scalar_calls():
    frame = xlcalc.inference_plan_sweep(model=["llama-2-7b", "mistral-7b"], gpu="h100-sxm",
                                        batch=[1, 16], prompt_len=[100, 5000],
                                        output_len=[1, 300], tp=[1, 2])
    assert len(frame) == 32
    for _, row in frame.sample(8, random_state=2).iterrows():
        lat = xlcalc.inference_latency(row.model, "h100-sxm", row.batch, row.prompt_len,
                                       row.output_len, tp=row.tp)
        mem = xlcalc.inference_memory(row.model, row.batch, row.prompt_len + row.output_len,
                                      tp=row.tp, gpu="h100-sxm")
        assert row.e2e_s == pytest.approx(lat["e2e_s"], rel=1e-12)
        assert row.infer_total_bytes == pytest.approx(mem["total"], rel=1e-12)
        assert bool(row.infer_fits) == mem["fits"]


def test_seed_003_decode_floorline_by_hand():
    params = 68_976_648_192
    memory = 2 * params / (8 * 3.35e12)                    # 2P / (N · A_bm)
    compute = 8 * 2 * params / (8 * 989.4e12)              # B · 2P / (N · A_f)
    comms = max(4 * 80 * 8e-6, 8 * 2 * 4 * 80 * 8192 / 450e9)   # 4 · n_layers · 8 µs wins
    s = xlcalc.inference_latency("llama-2-70b", "h100-sxm", 8, 512, 256, tp=8)
    # the tutorial's floor-line is a worked example, not part of the planner's latency table
    assert not any("seed" in label for label in s.index)
    seed = xlcalc.compute(["decode_step_s_seed_003"], model="llama-2-70b", gpu="h100-sxm",
                          batch=8, context_len=513, tp=8, pp=1, dtype="bf16", kv_dtype="bf16",
                          mfu=0.5, bw_eff=1.0, link_eff=1.0, link_latency_us=8.0,
                          gpus_per_node=8, compute_dtype="auto")["decode_step_s_seed_003"]
    assert seed == pytest.approx(max(memory, compute) + comms)
    assert xlcalc.prefill_time("llama-2-70b", "h100-sxm", 8, 512, 8) == s["ttft_s"]
