"""The worked examples of seeds 001, 002 and 004 and the remaining figures of 000 and 003,
row by row: the seed's figure (printed, or its formula evaluated here), the value computed
by hand here from the architecture and the spec sheets, and the product's row, which must
agree with the hand value and say why it differs from the seed's.

Architectures (config.json): GPT-2 h 768, L 12, a 12, d 64, f 3072, V 50257, 1024 learned
positions, biases; Llama-2-7B / LLaMA-7B h 4096, L 32, a = k 32, d 128, f 11008, V 32000;
Llama-3.1-8B h 4096, L 32, a 32, k 8, f 14336, V 128256; Llama-2-70B h 8192, L 80, a 64,
k 8, f 28672, V 32000; llama-13b h 5120, L 40, a = k 40, f 13824; DeepSeek-V3 L 61, a 128,
kv_lora_rank 512, rope 64.  Spec sheets: A100 312 TFLOP/s bf16/fp16, 2.039 TB/s (80 GB) /
1.555 TB/s (40 GB); H100 SXM 989.4 TFLOP/s, 3.35 TB/s, NVLink 450 GB/s; V100 900 GB/s,
NVLink 150 GB/s; RTX 4090 82.6 TFLOP/s fp32, 165.2 bf16, 1,008 GB/s.
"""

import math

import pytest

from xlcalc.worked import REASONS, compare, example

GIB, MIB = 2.0 ** 30, 2.0 ** 20

# GPT-2
h, L, a, d, f, V = 768, 12, 12, 64, 3072, 50257
s = 1024
GPT2_TOTAL = 124_439_808
GPT2_LAYER = 12 * h * h + 13 * h                       # 7,087,872
GPT2_QKV = 3 * h * h + 3 * h                           # W_Q, W_K, W_V and biases
GPT2_O = h * h + h
GPT2_MLP = 8 * h * h + 5 * h
GPT2_CAUSAL = 2 * h * s * (s + 1) / 2                  # one attention product, causal
GPT2_LAYER_FLOPS = 2 * s * (GPT2_QKV + GPT2_O + GPT2_MLP) + 2 * GPT2_CAUSAL
# Llama-2-7B
H7, L7, F7, V7 = 4096, 32, 11008, 32000
P7 = 6_738_415_616
MATMUL7 = L7 * (4 * H7 * H7 + 3 * H7 * F7) + V7 * H7   # weights a token multiplies
WEIGHTS7 = 2 * P7
# Llama-2-70B
H70, L70, A70, K70, D70, F70, V70 = 8192, 80, 64, 8, 128, 28672, 32000
P70 = 68_976_648_192
LAYER70_QKV = H70 * (A70 * D70 + 2 * K70 * D70)
LAYER70 = LAYER70_QKV + H70 * H70 + 3 * H70 * F70    # matrices of one layer
MATMUL70 = L70 * LAYER70 + V70 * H70
# llama-13b
H13, L13, F13, P13 = 5120, 40, 13824, 13_015_864_320


def _rows(name):
    frame = compare(name).set_index("item")
    assert frame.index.is_unique, name
    return frame


def _check(frame, item, seed, computed, rel=1e-9):
    row = frame.loc[item]
    if isinstance(seed, str):
        assert row["seed value"] == seed, item
    else:
        assert row["seed value"] == pytest.approx(seed, rel=1e-9), item
    if isinstance(computed, str):
        assert row["computed value"] == computed, item
    else:
        assert row["computed value"] == pytest.approx(computed, rel=rel), item
    return row


def _every_row_is_explained(frame):
    for item, row in frame.iterrows():
        assert row["note"], item
        if row["status"] in ("differs", "outside range"):
            assert any(reason in row["note"] for reason in REASONS), item


# --------------------------------------------------------------------------- seed 001

