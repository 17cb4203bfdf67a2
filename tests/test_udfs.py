"""Excel functions (xlcalc.udfs): Excel-shaped arguments, the core's numbers, hand arithmetic.

Each function is a wrapper, so most numbers are checked against the core API it wraps
(with the unit conversion written out here); several are also derived by hand from the
architecture (llama-2-70b: 80 layers, d = 8192, 64 query / 8 KV heads of 128, MLP 28672,
vocabulary 32000, untied head) and the spec sheet (H100 SXM: 80 GB marketed, 79.22 GiB as
CUDA reports it, 3350 GB/s, 989.4 dense bf16 TFLOP/s).
"""

import inspect
import math

import pytest

import xlcalc.udfs as u
from xlcalc import analysis, basics, serving, training, worked
from xlcalc.glossary import TERMS
from xlcalc.graph import load_all
from xlcalc.models import load_model

load_all()

GB = 1e9
M70 = "llama-2-70b"
H100 = "h100-sxm"

# llama-2-70b parameters by hand
EMBED = 32000 * 8192                                   # token embedding
HEAD = 32000 * 8192                                    # untied LM head
ATTN = 8192 * 8192 + 8192 * 1024 + 8192 * 1024 + 8192 * 8192   # q, k, v, o
MLP = 3 * 8192 * 28672                                 # gate, up, down
NORMS = 2 * 8192                                       # two RMSNorms per layer
N70 = 80 * (ATTN + MLP + NORMS) + 8192 + EMBED + HEAD  # + final norm
KV_TOKEN_70 = 2 * 80 * 8 * 128 * 2                     # K and V, 80 layers, 8 heads, bf16
H100_GB = 79.22 * 2 ** 30 / 1e9                        # the H100's total as CUDA reports it


def test_hand_parameter_count_is_the_transformers_count():
    assert N70 == 68_976_648_192
    assert u.LLM_PARAMS(M70) == N70
    assert u.LLM_PARAMS(M70, "embedding") == EMBED
    assert u.LLM_PARAMS(M70, [["non_embedding"]]) == N70 - EMBED - HEAD


# ------------------------------------------------------------------ hand arithmetic

def test_kv_cache_by_hand():
    assert u.KV_CACHE(M70, 8.0, 4096.0) == pytest.approx(2 * 8 * 4096 * 80 * 8 * 128 * 2 / 1e9)
    # tp = 8 puts one of the 8 KV heads on each GPU
    assert u.KV_CACHE(M70, 8.0, 4096.0, None, 8.0) == pytest.approx(
        2 * 8 * 4096 * 80 * 1 * 128 * 2 / 1e9)
    assert u.KV_CACHE(M70, 8.0, 4096.0, "bf16", 1.0, "GiB") == pytest.approx(
        2 * 8 * 4096 * 80 * 8 * 128 * 2 / 2 ** 30)       # exactly 10 GiB
    # int8 per token and head: a byte per element plus 4 bytes per 128-element head vector
    assert u.KV_CACHE(M70, 8.0, 4096.0, "int8", 1.0, "MB") == pytest.approx(
        2 * 8 * 4096 * 80 * 8 * 128 * (1 + 4 / 128) / 1e6)
    assert u.KV_CACHE(M70, 8.0, 4096.0, "fp8", 1.0, "MB") == pytest.approx(
        2 * 8 * 4096 * 80 * 8 * 128 * 1 / 1e6)


def test_kv_per_token_by_hand():
    assert u.KV_PER_TOKEN(M70, None, None, "MB") == pytest.approx(KV_TOKEN_70 / 1e6)
    assert u.KV_PER_TOKEN(M70, "fp32", 2.0, "KB") == pytest.approx(2 * 80 * 4 * 128 * 4 / 1e3)


def test_weights_by_hand():
    assert u.WEIGHTS_MEM(M70) == pytest.approx(N70 * 2 / 1e9)
    assert u.WEIGHTS_MEM(M70, "bf16", 8.0) == pytest.approx(N70 * 2 / 8 / 1e9)
    # int8 weights: one byte for the layers, embedding and head stay 16-bit
    assert u.WEIGHTS_MEM(M70, "int8") == pytest.approx(((N70 - EMBED - HEAD) * 1 +
                                                         (EMBED + HEAD) * 2) / 1e9)


def test_training_memory_by_hand():
    """bf16-mixed AdamW: 2 + 4 + 4 + 8 bytes per parameter (seed 000 §七 example 2)."""
    n = u.LLM_PARAMS("llama-2-7b")
    for part, per_param in (("weights", 2), ("master_weights", 4), ("gradients", 4),
                            ("optimizer", 8)):
        assert u.TRAIN_MEM("llama-2-7b", 8.0, 4096.0, None, None, None, None, None, None,
                           None, part) == pytest.approx(n * per_param / 1e9)
    # ZeRO-3 over 8 ranks shards all four
    assert u.TRAIN_MEM("llama-2-7b", 8.0, 4096.0, "bf16-mixed", "adamw", 3.0, 8.0, 1.0, 1.0,
                       "none", "optimizer") == pytest.approx(n * 8 / 8 / 1e9)


def test_flops_by_hand():
    assert u.LLM_FLOPS(M70, 1e12, "training") == pytest.approx(6 * N70 * 1e12)
    assert u.LLM_FLOPS(M70, 1e12) == pytest.approx(2 * N70 * 1e12)
    assert u.LLM_FLOPS(M70, 1e12, "training-recompute") == pytest.approx(8 * N70 * 1e12)


def test_allreduce_and_transfer_by_hand():
    assert u.ALLREDUCE_BYTES(1e9, 8.0) == pytest.approx(2 * 7 / 8 * 1e9)
    assert u.ALLREDUCE_BYTES([[4e9]], [[1.0]]) == 0.0
    assert u.COMM_MS(1e9, 450.0) == pytest.approx((1e9 / 450e9 + 8e-6) * 1e3)
    assert u.COMM_MS(1e9, 50.0, 0.0) == pytest.approx(1e9 / 50e9 * 1e3)


