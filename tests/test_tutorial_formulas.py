"""The quantities the tutorials teach beside the plans (xlcalc.analysis), by hand.

Every expected number is derived here from the architecture (config.json fields) and
the spec sheets, never pasted from the code's output:

* Llama-2-70B: h = 8192, L = 80, a = 64, k = 8, d = 128, f = 28672, V = 32000;
* Llama-2-7B: h = 4096, L = 32, a = k = 32, d = 128, f = 11008, V = 32000;
* GPT-2: h = 768, L = 12, a = 12, d = 64, f = 3072, V = 50257, biases, 1024 positions;
* DeepSeek-V3: L = 61, a = 128, r_kv = 512, d_rope = 64, d_nope = 128, d_v = 128;
* H100 SXM: 989.4 TFLOP/s dense bf16, 3.35 TB/s, NVLink 450 GB/s, network 50 GB/s per GPU;
  A100 80GB: 312 TFLOP/s bf16/fp16, 2.039 TB/s; A100 40GB: 1.555 TB/s.
"""

import math

import pytest

import xlcalc
from xlcalc import analysis
from xlcalc.estimate import estimate

H, L, A, K, D, F, V = 8192, 80, 64, 8, 128, 28672, 32000
H100_PEAK, H100_HBM = 989.4e12, 3.35e12
#: the tutorials' plain roofline (the helpers default to the calibrated efficiencies,
#: tests/test_calibration.py): their hand arithmetic is at these figures
ROOF = dict(mfu=0.5, bw_eff=1.0)
LINK = dict(link_eff=1.0, scale_out_eff=1.0, link_latency_us=8.0)


# ------------------------------------------------------------------ layer FLOPs

def test_layer_flops_llama_70b_prefill_of_five_tokens():
    """Seed 000 §2.2's sub-figures for 5 tokens, with GQA K/V and causal attention."""
    got = analysis.layer_flops("llama-2-70b", 1, 5)
    qkv = 2 * 5 * H * (A * D + 2 * K * D)           # W_Q 8192², W_K and W_V 8192 × 1024
    assert got.loc["qkv", "prefill"] == qkv == 838_860_800
    pairs = 5 * 6 / 2                                # causal: 1 + 2 + … + 5
    assert got.loc["scores", "prefill"] == 2 * A * D * pairs == 245_760
    assert got.loc["attention_v", "prefill"] == 2 * A * D * pairs
    assert got.loc["o_proj", "prefill"] == 2 * 5 * H * H == 671_088_640
    assert got.loc["mlp", "prefill"] == 2 * 5 * 3 * H * F == 7_046_430_720
    layer = qkv + 2 * 2 * A * D * pairs + 2 * 5 * H * H + 2 * 5 * 3 * H * F
    assert got.loc["layer", "prefill"] == layer
    assert got.loc["lm_head", "prefill"] == 2 * H * V                # the last token only
    # the parts add up to the core's prefill FLOPs (the final norm has no matmul)
    assert got.loc["model", "prefill"] == pytest.approx(L * layer + 2 * H * V, rel=1e-12)


def test_layer_flops_decode_parts():
    """Seed 001 §4.4: decode MHA 8h² + 4(s+1)h and FFN 16h² per token for a standard
    layer; here Llama-2-7B (MHA, h = 4096, gated f = 11008) at context 1024."""
    h, f, c = 4096, 11008, 1024
    got = analysis.layer_flops("llama-2-7b", 2, 1000, 1024)
    assert got.loc["qkv", "decode"] == 2 * 2 * 3 * h * h
    assert got.loc["o_proj", "decode"] == 2 * 2 * h * h
    assert got.loc["scores", "decode"] == 2 * 2 * h * c          # 2·a·d·c with a·d = h
    assert got.loc["attention_v", "decode"] == 2 * 2 * h * c
    assert got.loc["mlp", "decode"] == 2 * 2 * 3 * h * f
    # seed 001's MHA figure per token: 8h² + 4(s+1)h with s + 1 = c attended tokens
    assert (got.loc["qkv", "decode"] + got.loc["o_proj", "decode"] +
            got.loc["scores", "decode"] + got.loc["attention_v", "decode"]) / 2 == \
        8 * h * h + 4 * c * h
    assert got.loc["lm_head", "decode"] == 2 * 2 * h * 32000
    assert got.loc["model", "decode"] == 32 * got.loc["layer", "decode"] + 2 * 2 * h * 32000


