"""KV cache and linear-attention state per layer kind, against a real cache probe.

Ground truth: ``tests/data/kv_probe.json``, written once by ``tests/data/make_kv_probe.py``
(transformers 5.24 on CPU, bf16): small rebuilds of each layer-kind family run a real
forward pass with ``use_cache=True`` at sequence lengths below, at and above the window /
chunk (8 tokens).  ``attended`` is what a layer's cache update hands the attention of the
``s``-th token (prefill of s − 1 tokens, then one decode step): the KV a layer holds while
that token is processed, which is xlcalc's ``seq_len = s``.
"""

import json
from pathlib import Path

import pytest

import xlcalc
from xlcalc.estimate import estimate
from xlcalc.models import load_model

PROBE = json.loads((Path(__file__).parent / "data" / "kv_probe.json").read_text())
CASES = sorted(k for k in PROBE if not k.startswith("_"))
BF16 = 2


def _model(name):
    return load_model(dict(PROBE[name]["config"]))


def _rows(name):
    for s, rows in PROBE[name]["lengths"].items():
        yield int(s), rows


def test_probe_covers_every_layer_kind():
    kinds = {r["kind"] for name in CASES for _, rows in _rows(name) for r in rows}
    assert {"full_attention", "sliding_attention", "chunked_attention", "linear_attention",
            "indexed_attention"} <= kinds
    assert {int(s) for s in PROBE["llama"]["lengths"]} == {3, 8, 9, 20}   # window 8


@pytest.mark.parametrize("name", CASES)
def test_tokens_each_kind_holds(name):
    """full: s; sliding: min(s, window); chunked: min(s, chunk) — at every probed s."""
    m = _model(name)
    for s, rows in _rows(name):
        v = estimate(["kv_cached_tokens", "kv_window_tokens", "kv_chunk_tokens"], model=m,
                     seq_len=s, block_size=1)
        for r in rows:
            if "attended" not in r:
                continue
            if r["cache_layer"].startswith("DynamicSliding") and m.num_chunked_layers:
                expected = v["kv_chunk_tokens"]
            elif r["cache_layer"].startswith("DynamicSliding"):
                expected = v["kv_window_tokens"]
            else:
                expected = v["kv_cached_tokens"]
            assert r["attended"]["tokens"] == expected, (s, r)
            # transformers keeps window - 1 past tokens between steps (the new one makes w)
            if r["cache_layer"].startswith("DynamicSliding") and s >= 8:
                assert r["tokens"] == 7


@pytest.mark.parametrize("name", CASES)
def test_kv_bytes_equal_the_probe(name):
    """Σ over layers of the K/V (or MLA latent) bytes the step attends to, plus the cached
    index keys, equals xlcalc's kv_cache_bytes at batch 1."""
    m = _model(name)
    for s, rows in _rows(name):
        probe = sum(r["attended"]["kv_bytes"] for r in rows if "attended" in r) + \
            sum(r.get("index_bytes", 0) for r in rows)
        ours = xlcalc.kv_cache_bytes(m, batch=1, seq_len=s, kv_dtype="bf16")
        assert ours == probe, (s, ours, probe)