def test_tp_comm_by_hand():
    """Seed 000 §七 example 3: message b·s·h·2 bytes, ring 2(t−1)/t, two per layer."""
    message = 1 * 2048 * 8192 * 2
    ring = 2 * (4 - 1) / 4 * message                        # ≈ 50 MB
    assert u.TP_COMM(M70, 1.0, 2048.0, 4.0) == pytest.approx(ring * 2 * 80 / 1e9)
    assert u.TP_COMM(M70, 1.0, 2048.0, 4.0, "bf16", "MB") == pytest.approx(ring * 2 * 80 / 1e6)


def test_max_batch_by_hand():
    """vLLM (the default engine) on 8×H100 (tp 8): 90 % of the 79.22 GiB CUDA reports −
    weights − the profile run's activation peak (its sampler over 1024 × 32,000 logits ×
    38.4 B beats the forward pass of 8192 tokens) − non-torch memory (0.13 GiB + 0.42 GiB
    at tp > 1), divided by one 4096-token sequence's KV on one GPU."""
    weights = N70 * 2 / 8
    forward = 2 * 2 * 28672 * 8192 / 8          # gated MLP output of 8192 tokens, bf16
    sampler = 1024 * 32000 * 38.4
    non_torch = 139_586_437 + 450_971_566
    kv_sequence = 4096 * 80 * 1 * 128 * 2 * 2   # one KV head per GPU
    expected = math.floor((0.9 * H100_GB * 1e9 - weights - max(forward, sampler) - non_torch)
                          / kv_sequence)
    assert sampler > forward and expected == 342
    assert u.MAX_BATCH(M70, H100, 4096.0, None, None, 8.0) == expected
    # the seeds' engine: all of the memory less the weights, exact tokens
    seed = math.floor((H100_GB * 1e9 - weights) / kv_sequence)
    assert u.MAX_BATCH(M70, H100, 4096.0, "bf16", "bf16", 8.0, "seed") == seed


def test_chinchilla_by_hand():
    assert u.CHINCHILLA_TOKENS(M70) == pytest.approx(20 * N70)


def test_training_days_hours_cost_by_hand():
    # 6ND at 40 % of the peak; the wall clock ÷ the default goodput 0.9
    seconds = 6 * N70 * 2e12 / (1024 * 989.4e12 * 0.4) / 0.9
    assert u.TRAIN_DAYS(M70, 2e12, H100, 1024.0, 0.4) == pytest.approx(seconds / 86400)
    assert u.TRAIN_DAYS(M70, 2e12, H100, 1024.0, 0.4, None, None, 1.0) == pytest.approx(
        seconds * 0.9 / 86400)
    assert u.TRAIN_GPU_HOURS(M70, 2e12, H100, 1024.0, 0.4) == pytest.approx(
        seconds / 3600 * 1024)
    assert u.TRAIN_COST(M70, 2e12, H100, 1024.0, 2.5, 0.4) == pytest.approx(
        seconds / 3600 * 1024 * 2.5)
    # the default (an empty mfu): the Hopper 16-bit GEMM plateau × the fitted training share
    import json
    from pathlib import Path
    share = json.loads((Path(__file__).parent.parent / "xlcalc" / "presets" / "training" /
                        "step_share.json").read_text())["value"]
    rate = (794.5 / 989 + 828.6 / 989) / 2 * share
    assert u.TRAIN_DAYS(M70, 2e12, H100, 1024.0) == pytest.approx(
        6 * N70 * 2e12 / (1024 * 989.4e12 * rate) / 86400 / 0.9)
    # full recomputation: 8ND
    assert u.TRAIN_DAYS(M70, 2e12, H100, 1024.0, 0.5, "full") == pytest.approx(
        8 * N70 * 2e12 / (1024 * 989.4e12 * 0.5) / 86400 / 0.9)


def test_train_step_with_tokens_is_the_whole_run():
    from xlcalc.training_plan import training_step
    step = training_step(M70, H100, 1024, 4096, micro_batch=1, dp=32, tp=8, pp=4)
    steps = 2e12 / (1024 * 4096)
    #                    precision zero  dp   tp  pp  recompute micro_batch stack attention cp ep vp
    table = u.TRAIN_STEP(M70, H100, 1024, 4096, None, None, 32, 8, 4, None, 1, None, None,
                         None, None, None, 2e12)
    rows = {r[0]: r[1] for r in table[1:]}
    days = steps * step["step_s"] / 0.9 / 86400           # ÷ the default goodput 0.9
    assert rows["steps"] == pytest.approx(steps, rel=1e-12)
    assert rows["days"] == pytest.approx(days, rel=1e-12)
    assert rows["gpu_hours"] == pytest.approx(days * 24 * 1024, rel=1e-12)
    assert rows["step_s"] == pytest.approx(step["step_s"], rel=1e-12)


def test_train_step_spills_the_step_table():
    #                                            precision zero dp  tp    pp
    table = u.TRAIN_STEP("llama-2-7b", H100, 64, 4096, None, None, 8, None, 2, None, 1)
    assert table[0] == ["quantity", "value", "unit"]
    rows = {r[0]: r[1] for r in table[1:]}
    # 1F1B over 2 stages with 64/8 = 8 micro-batches: bubble = compute / 8
    assert rows["bubble_s"] == pytest.approx(rows["compute_s"] / 8)
    assert rows["step_s"] == pytest.approx(rows["compute_s"] + rows["bubble_s"] +
                                           rows["exposed_comm_s"])
    assert "days" not in rows                          # no tokens: one step only
    assert u.TRAIN_STEP("llama-2-7b", H100, 64, 4096, None, None, 8, None, None, None, None,
                        "hff").startswith("#VALUE! unknown stack 'hff'")


def test_train_step_takes_train_mems_arguments_in_its_order():
    """The arguments TRAIN_STEP shares with TRAIN_MEM come in TRAIN_MEM's order, so one
    row of plan cells feeds both."""
    step = list(inspect.signature(u.TRAIN_STEP).parameters)
    mem = list(inspect.signature(u.TRAIN_MEM).parameters)
    shared = [p for p in mem if p in step]
    assert shared == [p for p in step if p in mem]
    assert len(shared) >= 12