def test_seed_001_parameters():
    r = _rows("seed-001-resources")
    _check(r, "all blocks 12 · l · d² (GPT-2: 12 × 12 × 768²)", 12 * 12 * h * h / 1e6,
           (L * GPT2_LAYER + 2 * h) / 1e6)
    _check(r, "one layer 12d² + 13d (d = 768)", GPT2_LAYER / 1e6,
           (4 * h * h + 4 * h + 8 * h * h + 5 * h + 4 * h) / 1e6)
    _check(r, "MHA 4d² + 4d", (4 * h * h + 4 * h) / 1e6, (4 * h * h + 4 * h) / 1e6)
    _check(r, "FFN 8d² + 5d", GPT2_MLP / 1e6, (h * 4 * h + 4 * h + 4 * h * h + h) / 1e6)
    # tied head, 1024 positions, final LayerNorm: (V + 1024)·h + 12 layers + 2h
    assert (V + 1024) * h + L * GPT2_LAYER + 2 * h == GPT2_TOTAL
    _check(r, "model l(12d² + 13d) + 2vd", (L * GPT2_LAYER + 2 * V * h) / 1e6, GPT2_TOTAL / 1e6)
    _check(r, "12 · l · d² still holds for SwiGLU at d_FFN = 8d/3 (Llama-2-7B)",
           12 * L7 * H7 * H7 / 1e6,
           (L7 * (4 * H7 * H7 + 3 * H7 * F7 + 2 * H7) + H7) / 1e6)
    seed_l3 = 32 * (2 * 4096 ** 2 + 2 * 4096 * 4096 * 8 / 32 + 3 * 4096 * 14336) + \
        2 * 128256 * 4096
    _check(r, "LLaMA-3: n(2d² + 2d·d·kv/h + 3d·d_FFN) + 2Vd (Llama-3.1-8B)", seed_l3 / 1e6,
           (seed_l3 + 32 * 2 * 4096 + 4096) / 1e6)
    _check(r, "GQA: d_FFN × 1.3 keeps the parameters (Llama-2-70B: 1.3 × 8d/3)",
           1.3 * 8 / 3 * 8192, 28672)
    assert 1.3 * 8 / 3 * 8192 == pytest.approx(28398.933, abs=0.001)


def test_seed_001_units_and_memory():
    r = _rows("seed-001-resources")
    _check(r, "1000 × 1000 float32 ≈ 4 MB", 4, 1000 * 1000 * 4 / MIB)        # 3.81 MiB
    for item, seed in (("1 B parameters in fp32 = 4 G", 4), ("1 B parameters in fp16/bf16 = 2 G", 2),
                       ("1 B parameters in int8 = 1 G", 1), ("1 B parameters in int4 = 0.5 G", 0.5)):
        row = _check(r, item, seed, 1e9 * seed / GIB)                      # e.g. 3.725 GiB
        assert "unit confusion" in row["note"] and row["status"] == "differs"
    # training / inference for Llama-2-7B, one 2048-token sequence, bf16, FlashAttention
    states = 18 * P7                                         # 2 + 4 + 4 + 8 bytes
    body = L7 * 2048 * (8 * H7 + 2 * (2 * 32 * 128 + 2 * 128 * 32 + 3 * F7))
    lse = L7 * 4 * 32 * 2048
    output = 2 * 2 * 2048 * H7 + 4 * 2048 * V7               # final norm, LM-head input, logits
    train = states + body + lse + output
    infer = WEIGHTS7 + 2048 * L7 * 2 * 32 * 128 * 2 + 2048 * 2 * F7 * 2 + 1e9
    row = _check(r, "training needs 3-4× the memory of inference (Llama-2-7B, 2048 tokens)",
                 "3–4", train / infer)
    assert row["status"] == "outside range" and 8 < train / infer < 8.5
    _check(r, "(2+4) + (2+4) + (4+4) = 20 bytes per parameter (the seed's recipe)", 20, 20)
    _check(r, "20 bytes per parameter against Megatron's bf16 recipe", 20, 2 + 4 + 4 + 8)
    _check(r, "backward ≈ 2 × forward: a training step is 3 forward passes", 3, 1 + 2)
    _check(r, "inference memory = 2 × n_params (fp16)", 2 * GPT2_TOTAL / 1e6,
           2 * GPT2_TOTAL / 1e6)


def test_seed_001_activations():
    r = _rows("seed-001-resources")
    layer = 34 * s * h + 5 * a * s * s                       # Korthikanti Table 2, b = 1
    _check(r, "activations per layer 34bsh + 5bas² (b = 1, s = 1024)", layer / 1e6, layer / 1e6)
    output = 4 * s * h * (1 + V / h)                          # 2sbh + 2sbh + 4sbv
    _check(r, "embedding, final norm and logits: 4sbh/t (1 + v/h)", output / 1e6, output / 1e6)
    _check(r, "l layers: (34bsh + 5bas²) × l", L * layer / 1e6,
           (L * layer + s * h + output) / 1e6)           # + the embedding dropout mask
    _check(r, "13B LLM ≈ 1 MB of memory per token (Llama-13B, fp16)", 1,
           2 * 40 * 5120 * 2 / 1e6)


