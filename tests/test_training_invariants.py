"""Invariants of the training plan over random valid configurations (hypothesis): every
part is non-negative, the total is the sum of the parts, more batch never means less
memory, more data parallelism with sharding never means more model state, and a
vectorised sweep equals scalar calls."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xlcalc
from xlcalc.models import load_model

PARTS = ["weights", "master_weights", "gradients", "optimizer", "activations", "reserve"]
MODELS = ["llama-7b", "llama-2-70b", "llama-3.1-8b", "mistral-7b", "mixtral-8x7b", "gpt2",
          "gemma-2-9b", "deepseek-v3", "falcon-7b", "llama-3.2-1b"]
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def plans(draw):
    model = draw(st.sampled_from(MODELS))
    f = load_model(model).fields
    tps = [t for t in (1, 2, 4, 8) if f["num_heads"] % t == 0 and
           (f["num_kv_heads"] % t == 0 or t % f["num_kv_heads"] == 0)]
    dp = draw(st.sampled_from([1, 2, 4, 8, 16]))
    batch = dp * draw(st.sampled_from([1, 2, 3, 4, 8]))
    replica = batch // dp
    micro = draw(st.sampled_from([m for m in (1, 2, 3, 4, 8) if replica % m == 0] + [None]))
    return dict(
        model=model, batch=batch, seq_len=draw(st.sampled_from([128, 1024, 2048, 8192])),
        precision=draw(st.sampled_from(["fp32", "fp16-mixed", "bf16-mixed", "seed-001",
                                        "megatron-distopt"])),
        optimizer=draw(st.sampled_from(["adamw", "sgd", "sgd-momentum", "adam-8bit",
                                        "adafactor", "lion"])),
        zero=draw(st.integers(0, 3)), dp=dp, tp=draw(st.sampled_from(tps)),
        pp=draw(st.sampled_from([1, 2, 3, 4])),
        recompute=draw(st.sampled_from(["none", "selective", "full"])),
        micro_batch=micro,
        sequence_parallel=draw(st.sampled_from([0, 1])),
        attention=draw(st.sampled_from(["flash", "sdpa", "eager"])),
        stack=draw(st.sampled_from(["megatron", "hf"])),
        dropout=draw(st.sampled_from([0, 1])), vp=draw(st.sampled_from([1, 2])),
        trainable_fraction=draw(st.sampled_from([1.0, 0.5, 0.01])),
        activation_rule=draw(st.sampled_from(["korthikanti", "seed-000",
                                              "seed-000-recompute", "seed-001"])),
    )


@SETTINGS
@given(plans())
def test_parts_are_non_negative_and_sum_to_the_total(plan):
    s = xlcalc.train_memory(**plan, gpu="h100-sxm")
    for part in PARTS:
        assert s[part] >= 0, part
    assert s["total"] == pytest.approx(sum(s[p] for p in PARTS), rel=1e-12)
    h100 = 79.22 * 2 ** 30           # the total CUDA reports on an H100 80GB
    assert s["headroom"] == pytest.approx(h100 - s["total"], rel=1e-9, abs=1)
    assert s["fits"] is bool(s["total"] <= h100)
    assert s["gpus_needed"] >= plan["tp"] * plan["pp"]


@SETTINGS
@given(plans(), st.sampled_from([2, 3, 4]))
def test_more_batch_never_less_memory(plan, k):
    bigger = dict(plan, batch=plan["batch"] * k)
    a = xlcalc.train_memory(**plan)
    b = xlcalc.train_memory(**bigger)
    assert b["total"] >= a["total"] * (1 - 1e-12)
    assert b["activations"] >= a["activations"] * (1 - 1e-12)


@SETTINGS
@given(plans())
def test_more_data_parallelism_with_sharding_never_more_model_state(plan):
    plan = dict(plan, zero=max(plan["zero"], 1), micro_batch=1)
    wider = dict(plan, dp=plan["dp"] * 2, batch=plan["batch"] * 2)
    a = xlcalc.train_memory(**plan)
    b = xlcalc.train_memory(**wider)
    for part in ("weights", "master_weights", "gradients", "optimizer"):
        assert b[part] <= a[part] * (1 + 1e-12), part


def test_sweep_equals_scalar_calls():
    frame = xlcalc.train_plan_sweep(
        model=["llama-7b", "mixtral-8x7b"], batch=[8, 64], seq_len=[1024, 4096],
        zero=[0, 3], dp=[1, 8], tp=[1, 2], recompute=["none", "full"], gpu="h100-sxm",
        tokens=1e12, mfu=0.4)
    assert len(frame) == 2 ** 7
    rng = np.random.default_rng(0)
    for i in rng.choice(len(frame), 12, replace=False):
        row = frame.iloc[i]
        s = xlcalc.train_memory(str(row.model), int(row.batch), int(row.seq_len),
                                zero=int(row.zero), dp=int(row.dp), tp=int(row.tp),
                                recompute=str(row.recompute), gpu="h100-sxm")
        assert row.train_total_bytes == pytest.approx(s["total"], rel=1e-12)
        assert bool(row.train_fits) is s["fits"]
