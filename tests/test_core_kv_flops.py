"""KV cache and FLOPs against hand-derived numbers (seed formulas, papers)."""

import numpy as np
import pytest

import xlcalc


def test_kv_seed_000_example_is_10_7_gb_not_104():
    # seed 000 §2.4: 2 × 8 × 4096 × 80 × 8 × 128 × 2 — the seed prints 104 GB, the
    # product is 10,737,418,240 bytes = 10.74 GB (an arithmetic slip of ~10x)
    expected = 2 * 8 * 4096 * 80 * 8 * 128 * 2
    assert expected == 10_737_418_240
    assert xlcalc.kv_cache_bytes("llama-2-70b", 8, 4096) == expected
    v = xlcalc.compute(["kv_cache_bytes_seed"], model="llama-2-70b", batch=8, seq_len=4096,
                       kv_dtype="fp16")
    assert v["kv_cache_bytes_seed"] == expected


def test_kv_bytes_per_token_by_architecture():
    # MHA llama-2-7b: 2 (K,V) × 32 heads × 128 × 32 layers × 2 bytes
    assert xlcalc.kv_cache_bytes_per_token("llama-2-7b") == 2 * 32 * 128 * 32 * 2 == 524_288
    # MQA falcon-7b: one KV head of 64 over 32 layers
    assert xlcalc.kv_cache_bytes_per_token("falcon-7b") == 2 * 1 * 64 * 32 * 2
    # MLA deepseek-v3: latent 512 + rope 64 per layer, 61 layers, not split by TP
    mla = (512 + 64) * 61 * 2
    assert xlcalc.kv_cache_bytes_per_token("deepseek-v3") == mla == 70_272
    assert xlcalc.kv_cache_bytes_per_token("deepseek-v3", tp=8) == mla
    # fp8 halves bf16
    assert xlcalc.kv_cache_bytes_per_token("llama-2-7b", "fp8") == 524_288 / 2


def test_kv_tensor_parallel_split_and_replication():
    # llama-2-70b has 8 KV heads: tp=2 keeps 4 per GPU, tp=8 one, tp=16 still one
    # (replicated: two ranks hold the same head)
    per_head = 2 * 128 * 80 * 2
    assert xlcalc.kv_cache_bytes_per_token("llama-2-70b", tp=2) == 4 * per_head
    assert xlcalc.kv_cache_bytes_per_token("llama-2-70b", tp=8) == 1 * per_head
    assert xlcalc.kv_cache_bytes_per_token("llama-2-70b", tp=16) == 1 * per_head


def test_kv_sliding_windows():
    # mistral-7b v0.1: every layer slides over 4096 tokens; 8 KV heads × 128, 32 layers
    per_token_layer = 2 * 8 * 128 * 2
    assert xlcalc.kv_cache_bytes("mistral-7b", 1, 8192) == 32 * 4096 * per_token_layer
    assert xlcalc.kv_cache_bytes("mistral-7b", 1, 2048) == 32 * 2048 * per_token_layer
    # gemma-2-9b: 21 of 42 layers slide over 4096; 8 KV heads × 256
    g = 2 * 8 * 256 * 2
    assert xlcalc.kv_cache_bytes("gemma-2-9b", 2, 8192) == 2 * (21 * 8192 + 21 * 4096) * g


def test_kv_paged_blocks_round_up():
    # 1000 tokens in 16-token blocks occupy 63 blocks = 1008 slots
    per_token = 524_288
    assert xlcalc.kv_cache_bytes("llama-2-7b", 3, 1000, block_size=16) == 3 * 1008 * per_token
    assert xlcalc.kv_cache_bytes("llama-2-7b", 3, 1000) == 3 * 1000 * per_token


def test_kv_broadcasts_over_arrays():
    batch = np.array([1, 2, 4])
    out = xlcalc.kv_cache_bytes("llama-2-7b", batch, 100)
    assert list(out) == [100 * 524_288 * b for b in (1, 2, 4)]


def test_prefill_rule_seed_000_example_1():
    # seed 000 §七: 2 × 70 B × 512 × 8 = 573.44 TFLOPs (nominal 70 B)
    v = xlcalc.compute(["prefill_flops_rule"], model="llama-2-70b", batch=8, prompt_len=512,
                       params_total=70e9)
    assert v["prefill_flops_rule"] == 2 * 70e9 * 512 * 8 == 573.44e12
    # with the exact 68.98 B
    exact = xlcalc.prefill_flops("llama-2-70b", 8, 512, method="rule")
    assert exact == 2 * 68_976_648_192 * 512 * 8


def test_prefill_exact_llama2_7b_by_hand():
    h, a, d, f, L, V, s = 4096, 32, 128, 11008, 32, 32000, 512
    attention_w = 4 * h * h
    mlp_w = 3 * h * f
    linear = 2 * s * L * (attention_w + mlp_w) + 2 * V * h        # logits: last token only
    pairs = L * s * (s + 1) / 2                                   # causal (query, key) pairs
    scores = 2 * a * (d + d) * pairs                              # QKᵀ and AV
    assert xlcalc.prefill_flops("llama-2-7b", 2, s) == 2 * (linear + scores)


def test_prefill_seed_003_formula():
    h, L, V, b, s = 4096, 32, 32000, 4, 1024
    expected = L * (24 * b * s * h * h + 4 * b * s * s * h) + 2 * b * s * h * V
    assert xlcalc.prefill_flops("llama-7b", b, s, method="seed-003") == expected