def test_seed_001_flops():
    r = _rows("seed-001-resources")
    mv_bytes = 2 * (4096 * 4096 + 2 * 4096)
    _check(r, "matrix-vector: one multiply-add (2 FLOPs) per matrix element (4096²)", 2,
           2 * 4096 * 4096 / mv_bytes)
    _check(r, "QKV 6bsh²", 6 * s * h * h / 1e9, 2 * s * GPT2_QKV / 1e9)
    _check(r, "QKᵀ 2bs²h", 2 * s * s * h / 1e9, GPT2_CAUSAL / 1e9)
    _check(r, "attention × V 2bs²h", 2 * s * s * h / 1e9, GPT2_CAUSAL / 1e9)
    _check(r, "output projection 2bsh²", 2 * s * h * h / 1e9, 2 * s * GPT2_O / 1e9)
    _check(r, "MLP 8bsh² + 8bsh²", 16 * s * h * h / 1e9, 2 * s * GPT2_MLP / 1e9)
    _check(r, "MHA block 8sh² + 4s²h (prefill)", (8 * s * h * h + 4 * s * s * h) / 1e9,
           (2 * s * (GPT2_QKV + GPT2_O) + 2 * GPT2_CAUSAL) / 1e9)
    _check(r, "one layer 24bsh² + 4bs²h", (24 * s * h * h + 4 * s * s * h) / 1e9,
           GPT2_LAYER_FLOPS / 1e9)
    _check(r, "prefill 24lh²bs + 4lhbs² + 2bshV",
           (L * (24 * h * h * s + 4 * h * s * s) + 2 * s * h * V) / 1e9,
           (L * GPT2_LAYER_FLOPS + 2 * h * V) / 1e9)
    decode_layer = 2 * (GPT2_QKV + GPT2_O + GPT2_MLP) + 2 * 2 * h * 1025
    _check(r, "decode MHA 8h² + 4(s+1)h and FFN 16h² per token (s + 1 = 1025)",
           (24 * h * h + 4 * 1025 * h) / 1e6, decode_layer / 1e6)
    _check(r, "decode step 24lh²b + 4lhb(s+1) + 2bshV",
           (24 * L * h * h + 4 * L * h * 1025 + 2 * s * h * V) / 1e6,
           (L * decode_layer + 2 * h * V) / 1e6)
    blsh2, bshv = L * s * h * h, s * h * V
    _check(r, "training without checkpointing 72blsh²(1 + s/6h + V/16lh) + 2bshV",
           (72 * blsh2 * (1 + s / (6 * h) + V / (16 * L * h)) + 2 * bshv) / 1e9,
           (72 * blsh2 * (1 + s / (6 * h)) + 6 * bshv) / 1e9)
    # Megatron-DeepSpeed's GLU coefficient on LLaMA-7B (s = 2048, factor 3)
    s7 = 2048
    seed_glu = 32 * 3 * s7 * L7 * H7 ** 2 * (1 + s7 / (6 * H7) + V7 / (16 * L7 * H7))
    exact_glu = 12 * s7 * L7 * H7 ** 2 * ((1 + 1 + s7 / H7) + F7 / H7 * 1.5 + V7 / (2 * L7 * H7))
    _check(r, "Megatron-DeepSpeed: coefficient 32 for GLU (Llama-7B, s = 2048, no "
           "checkpointing)", seed_glu / 1e9, exact_glu / 1e9)
    _check(r, "forward FLOPs ≈ 2 × parameters per token (Llama-2-7B, 1024-token context)",
           2 * P7 / 1e9, (2 * MATMUL7 + 2 * 32 * 256 * 1024 * L7) / 1e9)
    _check(r, "decode self-attention ≈ 1:1 FLOPs to bytes (Llama-2-7B, MHA)", 1,
           2 * 32 * 256 / (2 * 32 * 128 * 2))
    _check(r, "decode self-attention ≈ 1:1 (Llama-2-70B, GQA 8:1)", 1,
           2 * 64 * 256 / (2 * 8 * 128 * 2))


def test_seed_001_megatron_with_checkpointing_counts_the_logits_twice():
    r = _rows("seed-001-resources")
    blsh2, bshv = L * s * h * h, s * h * V
    row = _check(r, "training with checkpointing 96blsh²(1 + s/6h + V/16lh) + 2bshV",
                 (96 * blsh2 * (1 + s / (6 * h) + V / (16 * L * h)) + 2 * bshv) / 1e9,
                 (96 * blsh2 * (1 + s / (6 * h)) + 6 * bshv) / 1e9)
    assert row["status"] == "differs" and "counted twice" in row["note"]