def test_train_mem_takes_the_plan_at_its_end():
    base = u.TRAIN_MEM("llama-2-7b", 8, 4096, None, None, None, 8, None, None, None,
                       "activations")
    hf = u.TRAIN_MEM("llama-2-7b", 8, 4096, None, None, None, 8, None, None, None,
                     "activations", None, None, "hf", "sdpa")
    cp2 = u.TRAIN_MEM("llama-2-7b", 8, 4096, None, None, None, 8, None, None, None,
                      "activations", None, None, None, None, 2)
    assert hf > base and cp2 == pytest.approx(base / 2)
    lora = u.TRAIN_MEM("llama-2-7b", 8, 4096, None, None, None, 8, None, None, None,
                       "optimizer", None, None, None, None, None, None, "lora", 16)
    assert lora == pytest.approx(8 * 39_976_960 / 1e9)


def test_infer_memory_parts_by_hand_and_fit():
    parts = {p: u.INFER_MEM(M70, 8.0, 4096.0, None, None, 8.0, None, p)
             for p in ("weights", "kv_cache", "activations", "reserve")}
    assert parts["weights"] == pytest.approx(N70 * 2 / 8 / 1e9)
    assert parts["kv_cache"] == pytest.approx(8 * 4096 * KV_TOKEN_70 / 8 / 1e9)  # 256 pages
    # vLLM (the default engine) holds back its profile run's peak: the sampler over
    # 1024 × 32,000 logits × 38.4 B beats the forward pass of 8192 tokens
    assert parts["activations"] == pytest.approx(max(2 * 2 * 28672 * 8192 / 8,
                                                     1024 * 32000 * 38.4) / 1e9)
    # its non-torch memory: 0.13 GiB, and 0.42 GiB of buffers at tp > 1
    assert parts["reserve"] == pytest.approx((139_586_437 + 450_971_566) / 1e9)
    total = u.INFER_MEM(M70, 8.0, 4096.0, None, None, 8.0)
    assert total == pytest.approx(sum(parts.values()))
    headroom = u.INFER_HEADROOM(M70, H100, 8.0, 4096.0, None, None, 8.0)
    assert headroom == pytest.approx(0.9 * H100_GB - total)
    assert u.INFER_FITS(M70, H100, 8.0, 4096.0, None, None, 8.0) is True
    assert u.INFER_FITS(M70, H100, 8.0, 4096.0) is False            # 151 GB on one GPU
    assert u.INFER_HEADROOM(M70, H100, 8.0, 4096.0) < 0


def test_mem_table_shares_by_hand():
    table = u.MEM_TABLE(M70, "inference", 8.0, 4096.0, H100)
    assert table[0] == ["part", "GB", "share of total", "share of GPU"]
    rows = {r[0]: r[1:] for r in table[1:]}
    assert list(rows) == ["weights", "kv_cache", "activations", "reserve", "total"]
    total = rows["total"][0]
    for part, (gb, of_total, of_gpu) in rows.items():
        assert gb == pytest.approx(u.INFER_MEM(M70, 8.0, 4096.0, None, None, None, None, part))
        assert of_total == pytest.approx(gb / total)
        assert of_gpu == pytest.approx(gb / H100_GB)
    no_gpu = u.MEM_TABLE(M70, "inference", 8.0, 4096.0)
    assert all(r[3] is None for r in no_gpu[1:])
    train = u.MEM_TABLE([["llama-2-7b"]], [["Training"]], [[8.0]], [[4096.0]], [[H100]])
    assert [r[0] for r in train[1:]] == list(training.TRAIN_MEMORY_PARTS)
    series = training.train_memory("llama-2-7b", 8, 4096)
    for label, gb, _, of_gpu in train[1:]:
        assert gb == pytest.approx(series[label] / 1e9)
        assert of_gpu == pytest.approx(series[label] / (H100_GB * 1e9))


def test_latency_relations_of_the_catalogue():
    """TOKENS_PER_S = batch × output / GEN_SECONDS; TPOT = (e2e − TTFT)/(output − 1)."""
    args = (M70, H100, 8.0, 512.0, 256.0, None, None, 8.0)
    e2e = u.GEN_SECONDS(*args)
    assert u.TOKENS_PER_S(*args) == pytest.approx(8 * 256 / e2e)
    ttft = u.PREFILL_MS(M70, H100, 8.0, 512.0, None, 8.0)
    assert u.TPOT_MS(*args) == pytest.approx((e2e * 1e3 - ttft) / 255)
    table = {r[0]: r[1] for r in u.LATENCY_TABLE(*args)[1:]}
    assert table["ttft_ms"] == pytest.approx(ttft)
    assert table["e2e_ms"] == pytest.approx(e2e * 1e3)
    assert table["prefill_bound"] == "compute" and table["decode_bound"] == "memory"


def test_decode_is_memory_bound_by_hand():
    """Batch 1, tp 8: each GPU reads its eighth of the weights and its KV once per step
    at the calibrated bandwidth (3350 GB/s × the H100 and H200 triad shares' median ×
    vLLM's end-to-end share), plus two all-reduces per layer of one token over NVLink at
    the NCCL bus efficiency with vLLM's custom all-reduce latency (9.1 µs)."""
    import json
    from pathlib import Path
    presets = Path(__file__).parent.parent / "xlcalc" / "presets"
    share = json.loads((presets / "engines" / "vllm.json").read_text())[
        "values"]["kernel_eff"]["value"]
    hbm = (2.97 / 3.35 + 4.15 / 4.8) / 2                         # hbm.json, triad
    link = (478.87 / 450 + 479.98 / 450) / 2                      # collectives.json, 8 GB
    weights = N70 * 2 / 8
    kv = 1 * 1024 * KV_TOKEN_70 / 8
    message = 1 * 1 * 8192 * 2
    comm = 2 * 80 * (2 * 7 / 8 * message / (450e9 * link) + 9.1e-6)
    expected_ms = ((weights + kv) / (3350e9 * hbm * share) + comm) * 1e3
    assert u.DECODE_MS(M70, H100, 1.0, 1024.0, None, None, 8.0) == \
        pytest.approx(expected_ms, rel=1e-9)
    # an explicit bw_eff replaces the calibrated bandwidth
    plain = ((weights + kv) / 3350e9 + comm) * 1e3
    assert u.DECODE_MS(M70, H100, 1.0, 1024.0, None, None, 8.0, 1.0) == \
        pytest.approx(plain, rel=1e-9)