def test_layer_flops_gpt2_against_seed_001_formula():
    """Seed 001 §4.2: 24bsh² + 4bs²h per layer (MHA, 4h MLP, the full square of scores).
    GPT-2 adds biases (2 FLOPs each here, as every weight) and attends causally."""
    h, s = 768, 1024
    got = analysis.layer_flops("gpt2", 1, s)
    weights = 12 * h * h + 13 * h - 4 * h      # the layer's matrices and biases, no norms
    causal = 2 * 2 * h * s * (s + 1) / 2        # QKᵀ and P·V over s(s+1)/2 pairs
    assert got.loc["layer", "prefill"] == pytest.approx(2 * s * weights + causal, rel=1e-12)
    seed = 24 * s * h * h + 4 * s * s * h
    assert got.loc["layer", "prefill"] / seed == pytest.approx(
        (2 * s * weights + causal) / seed, rel=1e-12)
    assert 0.9 < got.loc["layer", "prefill"] / seed < 0.92     # causal halves 4bs²h


@pytest.mark.parametrize("model", ["llama-2-70b", "llama-3.1-8b", "gpt2", "mixtral-8x7b",
                                   "deepseek-v3", "qwen2.5-7b", "opt-6.7b"])
def test_layer_parts_add_up_to_the_model(model):
    """For models without sliding windows: L × layer + LM head = prefill / decode FLOPs."""
    layers = xlcalc.load_model(model).fields["num_layers"]
    got = analysis.layer_flops(model, 3, 700, 900)
    for phase in ("prefill", "decode"):
        assert got.loc["model", phase] == pytest.approx(
            layers * got.loc["layer", phase] + got.loc["lm_head", phase], rel=1e-12)


# --------------------------------------------------------------- KV-cache savings

def test_kv_cache_savings_by_hand():
    """Seed 000 §2.4: a 1-token prompt and 100 generated tokens are 1 + 2 + … + 100 =
    5050 token passes without a cache, 100 with one."""
    got = analysis.kv_cache_savings("llama-2-7b", 1, 100)
    assert got["token_passes_without_cache"] == sum(range(1, 101)) == 5050
    assert got["token_passes_with_cache"] == 100
    h, f, L7, V7 = 4096, 11008, 32, 32000
    matmul = L7 * (4 * h * h + 3 * h * f)          # weights a token multiplies, no LM head
    with_cache = 2 * 100 * matmul + 2 * 100 * h * V7 + \
        2 * 32 * 256 * sum(range(1, 101)) * L7    # each token attends to its prefix once
    without = 2 * 5050 * matmul + 2 * 100 * h * V7 + \
        2 * 32 * 256 * sum(m * (m + 1) / 2 for m in range(1, 101)) * L7
    assert got["flops_with_cache"] == pytest.approx(with_cache, rel=1e-12)
    assert got["flops_without_cache"] == pytest.approx(without, rel=1e-12)
    assert got["saved_fraction"] == pytest.approx(1 - with_cache / without, rel=1e-12)
    # seed 001's "1 − 1/s" at s = 100 is 0.99; the exact saving here is 0.980
    assert got["saved_fraction"] == pytest.approx(0.98, abs=0.002)


def test_kv_cache_savings_longer_prompt_and_batch():
    p, n = 300, 50
    got = analysis.kv_cache_savings("gpt2", p, n, batch=4)
    assert got["token_passes_without_cache"] == sum(range(p, p + n))
    assert got["token_passes_with_cache"] == p + n - 1
    pairs = sum(m * (m + 1) / 2 for m in range(p, p + n))
    h, V2 = 768, 50257
    matmul = 12 * (12 * h * h + 9 * h)             # matrices and biases of 12 layers
    without = 4 * (2 * sum(range(p, p + n)) * matmul + 2 * n * h * V2 + 2 * 12 * 128 * pairs * 12)
    assert got["flops_without_cache"] == pytest.approx(without, rel=1e-12)


# ------------------------------------------------------------------------- MLA