def test_seed_001_rules_of_thumb():
    r = _rows("seed-001-resources")
    # decode turns compute-bound where weights time = (compute − KV time) per sequence
    weights = WEIGHTS7 / 2.039e12
    per_seq = (2 * MATMUL7 + 2 * 32 * 256 * 1 * L7) / 312e12 - 1 * L7 * 2 * 32 * 128 * 2 / 2.039e12
    row = _check(r, "batch < 16 keeps matrix multiplies memory-bound (Llama-2-7B decode on "
                 "A100-80GB, spec rates)", 16, weights / per_seq)
    assert 150 < weights / per_seq < 160 and "rule of thumb" in row["note"]
    # KV-cache saving for GPT-2, 1-token prompt, 100 tokens
    matmul = L * (GPT2_QKV + GPT2_O + GPT2_MLP)
    with_cache = 2 * 100 * matmul + 2 * 100 * h * V + 2 * a * 2 * d * L * 100 * 101 / 2
    without = 2 * 5050 * matmul + 2 * 100 * h * V + \
        2 * a * 2 * d * L * sum(m * (m + 1) / 2 for m in range(1, 101))
    _check(r, "the KV cache saves 1 − 1/s of the compute (s = 100)", 0.99,
           1 - with_cache / without)
    _every_row_is_explained(r)


# --------------------------------------------------------------------------- seed 004

def test_seed_004_parameters_and_flops():
    r = _rows("seed-004-survey")
    _check(r, "self-attention 4H² + 4H", (4 * h * h + 4 * h) / 1e6, (4 * h * h + 4 * h) / 1e6)
    _check(r, "FFN (H × 4H + 4H) + (4H × H + H) = 8H² + 5H", GPT2_MLP / 1e6, GPT2_MLP / 1e6)
    _check(r, "one layer 12H² + 13H ≈ 12H²", GPT2_LAYER / 1e6, GPT2_LAYER / 1e6)
    # the seed's FLOPs are multiply-adds: half of 2 FLOPs each
    _check(r, "[A,B]·[B,C] ≈ 2ABC FLOPs, \"近似为 ABC\" (1024 × 768 · 768 × 768)",
           s * h * h / 1e9, 2 * s * h * h / 1e9)
    _check(r, "QKV projections 3BLH²", 3 * s * h * h / 1e9, 2 * s * GPT2_QKV / 1e9)
    _check(r, "attention scores QKᵀ BHL²", h * s * s / 1e9, GPT2_CAUSAL / 1e9)
    _check(r, "attention output × V BHL²", h * s * s / 1e9, GPT2_CAUSAL / 1e9)
    _check(r, "output projection W_O BLH²", s * h * h / 1e9, 2 * s * GPT2_O / 1e9)
    _check(r, "self-attention 4BLH² + 2BHL²", (4 * s * h * h + 2 * h * s * s) / 1e9,
           (2 * s * (GPT2_QKV + GPT2_O) + 2 * GPT2_CAUSAL) / 1e9)
    _check(r, "FFN 8BLH²", 8 * s * h * h / 1e9, 2 * s * GPT2_MLP / 1e9)
    _check(r, "layer total 12BLH² + 2BHL²", (12 * s * h * h + 2 * h * s * s) / 1e9,
           GPT2_LAYER_FLOPS / 1e9)
    for item in ("[A,B]·[B,C] ≈ 2ABC FLOPs, \"近似为 ABC\" (1024 × 768 · 768 × 768)",
                 "QKV projections 3BLH²", "FFN 8BLH²"):
        assert "multiply-adds counted as FLOPs" in r.loc[item, "note"]


