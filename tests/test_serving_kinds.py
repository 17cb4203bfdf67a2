"""Serving memory, capacity and latency per layer kind, checked by hand from the fields.

Windows cap sliding layers, chunked layers hold at most their chunk (and attend to the
tokens of their own chunk), DeepSeek-V3.2 caches an index key beside its latent and reads
top-k latents, and linear-attention layers hold a fixed state per sequence.
"""

import math

import pytest

import xlcalc
from xlcalc.estimate import estimate
from xlcalc.models import load_model
from xlcalc.serving import SERVING_DEFAULTS

BF16 = 2


def plan(**kw):
    return {**SERVING_DEFAULTS, "gpu": "h100-sxm", **kw}


def test_sliding_layers_hold_their_window():
    # gemma-3-27b: 10 full + 52 sliding (window 1024) layers, 16 KV heads of 128
    per_token_layer = 2 * 16 * 128 * BF16
    kv = xlcalc.kv_cache_bytes("gemma-3-27b", batch=2, seq_len=32768)
    assert kv == 2 * (10 * 32768 + 52 * 1024) * per_token_layer
    short = xlcalc.kv_cache_bytes("gemma-3-27b", batch=1, seq_len=500)
    assert short == 62 * 500 * per_token_layer                 # below the window: all hold all


def test_chunked_layers_hold_at_most_their_chunk():
    # llama-4-scout: 12 full + 36 chunked (8192) layers, 8 KV heads of 128
    per_token_layer = 2 * 8 * 128 * BF16
    kv = xlcalc.kv_cache_bytes("llama-4-scout", batch=1, seq_len=100_000)
    assert kv == (12 * 100_000 + 36 * 8192) * per_token_layer
    # a decode step at context 10,000 reads 10,000 tokens in full layers and the 1,808
    # tokens of the current chunk (10,000 − 8,192) in chunked layers
    read = estimate("decode_kv_read_bytes", **plan(model="llama-4-scout", batch=1,
                                                   context_len=10_000))["decode_kv_read_bytes"]
    assert read == (12 * 10_000 + 36 * 1808) * per_token_layer


def test_sparse_mla_caches_the_index_key_and_reads_top_k():
    # deepseek-v3.2: latent 512 + rope 64, index key 128, top-k 2048, 61 layers
    m = load_model("deepseek-v3.2")
    assert xlcalc.kv_cache_bytes_per_token(m) == 61 * (512 + 64 + 128) * BF16
    read = estimate("decode_kv_read_bytes", **plan(model=m, batch=1, context_len=10_000,
                                                   tp=8))["decode_kv_read_bytes"]
    assert read == 61 * (2048 * (512 + 64) + 10_000 * 128) * BF16


def _state(m, state_bytes):
    g, n = m.linear_num_key_heads, m.linear_key_head_dim
    h, p = m.linear_num_value_heads, m.linear_value_head_dim
    conv = (2 * g * n + h * p) * (m.linear_conv_kernel - 1) * BF16
    return m.num_linear_layers * (conv + h * n * p * state_bytes)


def test_linear_state_is_per_sequence_in_memory_and_capacity():
    m = load_model("qwen3-next-80b-a3b")        # 36 gated DeltaNet + 12 attention layers
    state = _state(m, BF16)                     # vLLM: the model dtype
    assert state == 36 * (8192 * 3 * 2 + 32 * 128 * 128 * 2)
    fp32 = estimate("state_bytes_per_sequence", model=m, dtype="bf16", tp=1,
                    state_dtype_bytes=4)["state_bytes_per_sequence"]
    assert fp32 == _state(m, 4)                 # transformers keeps fp32 states
    kv_tok = 12 * 2 * 2 * 256 * BF16            # 2 KV heads of 256 in 12 layers
    mem = xlcalc.inference_memory(m, batch=8, seq_len=4096, tp=4)
    per_gpu_state = state * math.ceil(32 / 4) / 32
    assert mem["kv_cache"] == pytest.approx(8 * (4096 * kv_tok / 2 + per_gpu_state))
    c = estimate(["kv_budget_bytes", "kv_sequence_bytes", "max_sequences"],
                 **plan(model=m, seq_len=4096, tp=4, block_size=16))
    assert c["kv_sequence_bytes"] == pytest.approx(4096 * kv_tok / 2 + per_gpu_state)
    assert c["max_sequences"] == math.floor(c["kv_budget_bytes"] / c["kv_sequence_bytes"])


def test_state_counts_in_the_kv_transfer_of_a_request():
    m = load_model("granite-4.0-h-small")
    t = estimate(["kv_transfer_bytes"], model=m, prompt_len=1000, kv_dtype="bf16",
                 dtype="bf16")["kv_transfer_bytes"]
    assert t == 4 * 1000 * 2 * 8 * 128 * BF16 + _state(m, BF16)


def test_chunked_decode_sum_beyond_two_chunk_ends_is_an_upper_bound():
    """The closed-form sum is exact while the steps cross at most two chunk boundaries;
    past them chunked layers are taken to keep growing: never below the step loop."""
    import numpy as np
    c = plan(model="llama-4-scout", tp=8, batch=8, prompt_len=100, output_len=30_000)
    got = estimate("decode_total_s", **c)["decode_total_s"]
    contexts = np.arange(101, 100 + 30_000, dtype=float)
    loop = float(np.sum(estimate("decode_step_s", **{**c, "context_len": contexts})
                        ["decode_step_s"]))
    assert loop <= got < 1.05 * loop
