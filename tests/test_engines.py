"""Engine presets (vllm, sglang, trt-llm, seed) against the engines' published log lines.

Every expectation below is a figure an engine printed (or the tutorial printed), quoted
with its source, or a number derived by hand from the engine's source code; the
tolerance is the issue's 2 %.  The GPU total is the one the log reports (the driver's
``cudaMemGetInfo`` total), given as ``gpu_memory_bytes``.
"""

import json

import pytest

from xlcalc.engines import ENGINE_COLUMNS, engine_names, engines_table, load_engine
from xlcalc.errors import XlcalcError
from xlcalc.estimate import estimate

GiB = 2 ** 30
MiB = 2 ** 20
H100_REPORTED = 79.18 * GiB     # "Free memory on device 78.57/79.18 GiB" (vLLM, llm-d log)
BASE = dict(quant_group_size=128, pp=1, dtype="bf16", kv_dtype="bf16", dp_attention=1,
            draft_params=0, gpu_memory_utilization=0)       # 0: the engine's fraction


def within(value, expected, rel=0.02):
    return abs(value - expected) <= rel * abs(expected)


def test_presets_state_version_date_rule_and_sources():
    assert set(engine_names()) == {"vllm", "sglang", "trt-llm", "seed"}
    for name in engine_names():
        data = load_engine(name)
        for key in ("full_name", "version", "date", "rule", "values", "defaults_by_gpu_memory"):
            assert data.get(key), (name, key)
        for column in ENGINE_COLUMNS:
            value = data["values"][column]
            if value["value"] and column not in ("kv_free_fraction", "reserve_rule",
                                                 "activation_counted", "memory_fraction"):
                assert value.get("source") or value.get("note"), (name, column)
            src = value.get("source")
            if src and name != "seed":      # the seed's sources are the tutorials themselves
                # a published figure names its URL or commit; a fitted one its tool and data
                assert src.get("url") or src.get("commit") or \
                    (src.get("tool") and src.get("data")), (name, column, src)
        if name != "seed":
            assert data["published_log_lines"], name
            for line in data["published_log_lines"]:
                assert line["source"].get("url") or line["source"].get("commit") or \
                    line["source"].get("path"), (name, line)


def test_table_has_one_row_per_engine_and_numbers_only_in_columns():
    frame = engines_table()
    assert list(frame.index) == sorted(engine_names())
    assert frame.loc["vllm", "memory_fraction"] == 0.9
    assert frame.loc["trt-llm", "kv_free_fraction"] == 0.9
    assert frame.loc["trt-llm", "block_size"] == 32
    assert frame.loc["sglang", "block_size"] == 1
    assert frame.loc["vllm", "block_size"] == 16


def test_vllm_available_kv_memory_llama_3_1_8b_h100():
    """llm-d-benchmark config_explorer/empirical-vllm-memory-results.md (commit 2593348):
    Llama-3.1-8B-Instruct, H100 (79.18 GiB), TP=1, util 0.9: "Available KV cache memory:
    51.38 GiB".  By hand: 0.9 × 79.18 = 71.26 GiB; weights 8.03e9 × 2 B = 14.96 GiB;
    sampler 1024 × 128,256 × 38.4 B = 4.70 GiB (> forward 0.44 GiB); non-torch 0.13 GiB
    → 51.47 GiB."""
    r = estimate(["kv_budget_bytes", "engine_activation_bytes",
                  "max_num_seqs", "max_num_batched_tokens"],
                 model="llama-3.1-8b", gpu="h100-sxm", engine="vllm", tp=1, seq_len=16000,
                 gpu_memory_bytes=H100_REPORTED, **BASE)
    assert r["max_num_seqs"] == 1024 and r["max_num_batched_tokens"] == 8192
    assert within(r["engine_activation_bytes"], 4.76 * GiB, 0.03)    # logged peak activation
    assert within(r["kv_budget_bytes"], 51.38 * GiB)
    by_hand = 0.9 * H100_REPORTED - 8.030261248e9 * 2 - 1024 * 128256 * 38.4 - 0.13 * GiB
    assert r["kv_budget_bytes"] == pytest.approx(by_hand, rel=1e-3)


def test_vllm_blocks_and_concurrency_follow_the_budget():
    """# GPU blocks = floor(budget / (16 × 131,072 B)); concurrency = blocks × 16 / len."""
    r = estimate(["kv_budget_bytes", "kv_num_blocks", "kv_tokens_fit",
                  "max_concurrency"], model="llama-3.1-8b", gpu="h100-sxm",
                 engine="vllm", tp=1, seq_len=16000, gpu_memory_bytes=H100_REPORTED, **BASE)
    block = 16 * 32 * 2 * 8 * 128 * 2
    assert r["kv_num_blocks"] == r["kv_budget_bytes"] // block
    assert r["kv_tokens_fit"] == 16 * r["kv_num_blocks"]
    assert r["max_concurrency"] == pytest.approx(r["kv_tokens_fit"] / 16000)


def test_vllm_small_gpu_defaults():
    """arg_utils.get_batch_defaults: below 70 GiB, max_num_batched_tokens 2048 and
    max_num_seqs 256 (vllm serve)."""
    r = estimate(["max_num_seqs", "max_num_batched_tokens"], gpu="a100-40gb",
                 engine="vllm", tp=1)
    assert (r["max_num_seqs"], r["max_num_batched_tokens"]) == (256, 2048)