def test_seed_004_kv_softmax_attention_formats():
    r = _rows("seed-004-survey")
    _check(r, "KV = 2 × b × s × layers × heads × head_dim × bytes (Llama-2-7B, MHA, 4096 "
           "tokens)", 2 * 4096 * 32 * 32 * 128 * 2 / 1e9, 2 * 4096 * 32 * 32 * 128 * 2 / 1e9)
    _check(r, "the same formula for Llama-2-70B (GQA)", 2 * 4096 * 80 * 64 * 128 * 2 / 1e9,
           2 * 4096 * 80 * 8 * 128 * 2 / 1e9)
    _check(r, "MQA: every query head shares one K/V (Falcon-7B: 71 heads)", 71, 71 / 1)
    scores = a * s * s                                        # one layer's scores, fp16
    _check(r, "naive softmax: 2 reads and 1 write (GPT-2 scores, 12 × 1024²)",
           3 * scores * 2 / 1e6, 3 * scores * 2 / 1e6)
    _check(r, "safe softmax: 3 reads and 1 write", 4 * scores * 2 / 1e6, 4 * scores * 2 / 1e6)
    _check(r, "online softmax: 2 reads and 1 write", 3 * scores * 2 / 1e6, 3 * scores * 2 / 1e6)
    # LayerNorm: 8 FLOPs per element over 2 × 2 bytes; A100 ridge at 50 % MFU: 76.5
    assert 8 / 4 < 312e12 * 0.5 / 2.039e12
    _check(r, "element-wise and reduction operators are memory-bound (LayerNorm)", "memory",
           "memory")
    # GEMM 1024 × 768 · 768 × 768: compute 1.208 G / 156 T = 7.7 µs > bytes 4.33 MB / 2.039 T
    gemm_bytes = (s * h + h * h + s * h) * 2
    assert 2 * s * h * h / (312e12 * 0.5) > gemm_bytes / 2.039e12
    _check(r, "GEMM is compute-bound (1024 tokens × 768 × 768)", "compute", "compute")
    assert 2 * h * h / (312e12 * 0.5) < (h + h * h + h) * 2 / 2.039e12
    _check(r, "GEMM is compute-bound (a decode step: 1 token × 768 × 768)", "compute", "memory")
    eager = a * (4 * s * d + 4 * s * s) * 2
    _check(r, "standard attention: 5 reads and 3 writes of N×d and N×N matrices", eager / 1e6,
           eager / 1e6)
    flash = a * ((2 * s * d + 8 * 2 * s * d) * 2 + 4 * s)   # K, V read once per 128-row block
    flops = a * 4 * s * s * d
    speedup = max(flops / 156e12, eager / 2.039e12) / max(flops / 156e12, flash / 2.039e12)
    row = _check(r, "FlashAttention: 2-4× faster", "2–4", speedup)
    assert row["status"] == "within range"
    for seq, item, status in ((1024, "FlashAttention: saves more than 10× memory (1024 tokens)",
                               "outside range"),
                              (4096, "FlashAttention: saves more than 10× memory (4096 tokens)",
                               "within range")):
        body = 34 * seq * h
        saving = (body + 5 * a * seq * seq) / (body + 4 * a * seq)
        row = _check(r, item, "≥ 10", saving)
        assert row["status"] == status
    for item, bits in (("FP32 [1, 8, 23]: 32 bits", 32), ("TF32 [1, 8, 10]: 19 bits", 32),
                       ("FP16 [1, 5, 10]: 16 bits", 16), ("BF16 [1, 8, 7]: 16 bits", 16),
                       ("FP8 [1, 4, 3] or [1, 5, 2]: 8 bits", 8), ("INT8: 8 bits", 8)):
        seed = {"TF32 [1, 8, 10]: 19 bits": 1 + 8 + 10}.get(item, bits)
        _check(r, item, seed, bits)
    _every_row_is_explained(r)


# --------------------------------------------------------------------------- seed 002

def test_seed_002():
    r = _rows("seed-002-notes")
    _check(r, "RTX 4090 reaches 82.58 TFLOPS", 82.58, 82.6)
    _check(r, "RTX 4090 bandwidth 1.01 TB/s", 1.01, 1.008)
    m, n, k = 16, 4096, 4096
    elements = m * k + k * n + m * n
    _check(r, "a decode GEMM's intensity 2MNK / ((MK + KN + MN) × 2) = 15.7", 15.7,
           2 * m * n * k / (elements * 2))
    assert elements / 1.5e12 * 1e6 == pytest.approx(11.3, abs=0.05)     # elements, not bytes
    _check(r, "… memory-bound: T_mem = (MK + KN + MN) / 1.5e12 B/s = 11.3 µs", 11.3,
           elements * 2 / 1.5e12 * 1e6)
    _check(r, "… which makes it memory-bound (intensity below the ridge)", "memory", "memory")
    _check(r, "A100 HBM 2.0 TB/s (against its L2's 4 TB/s: GQA gains at most 2×)", 2.0, 2.039)
    _check(r, "MHA caches 2·n_h·d_h·l values per token (DeepSeek-V3 as if MHA)",
           2 * 128 * 128 * 61 * 2 / 1e6, (512 + 64) * 61 * 2 / 1e6)
    _check(r, "ZeRO-1/2: each process sends and receives 2Ψ (dp = 64)", 2, 2 * 63 / 64)
    _check(r, "ZeRO-3: 3Ψ (dp = 64)", 3, 3 * 63 / 64)
    _check(r, "GPipe: the extra forward is 1/3 of the system's compute", 1 / 3, 2 / 8)
    _check(r, "8 heads over 2 GPUs: 4 query heads each (Gemma-2-2B: 8 heads, 4 KV)", 4, 8 / 2)
    _check(r, "… and 2 KV heads each", 2, 4 / 2)
    _check(r, "… each KV head serves n_rep = 2 query heads", 2, 8 / 4)
    kv = 64 * 2 * 9216 * 2 * 512                             # OPT-66B, one 512-token request
    row = _check(r, "800 Gbps InfiniBand hides 10 requests/s of OPT-66B KV (utilisation < 1)",
                 "0–1", 10 * kv / (800e9 / 8))
    assert row["status"] == "within range"
    _check(r, "A100 NVLink peak 600 GB/s", 600, 300)
    _check(r, "peak KV b(S+t)·H·l·2·2 (Llama-2-7B, S + t = 4096)", 4096 * 4096 * 32 * 4 / 1e9,
           4096 * 4096 * 32 * 4 / 1e9)
    _check(r, "the same for Llama-3.1-8B (GQA)", 4096 * 4096 * 32 * 4 / 1e9,
           4096 * 32 * 2 * 1024 * 2 / 1e9)
    _every_row_is_explained(r)


