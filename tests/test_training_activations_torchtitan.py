"""The torchtitan training stack against what PyTorch really keeps: a Llama written from
torchtitan's module structure (commit 9dec370), measured once on CPU with torchtitan's
activation-checkpointing modes (tests/data/make_torchtitan_measurements.py →
torchtitan_measurements.json): the bytes alive after the forward (what backward needs)
and the peak of live bytes over forward and backward."""

import json
import math
from pathlib import Path

import pytest

import xlcalc
from xlcalc.estimate import estimate

DATA = json.loads((Path(__file__).parent / "data" / "torchtitan_measurements.json").read_text())
RUNS = DATA["runs"]


def _nodes(run, *names, **extra):
    ctx = dict(model=run["config"], batch=run["batch"], seq_len=run["seq_len"],
               precision="fp32" if run["dtype"] == "fp32" else "bf16-mixed",
               stack="torchtitan", attention="flash", recompute=run["recompute"], tp=1, pp=1,
               dp=1, cp=1, zero=0, dropout=0, vp=1, sequence_parallel=0)
    ctx.update(extra)
    return estimate(list(names), **ctx)


def _id(run):
    return (f"{run['config_name']}-L{run['layers']}-b{run['batch']}s{run['seq_len']}-"
            f"{run['dtype']}-{run['recompute']}")


def _ids_and_labels(run):
    # the script creates the token ids (= labels) before it starts counting; xlcalc counts
    # the ids the embedding saves and the labels the loss saves, int64 each
    return 2 * 8 * run["batch"] * run["seq_len"]


def test_the_measurements_cover_the_modes_dtypes_and_attention_layouts():
    assert {r["recompute"] for r in RUNS} == {"none", "selective", "full"}
    assert {r["dtype"] for r in RUNS} == {"bf16", "fp32"}
    heads = {(r["config"]["num_attention_heads"], r["config"]["num_key_value_heads"])
             for r in RUNS}
    assert any(a > k for a, k in heads) and any(a == k for a, k in heads)
    assert DATA["modelled_on"]["commit"].startswith("9dec370")


@pytest.mark.parametrize("run", RUNS, ids=_id)
def test_saved_activations_match_the_measurement(run):
    v = _nodes(run, "train_act_model_bytes", "tt_loss_backward_bytes", "tt_native")
    assert v["tt_native"] == 1
    saved = v["train_act_model_bytes"] - v["tt_loss_backward_bytes"] - _ids_and_labels(run)
    assert saved == pytest.approx(run["saved_bytes"], rel=0.05)


@pytest.mark.parametrize("run", RUNS, ids=_id)
def test_peak_matches_the_measured_peak(run):
    v = _nodes(run, "train_act_model_bytes")
    assert v["train_act_model_bytes"] - _ids_and_labels(run) == \
        pytest.approx(run["peak_bytes"], rel=0.05)


def test_per_layer_bytes_match_the_difference_of_two_depths():
    by_key = {(r["config_name"], r["batch"], r["seq_len"], r["dtype"], r["recompute"],
               r["layers"]): r for r in RUNS}
    checked = 0
    for (name, b, s, dtype, mode, layers), deep in by_key.items():
        if layers != 3:
            continue
        layer = deep["saved_bytes"] - by_key[(name, b, s, dtype, mode, 2)]["saved_bytes"]
        got = _nodes(deep, "tt_act_per_layer_bytes")["tt_act_per_layer_bytes"]
        assert got == layer, (name, b, s, dtype, mode)      # every term is exact
        checked += 1
    assert checked == 24