def test_capacity_relations():
    users = 10000.0
    per_replica = u.CAPACITY("llama-2-13b", "a100-80gb", 2048.0, users, None, None, 2.0,
                             "max_sequences")
    assert per_replica == u.MAX_BATCH("llama-2-13b", "a100-80gb", 2048.0, None, None, 2.0)
    replicas = u.CAPACITY("llama-2-13b", "a100-80gb", 2048.0, users, None, None, 2.0,
                          "replicas_needed")
    assert replicas == math.ceil(users / per_replica)
    assert u.CAPACITY("llama-2-13b", "a100-80gb", 2048.0, users, None, None, 2.0) == \
        math.ceil(replicas * 2 / 8)


# ---------------------------------------------------------- equal to the core API

def _gb(x):
    return x / 1e9


# name -> (arguments as a planner types them, the core API's value in the UDF's unit)
CORE = {
    "LLM_PARAMS": ((M70, "attention"), lambda m, p: basics.params(m)[p]),
    "LLM_MODEL": ((M70, "num_kv_heads"), lambda m, f: load_model(m).fields[f]),
    "WEIGHTS_MEM": ((M70, "int4", 2.0, 2.0, "GiB"),
                    lambda m, d, tp, pp, unit: serving.weights_memory(m, d, tp, pp) / 2 ** 30),
    "KV_CACHE": ((M70, 8.0, 4096.0, "fp8", 2.0, "MiB"),
                 lambda m, b, s, kv, tp, unit: basics.kv_cache_bytes(m, b, s, kv, tp) / 2 ** 20),
    "INFER_MEM": ((M70, 8.0, 4096.0, "int8", "fp8", 4.0, 2.0, "kv_cache", "TB"),
                  lambda m, b, s, d, kv, tp, pp, part, unit:
                  serving.inference_memory(m, b, s, d, kv, tp, pp)[part] / 1e12),
    "TRAIN_MEM": (("llama-2-7b", 64.0, 2048.0, "fp16-mixed", "adam", 1.0, 8.0, 2.0, 2.0,
                   "selective", "activations", "GB"),
                  lambda m, b, s, pr, o, z, dp, tp, pp, r, part, unit:
                  _gb(training.train_memory(m, b, s, pr, o, z, dp, tp, pp, r)[part])),
    "LLM_FLOPS": ((M70, 4096.0, "training", 2048.0),
                  lambda m, t, mode, s: basics.estimate("training_flops", model=m, tokens=t,
                                                        seq_len=s)["training_flops"]),
    "PREFILL_MS": ((M70, H100, 4.0, 1024.0, "fp8", 4.0, 0.4),
                   lambda m, g, b, p, d, tp, mfu: serving.prefill_time(m, g, b, p, tp, d,
                                                                       mfu) * 1e3),
    "DECODE_MS": ((M70, H100, 16.0, 3000.0, "int8", "fp8", 4.0, 0.8),
                  lambda m, g, b, c, d, kv, tp, bw:
                  serving.decode_step(m, g, b, c, tp=tp, dtype=d, kv_dtype=kv,
                                      bw_eff=bw)["step_s"] * 1e3),
    "GEN_SECONDS": ((M70, H100, 8.0, 512.0, 256.0, "bf16", "bf16", 8.0, 0.5, 0.9),
                    lambda m, g, b, p, o, d, kv, tp, mfu, bw:
                    serving.inference_latency(m, g, b, p, o, tp, 1, d, kv, mfu, bw)["e2e_s"]),
    "TOKENS_PER_S": ((M70, H100, 8.0, 512.0, 256.0, "fp8", "fp8", 8.0, 0.3, 0.7),
                     lambda m, g, b, p, o, d, kv, tp, mfu, bw:
                     serving.inference_latency(m, g, b, p, o, tp, 1, d, kv, mfu,
                                               bw)["tokens_per_s"]),
    "MAX_BATCH": ((M70, "a100-80gb", 8192.0, "int8", "fp8", 4.0),
                  lambda m, g, s, d, kv, n: serving.max_batch(m, g, s, n, d, kv)),
    "GPUS_NEEDED": ((M70, "a100-40gb", 32.0, 8192.0, "inference", "int8"),
                    lambda m, g, b, s, mode, d: serving.gpus_needed(m, g, b, s, d)["gpus_needed"]),
    "TRAIN_DAYS": ((M70, 1e12, "a100-80gb", 512.0, 0.35, "selective"),
                   lambda m, t, g, n, mfu, r: training.training_time(m, t, g, n, mfu, r)["days"]),
    "ALLREDUCE_BYTES": ((3e9, 16.0), lambda s, n: serving.allreduce_bytes(s, n)),
    "COMM_MS": ((5e8, 50.0, 12.0), lambda b, g, lat: serving.transfer_time(b, g, lat) * 1e3),
    "TP_COMM": ((M70, 4.0, 1.0, 8.0, "fp32", "KB"),
                lambda m, b, t, tp, d, unit: serving.tp_comm_bytes(m, b, t, tp, d) / 1e3),
    "TPOT_MS": ((M70, H100, 8.0, 512.0, 256.0, "bf16", "bf16", 8.0),
                lambda m, g, b, p, o, d, kv, tp: serving.inference_latency(m, g, b, p, o, tp)["tpot_s"] * 1e3),
    "INFER_FITS": ((M70, "a100-80gb", 8.0, 4096.0, "int4", "fp8", 2.0, 1.0),
                   lambda m, g, b, s, d, kv, tp, pp:
                   bool(serving.inference_memory(m, b, s, d, kv, tp, pp, g)["fits"])),
    "INFER_HEADROOM": ((M70, "a100-80gb", 8.0, 4096.0, "int4", "fp8", 2.0, 1.0, "GiB"),
                       lambda m, g, b, s, d, kv, tp, pp, unit:
                       serving.inference_memory(m, b, s, d, kv, tp, pp, g)["headroom"] / 2 ** 30),
    "CAPACITY": ((M70, H100, 4096.0, 5000.0, "fp8", "fp8", 4.0, "kv_tokens"),
                 lambda m, g, s, users, d, kv, tp, part:
                 serving.serving_capacity(m, g, s, tp, 1, d, kv,
                                          concurrent_users=users)[part]),
    "KV_PER_TOKEN": ((M70, "fp8", 8.0, "KiB"),
                     lambda m, kv, tp, unit: basics.kv_cache_bytes_per_token(m, kv, tp) / 1024),
    "CHINCHILLA_TOKENS": ((M70,), lambda m: training.training_time(
        m, 1e12, H100, 8)["chinchilla_tokens"]),
    "TRAIN_GPU_HOURS": ((M70, 1e12, "a100-80gb", 256.0, 0.45, "full", "fp16-mixed"),
                        lambda m, t, g, n, mfu, r, p:
                        training.training_time(m, t, g, n, mfu, r, p)["gpu_hours"]),
    "TRAIN_COST": ((M70, 1e12, H100, 256.0, 3.0),
                   lambda m, t, g, n, price: training.training_time(
                       m, t, g, n, price_per_gpu_hour=price)["cost"]),
    "TRAIN_MFU": (("llama-2-7b", 1024.0, 4096.0, 10.0, H100, 64.0),
                  lambda m, b, s, it, g, n: training.mfu_from_iteration(m, b, s, it, g, n)),
    "GEMM_MS": ((16.0, 4096.0, 4096.0, "a100-40gb", "fp16", 0.6, 0.9),
                lambda m, n, k, g, d, mfu, bw: analysis.gemm_roofline(m, n, k, g, d, mfu,
                                                                       bw)["time_s"] * 1e3),
    "CRITICAL_BATCH": ((M70, H100, 1024.0, "fp8", "fp8", 8.0, 0.4, 0.8),
                       lambda m, g, c, d, kv, tp, mfu, bw: analysis.critical_batch(
                           m, g, c, tp=tp, dtype=d, kv_dtype=kv, mfu=mfu,
                           bw_eff=bw)["critical_batch"]),
}

