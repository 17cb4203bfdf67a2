"""Number formats (issue 12): bytes per weight of every storage format derived by hand from
its definition, a real model's weight memory in each format, KV-cache formats, and the
compute dtype kept apart from storage (memory and decode read storage bytes, prefill runs
at the compute dtype's peak)."""

import numpy as np
import pytest

import xlcalc
import xlcalc.udfs as u
from xlcalc.cli import main
from xlcalc.errors import XlcalcError
from xlcalc.estimate import estimate
from xlcalc.formats import COMPUTE_DTYPES, DTYPES, KV_DTYPES, dtype_bytes

# ---------------------------------------------------------------- bits per weight by hand
# value bits + (scale and zero-point bits of one block) / (weights in the block)
BY_HAND = {
    "fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8,
    "tf32": 32,                                  # 19 bits (1+8+10) held in fp32 words
    "fp8-block": 8 + 32 / (128 * 128),           # one fp32 scale per 128 × 128 block
    "int4": 4 + (16 + 4) / 128,                  # GPTQ/AWQ: fp16 scale + 4-bit zero per 128
    "nvfp4": (16 * 4 + 8) / 16,                  # 16 fp4 values + one fp8 e4m3 scale
    "mxfp4": (32 * 4 + 8) / 32,                  # 32 fp4 values + one e8m0 exponent
    # GGUF blocks (ggml-common.h): bytes per block × 8 / weights per block
    "q8_0": (2 + 32) * 8 / 32,                   # fp16 d + 32 int8
    "q4_0": (2 + 16) * 8 / 32,                   # fp16 d + 32 nibbles
    "q6_k": (128 + 64 + 16 + 2) * 8 / 256,       # ql, qh, int8 scales, fp16 d
    "q5_k_m": (2 + 2 + 12 + 32 + 128) * 8 / 256,  # Q5_K: d, dmin, 6-bit scales, qh, qs
    "q4_k_m": (2 + 2 + 12 + 128) * 8 / 256,       # Q4_K: d, dmin, 6-bit scales, qs
}


def test_every_storage_format_has_a_hand_derivation():
    assert set(DTYPES()) == set(BY_HAND)
    assert "auto" in COMPUTE_DTYPES() and {"bf16", "fp8", "int8", "nvfp4", "fp8_ds_mla"} <= \
        set(KV_DTYPES()) | {"bf16"}


@pytest.mark.parametrize("fmt", sorted(BY_HAND))
def test_bits_per_weight_of_the_format_blocks(fmt):
    got = estimate("weight_base_bits", dtype=fmt, quant_group_size=128)["weight_base_bits"]
    assert got == pytest.approx(BY_HAND[fmt], rel=1e-12)


def test_the_issues_byte_figures():
    bpw = {f: estimate("weight_base_bits", dtype=f, quant_group_size=128)["weight_base_bits"] / 8
           for f in ("nvfp4", "mxfp4")}
    assert bpw == {"nvfp4": 0.5625, "mxfp4": 0.53125}
    # the GPTQ group is an input
    assert estimate("weight_base_bits", dtype="int4", quant_group_size=32)[
        "weight_base_bits"] == 4 + 20 / 32
    # the seeds' bytes per parameter (values only, no scales)
    assert dtype_bytes("int4") == dtype_bytes("nvfp4") == 0.5 and dtype_bytes("BF16") == 2
    with pytest.raises(XlcalcError, match="unknown dtype 'int3'"):
        dtype_bytes("int3")


# ------------------------------------------------- a real model's weights in every format
# Llama-3.1-8B: 32 layers, h = 4096, 8 KV heads of 128, MLP 14336, vocabulary 128256,
# untied head; 8,030,261,248 parameters (transformers)
H, L, F, V, KVH, D = 4096, 32, 14336, 128256, 8, 128
EMBED = HEAD = V * H
LAYERS = 8_030_261_248 - EMBED - HEAD                 # everything but embedding and head
V_DOWN = L * (H * KVH * D + F * H)                    # attn_v and ffn_down of every layer


def _hand_bytes(fmt):
    base = BY_HAND[fmt]
    layer_bits = {"q4_k_m": base + 0.5 * V_DOWN / LAYERS * (6.5625 - base),   # half the layers'
                  "q5_k_m": base + 0.5 * V_DOWN / LAYERS * (6.5625 - base)}   # attn_v/ffn_down
    embed_bits = {"fp32": 32, "tf32": 32, "q8_0": 8.5, "q6_k": 6.5625, "q5_k_m": 5.5, "q4_k_m": 4.5,
                  "q4_0": 4.5}.get(fmt, 16)           # 16-bit unless the format says otherwise
    head_bits = {"fp32": 32, "tf32": 32, "q8_0": 8.5, "q6_k": 6.5625, "q5_k_m": 6.5625, "q4_k_m": 6.5625,
                 "q4_0": 6.5625}.get(fmt, 16)         # llama.cpp: output.weight in Q6_K
    return (LAYERS * layer_bits.get(fmt, base) + EMBED * embed_bits + HEAD * head_bits) / 8