def test_mla_caches_the_latent_and_the_index_key():
    """transformers 5.24 caches the MLA latent (kv_lora_rank + rope values), and
    DeepSeek-V3.2 one index_head_dim key beside it, per token per layer."""
    for name in ("deepseek_v3", "deepseek_v32"):
        cfg = PROBE[name]["config"]
        row = PROBE[name]["lengths"]["20"][0]
        assert row["kv_bytes"] == 20 * (cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"]) * BF16
    row = PROBE["deepseek_v32"]["lengths"]["20"][0]
    assert row["index_bytes"] == 20 * PROBE["deepseek_v32"]["config"]["index_head_dim"] * BF16


@pytest.mark.parametrize("name", [n for n in CASES if _model(n).num_linear_layers])
def test_linear_state_equals_the_probe(name):
    """Recurrent state H·N·P per linear layer (transformers: fp32 for gated DeltaNet and
    Mamba-2, the model dtype for MiniMax's lightning attention), the same at every length;
    conv state: transformers keeps kernel columns, xlcalc (as vLLM) kernel − 1."""
    m = _model(name)
    linear = [r for _, rows in _rows(name) for r in rows if r["kind"] == "linear_attention"]
    assert len(linear) == m.num_linear_layers * 4           # four lengths
    recurrent = {r["recurrent_states"]["bytes"] for r in linear}
    dtype = {r["recurrent_states"]["dtype"] for r in linear}
    state_bytes = 4 if dtype == {"torch.float32"} else 2
    assert state_bytes == (2 if name == "minimax" else 4)
    v = estimate(["linear_recurrent_state_elements", "linear_conv_state_elements",
                  "linear_conv_channels", "state_bytes_per_sequence"], model=m, tp=1,
                 dtype="bf16", state_dtype_bytes=state_bytes)
    assert recurrent == {v["linear_recurrent_state_elements"] * state_bytes}
    conv = {r.get("conv_states", {}).get("bytes", 0) for r in linear}
    kernel = m.linear_conv_kernel
    expected_conv = (v["linear_conv_state_elements"] + (v["linear_conv_channels"] if kernel
                                                         else 0)) * BF16
    assert conv == {expected_conv}
    one_column = v["linear_conv_channels"] * BF16 if kernel else 0
    probe_per_sequence = sum(r["recurrent_states"]["bytes"] + r.get("conv_states", {}).get(
        "bytes", 0) for r in linear) / 4
    assert v["state_bytes_per_sequence"] == probe_per_sequence - m.num_linear_layers * one_column


def test_state_is_per_sequence_and_in_every_memory_figure():
    m = _model("qwen3_next")
    one = estimate(["state_cache_bytes", "kv_cache_bytes"], model=m, batch=1, seq_len=8,
                   kv_dtype="bf16", tp=1, block_size=1, dtype="bf16")
    long = estimate(["state_cache_bytes", "kv_cache_bytes"], model=m, batch=3, seq_len=20,
                    kv_dtype="bf16", tp=1, block_size=1, dtype="bf16")
    assert long["state_cache_bytes"] == 3 * one["state_cache_bytes"] > 0   # not per token
    mem = xlcalc.inference_memory(m, batch=3, seq_len=20, block_size=1)
    assert mem["kv_cache"] == long["kv_cache_bytes"] + long["state_cache_bytes"]


PRESET_PROBE = PROBE.get("_presets", {})


def test_every_preset_was_probed():
    from xlcalc.models import preset_names
    assert set(preset_names()) <= set(PRESET_PROBE)


@pytest.mark.parametrize("name", sorted(PRESET_PROBE))
def test_preset_kv_per_token_and_state_equal_a_rebuild(name):
    """Every preset rebuilt small (its first layers of every kind, real widths) and run:
    the K/V (or latent) bytes one token adds to an attention layer of each kind, the index
    key, and a linear layer's conv and recurrent state, against xlcalc's elements."""
    m = load_model(name)
    v = estimate(["kv_attention_elements_per_token_layer", "linear_recurrent_state_elements",
                  "linear_conv_state_elements", "linear_conv_channels"], model=m, tp=1)
    for kind, row in PRESET_PROBE[name]["per_kind"].items():
        if "kv_bytes_per_token" in row:
            assert row["kv_bytes_per_token"] == v["kv_attention_elements_per_token_layer"] * BF16
        if "index_bytes_per_token" in row:
            assert row["index_bytes_per_token"] == m.index_head_dim * BF16
        if kind == "linear_attention":
            rec = row["recurrent_states"]
            assert rec["dtype"] == "torch.float32"             # transformers: fp32 states
            assert rec["bytes"] == v["linear_recurrent_state_elements"] * 4
            assert row["conv_states"]["bytes"] == \
                (v["linear_conv_state_elements"] + v["linear_conv_channels"]) * BF16
    kinds = {k for k in PRESET_PROBE[name]["per_kind"]}
    assert ("linear_attention" in kinds) == bool(m.num_linear_layers)
    assert ("chunked_attention" in kinds) == bool(m.num_chunked_layers)
    if m.index_head_dim:
        assert "index_bytes_per_token" in PRESET_PROBE[name]["per_kind"]["indexed_attention"]