#: functions whose first argument is a model
MODEL_FIRST = [n for n in CORE if n not in ("ALLREDUCE_BYTES", "COMM_MS", "GEMM_MS")]


def _same(got, expected):
    if isinstance(expected, bool) or isinstance(expected, str):
        return got == expected
    return got == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("name", CORE)
def test_equals_the_core_api(name):
    args, core = CORE[name]
    got = u.CATALOGUE[name](*args)
    assert not isinstance(got, str) or not got.startswith("#"), got
    assert _same(got, core(*args))


@pytest.mark.parametrize("name", CORE)
def test_every_argument_as_a_one_cell_range(name):
    """Excel sends a referenced cell as [[x]] (Office.js) or x; integers may come as 8."""
    args, core = CORE[name]
    wrapped = [[[a]] for a in args]
    assert _same(u.CATALOGUE[name](*wrapped), core(*args))
    as_ints = [int(a) if isinstance(a, float) and a.is_integer() and abs(a) < 1e15 else a
               for a in args]
    assert _same(u.CATALOGUE[name](*as_ints), core(*args))


@pytest.mark.parametrize("name", MODEL_FIRST)
def test_two_column_range_model(name):
    """A model range: a preset row alone is the preset; override rows change the model."""
    args, core = CORE[name]
    preset = [["preset", args[0]]]
    assert _same(u.CATALOGUE[name](preset, *args[1:]), core(*args))
    header_row = [["preset", args[0]], [None, None]]        # a blank row in the range
    assert _same(u.CATALOGUE[name](header_row, *args[1:]), core(*args))
    rows = [["preset", args[0]], ["num_layers", 40.0], ["max_position_embeddings", 8192.0]]
    model = load_model(rows)
    assert model.fields["num_layers"] == 40
    got = u.CATALOGUE[name](rows, *args[1:])
    assert _same(got, core(model, *args[1:]))


def test_two_column_range_gpu():
    gpu = [["preset", H100], ["memory_gb", 141.0], ["memory_bandwidth_gb_per_s", 4800.0]]
    assert u.GPU_SPEC(gpu, "memory_gb") == 141.0
    assert u.INFER_FITS(M70, gpu, 8.0, 4096.0) is False          # 151 GB > 0.9 × 141
    assert u.INFER_FITS(M70, gpu, 1.0, 4096.0, "fp8") is True
    one_row = ["preset", H100]                                  # a 1×2 range arrives 1-D
    assert u.GPU_SPEC(one_row, "memory_gb") == 80.0
    ms = u.DECODE_MS(M70, gpu, 1.0, 1024.0, None, None, 8.0)
    assert ms == pytest.approx(serving.decode_step(M70, {"preset": H100, "memory_gb": 141,
                                                         "memory_bandwidth_gb_per_s": 4800},
                                                   1, 1024, 8)["step_s"] * 1e3)


#: required arguments of the functions not in CORE
TABLE_ARGS = {"GPU_SPEC": (H100, "memory_gb"), "MEM_TABLE": (M70, "training", 8.0, 4096.0),
              "LATENCY_TABLE": (M70, H100, 8.0, 512.0, 256.0)}


def _optional(fn):
    params = list(inspect.signature(fn).parameters.values())
    return [p for p in params if p.default is not inspect.Parameter.empty]


@pytest.mark.parametrize("name", list(u.CATALOGUE))
def test_omitted_arguments_take_the_defaults(name):
    """Excel passes an omitted or empty optional argument as None (or leaves it out):
    the result equals the one with the documented default written in."""
    fn = u.CATALOGUE[name]
    args = CORE[name][0] if name in CORE else TABLE_ARGS.get(name, ())
    params = list(inspect.signature(fn).parameters.values())
    required = [p for p in params if p.default is inspect.Parameter.empty]
    base = list(args[:len(required)])
    if len(base) < len(required):
        pytest.skip("no required arguments recorded")
    explicit = base + [p.default for p in params[len(required):]]
    nones = base + [None] * (len(params) - len(required))
    blanks = base + [[[None]]] * (len(params) - len(required))
    expected = fn(*explicit)
    assert fn(*base) == expected
    assert fn(*nones) == expected
    assert fn(*blanks) == expected