@pytest.mark.parametrize("fmt", sorted(BY_HAND))
def test_weight_memory_of_llama_3_1_8b_in_every_format(fmt):
    got = xlcalc.weights_memory("llama-3.1-8b", fmt)
    assert got == pytest.approx(_hand_bytes(fmt), rel=1e-12)


def test_gguf_sizes_against_llama_cpp_table():
    """llama.cpp tools/quantize/README.md @ f4a71e707e2c: bits/weight of Llama-3.1-8B."""
    table = {"q4_k_m": 4.8944, "q5_k_m": 5.7036, "q6_k": 6.5633, "q8_0": 8.5008}
    for fmt, bpw in table.items():
        ours = xlcalc.weights_memory("llama-3.1-8b", fmt) * 8 / 8_030_261_248
        assert ours == pytest.approx(bpw, rel=1e-3), fmt     # norms stay f32 in GGUF
    # the mix rule by hand: use_more_bits picks exactly 16 of 32 layers
    picks = [i for i in range(32) if i < 4 or i >= 28 or (i - 4) % 3 == 2]
    assert len(picks) == 16


def test_tied_embeddings_in_gguf_take_the_output_type():
    # Llama-3.2-1B ties its embedding: llama.cpp stores the shared tensor as output (Q6_K)
    p = xlcalc.params("llama-3.2-1b")
    assert p["lm_head"] == 0
    got = xlcalc.weights_memory("llama-3.2-1b", "q8_0")
    assert got == pytest.approx(p["total"] * 8.5 / 8)
    emb_bits = estimate("embed_bytes_per_param", model="llama-3.2-1b", dtype="q4_0")
    assert emb_bits["embed_bytes_per_param"] == 6.5625 / 8


# ------------------------------------------------------------------------- KV formats

def test_kv_formats_by_hand():
    per_token = xlcalc.kv_cache_bytes("llama-3.1-8b", 1, 1, "bf16")      # 32 × 2 × 8 × 128 × 2
    assert per_token == L * 2 * KVH * D * 2
    assert xlcalc.kv_cache_bytes("llama-3.1-8b", 1, 1, "fp8") == per_token / 2
    # int8 per token and head: one byte per element + 4 bytes per 128-element head vector
    assert xlcalc.kv_cache_bytes("llama-3.1-8b", 1, 1, "int8") == pytest.approx(
        L * 2 * KVH * (D * 1 + 4))
    assert xlcalc.kv_cache_bytes("llama-3.1-8b", 1, 1, "nvfp4") == pytest.approx(
        L * 2 * KVH * D * (4 + 8 / 16) / 8)


def test_mla_fp8_layout_is_656_bytes_per_token_and_layer():
    # DeepSeek-V3: 61 layers, latent 512 + rope 64 per token per layer
    def per_token(kv):
        return estimate("kv_cache_bytes_per_token", model="deepseek-v3", kv_dtype=kv,
                        tp=1)["kv_cache_bytes_per_token"]
    assert per_token("fp8_ds_mla") == pytest.approx(61 * (512 * 1 + 4 * 4 + 64 * 2))
    assert 512 + 4 * 4 + 64 * 2 == 656
    assert per_token("fp8") == 61 * 576 and per_token("bf16") == 61 * 576 * 2


# ------------------------------------------------------------- compute apart from storage

A100, H100 = "a100-80gb", "h100-sxm"


def _plan(gpu, dtype, **kw):
    return estimate(["peak_tflops", "compute_dtype_used"], gpu=gpu, dtype=dtype,
                    compute_dtype=kw.get("compute_dtype", "auto"))


@pytest.mark.parametrize("gpu, dtype, compute, peak", [
    (A100, "fp8", "bf16", 312),           # W8A16: Marlin dequantises on Ampere
    (A100, "int4", "bf16", 312),
    (A100, "nvfp4", "bf16", 312),
    (A100, "int8", "int8", 624),          # W8A8 int8 on Ampere's int8 tensor cores
    (H100, "fp8", "fp8", 1978.9),
    (H100, "fp8-block", "fp8", 1978.9),
    (H100, "nvfp4", "bf16", 989.4),       # no fp4 on Hopper
    ("b200", "nvfp4", "fp4", 9000),
    ("b200", "mxfp4", "fp4", 9000),
    ("mi355x", "mxfp4", "fp4", 10066.3),
    ("v100-32gb", "bf16", "fp16", 125),   # no bf16 on Volta: the same 2 bytes in fp16
    ("t4", "int4", "fp16", 65),
    ("tpu-v5e", "fp16", "bf16", 197),     # TPUs multiply in bf16
    ("rtx-4090", "q4_k_m", "fp16", 165.2),
    (H100, "fp32", "fp32", 66.9),
])
def test_auto_compute_is_the_best_the_gpu_supports(gpu, dtype, compute, peak):
    v = _plan(gpu, dtype)
    assert v["compute_dtype_used"] == compute and v["peak_tflops"] == peak