def test_mla_absorption_by_hand():
    c, layers, a, r, rope, nope, dv = 4096, 61, 128, 512, 64, 128, 128
    got = analysis.mla_decode_flops("deepseek-v3", 1, c)
    assert got["attention_flops_absorbed"] == 2 * a * (r + rope + r) * c * layers
    assert got["attention_flops_materialised"] == 2 * a * (nope + rope + dv) * c * layers
    assert got["decompress_flops"] == 2 * r * a * (nope + dv) * c * layers
    two_n = got["decode_flops"] - got["attention_flops_materialised"]
    assert got["decode_flops_absorbed"] == pytest.approx(two_n + got["attention_flops_absorbed"])
    # per attended token: 278,528 FLOPs over the latent vs 81,920 materialised (3.4×)
    assert 2 * a * (2 * r + rope) == 278_528 and 2 * a * (nope + rope + dv) == 81_920
    # a model without MLA is unchanged
    dense = analysis.mla_decode_flops("llama-2-7b", 2, 100)
    assert dense["decode_flops_absorbed"] == dense["decode_flops"]
    assert dense["decompress_flops"] == 0


# ----------------------------------------------------------------------- GEMM

def test_gemm_roofline_by_hand():
    """Seed 002 §1.10's GEMM, M = 16 (decode batch), N = K = 4096, fp16 on A100-40GB."""
    m, n, k = 16, 4096, 4096
    got = analysis.gemm_roofline(m, n, k, "a100-40gb", "fp16", mfu=1.0, bw_eff=1.0)
    elements = m * k + k * n + m * n
    assert got["flops"] == 2 * m * n * k == 536_870_912
    assert got["bytes"] == 2 * elements == 33_816_576
    assert got["intensity"] == pytest.approx(2 * m * n * k / (2 * elements))   # 15.88
    assert got["memory_s"] == pytest.approx(2 * elements / 1.555e12)           # 21.7 µs
    assert got["compute_s"] == pytest.approx(2 * m * n * k / 312e12)
    assert got["time_s"] == got["memory_s"] and got["bound"] == "memory"
    assert got["ridge"] == pytest.approx(312 / 1.555)
    big = analysis.gemm_roofline(4096, 4096, 4096, "h100-sxm", mfu=0.5, bw_eff=0.8)
    assert big["bound"] == "compute"
    assert big["time_s"] == pytest.approx(2 * 4096 ** 3 / (H100_PEAK * 0.5))


# ------------------------------------------------------------- decode roofline

def test_critical_batch_turns_the_step_compute_bound():
    """Llama-3.1-8B (h = 4096, L = 32, a = 32, k = 8, d = 128, f = 14336, V = 128256,
    untied) on A100-80GB at context 1024 and 50 % MFU: weights time / (compute − KV time)
    per sequence; at that batch the step's compute time equals its memory time."""
    h, f, L8, V8, a, k, d, c = 4096, 14336, 32, 128256, 32, 8, 128, 1024
    matmul = L8 * (h * (a * d + 2 * k * d) + a * d * h + 3 * h * f) + V8 * h
    weights = 2 * (matmul - V8 * h + L8 * 2 * h + h + 2 * V8 * h)       # bf16 bytes
    flops_seq = 2 * matmul + 2 * a * 2 * d * c * L8
    kv_seq = c * L8 * 2 * k * d * 2
    peak, hbm = 312e12 * 0.5, 2.039e12
    want = (weights / hbm) / (flops_seq / peak - kv_seq / hbm)
    got = analysis.critical_batch("llama-3.1-8b", "a100-80gb", c, batch=3, **ROOF)
    assert got["critical_batch"] == pytest.approx(want, rel=1e-9)
    for batch, bound in ((math.floor(want), "memory"), (math.ceil(want), "compute")):
        step = analysis.critical_batch("llama-3.1-8b", "a100-80gb", c, batch=batch, **ROOF)
        assert step["bound"] == bound, batch
    # with spec rates (mfu = 1) and one token of context: about the ridge, 312 / 2.039 = 153
    # (a little above: the embedding is read but not multiplied)
    spec = analysis.critical_batch("llama-3.1-8b", "a100-80gb", 1, **dict(ROOF, mfu=1.0))
    flops_1 = 2 * matmul + 2 * a * 2 * d * L8
    assert spec["critical_batch"] == pytest.approx(
        (weights / hbm) / (flops_1 / 312e12 - L8 * 2 * k * d * 2 / hbm), rel=1e-9)
    assert 153 < spec["critical_batch"] < 170
    # MHA Llama-2-7B at 1024 tokens: its KV reads (intensity 1) outrun the FLOPs: never
    assert analysis.critical_batch("llama-2-7b", "a100-80gb", c, **ROOF)["critical_batch"] == 0