# ----------------------------------------------------------------- seed 000, the rest

def test_seed_000_more():
    r = _rows("seed-000-more")
    _check(r, "head_dim = 8192 / 64 = 128", 128, 8192 / 64)
    _check(r, "GQA: 8 query heads share each K/V head, the KV cache 8× smaller", 8, 64 / 8)
    _check(r, "FFN W1 + W2 = 2 × 8192 × 32768 ≈ 536 M (intermediate = 4 × hidden)",
           2 * 8192 * 32768 / 1e6, 2 * 8192 * 32768 / 1e6)
    _check(r, "… LLaMA-70B's FFN (the largest part)", 2 * 8192 * 32768 / 1e6,
           3 * H70 * F70 / 1e6)
    _check(r, "W_Q + W_K + W_V = 67 M + 8 M + 8 M", 83, LAYER70_QKV / 1e6)
    _check(r, "W_O = 8192 × 8192 = 67 M", 67, H70 * H70 / 1e6)
    # §2.2, 5 tokens on one GPU
    _check(r, "QKV: 3 × 2 × 1 × 5 × 8192 × 8192 = 2.0 B", 2.0, 2 * 5 * LAYER70_QKV / 1e9)
    _check(r, "attention: 2 × 1 × 64 × 5 × 5 × 128 = 0.4 M", 2 * 64 * 5 * 5 * 128 / 1e6,
           2 * 64 * 128 * 15 / 1e6)
    _check(r, "output: 2 × 1 × 5 × 8192 × 8192 = 0.67 B", 0.67, 2 * 5 * H70 * H70 / 1e9)
    _check(r, "FFN: 2 × 1 × 5 × 8192 × 3 × 28672 = 7.1 B", 7.1, 2 * 5 * 3 * H70 * F70 / 1e9)
    _check(r, "one layer ≈ 10 B", 10, (2 * 5 * LAYER70 + 2 * 2 * 64 * 128 * 15) / 1e9)
    assert (3 * 2 * 5 * H70 ** 2 + 2 * 64 * 25 * 128 + 2 * 5 * H70 ** 2 +
            2 * 5 * H70 * 3 * F70) / 1e9 == pytest.approx(9.73, abs=0.005)   # the seed's sum
    # §2.3 decode at context 6 on one H100
    _check(r, "decode, one layer: ~2 B / seq = ~400 M", 0.4,
           (2 * LAYER70 + 2 * 64 * 256 * 6) / 1e9)
    weights70 = 2 * (P70)
    step = (weights70 + 6 * L70 * 2 * K70 * D70 * 2) / 3.35e12
    flops = 2 * MATMUL70 + 2 * 64 * 256 * 6 * L70
    _check(r, "GPU compute used in decode: 0.23 / 295 ≈ 0.08 %", 0.08,
           flops / (step * 989.4e12) * 100)
    _check(r, "without a KV cache, 100 tokens cost 1 + 2 + … + 100 = 5050 token passes",
           5050, sum(range(1, 101)))
    _check(r, "training compute 3× inference (forward 1 + backward 2)", 3, 3)
    # §4.3 √N checkpointing, Llama-2-70B, one 2048-token sequence (see test_tutorial_formulas)
    body = 8 * 2048 * H70 + 2 * 2048 * (2 * 64 * 128 + 2 * 128 * 8 + 3 * F70)
    lse, layer_in = 4 * 64 * 2048, 2 * 2048 * H70
    ratio = (9 * layer_in + 9 * (body + lse)) / (80 * (body + lse))
    _check(r, "checkpointing: memory down to √N (80 layers: √80 of 80)", math.sqrt(80) / 80,
           ratio)
    assert 1 / math.sqrt(80) == pytest.approx(0.1118, abs=0.0001)
    _check(r, "checkpointing: compute +33 %", 0.33, 1 / 3)
    # §5.2 coefficients on Llama-2-7B, S = 2048
    S = 2048
    causal = 2 * H7 * S * (S + 1) / 2
    _check(r, "attention ≈ 4BSH² + 4BS²H, GQA aside (Llama-2-7B, S = 2048)",
           (4 * S * H7 ** 2 + 4 * S * S * H7) / 1e9, (8 * S * H7 ** 2 + 2 * causal) / 1e9)
    _check(r, "FFN = 6BSHI ≈ 24BSH² (I ≈ 4H)", 24 * S * H7 ** 2 / 1e9, 6 * S * H7 * F7 / 1e9)
    _check(r, "one layer ≈ 28BSH² + 4BS²H ≈ 24BSH²", 24 * S * H7 ** 2 / 1e9,
           (8 * S * H7 ** 2 + 2 * causal + 6 * S * H7 * F7) / 1e9)
    # §6.1 one Llama-2-70B layer's attention at 4096 tokens on H100, 50 % MFU
    n = 4096
    eager = 64 * (4 * n * 128 + 4 * n * n) * 2
    flash = 64 * ((2 * n * 128 + 32 * 2 * n * 128) * 2 + 4 * n)
    fl = 64 * 4 * n * n * 128
    speedup = max(fl / (989.4e12 * 0.5), eager / 3.35e12) / max(fl / (989.4e12 * 0.5),
                                                                  flash / 3.35e12)
    _check(r, "FlashAttention: 2-4× faster (one LLaMA-70B layer, 4096 tokens, H100)", "2–4",
           speedup)
    _check(r, "preallocated KV memory: 50-60 % used (768 of 4096 tokens)", "0.5–0.6", 768 / 4096)
    _check(r, "PagedAttention: 90 %+ used (768 tokens in 16-token blocks)", "0.9–1", 1.0)
    _every_row_is_explained(r)