def test_fp8_weights_on_an_a100_memory_ttft_and_tpot():
    """Memory at storage bytes, TTFT at the bf16 peak, TPOT from the storage bytes read."""
    m = "llama-3.1-8b"
    w8 = (LAYERS * 1 + (EMBED + HEAD) * 2)            # fp8 layers, 16-bit embedding and head
    mem = xlcalc.inference_memory(m, 1, 1024, dtype="fp8", gpu=A100)
    assert mem["weights"] == w8 and mem["fits"]
    lat = xlcalc.inference_latency(m, A100, 1, 1024, 64, dtype="fp8", mfu=0.5)
    assert lat["compute_dtype"] == "bf16" and np.isfinite(lat["tpot_s"])
    flops = estimate("prefill_flops", model=m, batch=1, prompt_len=1024)["prefill_flops"]
    assert lat["prefill_compute_s"] == pytest.approx(flops / (312e12 * 0.5))
    step = xlcalc.decode_step(m, A100, 1, 1024, dtype="fp8")
    assert step["weights_read_bytes"] == w8            # storage bytes, not 16-bit
    bf16_step = xlcalc.decode_step(m, A100, 1, 1024)
    assert step["memory_s"] < 0.6 * bf16_step["memory_s"]
    # an explicit fp8 compute is what the A100 cannot do
    with pytest.raises(XlcalcError, match="compute_dtype must be a compute dtype a100-80gb "
                                          r"supports \(auto, fp32, tf32, fp16, bf16, int8\)"):
        xlcalc.inference_latency(m, A100, 1, 1024, 64, dtype="fp8", compute_dtype="fp8")


def test_v100_defaults_produce_numbers_and_explicit_bf16_is_the_clear_error():
    ms = u.DECODE_MS("llama-2-7b", "v100-32gb", 1.0, 1024.0)
    assert isinstance(ms, float) and ms > 0
    assert u.PREFILL_MS("llama-2-7b", "v100-32gb", 1.0, 512.0) > 0
    assert u.DECODE_MS("llama-2-7b", "v100-32gb", 1.0, 1024.0, None, None, None, None, "bf16") \
        == "#VALUE! compute_dtype must be a compute dtype v100-32gb supports (auto, fp32, " \
           "fp16), got 'bf16'"
    # an explicit compute dtype the GPU has runs at that peak: fp8 on an H100 for bf16 weights
    fp8 = xlcalc.prefill_time("llama-2-7b", H100, 8, 2048, compute_dtype="fp8")
    bf16 = xlcalc.prefill_time("llama-2-7b", H100, 8, 2048)
    assert fp8 < bf16


def test_a_sweep_over_formats_and_gpus_is_one_call_with_the_same_answers():
    frame = xlcalc.sweep(["peak_tflops", "compute_dtype_used", "model_weights_bytes"],
                         model="llama-2-7b", gpu=[A100, H100, "v100-32gb"],
                         dtype=["bf16", "fp8", "int4", "q4_k_m"], compute_dtype="auto",
                         quant_group_size=128)
    for _, row in frame.iterrows():
        single = estimate(["peak_tflops", "compute_dtype_used", "model_weights_bytes"],
                          model="llama-2-7b", gpu=row["gpu"], dtype=row["dtype"],
                          compute_dtype="auto", quant_group_size=128)
        assert row.peak_tflops == single["peak_tflops"]
        assert row.compute_dtype_used == single["compute_dtype_used"]
        assert row.model_weights_bytes == single["model_weights_bytes"]


def test_cli_formats_and_gpus(capsys):
    import json
    assert main(["formats", "--json"]) == 0
    rows = {r["dtype"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["nvfp4"]["bytes_per_weight"] == 0.5625 and rows["int4"]["compute"] == "bf16"
    assert main(["formats", "--model", "llama-3.1-8b", "--json"]) == 0
    rows = {r["dtype"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["q4_k_m"]["weights_GB"] == pytest.approx(_hand_bytes("q4_k_m") / 1e9)
    assert main(["formats", "--kind", "kv", "--json"]) == 0
    assert "fp8_ds_mla" in capsys.readouterr().out
    assert main(["gpus", "H100", "--json"]) == 0
    fields = {r["field"]: r for r in json.loads(capsys.readouterr().out)}
    assert fields["memory_bytes_reported"]["value"] == round(79.22 * 2 ** 30)
    assert "vllm-project/vllm/pull/10511" in fields["memory_bytes_reported"]["source"]
    assert main(["gpus", "--json"]) == 0
    table = {r["gpu"]: r for r in json.loads(capsys.readouterr().out)}
    assert table["h200"]["memory_gib_reported"] == pytest.approx(139.81)
