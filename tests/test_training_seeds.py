"""Seed 000's training examples item by item, each value derived by hand here (the seed's
printed numbers are checked, never trusted), and the worked-example tables.

§七 example 2: LLaMA-7B, BF16 mixed, AdamW, batch 32, seq 2048: 14 + 28 + 28 + 56 + 34 =
160 GB → "at least 2 GPUs (ZeRO-2)".  §四 4.2: LLaMA-70B, batch 1, seq 2048: 140 + 280 +
280 + 560 + 90 + 15 ≈ 1365 GB → ≥ 18 × 80 GB.  §五 5.3: 6 × 70 B × 1 T on 1000 H100 at
990 TFLOP/s × 30 % ≈ 16 days.
"""

import math

import pytest

import xlcalc
from xlcalc.worked import REASONS, compare, example

GB = 1e9
P7B, P70B = 6_738_415_616, 68_976_648_192      # exact counts (transformers)

EX2 = dict(model="llama-7b", batch=32, seq_len=2048, precision="bf16-mixed", optimizer="adamw",
           recompute="full", activation_rule="seed-000-recompute", train_reserve_bytes=0)
# the seeds' "80 GB" GPU: an H100 planned at its marketed size (a memory_gb override drops
# the 79.22 GiB CUDA reports)
GPU80 = [["preset", "h100-sxm"], ["memory_gb", 80]]


# ------------------------------------------------------------ §七 example 2 (7 B)

@pytest.mark.parametrize("params, weights, master, grads, adam", [
    (7e9, 7 * 2, 7 * 4, 7 * 4, 2 * 7 * 4),                       # 14, 28, 28, 56 GB
    (P7B, P7B * 2 / GB, P7B * 4 / GB, P7B * 4 / GB, P7B * 8 / GB),  # 13.48, 26.95, 26.95, 53.91
])
def test_example_2_item_by_item(params, weights, master, grads, adam):
    extra = {"params_total": params} if params == 7e9 else {}
    s = xlcalc.train_memory(**EX2, **extra) / GB
    assert s["weights"] == pytest.approx(weights)
    assert s["master_weights"] == pytest.approx(master)
    assert s["gradients"] == pytest.approx(grads)
    assert s["optimizer"] == pytest.approx(adam)
    # the seed's activations: 32 × 2048 × 4096 × 32 × 2 × 2 = 34,359,738,368 B (≈ 34 GB)
    acts = 32 * 2048 * 4096 * 32 * 2 * 2 / GB
    assert s["activations"] == pytest.approx(acts) == pytest.approx(34.36, abs=0.005)
    assert s["total"] == pytest.approx(weights + master + grads + adam + acts)


def test_example_2_totals_and_gpus():
    nominal = xlcalc.train_memory(**EX2, params_total=7e9, gpu=GPU80)
    exact = xlcalc.train_memory(**EX2, gpu=GPU80)
    # nominal: 14 + 28 + 28 + 56 + 34.36 = 160.36 GB (the seed: 160, activations rounded)
    assert nominal["total"] / GB == pytest.approx(160.36, abs=0.005)
    # exact: 18 × 6.738 + 34.36 = 155.65 GB
    assert exact["total"] / GB == pytest.approx((18 * P7B + 34_359_738_368) / GB)
    assert exact["total"] / GB == pytest.approx(155.65, abs=0.005)
    # fewest 80 GB GPUs, everything sharded: ceil(160.36/80) = 3 nominal, ceil(155.65/80) = 2
    assert nominal["gpus_needed"] == math.ceil(160.36 / 80) == 3
    assert exact["gpus_needed"] == math.ceil(155.65 / 80) == 2


def test_example_2_zero_2_on_two_gpus_does_not_fit():
    # ZeRO-2 over dp = 2 shards master, gradients and Adam, not the BF16 weights; each GPU
    # runs 16 sequences: 14 + (28 + 28 + 56)/2 + 34.36/2 = 87.18 GB > 80 GB (nominal),
    # 13.48 + (26.95 + 26.95 + 53.91)/2 + 17.18 = 84.56 GB (exact).
    nominal = xlcalc.train_memory(**{**EX2, "zero": 2, "dp": 2}, params_total=7e9,
                                  gpu=GPU80)
    assert nominal["total"] / GB == pytest.approx(14 + 112 / 2 + 34.359738368 / 2)
    assert nominal["fits"] is False
    exact = xlcalc.train_memory(**{**EX2, "zero": 2, "dp": 2}, gpu=GPU80)
    assert exact["total"] / GB == pytest.approx((2 * P7B + 16 * P7B / 2 + 34_359_738_368 / 2)
                                                / GB)
    assert exact["fits"] is False
    # ZeRO-3 on 2 GPUs: 18 × 6.738 / 2 + 17.18 = 77.83 GB fits (no reserve)
    z3 = xlcalc.train_memory(**{**EX2, "zero": 3, "dp": 2}, gpu=GPU80)
    assert z3["total"] / GB == pytest.approx((18 * P7B / 2 + 34_359_738_368 / 2) / GB)
    assert z3["fits"] is True