def test_defaults_are_the_cores():
    """Serving defaults are SERVING_DEFAULTS; training ones the glossary's / the API's."""
    d = serving.SERVING_DEFAULTS
    serving_fns = ("WEIGHTS_MEM", "KV_CACHE", "INFER_MEM", "PREFILL_MS", "DECODE_MS",
                   "GEN_SECONDS", "TOKENS_PER_S", "MAX_BATCH", "GPUS_NEEDED", "TP_COMM",
                   "TPOT_MS", "LATENCY_TABLE", "INFER_FITS", "INFER_HEADROOM", "CAPACITY",
                   "KV_PER_TOKEN")
    for name in serving_fns:
        for p in _optional(u.CATALOGUE[name]):
            if p.name in d:
                assert p.default == d[p.name], (name, p.name)
    # 0 / empty: the calibrated efficiencies, as the API's None
    assert inspect.signature(u.PREFILL_MS).parameters["mfu"].default == d["mfu"] == 0
    assert inspect.signature(u.DECODE_MS).parameters["bw_eff"].default == d["bw_eff"] == 0
    assert inspect.signature(serving.decode_step).parameters["bw_eff"].default is None
    for name in serving_fns:
        params = inspect.signature(u.CATALOGUE[name]).parameters
        if "engine" in params:
            assert params["engine"].default == d["engine"] == "vllm", name
    # a bare link has no GPU family to calibrate from: the seeds' 8 µs in both faces
    assert inspect.signature(u.COMM_MS).parameters["latency_us"].default == \
        inspect.signature(serving.transfer_time).parameters["link_latency_us"].default == 8
    api_mfu = inspect.signature(training.training_time).parameters["mfu"].default
    for name in ("TRAIN_DAYS", "TRAIN_GPU_HOURS", "TRAIN_COST"):
        params = inspect.signature(u.CATALOGUE[name]).parameters
        assert params["mfu"].default == 0 and api_mfu is None    # both: calibrated
        assert params["recompute"].default == TERMS["recompute"].default
        assert params["precision"].default == TERMS["precision"].default
    train_api = inspect.signature(training.train_memory).parameters
    for p in _optional(u.TRAIN_MEM):
        if p.name in train_api:
            api = train_api[p.name].default      # None: the glossary's default
            assert p.default == (TERMS[p.name].default if api is None else api), p.name
            if p.name in TERMS:
                assert p.default == TERMS[p.name].default, p.name


def test_catalogue_signatures_are_the_public_interface():
    """Names and argument orders of issue 5's table (extra trailing options allowed), with
    issue 16's one order of the optional dtype/tp/pp arguments (the latency functions took
    tp before dtype, the memory functions after it: now every function takes dtype first)."""
    expected = {
        "LLM_PARAMS": "model part", "LLM_MODEL": "model field", "LLM_MODELS": "",
        "GPU_SPEC": "gpu field", "GPU_LIST": "",
        "WEIGHTS_MEM": "model dtype tp pp unit",
        "KV_CACHE": "model batch seq_len kv_dtype tp unit",
        "INFER_MEM": "model batch seq_len dtype kv_dtype tp pp part unit",
        "TRAIN_MEM": "model batch seq_len precision optimizer zero dp tp pp recompute part unit",
        "MEM_TABLE": "model mode batch seq_len gpu",
        "LLM_FLOPS": "model tokens mode seq_len",
        "PREFILL_MS": "model gpu batch prompt_len dtype tp mfu",
        "DECODE_MS": "model gpu batch context_len dtype kv_dtype tp bw_eff",
        "GEN_SECONDS": "model gpu batch prompt_len output_len dtype kv_dtype tp mfu bw_eff",
        "TOKENS_PER_S": "model gpu batch prompt_len output_len dtype kv_dtype tp mfu bw_eff",
        "MAX_BATCH": "model gpu seq_len dtype kv_dtype n_gpus",
        "GPUS_NEEDED": "model gpu batch seq_len mode dtype",
        "TRAIN_DAYS": "model tokens gpu n_gpus mfu recompute",
        "ALLREDUCE_BYTES": "size_bytes n", "COMM_MS": "bytes gbytes_per_s latency_us",
        "TP_COMM": "model batch tokens tp dtype unit",
    }
    assert list(u.CATALOGUE)[:len(expected)] == list(expected)
    for name, args in expected.items():
        params = list(inspect.signature(u.CATALOGUE[name]).parameters)
        assert params[:len(args.split())] == args.split(), name
        extra = [p for p in params[len(args.split()):]]
        for p in extra:                      # only trailing optional arguments were added
            assert inspect.signature(u.CATALOGUE[name]).parameters[p].default is not \
                inspect.Parameter.empty, (name, p)
    defaults = {"LLM_PARAMS": {"part": "total"}, "WEIGHTS_MEM": {"dtype": "bf16", "tp": 1,
                                                                 "pp": 1},
                "INFER_MEM": {"part": "total"}, "GPUS_NEEDED": {"mode": "inference"},
                "LLM_FLOPS": {"mode": "forward"}, "TRAIN_MEM": {"recompute": "none",
                                                                "zero": 0}}
    for name, values in defaults.items():
        params = inspect.signature(u.CATALOGUE[name]).parameters
        for arg, value in values.items():
            assert params[arg].default == value


def test_catalogue_has_no_keyword_only_arguments_or_annotations():
    """Classic xlwings rejects keyword-only arguments and Literal hints."""
    for name, fn in u.CATALOGUE.items():
        for p in inspect.signature(fn).parameters.values():
            assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (name, p.name)
            assert p.annotation is inspect.Parameter.empty, (name, p.name)


def test_descriptions_fit_the_function_wizard():
    """Excel cuts descriptions and argument help at 255 characters; one line each."""
    for name, fn in u.CATALOGUE.items():
        assert 20 < len(fn.__doc__) <= 255 and "\n" not in fn.__doc__, name


# ------------------------------------------------------------------- tables