def test_sglang_kv_pool_llama_3_1_8b_h100():
    """docs.sglang.ai/start/send_request.html (2025-01-23): Meta-Llama-3.1-8B-Instruct,
    mem_fraction_static=0.88 (printed in server_args), TP=1: "KV Cache is allocated.
    K size: 27.13 GB, V size: 27.13 GB", "max_total_num_tokens=444500".  By hand:
    0.88 × (79.18 − 0.61) − 14.96 = 54.18 GiB; 131,072 B per token → 443,850 tokens."""
    r = estimate(["kv_budget_bytes", "kv_tokens_fit"], model="llama-3.1-8b",
                 gpu="h100-sxm", engine="sglang", tp=1, seq_len=4096,
                 gpu_memory_bytes=H100_REPORTED, **dict(BASE, gpu_memory_utilization=0.88))
    assert within(r["kv_budget_bytes"], 2 * 27.13 * GiB)
    assert within(r["kv_tokens_fit"], 444500)


def test_sglang_mem_fraction_static_rule():
    """server_args._handle_gpu_memory_settings on an H100 at TP=1: chunked_prefill_size
    8192, cuda_graph_max_bs 256, reserved 512 + 1.5 × 8192 + 2 × 256 + 128 = 13,440 MiB
    → round((81,080 − 13,440) / 81,080, 3) = 0.834 with the reported total (SGLang reads
    nvidia-smi's 81,559 MiB and prints 0.835: docs.sglang.ai offline_engine_api, 2026-02-05).
    At TP=8 the graph batch is 512 and the parallel term 1024 MiB: 14,848 MiB → 0.817."""
    common = dict(model="llama-3.1-8b", gpu="h100-sxm", engine="sglang", pp=1,
                  gpu_memory_bytes=H100_REPORTED)
    one = estimate(["engine_memory_fraction", "engine_reserved_bytes",
                    "max_num_batched_tokens", "max_num_seqs"], tp=1, **common)
    assert one["max_num_batched_tokens"] == 8192 and one["max_num_seqs"] == 256
    assert one["engine_reserved_bytes"] == 13440 * MiB
    g = H100_REPORTED / MiB
    assert one["engine_memory_fraction"] == round((g - 13440) / g, 3) == 0.834
    assert within(one["engine_memory_fraction"], 0.835, 0.002)
    eight = estimate(["engine_memory_fraction", "engine_reserved_bytes"], tp=8, **common)
    assert eight["engine_reserved_bytes"] == (512 + 1.5 * 8192 + 2 * 512 + 8 * 128) * MiB
    assert eight["engine_memory_fraction"] == round((g - 14848) / g, 3)


def test_sglang_floor_on_large_gpus_and_tiers_on_small():
    """A 141 GB H200 keeps the 8k/256 tier; a 24 GB GPU (L4) the 2048/24 tier, no floor."""
    h200 = estimate(["max_num_batched_tokens", "max_num_seqs"], gpu="h200",
                    engine="sglang", tp=1)
    assert (h200["max_num_batched_tokens"], h200["max_num_seqs"]) == (8192, 256)
    l4 = estimate(["engine_reserved_bytes", "max_num_seqs"], gpu="l4", engine="sglang",
                  tp=1, pp=1)
    assert l4["max_num_seqs"] == 24
    assert l4["engine_reserved_bytes"] == (512 + 1.5 * 2048 + 2 * 24 + 128) * MiB


def test_trt_llm_free_fraction_and_blocks_memory_md_example():
    """NVIDIA/TensorRT-LLM docs/source/reference/memory.md example log: total 79.10 GiB,
    engine 6,695 MiB, execution context 1,134.01 MiB, runtime buffers 43.29 MB, decoder
    180.30 MB, 64 tokens per block: "Number of blocks in KV cache primary pool: 4060",
    "Allocated 63.44 GiB for max tokens in paged KV cache (259840)" (262,144 B per token).
    By hand: 0.9 × (79.10 GiB − 0.61 GiB context − 6,695 MiB − 1,134 MiB − 223.6 MB)."""
    buffers = 1134.01 * MiB + 43.29 * MiB + 180.30 * MiB
    r = estimate(["kv_budget_bytes", "kv_num_blocks", "kv_tokens_fit"],
                 model="llama-2-7b", gpu="h100-sxm", engine="trt-llm", tp=1, seq_len=2048,
                 gpu_memory_bytes=79.10 * GiB, infer_weights_bytes=6695 * MiB,
                 engine_activation_bytes=buffers, block_size=64,
                 kv_block_bytes=64 * 262144, **BASE)
    assert within(r["kv_budget_bytes"], 63.44 * GiB)
    assert within(r["kv_num_blocks"], 4060)
    assert within(r["kv_tokens_fit"], 259840)


def test_seed_all_memory_no_reserve():
    """Seed 003 §5.5: a 13 B model on a 40 GB GPU leaves (40 GB − 26 GB) for the KV cache."""
    r = estimate(["kv_budget_bytes", "kv_num_blocks"], model="llama-2-13b",
                 gpu="a100-40gb", engine="seed", tp=1, seq_len=2048, gpu_memory_bytes=40e9,
                 **BASE)
    assert within(r["kv_budget_bytes"], 14e9)
    per_token = 40 * 2 * 5120 * 2
    assert r["kv_num_blocks"] == r["kv_budget_bytes"] // per_token


def test_unknown_engine_suggests_a_name():
    with pytest.raises(XlcalcError, match="vllm"):
        estimate(["engine_block_size"], engine="vlm")
    with pytest.raises(XlcalcError, match="engine"):
        load_engine("tgi")


def test_preset_files_are_json_with_finite_numbers():
    for name in engine_names():
        text = json.dumps(load_engine(name))
        assert "NaN" not in text and "Infinity" not in text
