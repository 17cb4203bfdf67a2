"""serve(): one serving plan at a load, against hand arithmetic.

Every expectation is recomputed here from the model's config.json numbers, transformers'
parameter counts (tests/data/param_counts.json), the GPU's spec sheet and the serving model
as the formula modules state it (chunked prefill interleaved into every step, G/G/c and
M/D/1 waits, DistServe's M/D/1 prefill workers, price × GPUs ÷ (3600 × tokens/s) × 1e6) —
never the code's output pasted back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import xlcalc
from xlcalc.errors import XlcalcError
from xlcalc.sizing import serve as _serve

COUNTS = json.loads((Path(__file__).parent / "data" / "param_counts.json").read_text())
#: the vLLM engine preset's published numbers (xlcalc/presets/engines/vllm.json)
VLLM = {k: v["value"] for k, v in json.loads(
    (Path(__file__).parent.parent / "xlcalc" / "presets" / "engines" / "vllm.json")
    .read_text())["values"].items()}

# H100 SXM spec sheet (xlcalc/presets/gpus/h100-sxm.json): dense bf16 peak, HBM, links
PEAK = 989.4e12
HBM = 3350e9
NVLINK = 450e9
NET = 50e9
MFU = 0.5
LATENCY = 8e-6
#: what the driver reports for an H100 SXM (its preset, with sources), which vLLM budgets from
H100_TOTAL = json.loads((Path(__file__).parent.parent / "xlcalc" / "presets" / "gpus" /
                         "h100-sxm.json").read_text())["memory_bytes_reported"]
BUDGET = VLLM["memory_fraction"] * H100_TOTAL      # vLLM gpu_memory_utilization × total
M = 8192                     # vLLM max_num_batched_tokens on a GPU of 70 GiB or more …
MAX_SEQS = 1024              # … and max_num_seqs (vllm.json memory tiers)
NON_TORCH = VLLM["non_torch_bytes"]          # one GPU (no NCCL buffers)
#: the plain roofline the hand arithmetic below uses (the defaults before the calibrated
#: efficiencies: every FLOP at 50 % of the peak, the datasheet HBM and links, 8 µs per
#: collective, no per-request overhead): passed explicitly; the calibrated defaults are
#: tested in tests/test_calibration.py
ROOFLINE = dict(mfu=MFU, bw_eff=1.0, link_eff=1.0, scale_out_eff=1.0,
                link_latency_us=LATENCY * 1e6,
                engine_allreduce_latency_us=0.0, engine_request_overhead_s=0.0,
                engine_step_overhead_s=0.0)


def serve(*args, **kw):
    """:func:`xlcalc.serve` at the plain roofline (:data:`ROOFLINE`) unless told otherwise."""
    return _serve(*args, **{**ROOFLINE, **kw})


def approx(x, rel=1e-9):
    return pytest.approx(x, rel=rel)


# --------------------------------------------------------------- a dense model

class Llama2_7B:
    """llama-2-7b's config.json and transformers' counts."""
    L, h, heads, kv_heads, d, V, f = 32, 4096, 32, 32, 128, 32000, 11008
    total = COUNTS["llama-2-7b"]["total"]
    emb = COUNTS["llama-2-7b"]["embedding"]
    head = COUNTS["llama-2-7b"]["lm_head"]
    # weights a token multiplies: q,k,v,o (4h²) and gate/up/down (3hf) per layer, the LM head
    body = L * (4 * h * h + 3 * h * f)
    kv_elements = 2 * kv_heads * d            # K and V per token per layer (tp = 1)


def dense_step(c, prefill_tokens, m=Llama2_7B, isl=512, osl=128):
    """One engine step of llama-2-7b on one H100 (tp = pp = 1): ``c`` decodes at the mean
    context isl + osl/2 plus ``prefill_tokens`` prompt tokens."""
    ctx = isl + osl / 2
    pairs = isl * (isl + 1) / 2 * m.L                         # causal pairs of one prompt
    attention = 2 * m.heads * 2 * m.d                         # FLOPs per (query, key) pair
    flops = 2 * (c + prefill_tokens) * m.body + \
        2 * m.V * m.h * (c + prefill_tokens / isl) + \
        c * attention * ctx * m.L + prefill_tokens / isl * attention * pairs
    weights = 2 * m.total                                     # bf16, every layer on one GPU
    kv_bytes = m.kv_elements * 2
    memory = weights + c * ctx * m.L * kv_bytes + (c + prefill_tokens) * m.L * kv_bytes
    return max(flops / (PEAK * MFU), memory / HBM)


def test_dense_plan_by_hand():
    c, isl, osl, rate, replicas = 64, 512, 128, 20.0, 2
    s = serve("llama-2-7b", "h100-sxm", isl, osl, concurrency=c, request_rate=rate,
              replicas=replicas, price_per_gpu_hour=2.0, ttft_ms_max=500, tpot_ms_max=40)
    # TPOT: every step carries c decodes and the prompts of the c/osl sequences that finish
    tpot = dense_step(c, c * isl / osl)
    assert s["tpot_ms"] == approx(tpot * 1e3)
    assert s["interleaved_prefill_tokens"] == c * isl / osl
    # TTFT: one chunk (the prompt fits the 8192-token budget beside 64 decodes) …
    chunk = dense_step(c, isl)
    assert s["prefill_chunks"] == 1 and s["prefill_s_unqueued"] == approx(chunk)
    # … the wait for the iteration in progress (half a step, Orca) …
    join = tpot / 2
    assert s["join_wait_s"] == approx(join)
    # … plus the G/G/c wait for a slot and the M/D/1 wait for the prefill lane, which is
    # busy the prompt's share of a step's room for prefill tokens (8192 − 64 decodes)
    lam = rate / replicas
    slot = chunk + (osl - 1) * tpot
    rho = lam * slot / c
    w_slot = 0.5 * rho ** (math.sqrt(2 * (c + 1)) - 1) / (c * (1 - rho)) * slot
    lane = isl / (M - c) * chunk
    w_prefill = lam * lane ** 2 / (2 * (1 - lam * lane))
    assert s["slot_wait_s"] == approx(w_slot) and s["prefill_wait_s"] == approx(w_prefill)
    assert s["ttft_admitted_s"] == approx(chunk + join + w_prefill)
    assert s["ttft_ms"] == approx((chunk + join + w_slot + w_prefill) * 1e3)
    assert s["e2e_s"] == approx(chunk + join + w_slot + w_prefill + (osl - 1) * tpot)
    # the fleet keeps up, so it serves the offered load
    assert s["stable"] and s["requests_per_s"] == rate
    assert s["output_tokens_per_s"] == rate * osl
    assert s["gpus"] == replicas
    assert s["output_tokens_per_s_per_gpu"] == approx(rate * osl / replicas)
    assert s["tokens_per_s_per_user"] == approx(1 / tpot)
    assert s["capacity_requests_per_s"] == approx(replicas * min(c / slot, 1 / lane))
    # cost per million output tokens = price × GPUs ÷ (3600 × tokens/s) × 1e6
    assert s["cost_per_m_output_tokens"] == approx(2.0 * replicas / (3600 * rate * osl) * 1e6)
    assert s["cost_per_month"] == approx(2.0 * replicas * 730)
    # split rule: input tokens pay the step time the interleaved prefill adds
    share = (tpot - dense_step(c, 0)) / tpot
    assert s["cost_per_m_input_tokens"] == approx(2.0 * replicas * share /
                                                  (3600 * rate * isl) * 1e6)
    assert s["cost_per_m_input_tokens"] * isl + s["cost_per_m_output_tokens_split"] * osl == \
        approx(s["cost_per_m_output_tokens"] * osl)
    assert s["meets_sla"] == (s["ttft_ms"] <= 500 and s["tpot_ms"] <= 40)
    # memory: the weights, 64 sequences of 640 tokens (16-token pages), vLLM's profiled
    # activation peak and its non-torch memory
    kv = c * 640 * Llama2_7B.L * Llama2_7B.kv_elements * 2
    assert s["kv_cache_per_gpu"] == kv
    assert s["memory_per_gpu"] == 2 * Llama2_7B.total + kv + vllm_activation(Llama2_7B) + \
        NON_TORCH
    assert s["fits"]


def vllm_activation(m):
    """vLLM's profile run: a forward pass of M tokens (gate and up projections, 2 bytes)
    or its sampler over max_num_seqs × vocabulary logits, whichever is larger."""
    return max(2 * 2 * m.f * M, MAX_SEQS * m.V * VLLM["sampler_bytes_per_logit"])


def test_concurrency_none_is_what_the_kv_budget_holds():
    s = serve("llama-2-7b", "h100-sxm", 512, 128)
    budget = BUDGET - 2 * Llama2_7B.total - vllm_activation(Llama2_7B) - NON_TORCH
    per_sequence = 640 * Llama2_7B.L * Llama2_7B.kv_elements * 2
    assert s["concurrency"] == s["max_concurrency"] == math.floor(budget / per_sequence)
    # no load: one replica, figures at its capacity
    assert s["replicas"] == 1 and s["requests_per_s"] == s["capacity_requests_per_s"]


def test_the_token_budget_caps_concurrency():
    # 8192 tokens per step over 1 decode + 2048/16 interleaved prefill tokens per sequence
    s = serve("llama-3.2-1b", "h200", 2048, 16)
    assert s["max_concurrency"] == math.floor(M / (1 + 2048 / 16)) == 63


def test_replicas_default_to_the_fewest_that_keep_up():
    rate = 100.0
    s = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=64, request_rate=rate)
    c = 64
    tpot = s["tpot_ms"] / 1e3
    chunk = s["prefill_s_unqueued"]
    slot = chunk + 127 * tpot
    lane = 512 / (M - c) * chunk                 # the prompt's share of a step's prefill room
    need = math.floor(max(rate * slot / c, rate * lane)) + 1
    assert need > 1 and s["replicas"] == need and s["stable"]
    fewer = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=64, request_rate=rate,
                  replicas=need - 1)
    assert not fewer["stable"] and fewer["utilisation"] >= 1
    assert fewer["requests_per_s"] == approx(fewer["capacity_requests_per_s"])
    more = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=64, request_rate=rate,
                 extra_replicas=2)
    assert more["replicas"] == need + 2 and more["ttft_ms"] < s["ttft_ms"]


def test_a_closed_loop_of_users_instead_of_a_rate():
    s = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=32, concurrent_users=100)
    # 100 users, 32 per replica: 4 replicas keep every user in a slot
    assert s["replicas"] == 4
    slot = s["prefill_s_unqueued"] + 127 * s["tpot_ms"] / 1e3
    assert s["requests_per_s"] == approx(100 / slot)


# ------------------------------------------------------------------ an MoE model

class Mixtral:
    L, h, heads, kv_heads, d, V, E, k = 32, 4096, 32, 8, 128, 32000, 8, 2
    counts = COUNTS["mixtral-8x7b"]
    routed = counts["routed_experts"]
    non_embedding = counts["total"] - counts["embedding"] - counts["lm_head"]


@pytest.mark.parametrize("ep", [1, 8])
def test_moe_memory_does_not_depend_on_ep(ep):
    # tp 2 × dp_attention 4 = 8 GPUs a stage; experts over all 8, attention/dense over 2
    s = serve("mixtral-8x7b", "h100-sxm", 512, 128, tp=2, dp_attention=4, ep=ep,
              concurrency=64)
    m = Mixtral
    weights = 2 * ((m.non_embedding - m.routed) / 2 + m.routed / 8) + \
        2 * (m.counts["embedding"] + m.counts["lm_head"]) / 2
    assert s["weights_per_gpu"] == approx(weights)
    # KV per GPU: the rank's 16 sequences, 4 of the 8 KV heads on each of its 2 GPUs
    assert s["kv_cache_per_gpu"] == 16 * 640 * m.L * (2 * 4 * m.d) * 2
    assert s["gpus"] == 8


def test_moe_all_to_all_with_ep_and_expert_tp_without():
    m = Mixtral
    common = dict(tp=2, dp_attention=4, concurrency=64)
    on = serve("mixtral-8x7b", "h100-sxm", 512, 128, ep=8, **common)
    off = serve("mixtral-8x7b", "h100-sxm", 512, 128, ep=1, **common)
    # a rank steps its 16 sequences: 16 decode + 16 × 512/128 = 64 prefill tokens
    tokens = 16 + 64
    # ep 8: dispatch + combine, each GPU sends its half of the rank's tokens, k copies,
    # 7/8 of them to other GPUs, 2 bytes per value
    a2a = 2 * tokens / 2 * m.k * m.h * 2 * 7 / 8
    assert on["a2a_bytes_per_layer"] == approx(a2a)
    assert off["a2a_bytes_per_layer"] == 0
    # per MoE layer: two all-to-alls over NVLink (8 GPUs in one node) with their latency
    assert on["moe_comm_s_per_layer"] == approx(a2a / NVLINK + 2 * LATENCY)
    # ep 1: the experts are tensor-parallel over all 8 GPUs: a ring all-reduce of the
    # stage's 4 × 80 tokens
    ring = 2 * 7 / 8 * (4 * tokens) * m.h * 2
    assert off["moe_comm_s_per_layer"] == approx(ring / NVLINK + LATENCY)
    # the only difference in the step is that traffic, in every one of the 32 layers
    assert (off["step_s"] - on["step_s"]) == approx(
        m.L * (off["moe_comm_s_per_layer"] - on["moe_comm_s_per_layer"]))


def test_moe_imbalance_scales_the_busiest_gpus_traffic():
    common = dict(tp=2, dp_attention=4, ep=8, concurrency=64)
    even = serve("mixtral-8x7b", "h100-sxm", 512, 128, **common)
    skewed = serve("mixtral-8x7b", "h100-sxm", 512, 128, moe_imbalance=1.5, **common)
    assert skewed["a2a_bytes_per_layer"] == approx(1.5 * even["a2a_bytes_per_layer"])
    assert skewed["tpot_ms"] > even["tpot_ms"]


def test_ep_must_divide_the_stage_and_the_experts():
    with pytest.raises(XlcalcError) as e:
        serve("mixtral-8x7b", "h100-sxm", 512, 128, tp=2, ep=4, concurrency=8)
    assert e.value.argument == "ep" and "tp × dp_attention = 2" in str(e.value)
    with pytest.raises(XlcalcError) as e:
        serve("mixtral-8x7b", "h100-sxm", 512, 128, tp=8, dp_attention=2, ep=16,
              concurrency=8)
    assert e.value.argument == "ep" and "num_experts=8" in str(e.value)


def test_mtp_tokens_per_step_and_draft_memory():
    base = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=32)
    mtp = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=32, draft_len=1,
                accepted_tokens_per_step=1.8, draft_params=2e8, draft_layers=1)
    # the draft's weights and one layer of KV per token sit beside the target's
    kv_layer = 640 * Llama2_7B.kv_elements * 2
    assert mtp["memory_per_gpu"] - base["memory_per_gpu"] == approx(2 * 2e8 + 32 * kv_layer)
    # each step verifies 2 tokens per sequence, emits 1.8, and runs one draft step
    assert mtp["tpot_ms"] == approx(mtp["step_s"] * 1e3 / 1.8)
    assert mtp["interleaved_prefill_tokens"] == 32 * 1.8 * 512 / 128
    with pytest.raises(XlcalcError) as e:
        serve("llama-2-7b", "h100-sxm", 512, 128, accepted_tokens_per_step=2.5)
    assert e.value.argument == "accepted_tokens_per_step"


# ------------------------------------------------------------------ disaggregated

def test_disaggregated_plan_by_hand():
    m = Llama2_7B
    isl, osl, c, rate, x, y = 2048, 256, 64, 8.0, 3, 2
    s = serve("llama-2-7b", "h100-sxm", isl, osl, tp=1, concurrency=c, request_rate=rate,
              disaggregated=True, prefill_tp=2, prefill_workers=x, replicas=y,
              price_per_gpu_hour=3.0)
    # a prefill worker (tp 2): the prompt's FLOPs (LM head on the last token only) or its
    # weights and KV per GPU, plus 2 all-reduces per layer of the prompt's activations
    flops = 2 * isl * m.body + 2 * m.V * m.h + 2 * m.heads * 2 * m.d * m.L * isl * (isl + 1) / 2
    kv = isl * m.L * m.kv_elements * 2
    compute = flops / (2 * PEAK * MFU)
    memory = (2 * m.total + kv) / 2 / HBM
    comm = 2 * m.L * (2 * (2 - 1) / 2 * isl * m.h * 2 / NVLINK + LATENCY)
    d = max(compute, memory) + comm
    assert s["prefill_s"] == approx(d)
    transfer = kv / (2 * NET) + LATENCY
    assert s["kv_transfer_bytes"] == kv and s["kv_transfer_s"] == approx(transfer)
    lam = rate / x
    wait = lam * d * d / (2 * (1 - lam * d))
    assert s["ttft_ms"] == approx((wait + d + transfer) * 1e3)
    # decode workers: decode-only steps
    tpot = dense_step(c, 0, isl=isl, osl=osl)
    assert s["tpot_ms"] == approx(tpot * 1e3)
    assert s["gpus"] == x * 2 + y * 1
    slot = (osl - 1) * tpot
    assert s["balance_ratio"] == approx(c * d / slot)
    assert s["cost_per_m_output_tokens"] == approx(3.0 * s["gpus"] / (3600 * rate * osl) * 1e6)
    # split rule: the prefill workers' GPUs pay for the input tokens
    assert s["cost_per_m_input_tokens"] == approx(3.0 * (x * 2) / (3600 * rate * isl) * 1e6)


def test_disaggregated_workers_default_to_the_ttft_target_and_the_balance():
    rate = 60.0
    kw = dict(concurrency=64, request_rate=rate, disaggregated=True, prefill_tp=2)
    s = serve("llama-2-7b", "h100-sxm", 2048, 256, ttft_ms_max=100, **kw)
    d, transfer = s["prefill_s"], s["kv_transfer_s"]
    b = 0.100 - d - transfer
    need = max(math.floor(rate * d) + 1, math.ceil(rate * (d * d + 2 * b * d) / (2 * b)))
    assert need > 1 and s["prefill_workers"] == need
    assert s["ttft_ms"] <= 100                       # the fewest that meet it …
    fewer = serve("llama-2-7b", "h100-sxm", 2048, 256, ttft_ms_max=100,
                  prefill_workers=need - 1, **kw)
    assert fewer["ttft_ms"] > 100                    # … and one fewer does not
    balanced = serve("llama-2-7b", "h100-sxm", 2048, 256, **kw)
    assert balanced["prefill_workers"] == math.ceil(balanced["decode_workers"] *
                                                    balanced["balance_ratio"])


def test_aggregated_and_disaggregated_in_one_table():
    frame = xlcalc.plan_serving("llama-2-7b", 2048, 256, request_rate=8.0, ttft_ms_max=2000,
                                tpot_ms_max=50, gpus=["h100-sxm"], dtypes=["bf16"],
                                tps=[1, 2], pps=[1], concurrencies=[64],
                                extra_replicas=[0])
    assert set(frame["disaggregated"]) == {False, True}


# ----------------------------------------------------------------------- prices

def test_list_price_is_the_default_and_is_overridable():
    table = xlcalc.gpu_prices()
    assert {"h100-sxm", "h200", "b200"} <= set(table.index)
    assert table["source"].str.startswith("https://").all() and table["date"].notna().all()
    listed = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=64)
    assert listed["price_per_gpu_hour"] == table.loc["h100-sxm", "price_per_gpu_hour"]
    mine = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=64, price_per_gpu_hour=1.0)
    assert mine["cost_per_m_output_tokens"] == approx(
        listed["cost_per_m_output_tokens"] / listed["price_per_gpu_hour"])
    unpriced = serve("llama-2-7b", "l4", 512, 128, concurrency=8)
    assert "cost_per_m_output_tokens" not in unpriced.index


def test_serve_errors_name_the_argument():
    with pytest.raises(XlcalcError) as e:
        serve("llama-2-7b", "h100-sxm", 512, 128, tpot_ms_max=30, tokens_per_s_per_user_min=30)
    assert e.value.argument == "tokens_per_s_per_user_min"
    with pytest.raises(XlcalcError) as e:
        serve("llama-2-7b", "h100-sxm", 512, 128, concurency=8)
    assert "did you mean 'concurrency'" in str(e.value)
    with pytest.raises(XlcalcError) as e:
        serve("llama-2-7b", "h100-sxm", 512, 128, engine="vlm")
    assert e.value.argument == "engine"
    with pytest.raises(XlcalcError) as e:      # a V100 has no bf16 peak
        serve("llama-2-7b", "v100-32gb", 512, 128, compute_dtype="bf16")
    assert e.value.argument == "compute_dtype"
    s = serve("llama-2-7b", "h100-sxm", 512, 128, tokens_per_s_per_user_min=25,
              ttft_ms_max=1000)
    assert s["tpot_ms_max"] == 40


def test_engines_set_the_kv_budget_and_the_batch_limits():
    # the seeds' engine: all 80 GB, nothing reserved, exact KV (no pages), no batch limits
    s = serve("llama-2-7b", "h100-sxm", 512, 128, engine="seed")
    per_sequence = 640 * Llama2_7B.L * Llama2_7B.kv_elements * 2
    assert s["max_concurrency"] == math.floor((H100_TOTAL - 2 * Llama2_7B.total) /
                                              per_sequence)
    assert s["token_budget_ok"] and s["prefill_chunks"] == 1
    # SGLang keeps more memory back on an 80 GB GPU than vLLM: fewer sequences fit
    sglang = serve("llama-2-7b", "h100-sxm", 512, 128, engine="sglang")
    vllm = serve("llama-2-7b", "h100-sxm", 512, 128)
    assert sglang["max_concurrency"] < vllm["max_concurrency"] < s["max_concurrency"]
    # an engine setting is overridden by its node name
    tight = serve("llama-2-7b", "h100-sxm", 512, 128, concurrency=64,
                  max_num_batched_tokens=256)
    assert tight["max_num_batched_tokens"] == 256
    assert tight["prefill_chunks"] == math.ceil(512 / (256 - 64))
    assert not tight["token_budget_ok"]         # 64 decodes + 256 interleaved prefill > 256


# ------------------------------------------- layer kinds: windows and linear state

def _paged(tokens, block=16):
    return math.ceil(tokens / block) * block


def test_sliding_layers_hold_their_window_in_serving_memory():
    """gemma-3-27b: 62 layers, every 6th full (10), the rest slide over 1024 tokens; 16 KV
    heads of 128 at bf16 (its config.json).  A finished 2048 + 512 sequence holds 2560 tokens
    in a full layer and 1024 in a sliding one, in whole 16-token vLLM blocks."""
    s = serve("gemma-3-27b", "h100-sxm", 2048, 512, concurrency=8)
    per_token_layer = 2 * 16 * 128 * 2
    per_sequence = (10 * _paged(2560) + 52 * _paged(1024)) * per_token_layer
    assert s["kv_cache_per_gpu"] == approx(8 * per_sequence)


def test_linear_layers_add_a_fixed_state_per_sequence():
    """qwen3-next-80b-a3b: 48 layers, every 4th full attention (12), 36 gated-DeltaNet layers
    with 16 key heads and 32 value heads of 128 and a conv kernel of 4 (config.json).  vLLM
    keeps the conv state's last K − 1 columns of 2·16·128 + 32·128 channels and the 32 × 128 ×
    128 recurrent state per layer in bf16; the full layers cache 2 KV heads of 256."""
    isl, osl, c = 4096, 1024, 4
    s = serve("qwen3-next-80b-a3b", "h200", isl, osl, concurrency=c)
    conv = (2 * 16 * 128 + 32 * 128) * (4 - 1) * 2
    recurrent = 32 * 128 * 128 * 2
    state = 36 * (conv + recurrent)
    kv = 12 * _paged(isl + osl) * 2 * 2 * 256 * 2
    assert s["kv_cache_per_gpu"] == approx(c * (kv + state))
    # the state does not grow with the context: 4× longer requests add only the KV part
    longer = serve("qwen3-next-80b-a3b", "h200", 4 * isl, 4 * osl, concurrency=c)
    assert longer["kv_cache_per_gpu"] - s["kv_cache_per_gpu"] == \
        approx(c * 12 * (_paged(4 * (isl + osl)) - _paged(isl + osl)) * 2 * 2 * 256 * 2)


def test_visited_experts_by_hand_and_past_the_underflow():
    """1 − (1 − k/E)^tokens, by hand; a step so long that the power underflows (a 2e7-token
    prefill step of a 256-expert top-8 model: 0.96875^2e7) visits every expert, and the
    Excel text caps the exponent there (LibreOffice's ^ is #NUM! on underflow, see
    tests/test_formula_parity.py)."""
    from xlcalc import expr as X
    from xlcalc.formulas.moe_serving import visited_fraction
    assert visited_fraction(10, 256, 8) == pytest.approx(1 - (1 - 8 / 256) ** 10, rel=1e-12)
    assert visited_fraction(1, 8, 2) == pytest.approx(0.25)
    assert visited_fraction(2e7, 256, 8) == 1.0 and visited_fraction(5, 0, 0) == 1
    assert visited_fraction(0, 8, 8) == 0 and visited_fraction(3, 8, 8) == 1
    text = visited_fraction(X.Name("t"), X.Name("E"), X.Name("k")).excel()
    assert "^MIN(t,700/" in text