def test_llama_3_1_8b_selective_by_hand():
    # torchtitan's per-op policy keeps, per token of one Llama-3.1-8B block in bf16:
    # the block input and w2's output (2 × 2h), wq's and sdpa's outputs (2 × 2·32·128),
    # wv's (2·8·128), w1's (2f) and the fp32 log-sum-exp (4 × 32 heads)
    h, f = 4096, 14336
    per_token = 2 * 2 * h + 2 * 2 * 32 * 128 + 2 * 8 * 128 + 2 * f + 4 * 32
    v = estimate(["tt_act_per_layer_bytes"], model="llama-3.1-8b", micro_batch=2, batch=2,
                 seq_len=8192, precision="bf16-mixed", stack="torchtitan", attention="flash",
                 recompute="selective", tp=1, cp=1, dp=1, dropout=0, sequence_parallel=0)
    assert v["tt_act_per_layer_bytes"] == 2 * 8192 * per_token
    # no checkpointing: norms 2 × (4h + 4 + 2·2h), q/K/V/out 2·4·4096 + 4·32, SwiGLU 2·4f
    none = 2 * (4 * h + 4 + 4 * h) + 2 * 4 * 4096 + 4 * 32 + 2 * 4 * f
    v = estimate(["tt_act_per_layer_bytes"], model="llama-3.1-8b", micro_batch=1, batch=1,
                 seq_len=4096, precision="bf16-mixed", stack="torchtitan", attention="flash",
                 recompute="none", tp=1, cp=1, dp=1, dropout=0, sequence_parallel=0)
    assert v["tt_act_per_layer_bytes"] == 4096 * none


def test_fsdp_keeps_the_root_and_last_block_gathered():
    # Llama-3.1-8B in bf16: embedding and output layer 2 × 128256 × 4096, final norm 4096,
    # one block (8B − root) / 32 layers, 2 bytes each
    common = dict(model="llama-3.1-8b", batch=16, micro_batch=2, seq_len=8192, dp=8,
                  precision="bf16-mixed", stack="torchtitan", recompute="selective", tp=1,
                  pp=1)
    sharded = estimate(["tt_fsdp_unsharded_bytes", "params_per_layer_avg"], **common)
    root = 2 * 128256 * 4096 + 4096
    assert sharded["tt_fsdp_unsharded_bytes"] == \
        pytest.approx(2 * (root + sharded["params_per_layer_avg"]), rel=1e-12)
    # one GPU, or HSDP replicas of one GPU each: torchtitan does not apply FSDP
    assert estimate(["tt_fsdp_unsharded_bytes"], **common, dp_shard=1)[
        "tt_fsdp_unsharded_bytes"] == 0


def test_other_architectures_fall_back_to_the_hf_terms():
    for name in ("mixtral-8x7b", "deepseek-v3", "gemma-2-2b", "qwen2.5-7b", "mistral-7b",
                 "gpt2", "qwen3-8b"):
        v = estimate(["tt_native", "tt_act_per_layer_bytes", "hf_act_per_layer_bytes"],
                     model=name, batch=1, seq_len=4096, stack="torchtitan", attention="sdpa",
                     recompute="none", precision="bf16-mixed", tp=1, cp=1, dp=1, dropout=0,
                     sequence_parallel=0)
        assert v["tt_native"] == 0, name
        assert v["tt_act_per_layer_bytes"] == v["hf_act_per_layer_bytes"], name
    assert estimate(["tt_native"], model="llama-2-7b")["tt_native"] == 1


def test_torchtitan_stack_works_for_every_preset():
    from xlcalc.models import preset_names
    for name in preset_names():
        for recompute in ("none", "selective", "full"):
            s = xlcalc.train_memory(name, 8, 4096, dp=8, zero=3, stack="torchtitan",
                                    recompute=recompute)
            assert math.isfinite(s["activations"]) and s["activations"] > 0, (name, recompute)


def test_torchtitan_memory_rows_within_10_percent():
    from xlcalc.validation import estimate_row, load_measurements
    rows = [r for r in load_measurements()["rows"]
            if r["kind"] == "training_memory" and r["engine"] == "torchtitan"]
    assert len(rows) >= 3
    for row in rows:
        assert row.get("stack") == "torchtitan", row["id"]
        got, why = estimate_row(row)
        assert got is not None, why
        assert abs(got / row["value"] - 1) <= 0.10, (row["id"], got / row["value"] - 1)