def test_models_and_gpus_tables():
    from xlcalc.hardware import gpu_names
    from xlcalc.models import preset_names
    models = u.LLM_MODELS()
    assert models[0][:3] == ["model", "model_type", "architecture"]
    assert [r[0] for r in models[1:]] == list(preset_names())
    row = next(r for r in models if r[0] == M70)
    assert row[models[0].index("params")] == N70
    gpus = u.GPU_LIST()
    assert [r[0] for r in gpus[1:]] == list(gpu_names())
    h100 = next(r for r in gpus if r[0] == H100)
    assert h100[gpus[0].index("memory_bandwidth_gb_per_s")] == 3350
    assert u.GPU_SPEC(H100, "peak_tflops_bf16") == 989.4
    assert u.GPU_SPEC("V100-32GB", "peak_tflops_bf16").startswith("#VALUE! gpu")
    assert u.LLM_MODEL(M70, "model_type") == "llama"
    assert u.LLM_MODEL(M70, "Num_Layers") == 80
    assert u.LLM_MODELS.__name__ in u.SPILLING
    assert models[0][-1] == "hub_id"
    assert next(r for r in models if r[0] == "qwen3-32b")[-1] == "Qwen/Qwen3-32B"


def test_hub_repo_ids_work_in_cells_and_range_typos_are_errors():
    assert u.LLM_PARAMS("Qwen/Qwen3-32B") == u.LLM_PARAMS("qwen3-32b")
    assert u.LLM_PARAMS("meta-llama/Llama-3.3-70B-Instruct") == u.LLM_PARAMS("llama-3.3-70b")
    assert u.LLM_PARAMS("Qwen/Qwen3-33B").startswith("#VALUE! unknown model 'Qwen/Qwen3-33B'")
    bad = u.LLM_PARAMS([["preset", "llama-2-70b"], ["numlayers", 40.0]])
    assert bad.startswith("#VALUE! model range: unknown model key 'numlayers'; did you mean "
                          "'num_layers'"), bad


def test_seed_check_is_the_worked_comparison():
    listing = u.SEED_CHECK()
    assert listing[0] == ["example", "title", "seed", "figures"]
    assert {r[0] for r in listing[1:]} == set(worked.examples())
    table = u.SEED_CHECK([["llama-70b-inference"]])
    frame = worked.compare("llama-70b-inference")
    assert table[0] == list(frame.columns)
    assert len(table) == len(frame) + 1
    for row, (_, expected) in zip(table[1:], frame.iterrows()):
        assert row[0] == expected["item"]
        assert row[3] == pytest.approx(expected["computed value"])
        assert row[5] == expected["status"]
    assert u.SEED_CHECK("llama-70b-inferenc").startswith("#VALUE! unknown example")


def test_latency_table_lists_every_part():
    table = u.LATENCY_TABLE(M70, H100, 8.0, 512.0, 256.0, None, None, 8.0)
    assert table[0] == ["quantity", "value", "unit"]
    assert len(table) == len(serving.LATENCY_PARTS) + 1
    assert {r[2] for r in table[1:]} <= {"ms", "tokens/s", "FLOPs", "FLOP/byte", ""}


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("call,text", [
    (lambda: u.KV_CACHE(M70, -1.0, 4096.0), "#VALUE! batch must be a positive integer, got -1"),
    (lambda: u.KV_CACHE(M70, 8.0, "4096"), "#VALUE! seq_len must be a positive integer, got '4096'"),
    (lambda: u.KV_CACHE(M70, 8.0, 4096.0, None, 3.0), "#VALUE! tp must be a divisor of num_heads=64"),
    (lambda: u.KV_CACHE("llama-2-70", 8.0, 4096.0), "#VALUE! unknown model 'llama-2-70'; did you mean"),
    (lambda: u.KV_CACHE(M70, 8.0, 4096.0, "bf17"), "#VALUE! unknown kv_dtype 'bf17'"),
    (lambda: u.KV_CACHE(M70, 8.0, 4096.0, None, None, "GBs"), "#VALUE! unknown unit 'GBs'"),
    (lambda: u.KV_CACHE(None, 8.0, 4096.0), "#VALUE! model is required"),
    (lambda: u.KV_CACHE(M70, None, 4096.0), "#VALUE! batch is required (a positive integer up to 10,000,000)"),
    (lambda: u.KV_CACHE(M70, [[1.0, 2.0]], 4096.0), "#VALUE! batch must be a single value"),
    (lambda: u.KV_CACHE(M70, 1e300, 1e300), "#VALUE! batch must be at most 10,000,000, got 1e+300"),
    (lambda: u.MAX_BATCH(M70, H100, 4096.0, None, None, 3.0), "#VALUE! n_gpus must be a divisor of num_heads=64, got 3"),
    (lambda: u.TP_COMM(M70, 1.0, 0.0, 4.0), "#VALUE! tokens must be a positive integer, got 0"),
    (lambda: u.ALLREDUCE_BYTES(1e9, 0.0), "#VALUE! n must be a positive integer, got 0"),
    (lambda: u.ALLREDUCE_BYTES(-5.0, 4.0), "#VALUE! size_bytes must be a positive number, got -5"),
    (lambda: u.COMM_MS(1e9, 0.0), "#VALUE! gbytes_per_s must be a positive number, got 0"),
    (lambda: u.COMM_MS(1e9, 450.0, -1.0), "#VALUE! latency_us must be a number >= 0, got -1"),
    (lambda: u.PREFILL_MS(M70, "v100-32gb", 1.0, 512.0, None, None, None, "bf16"), "#VALUE! compute_dtype must be a compute dtype v100-32gb supports (auto, fp32, fp16), got 'bf16'"),
    (lambda: u.TRAIN_DAYS(M70, 1e12, "v100-32gb", 8.0), "#VALUE! precision must be a recipe v100-32gb computes in"),
    (lambda: u.GPUS_NEEDED(M70, H100, 8.0, 4096.0, "training", "int4"), "#VALUE! dtype 'int4' in training mode must be bf16, fp16, fp32 or a precision recipe"),
    (lambda: u.GPUS_NEEDED(M70, H100, 8.0, 4096.0, "serving"), "#VALUE! unknown mode 'serving'"),
    (lambda: u.MEM_TABLE(M70, None, 8.0, 4096.0), "#VALUE! mode is required (inference or training)"),
    (lambda: u.INFER_MEM(M70, 8.0, 4096.0, None, None, None, None, "kv"), "#VALUE! unknown part 'kv'"),
    (lambda: u.TRAIN_MEM(M70, 8.0, 4096.0, None, None, None, 3.0), "#VALUE! dp must be a divisor of batch=8"),
    (lambda: u.KV_CACHE([["preset", M70], ["num_layers", -2.0]], 8.0, 4096.0), "#VALUE! model range: num_layers must be a positive integer, got -2"),
    (lambda: u.KV_CACHE([["preset", M70, 1.0]], 8.0, 4096.0), "#VALUE! model must be a [key, value] pair in row 1"),
    (lambda: u.GPU_SPEC([["preset", H100], ["memory_gb", 0.0]], "memory_gb"), "#VALUE! gpu range: memory_gb must be a positive number"),
    (lambda: u.KV_CACHE("x" * 5000, 8.0, 4096.0), "#VALUE! model must be a short text"),
    (lambda: u.KV_CACHE(M70, 8.0, 4096.0, None, None, None, None), "#VALUE! KV_CACHE takes at most 6 arguments, got 7"),
    (lambda: u.KV_CACHE(M70), "#VALUE! batch is required"),
    (lambda: u.LLM_MODEL([["model_type", "llama"], ["hidden_size", 64.0], ["num_hidden_layers", 2.0], ["num_attention_heads", 4.0], ["vocab_size", 10.0], ["intermediate_size", 128.0]], "nominal_params"), "#VALUE! model 'custom' has no nominal_params"),
])
def test_errors_are_texts_naming_the_argument(call, text):
    got = call()
    assert isinstance(got, str) and got.startswith(text), got