def test_seed_000_benchmark_ranges_use_the_plans():
    """The 附录B rows are the plans' own figures (tests/test_serving_seeds.py derives
    example 1's by hand: 185.4 ms, 6.57 ms, 1100 tokens/s); checked here against the
    public API and the ranges."""
    import xlcalc
    r = _rows("seed-000-more")
    # the scenario's plain roofline (the seed's 50 % MFU, the datasheet HBM and links)
    roof = dict(mfu=0.5, bw_eff=1.0, link_eff=1.0, scale_out_eff=1.0, link_latency_us=8.0,
                engine="seed")
    lat = xlcalc.inference_latency("llama-2-70b", "h100-sxm", 8, 512, 256, tp=8, **roof)
    _check(r, "70B on 8 GPUs: time to first token 100-200 ms", "100–200", lat["ttft_s"] * 1e3)
    _check(r, "70B on 8 GPUs: 5-10 ms per token", "5–10", lat["tpot_s"] * 1e3)
    _check(r, "70B on 8×H100: 500-1500 tokens/s", "500–1500", lat["tokens_per_s"])
    a100 = xlcalc.inference_latency("llama-2-70b", "a100-80gb", 8, 512, 256, tp=8, **roof)
    _check(r, "70B on 8×A100: 300-800 tokens/s", "300–800", a100["tokens_per_s"])
    local = xlcalc.inference_latency("llama-2-7b", "rtx-4090", 1, 512, 256, **roof)
    # TTFT by hand: 2 × 6.61 G weights multiplied × 512 + last-token head + causal attention
    ttft = (2 * 512 * (MATMUL7 - V7 * H7) + 2 * V7 * H7 +
            2 * 32 * 256 * 512 * 513 / 2 * 32) / (165.2e12 * 0.5)
    assert local["ttft_s"] == pytest.approx(max(ttft, local["prefill_memory_s"]))
    _check(r, "7B local: time to first token 50-100 ms (RTX 4090, 512 tokens)", "50–100",
           local["ttft_s"] * 1e3)
    assert local["tpot_s"] > WEIGHTS7 / 1.008e12               # at least the weights' read
    row = _check(r, "7B local: 20-50 ms per token (RTX 4090)", "20–50", local["tpot_s"] * 1e3)
    assert row["status"] == "outside range"
    one_a100 = xlcalc.inference_latency("llama-2-7b", "a100-80gb", 8, 512, 256, **roof)
    _check(r, "7B on one A100: 1000-2000 tokens/s (batch 8, 512 in / 256 out)", "1000–2000",
           one_a100["tokens_per_s"])
    step = xlcalc.decode_step("llama-2-70b", "h100-sxm", 8, 513, tp=8, **roof)
    util = step["flops"] / (step["step_s"] * 8 * 989.4e12)
    row = _check(r, "decode uses 5-15 % of the GPU", "0.05–0.15", util)
    assert row["status"] == "outside range" and util == pytest.approx(0.0214, abs=0.0002)