def test_critical_batch_is_zero_when_kv_reads_outgrow_the_flops():
    """Llama-2-7B (MHA) with an fp32 KV cache at 4096 tokens on H100: each sequence reads
    4096 × 32 layers × 2 × 4096 × 4 bytes (4.3 GB, 1.28 ms) for 15.6 GFLOPs (16 µs), so no
    batch makes the step compute-bound."""
    got = analysis.critical_batch("llama-2-7b", "h100-sxm", 4096, kv_dtype="fp32",
                                  **dict(ROOF, mfu=1.0))
    kv_time = 4096 * 32 * 2 * 4096 * 4 / H100_HBM
    flops_time = (2 * (32 * (4 * 4096 ** 2 + 3 * 4096 * 11008) + 32000 * 4096) +
                  2 * 32 * 256 * 4096 * 32) / H100_PEAK
    assert flops_time < kv_time and got["critical_batch"] == 0


def test_decode_compute_utilisation_seed_000():
    """Seed 000 §2.3: batch 1, 6 tokens of context, one H100: 137.44 GFLOPs in the time
    of reading 137.95 GB: 0.34 % of peak (the seed: 0.08 %, from its 32 GFLOPs slip)."""
    got = analysis.critical_batch("llama-2-70b", "h100-sxm", 6, batch=1, **ROOF)
    flops = 2 * (L * (H * (A * D + 2 * K * D) + A * D * H + 3 * H * F) + V * H) + \
        2 * A * 256 * 6 * L
    weights = 2 * (L * (H * (A * D + 2 * K * D) + A * D * H + 3 * H * F + 2 * H) + H + 2 * V * H)
    step = (weights + 6 * L * 2 * K * D * 2) / H100_HBM
    assert got["step_s"] == pytest.approx(step)
    assert got["compute_utilisation"] == pytest.approx(flops / (step * H100_PEAK))
    assert got["compute_utilisation"] == pytest.approx(0.00337, abs=0.00001)
    # decode attention alone: 2·a·2d FLOPs per 2·k·d·2 bytes = a/k = 8 for GQA 8:1
    assert got["attention_intensity"] == pytest.approx(A / K)
    assert analysis.critical_batch("llama-2-7b", "h100-sxm", 6)["attention_intensity"] == 1


# ---------------------------------------------------------------- operators

def test_operator_traffic():
    n = 32 * 4096 * 4096                        # Llama-2-7B scores of one 4096-token layer
    safe = analysis.operator_traffic("softmax-safe", n, "h100-sxm", mfu=0.5, bw_eff=1.0)
    assert safe["bytes"] == (3 + 1) * n * 2
    assert safe["time_s"] == pytest.approx((3 + 1) * n * 2 / H100_HBM)     # memory-bound
    assert safe["intensity"] == pytest.approx(7 / 8)
    online = analysis.operator_traffic("softmax-online", n, "h100-sxm", mfu=0.5, bw_eff=1.0)
    assert online["bytes"] == (2 + 1) * n * 2                           # one read fewer
    add = analysis.operator_traffic("residual-add", 1e6, "h100-sxm", "fp32", 0.5, 1.0)
    assert add["bytes"] == 3 * 1e6 * 4


# -------------------------------------------------------- attention traffic

def test_attention_traffic_eager_vs_flash_by_hand():
    """GPT-2 (12 heads, d = 64), one 1024-token sequence, fp16 on A100-80GB."""
    n, d, heads = 1024, 64, 12
    got = analysis.attention_traffic("gpt2", "a100-80gb", 1, n, "fp16", mfu=0.5, bw_eff=1.0)
    eager = heads * (4 * n * d + 4 * n * n) * 2          # Q, K, V, O and S, P twice each
    blocks = math.ceil(n / 128)
    flash = heads * ((2 * n * d + blocks * 2 * n * d) * 2 + 4 * n)
    flops = heads * 4 * n * n * d
    assert got["eager_bytes"] == eager and got["flash_bytes"] == flash
    assert got["flops"] == flops
    eager_s = max(flops / (312e12 * 0.5), eager / 2.039e12)
    flash_s = max(flops / (312e12 * 0.5), flash / 2.039e12)
    assert got["speedup"] == pytest.approx(eager_s / flash_s)
    assert 2 < got["speedup"] < 4                       # seed 000 §6.1 / seed 004: 2-4×


# --------------------------------------------------------------- collectives

