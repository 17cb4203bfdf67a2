"""Sweeps (vectorised grids) and the command line."""

import json

import numpy as np
import pytest

import xlcalc
from xlcalc.cli import main


def test_sweep_rows_equal_scalar_calls():
    frame = xlcalc.sweep(["kv_cache_bytes", "params_total"],
                         model=["llama-2-7b", "llama-2-70b", "mixtral-8x7b"],
                         batch=[1, 8, 64], seq_len=[512, 4096], kv_dtype=["bf16", "fp8"],
                         tp=[1, 2], block_size=1)
    assert len(frame) == 3 * 3 * 2 * 2 * 2
    assert list(frame.columns[:6]) == ["model", "batch", "seq_len", "kv_dtype", "tp",
                                       "block_size"]
    for _, row in frame.sample(10, random_state=1).iterrows():
        expected = xlcalc.kv_cache_bytes(row.model, row.batch, row.seq_len, row.kv_dtype,
                                         row.tp)
        assert row.kv_cache_bytes == expected
        assert row.params_total == xlcalc.params(row.model)["total"]
    # the first axis varies slowest
    assert list(frame.model[:24].unique()) == ["llama-2-7b"]


def test_sweep_accepts_custom_models_and_gpus():
    custom = [["preset", "llama-2-7b"], ["num_hidden_layers", 16]]
    frame = xlcalc.sweep(["params_total", "memory_gb"], model=["llama-2-7b", custom],
                         gpu=["h100-sxm", {"memory_gb": 24, "memory_bandwidth_gb_per_s": 1,
                                           "peak_tflops_fp16": 1}])
    assert len(frame) == 4
    assert frame.memory_gb.tolist() == [80, 24, 80, 24]
    assert frame.params_total.iloc[0] > frame.params_total.iloc[2]


def test_sweep_validates_every_value():
    with pytest.raises(xlcalc.XlcalcError, match="tp must be a divisor of num_heads=71, got 2"):
        xlcalc.sweep(["kv_cache_bytes"], model=["llama-2-7b", "falcon-7b"], batch=1,
                     seq_len=128, tp=[1, 2], kv_dtype="bf16", block_size=1)


def test_breakdown_with_array_inputs_gives_a_frame():
    from xlcalc.estimate import breakdown
    out = breakdown({"kv": "kv_cache_bytes"}, model="llama-2-7b", batch=np.array([1, 2]),
                    seq_len=10, kv_dtype="bf16", tp=1, block_size=1)
    assert out["kv"].tolist() == [10 * 524_288, 20 * 524_288]


def test_cli_params_json(capsys):
    assert main(["params", "llama-2-7b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 6_738_415_616 and data["lm_head"] == 32000 * 4096


def test_cli_kv_cache(capsys):
    assert main(["kv-cache", "llama-2-70b", "--batch", "8", "--seq-len", "4096",
                 "--tp", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kv_cache_bytes"] == 8 * 4096 * 80 * 2 * 1 * 128 * 2
    assert main(["kv-cache", "llama-2-70b", "--batch", "8", "--seq-len", "4096"]) == 0
    assert "kv_cache_GB       10.74\n" in capsys.readouterr().out     # 4 significant digits


def test_cli_lists(capsys):
    assert main(["models", "--json"]) == 0
    names = [r["model"] for r in json.loads(capsys.readouterr().out)]
    assert "llama-2-70b" in names and "deepseek-v3" in names
    assert main(["gpus", "--json"]) == 0
    gpus = {r["gpu"]: r for r in json.loads(capsys.readouterr().out)}
    assert gpus["h100-sxm"]["memory_bandwidth_gb_per_s"] == 3350


def test_cli_errors_exit_2(capsys):
    assert main(["kv-cache", "llama-2-70b", "--batch", "0", "--seq-len", "10"]) == 2
    assert "batch must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["params", "lama-2-70b"]) == 2
    assert "did you mean 'llama-2-70b'" in capsys.readouterr().err


def test_cli_seed_examples(capsys):
    assert main(["seed", "--json"]) == 0
    names = {r["example"] for r in json.loads(capsys.readouterr().out)}
    assert {"llama-70b-inference", "llama-7b-training"} <= names
    assert main(["seed", "llama-70b-inference", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    kv = [r for r in rows if r["item"] == "KV cache, batch 8 × 4096 tokens"][0]
    # seed 000 §2.4 prints 104 GB; its own product is 2·8·4096·80·8·128·2 bytes
    assert kv["seed value"] == 104 and kv["status"] == "differs"
    assert kv["computed value"] == pytest.approx(2 * 8 * 4096 * 80 * 8 * 128 * 2 / 1e9)
