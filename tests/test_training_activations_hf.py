"""The hf training stack against what PyTorch really keeps: saved-tensor bytes of one
training forward of transformers' modules, measured once on CPU for ten architectures
shrunk to a few layers, eager and sdpa, fp32 and bf16, with and without gradient
checkpointing (tests/data/make_activation_measurements.py → activation_measurements.json).
"""

import json
from pathlib import Path

import pytest

import xlcalc
from xlcalc.estimate import estimate

_DIR = Path(__file__).parent / "data"
DATA = json.loads((_DIR / "activation_measurements.json").read_text())
RUNS = DATA["runs"]
# issue 11's layer kinds: sinks, 5:1 local/global, QK norms, gated DeltaNet, chunked
# attention, dense-expert MoE (measured with the same script, --next)
NEXT = json.loads((_DIR / "activation_measurements_next.json").read_text())["runs"]

# At batch 1 GPT-2's q/k/v are views of its fused c_attn output, which stays alive whole
# (at batch 2 they are copies); xlcalc does not model that storage effect (5.4 % at batch 1)
VIEW_EFFECT = {("gpt2", 1): 0.06}


def _formula(run, **extra):
    ctx = dict(model=run["config"], batch=run["batch"], seq_len=run["seq_len"],
               precision="fp32" if run["dtype"] == "fp32" else "bf16-mixed",
               attention=run["attention"], stack="hf",
               recompute="full" if run["checkpointing"] else "none", tp=1, pp=1, dp=1, cp=1,
               dropout=0, vp=1, sequence_parallel=0)
    ctx.update(extra)
    return estimate(["train_act_model_bytes"], **ctx)["train_act_model_bytes"]


def _id(run):
    return (f"{run['preset']}-b{run['batch']}s{run['seq_len']}-{run['attention']}-"
            f"{run['dtype']}{'-ckpt' if run['checkpointing'] else ''}")


def test_the_measurements_cover_what_the_issue_asks():
    presets = {r["preset"] for r in RUNS + NEXT}
    assert len(presets) >= 16
    assert {r["attention"] for r in RUNS} == {"eager", "sdpa"}
    assert {r["dtype"] for r in RUNS} == {"fp32", "bf16"}
    assert {r["checkpointing"] for r in RUNS} == {True, False}


@pytest.mark.parametrize("run", RUNS + NEXT, ids=_id)
def test_hf_activations_match_the_measured_saved_tensors(run):
    tol = VIEW_EFFECT.get((run["preset"], run["batch"]), 0.05)
    assert _formula(run) == pytest.approx(run["saved_bytes"], rel=tol)


def test_most_families_are_within_two_percent():
    close = {"llama-3.2-1b", "mistral-7b", "qwen2.5-0.5b", "gemma-2-2b", "mixtral-8x7b",
             "deepseek-v3", "phi-3-mini", "opt-6.7b", "falcon-7b", "gpt-oss-20b", "qwen3-8b",
             "qwen3-30b-a3b", "llama-4-scout"}
    errors = [abs(_formula(r) / r["saved_bytes"] - 1) for r in RUNS + NEXT
              if r["preset"] in close]
    assert len(errors) >= 180 and max(errors) < 0.021


def test_megatron_stack_is_far_from_what_transformers_keeps():
    # the issue's finding: Korthikanti's count is low by 15–45 % per layer with sdpa
    run = next(r for r in RUNS if r["preset"] == "llama-3.2-1b" and r["attention"] == "sdpa"
               and r["dtype"] == "bf16" and not r["checkpointing"] and r["batch"] == 2)
    megatron = estimate(["megatron_act_per_layer_bytes"], model=run["config"], batch=2,
                        seq_len=64, precision="bf16-mixed", attention="sdpa", recompute="none",
                        tp=1, cp=1, dp=1, dropout=0, sequence_parallel=0)
    # Korthikanti per token (e = 2, h 256, 8 heads of 32, 2 KV heads, SwiGLU f 512):
    # 4e·h + e·(a·2d + k·2d + 3f) + 4a = 2048 + 2·(512 + 128 + 1536) + 32 = 6432
    assert megatron["megatron_act_per_layer_bytes"] == 128 * 6432
    measured_layer = run["layer_bytes"][1]      # layer 1 (layer 0 also holds cos/sin)
    assert 0.15 < 1 - 128 * 6432 / measured_layer < 0.45


def test_llama_2_70b_hf_sdpa_by_hand():
    # Llama-2-70B, bf16, sdpa (no window), batch 1 × 4096, one layer, per token (bytes):
    #   2 RMSNorms: 2 × (4h fp32 copy + 4 rsqrt + 2h normalised) + 2 outputs × 2h
    #   attention: 2 × (q 64·128 + k 8·128 + v 8·128 + out 64·128) + lse 4 × 64
    #   gated SiLU MLP: 2 × f × (1 input of SiLU + 1 output + 2 operands of the product)
    h, f = 8192, 28672
    per_token = 2 * (4 * h + 4 + 2 * h) + 2 * 2 * h + \
        2 * (64 * 128 + 8 * 128 + 8 * 128 + 64 * 128) + 4 * 64 + 2 * f * 4
    v = estimate(["hf_act_per_layer_bytes"], model="llama-2-70b", micro_batch=1, batch=1,
                 seq_len=4096, precision="bf16-mixed", attention="sdpa", recompute="none",
                 tp=1, cp=1, dp=1, dropout=0, sequence_parallel=0)
    assert v["hf_act_per_layer_bytes"] == pytest.approx(4096 * per_token, rel=1e-12)
    # with checkpointing a layer keeps its input only: 2 bytes × h per token
    w = estimate(["hf_act_per_layer_bytes"], model="llama-2-70b", micro_batch=1, batch=1,
                 seq_len=4096, precision="bf16-mixed", attention="sdpa", recompute="full",
                 tp=1, cp=1, dp=1, dropout=0, sequence_parallel=0)
    assert w["hf_act_per_layer_bytes"] == 4096 * 2 * h


def test_train_memory_takes_stack_and_attention():
    hf = xlcalc.train_memory("llama-3.1-8b", 1, 8192, stack="hf", attention="eager")
    mg = xlcalc.train_memory("llama-3.1-8b", 1, 8192, stack="megatron", attention="flash")
    # eager attention in transformers keeps an fp32 softmax and a bf16 copy per layer:
    # 32 heads × 8192² × 6 bytes × 32 layers = 412 GB
    assert hf["activations"] - mg["activations"] > 32 * 32 * 8192 ** 2 * 6
    with pytest.raises(xlcalc.XlcalcError, match="unknown stack 'hff'"):
        xlcalc.train_memory("llama-3.1-8b", 1, 8192, stack="hff")


def test_both_stacks_work_for_every_preset():
    import math
    from xlcalc.models import preset_names
    for name in preset_names():
        for stack in ("megatron", "hf"):
            for attention in ("flash", "sdpa", "eager"):
                for recompute in ("none", "full"):
                    s = xlcalc.train_memory(name, 1, 4096, stack=stack, attention=attention,
                                            recompute=recompute)
                    assert math.isfinite(s["activations"]) and s["activations"] > 0, \
                        (name, stack, attention, recompute)