def test_forward_flops_per_token_chinchilla_appendix_f():
    # Hoffmann et al. 2022 App. F: per token, 2·(QKV + projection + FFN + logits weights)
    # plus attention logits 2·seq·key_size·heads and the value reduction, the same again.
    L, h, V, c = 12, 768, 50257, 1024
    weights = L * (4 * h * h + 4 * h) + L * (8 * h * h + 5 * h) + V * h   # GPT-2, biases
    attention = L * (2 * c * h + 2 * c * h)
    assert xlcalc.forward_flops_per_token("gpt2", c) == 2 * weights + attention
    assert xlcalc.decode_flops("gpt2", 8, c) == 8 * (2 * weights + attention)


def test_training_flops():
    # seed 000 §5.3: 6 × 70 B × 1 T = 4.2e23 (420 ZFLOPs)
    v = xlcalc.compute(["training_flops_6nd", "training_flops_8nd"], model="llama-2-70b",
                       tokens=1e12, params_active=70e9)
    assert v["training_flops_6nd"] == 4.2e23
    assert v["training_flops_8nd"] == 8 * 70e9 * 1e12
    # MoE uses active parameters
    assert xlcalc.training_flops("mixtral-8x7b", 1e9) == 6 * 12_879_925_248 * 1e9


def test_megatron_formula_and_glu_generalisation():
    # GPT-3 175B (Narayanan et al. 2021): B=1536, s=2048, L=96, h=12288, V=51200
    cfg = {"model_type": "gpt2", "n_embd": 12288, "n_layer": 96, "n_head": 96,
           "vocab_size": 51200, "n_positions": 2048}
    B, s, L, h, V = 1536, 2048, 96, 12288, 51200
    classic = 72 * B * s * L * h * h * (1 + s / (6 * h) + V / (12 * h * L))
    assert xlcalc.megatron_flops(cfg, B, s) == pytest.approx(classic, rel=1e-12)
    # Narayanan et al. 2021 eq. (3): with full recomputation the layers run 4 passes but
    # the logits are not recomputed: 96·B·s·L·h²·(1 + s/(6h) + V/(16hL)), i.e. 6·B·s·h·V
    recomputed = 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * h * L))
    assert xlcalc.megatron_flops(cfg, B, s, recompute=True) == pytest.approx(recomputed,
                                                                              rel=1e-12)
    assert xlcalc.megatron_flops(cfg, B, s, recompute=True, glu=True) == pytest.approx(
        recomputed, rel=1e-12)
    # the GQA/SwiGLU/MoE form reduces to the classic one for MHA with a 4h MLP
    assert xlcalc.megatron_flops(cfg, B, s, glu=True) == pytest.approx(classic, rel=1e-12)
    # ... and a gated MLP of width 8h/3 has the same MLP cost as a 4h plain one
    llama = {"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048,
             "num_hidden_layers": 2, "num_attention_heads": 12, "vocab_size": 1000}
    gpt = {"model_type": "gpt2", "n_embd": 768, "n_inner": 3072, "n_layer": 2, "n_head": 12,
           "vocab_size": 1000}
    assert xlcalc.megatron_flops(llama, 4, 512, glu=True) == pytest.approx(
        xlcalc.megatron_flops(gpt, 4, 512, glu=True), rel=1e-12)


def _megatron_lm_deepseek_v3(B, s):
    """Megatron-LM megatron/training/training.py num_floating_point_operations
    (NVIDIA/Megatron-LM commit 001b00c2734d8f0fad096fe48a382fedf755d321), written out by
    hand for DeepSeek-V3 (config.json: h 7168, 128 heads, q_lora_rank 1536, kv_lora_rank
    512, qk_nope 128 (Megatron's qk_head_dim), qk_rope 64 (qk_pos_emb_head_dim), v 128,
    61 layers of which the first 3 dense (ffn 18432), 58 MoE (8 of 256 experts of 2048
    and one shared expert of 2048), vocabulary 129,280, SwiGLU, no MTP layer)."""
    h, a, q_lora, kv_lora, nope, rope, v = 7168, 128, 1536, 512, 128, 64, 128
    L, dense, moe, V = 61, 3, 58, 129280
    q_term = q_lora * (h + a * (nope + rope) + 1)
    attn = 3 * 2 * (q_term + kv_lora * (h + a * (nope + v) + 1) + h * rope + a * v * h
                    + s * (a * (nope + rope)) / 2 + s * a * v / 2)
    mlp = 3 * 2 * h * (18432 * 3 * dense + 2048 * 8 * 3 * moe + 2048 * 3 * moe)
    return B * s * (mlp + L * attn + 3 * 2 * h * V)


def test_megatron_flops_deepseek_v3_mla_matches_megatron_lm():
    # xlcalc counts the attention core over the full s×s (Narayanan et al. 2021); Megatron-LM
    # now halves it for the causal mask: the two differ by exactly that half,
    # 3 passes × 2·s·a·(d_qk + d_v) / 2 per token and layer
    B, s = 1, 4096
    got = xlcalc.megatron_flops("deepseek-v3", B, s, glu=True)
    half_core = 3 * B * s * 61 * s * 128 * (192 + 128)
    assert got == pytest.approx(_megatron_lm_deepseek_v3(B, s) + half_core, rel=1e-12)