def test_an_unexpected_failure_is_still_a_text(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")
    monkeypatch.setattr(u, "_kv_cache_bytes", broken)      # the core call KV_CACHE makes
    got = u.KV_CACHE(M70, 8.0, 4096.0)
    assert got.startswith("#VALUE! KV_CACHE failed unexpectedly: KeyError")


def test_float_overflow_in_the_core_is_a_num_error(monkeypatch):
    """Python floats raise where numpy would give inf: the cell says #NUM!, naming the
    arguments, instead of "failed unexpectedly"."""
    monkeypatch.setattr(u, "_kv_cache_bytes", lambda *a, **k: 1 / 0)
    got = u.KV_CACHE(M70, 8.0, 4096.0)
    assert got.startswith("#NUM! KV_CACHE has no finite result for model='llama-2-70b', "
                          "batch=8, seq_len=4096")
    # sizes a planner would never type are refused before they can overflow
    assert u.TRAIN_DAYS(M70, 1e9, H100, 1e300) == \
        "#VALUE! n_gpus must be at most 10,000,000, got 1e+300"


def test_range_model_in_the_tables():
    rows = [["preset", M70], ["num_layers", 40.0]]
    model = load_model(rows)
    table = u.MEM_TABLE(rows, "inference", 8.0, 4096.0, H100)
    series = serving.inference_memory(model, 8, 4096)
    for label, gb, _, _ in table[1:]:
        assert gb == pytest.approx(series[label] / 1e9)
    assert u.MEM_TABLE([["preset", M70]], "training", 8.0, 4096.0) == \
        u.MEM_TABLE(M70, "training", 8.0, 4096.0)
    latency = {r[0]: r[1] for r in u.LATENCY_TABLE(rows, H100, 8.0, 512.0, 256.0, None, None, 8.0)[1:]}
    core = serving.inference_latency(model, H100, 8, 512, 256, 8)
    assert latency["e2e_ms"] == pytest.approx(core["e2e_s"] * 1e3)
    assert latency["tokens_per_s"] == pytest.approx(core["tokens_per_s"])


def test_optional_arguments_follow_one_order():
    """dtype, kv_dtype, then tp (n_gpus), pp, then mfu, bw_eff, part, unit: one rule in every
    function, so =PREFILL_MS(…, "fp8", 8) and =INFER_MEM(…, "fp8", , 8) read alike."""
    for name, fn in u.CATALOGUE.items():
        params = inspect.signature(fn).parameters.values()
        optional = [p.name for p in params if p.default is not inspect.Parameter.empty
                    and p.name in u.ARGUMENT_ORDER]
        ranks = [u.ARGUMENT_ORDER.index(p) for p in optional]
        assert ranks == sorted(ranks), (name, optional)


def test_mem_table_takes_the_plan_arguments():
    """MEM_TABLE prices the same plan as INFER_MEM / TRAIN_MEM, argument for argument."""
    rows = u.MEM_TABLE(M70, "inference", 8.0, 4096.0, H100, "fp8", "fp8", 8.0)
    total = {r[0]: r[1] for r in rows[1:]}["total"]
    assert total == pytest.approx(u.INFER_MEM(M70, 8.0, 4096.0, "fp8", "fp8", 8.0))
    # weights at tp = 8: 68,976,648,192 parameters at 1 byte (fp8), embedding + LM head 16-bit
    single = {r[0]: r[1] for r in u.MEM_TABLE(M70, "inference", 8.0, 4096.0)[1:]}
    assert single["weights"] == pytest.approx(2 * 68_976_648_192 / 1e9)
    rows = u.MEM_TABLE("llama-2-7b", "training", 32.0, 2048.0, None, None, None, 1.0, 1.0,
                       None, None, 2.0, 8.0, "selective")
    total = {r[0]: r[1] for r in rows[1:]}["total"]
    assert total == pytest.approx(u.TRAIN_MEM("llama-2-7b", 32.0, 2048.0, None, None, 2.0, 8.0,
                                              None, None, "selective"))
    assert u.MEM_TABLE(M70, "inference", 8.0, 4096.0, None, None, None, None, None, None,
                       None, 3.0).startswith("#VALUE! zero applies to mode training only")
    # the engine (last) is inference's: its memory rules, as INFER_MEM's engine
    seed = u.MEM_TABLE(M70, "inference", 8.0, 4096.0, H100, None, None, 8.0, None, None, None,
                       None, None, None, "seed")
    assert {r[0]: r[1] for r in seed[1:]}["total"] == pytest.approx(
        u.INFER_MEM(M70, 8.0, 4096.0, None, None, 8.0, None, None, None, H100, "seed"))
    assert u.MEM_TABLE("llama-2-7b", "training", 32.0, 2048.0, None, None, None, None, None,
                       None, None, None, None, None, "sglang").startswith(
        "#VALUE! engine applies to mode inference only")