# ------------------------------------------------------------------ §四 4.2 (70 B)

EX42 = dict(model="llama-2-70b", batch=1, seq_len=2048, precision="bf16-mixed",
            optimizer="adamw", activation_rule="seed-000", train_reserve_bytes=15e9)


def test_section_4_2_item_by_item():
    s = xlcalc.train_memory(**EX42, params_total=70e9, gpu=GPU80) / 1
    assert s["weights"] / GB == pytest.approx(70 * 2)           # 140
    assert s["master_weights"] / GB == pytest.approx(70 * 4)    # 280
    assert s["gradients"] / GB == pytest.approx(70 * 4)         # 280
    assert s["optimizer"] / GB == pytest.approx(2 * 70 * 4)     # 560
    # 1 × 2048 × 8192 × 80 × 34 × 2 = 91,268,055,040 B: the seed prints ≈ 90
    assert s["activations"] == 1 * 2048 * 8192 * 80 * 34 * 2
    assert s["reserve"] / GB == 15
    total = 140 + 280 + 280 + 560 + 91.268055040 + 15                # 1366.27
    assert s["total"] / GB == pytest.approx(total)
    assert total == pytest.approx(1365, rel=0.001)                    # the seed's ≈ 1365
    # the seed's GPU count: 1366.27 / 80 = 17.08 → 18
    from xlcalc.estimate import estimate
    from xlcalc.training import TRAINING_DEFAULTS, _inputs
    v = estimate(["train_gpus_seed_rule"], **_inputs(TRAINING_DEFAULTS, dict(
        EX42, params_total=70e9, gpu=GPU80)))
    assert v["train_gpus_seed_rule"] == math.ceil(total / 80) == 18
    # with the 15 GB needed on every GPU: (1260 + 91.27) / (80 − 15) = 20.8 → 21
    assert s["gpus_needed"] == math.ceil((1260 + 91.268055040) / 65) == 21


# -------------------------------------------------------------------- §五 5.3

def test_section_5_3_days():
    # the seed's time = FLOPs / (GPUs × peak × utilisation): no restarts (goodput 1)
    t = xlcalc.training_time("llama-2-70b", 1e12, "h100-sxm", 1000, mfu=0.3,
                             params_total=70e9, goodput=1.0)
    # 6 × 70e9 × 1e12 / (1000 × 989.4e12 × 0.3) / 86400 = 16.377 days; with the seed's
    # 990 TFLOP/s it is 16.367: "≈ 16 days" is the seed rounding down
    assert t["days"] == pytest.approx(4.2e23 / (1000 * 989.4e12 * 0.3) / 86400)
    assert 4.2e23 / (1000 * 990e12 * 0.3) / 86400 == pytest.approx(16.367, abs=1e-3)
    assert 16 <= t["days"] < 16.5


# --------------------------------------------------------------- worked examples

HAND = {
    "llama-7b-training": [14, P7B * 2 / GB, 28, P7B * 4 / GB, 28, P7B * 4 / GB, 56,
                          P7B * 8 / GB, 34.359738368,
                          (32 * 2 * 65536 * 4096 + 4 * 65536 * 4096 + 4 * 65536 * 32000) / GB,
                          160.359738368, (18 * P7B + 34_359_738_368) / GB, 3, 2,
                          14 + 112 / 2 + 34.359738368 / 2],
    "llama-70b-training-memory": [140, P70B * 2 / GB, 280, 280, 560, 91.26805504,
                                  153.00820992, 15, 1366.26805504,
                                  (18 * P70B + 91_268_055_040 + 15e9) / GB, 18, 21],
    "llama-70b-pretraining-days": [420, 6 * P70B * 1e12 / 1e21, 989.4,
                                   4.2e23 / (1000 * 989.4e12 * 0.3) / 86400,
                                   6 * P70B * 1e12 / (1000 * 989.4e12 * 0.3) / 86400],
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_worked_examples_compute_the_hand_values(name):
    table = compare(name)
    assert len(table) == len(HAND[name])
    for got, want in zip(table["computed value"], HAND[name]):
        assert got == pytest.approx(want, rel=1e-9)
    # every row that differs from the seed says why
    for _, row in table.iterrows():
        if row.status == "differs":
            assert row.note and any(w in row.note for w in REASONS)


def test_the_7b_example_is_named_and_complete():
    ex = example("llama-7b-training")
    for name in ("model", "gpu", "batch", "seq_len", "precision", "optimizer", "zero", "dp",
                 "tp", "pp", "recompute"):
        assert name in ex.inputs
    statuses = dict(zip(compare("llama-7b-training")["item"],
                        compare("llama-7b-training")["status"]))
    assert statuses["total per GPU (nominal 7 B)"] == "matches"
    assert statuses["per-GPU total with ZeRO-2 on 2 GPUs (seed: fits in 80 GB)"] == "differs"