# ----------------------------------------------------------------- seed 003, the rest

def test_seed_003_more():
    r = _rows("seed-003-more")
    for model, hh, nn, actual, exact in (("llama-7b", 4096, 32, 6.7, P7),
                                         ("llama-13b", 5120, 40, 13.0, P13),
                                         ("llama-33b", 6656, 60, 32.5, 32_528_943_616),
                                         ("llama-65b", 8192, 80, 65.2, 65_285_660_672)):
        heads = hh // 128
        _check(r, f"{model}: 12nh² (h = {hh}, n = {nn}, {heads} heads)", 12 * nn * hh * hh / 1e9,
               12 * nn * hh * hh / 1e9)
        _check(r, f"{model}: actual {actual} B", actual, exact / 1e9)
    assert 12 * 60 * 6656 ** 2 == 31_897_681_920                     # the seed's table
    seed_13 = 40 * (12 * H13 ** 2 + 4 * H13) + 32000 * H13
    _check(r, "n(12h² + 4h) + Vh (llama-13b)", seed_13 / 1e9, P13 / 1e9)
    _check(r, "memory_model = [n(12h² + 4h) + Vh] × 2", 2 * seed_13 / 1e9, 2 * P13 / 1e9)
    kv = 4 * 40 * H13 * 2048
    act = 2048 * 2 * F13 * 2                                         # gate + up, fp16
    _check(r, "inference memory ≈ 1.2 × the weights (batch 1 × 2048)", 1.2 * 2 * P13 / 1e9,
           (2 * P13 + kv + act + 1e9) / 1e9)
    _check(r, "a larger batch barely adds memory (each 2048-token sequence)", 0, kv / 1e9)
    _check(r, "memory_intermediate = 8bsh (the MLP's first output)", 8 * 2048 * H13 / 1e9,
           act / 1e9)
    _check(r, "memory_kv-cache = 4bnh(s + o)", kv / 1e9, kv / 1e9)
    seed_flops = 40 * (24 * 2048 * H13 ** 2 + 4 * 2048 ** 2 * H13) + 2 * 2048 * H13 * 32000
    matmul13 = 40 * (4 * H13 * H13 + 3 * H13 * F13) + 32000 * H13
    exact_flops = 2 * 2048 * (matmul13 - 32000 * H13) + 2 * 32000 * H13 + \
        2 * 40 * 256 * 2048 * 2049 / 2 * 40
    _check(r, "n(24bsh² + 4bs²h) + 2bshV (llama-13b, 2048 tokens)", seed_flops / 1e12,
           exact_flops / 1e12)
    _check(r, "2 FLOPs per parameter per token, < 2 % off (llama-13b at 2048 tokens)",
           2 * P13 / 1e9, (2 * matmul13 + 2 * 40 * 256 * 2048 * 40) / 1e9)
    _check(r, "GPT-3 13B: 6 × 12850 M × 300 B = 2.313e22 FLOPs", 23.13, 6 * 12850e6 * 300e9 / 1e21)
    kv_gpu = 2048 * 40 * 2 * 5 * 128 * 2                             # 5 KV heads per GPU
    _check(r, "small batch: compute = 2P / (N · A_bm) (8 × V100)", 2 * P13 / (8 * 900e9) * 1e3,
           (2 * P13 / 8 + kv_gpu) / 900e9 * 1e3)
    allreduce = 2 * 7 / 8 * 1 * H13 * 2                              # one token's activations
    _check(r, "small batch: comms = 4 · n_layers · 8 µs", 4 * 40 * 8e-3,
           80 * (8e-6 + allreduce / 150e9) * 1e3)
    _every_row_is_explained(r)


def test_every_tutorial_is_cited_by_a_worked_example():
    from xlcalc.worked import examples
    seeds = " ".join(ex.seed for ex in examples().values())
    for seed in ("000", "001", "002", "003", "004"):
        assert seed in seeds