def test_allreduce_algorithms_by_hand():
    size, alpha = 1e9, 8e-6
    got = analysis.allreduce_algorithms(size, 16, "h100-sxm", **LINK)
    assert got["link_gb_per_s"] == 50                   # two nodes: the network
    assert got["ring_s"] == pytest.approx(2 * 15 * alpha + 2 * 15 / 16 * size / 50e9)
    assert got["tree_s"] == pytest.approx(2 * 4 * alpha + 2 * size / 50e9)
    inside = 2 * 7 * alpha + 2 * 7 / 8 * size / 450e9
    across = 2 * 1 * alpha + 2 * 1 / 2 * (size / 8) / 50e9
    assert got["hierarchical_s"] == pytest.approx(inside + across)
    one_node = analysis.allreduce_algorithms(size, 8, "h100-sxm", **LINK)
    assert one_node["hierarchical_s"] == pytest.approx(one_node["ring_s"])
    assert one_node["ring_s"] == pytest.approx(2 * 7 * alpha + 2 * 7 / 8 * size / 450e9)
    # many small messages: the tree's logarithmic latency wins
    small = analysis.allreduce_algorithms(1e3, 64, "h100-sxm", **LINK)
    assert small["tree_s"] < small["ring_s"]


def test_compute_comm_ratio_and_prefill_link_utilisation():
    got = analysis.compute_comm_ratio(7e13, 2.35e9, "h100-sxm", 450, mfu=0.5, link_eff=1.0)
    assert got["ccr"] == pytest.approx(7e13 / 2.35e9)
    assert got["gb_per_s_needed"] == pytest.approx(H100_PEAK * 0.5 / (7e13 / 2.35e9) / 1e9)
    assert got["link_utilisation"] == pytest.approx(got["gb_per_s_needed"] / 450)
    # seed 000 §七 example 1's prefill: 563.51 TFLOPs / 8 GPUs over 18.79 GB per GPU
    ex = dict(xlcalc.serving.SERVING_DEFAULTS, model="llama-2-70b", gpu="h100-sxm", tp=8,
              batch=8, prompt_len=512, mfu=0.5, link_eff=1.0)   # the seed's 50 %, spec link
    v = estimate(["prefill_tp_compute_comm_ratio", "prefill_tp_link_utilisation",
                  "prefill_flops"], **ex)
    tp_bytes = 2 * 80 * 2 * 7 / 8 * 8 * 512 * 8192 * 2
    ccr = v["prefill_flops"] / 8 / tp_bytes
    assert v["prefill_tp_compute_comm_ratio"] == pytest.approx(ccr)
    assert v["prefill_tp_link_utilisation"] == pytest.approx(H100_PEAK * 0.5 / ccr / 450e9)


# ----------------------------------------------------------- prefix caching

def test_prefix_caching_by_hand():
    """Llama-3.1-8B (32 layers, 8 KV heads of 128): 32 requests of 2048 tokens, a
    1000-token system prompt (62 whole 16-token blocks = 992 tokens), 90 % hits."""
    got = analysis.prefix_caching("llama-3.1-8b", 32, 2048, 1000, 0.9)
    shared = 62 * 16
    kv_token = 32 * 2 * 8 * 128 * 2
    assert got["shared_tokens"] == shared
    assert got["kv_saved"] == pytest.approx((0.9 * 32 - 1) * shared * kv_token)
    h, f, Lq, Vq = 4096, 14336, 32, 128256
    matmul = Lq * (2 * h * h + 2 * h * 1024 + 3 * h * f)
    skipped = 0.9 * 32 * (2 * shared * matmul + 2 * 32 * 256 * shared * (shared + 1) / 2 * Lq)
    assert got["prefill_flops_skipped"] == pytest.approx(skipped, rel=1e-12)
    assert got["prefill_skipped_fraction"] == pytest.approx(skipped / got["prefill_flops"])
    none = analysis.prefix_caching("llama-3.1-8b", 32, 2048, 1000, 0.0)
    assert none["kv_saved"] == 0 and none["prefill_flops_skipped"] == 0


# ------------------------------------------------------------ checkpointing

def test_sqrt_checkpointing_by_hand():
    """Llama-2-70B, one 2048-token sequence, bf16, FlashAttention, no dropout: a layer
    keeps 8·sbh + 2·sb·(2ad + 2dk + 3f) bytes (xlcalc's Korthikanti generalisation) and
    the 4·a·sb log-sum-exp; its checkpoint is its input, 2·sbh."""
    s, b = 2048, 1
    body = 4 * 2 * s * b * H + 2 * s * b * (2 * A * D + 2 * D * K + 3 * F)
    lse = 4 * A * s * b
    layer_input = 2 * s * b * H
    got = analysis.checkpointing("llama-2-70b", 2048)
    k = math.ceil(math.sqrt(80))                      # 9 layers per segment
    assert got["segment_layers"] == k == 9
    memory = math.ceil(80 / k) * layer_input + k * (body + lse)
    assert got["sqrt_activation_bytes"] == memory
    assert got["memory_ratio"] == pytest.approx(memory / (80 * (body + lse)))
    assert 1 / math.sqrt(80) < got["memory_ratio"] < 1.1 / math.sqrt(80)   # ≈ √N of N
    assert got["extra_flops_fraction"] == pytest.approx(1 / 3)           # 4 passes / 3
    assert got["recompute_share"] == pytest.approx(1 / 4)                # 1 pass of 4


# --------------------------------------------------------------------- the CLI

@pytest.mark.parametrize("argv, call", [
    (["gemm", "16", "4096", "4096", "--gpu", "a100-40gb", "--dtype", "fp16"],
     lambda: analysis.gemm_roofline(16, 4096, 4096, "a100-40gb", "fp16")),
    (["critical-batch", "llama-3.1-8b", "--gpu", "a100-80gb", "--context-len", "1024"],
     lambda: analysis.critical_batch("llama-3.1-8b", "a100-80gb", 1024)),
    (["kv-savings", "gpt2", "--prompt-len", "1", "--output-len", "100"],
     lambda: analysis.kv_cache_savings("gpt2", 1, 100)),
    (["mla-flops", "deepseek-v3", "--context-len", "4096"],
     lambda: analysis.mla_decode_flops("deepseek-v3", 1, 4096)),
    (["prefix-cache", "llama-3.1-8b", "--batch", "32", "--prompt-len", "2048", "--prefix-len",
      "1000", "--hit-rate", "0.9"],
     lambda: analysis.prefix_caching("llama-3.1-8b", 32, 2048, 1000, 0.9)),
    (["checkpointing", "llama-2-70b", "--seq-len", "2048"],
     lambda: analysis.checkpointing("llama-2-70b", 2048)),
    (["allreduce", "1e9", "16", "--gpu", "h100-sxm"],
     lambda: analysis.allreduce_algorithms(1e9, 16, "h100-sxm")),
    (["attention-traffic", "gpt2", "--gpu", "a100-80gb", "--seq-len", "1024", "--dtype", "fp16"],
     lambda: analysis.attention_traffic("gpt2", "a100-80gb", 1, 1024, "fp16")),
    (["op-traffic", "softmax-safe", "1e9", "--gpu", "h100-sxm"],
     lambda: analysis.operator_traffic("softmax-safe", 1e9, "h100-sxm")),
    (["ccr", "7e13", "2.35e9", "--gpu", "h100-sxm", "--link-gb-per-s", "450"],
     lambda: analysis.compute_comm_ratio(7e13, 2.35e9, "h100-sxm", 450)),
])
def test_cli_commands_print_the_api(capsys, argv, call):
    import json
    from xlcalc.cli import main
    assert main(argv + ["--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    for key, value in call().items():
        if isinstance(value, str):
            assert got[key] == value
        else:
            assert got[key] == pytest.approx(float(value), rel=1e-12), key


def test_cli_layer_flops_and_errors(capsys):
    import json
    from xlcalc.cli import main
    assert main(["layer-flops", "llama-2-70b", "--prompt-len", "5", "--json"]) == 0
    rows = {r["part"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["qkv"]["prefill"] == 2 * 5 * H * (A * D + 2 * K * D)
    assert main(["op-traffic", "softmax", "1e6", "--gpu", "h100-sxm"]) == 2
    assert "did you mean 'softmax-safe'" in capsys.readouterr().err
    with pytest.raises(xlcalc.XlcalcError, match="prefix_hit_rate"):
        analysis.prefix_caching("gpt2", 1, 100, 10, 1.5)
    with pytest.raises(xlcalc.XlcalcError, match="did you mean"):
        analysis.critical_batch("gpt2", "h100-sxm", 100, flash_atention=1)
