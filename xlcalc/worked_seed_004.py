"""Worked example of seed ``004_*`` (an AI-infra survey: parameters, FLOPs, KV cache,
FlashAttention, operators, precision formats): every figure it prints beside xlcalc's
value.

Its formulas are instantiated on GPT-2 (MHA, a 4h MLP with biases, LayerNorm; one
1024-token sequence: B = 1, L = 1024, H = 768 in the seed's letters) on an A100-80GB in
fp16.  Its FLOPs count multiply-adds (it says so: "理论上应该再乘以2"), which the rows
show as such; its KV formula uses ``num_heads`` (MHA); its softmax and attention
read/write counts are the papers' (Milakov & Gimelshein 2018; FlashAttention Algorithm 0).

Every figure is recomputed by hand in ``tests/test_worked_seeds.py``.
"""

from __future__ import annotations

from .worked import SEED_ENGINE, SeedFigure, WorkedExample, register_example

G, MB = 1e9, 1e6
B, L, H = 1, 1024, 768                      # the seed's letters: batch, length, hidden
_SCORES_BYTES = 12 * L * L * 2              # one layer's scores, 12 heads, fp16

SCENARIO = dict(
    **SEED_ENGINE, compute_dtype="auto",
    model="gpt2", gpu="a100-80gb", batch=1, seq_len=1024, prompt_len=1024, micro_batch=1,
    dtype="fp16", kv_dtype="fp16", tp=1, block_size=1, mfu=0.5, bw_eff=1.0,
    flash_block_size=128, operator="softmax-safe", op_elements=12 * 1024 * 1024,
    gemm_m=1024, gemm_n=768, gemm_k=768, precision="bf16-mixed", dropout=1,
    sequence_parallel=0)

_MAC = ("multiply-adds counted as FLOPs (the seed notes 理论上应该再乘以2): a multiply-add "
        "is 2 FLOPs")
_SCORES = ("two slips that cancel: multiply-adds counted as FLOPs (½) and the full L × L "
           "square where a decoder attends causally (½ · (L+1)/L): 2 × 768 × 1024 × 1025 / 2 "
           "= 806.09 M")
_SOFTMAX = "Milakov & Gimelshein 2018: {r} loads and 1 store per element: {r1} × 12 × 1024² × 2 bytes"

register_example(WorkedExample(
    name="seed-004-survey",
    title="Seed 004: a layer's parameters and FLOPs, the KV cache, softmax and attention "
          "traffic, operators and formats (GPT-2, one 1024-token sequence, A100 fp16)",
    seed="004 (Model Parameters, Computation Estimation, KV Cache, FlashAttention, Operator, "
         "Quantization)",
    inputs=SCENARIO,
    figures=(
        # parameters ----------------------------------------------------------------------
        SeedFigure("self-attention 4H² + 4H", "004 Parameter Estimation",
                   (4 * H ** 2 + 4 * H) / 1e6,
                   "params_attention_per_layer", "M params", 1e6, {},
                   "W_Q, W_K, W_V, W_O and their biases: 2,362,368, exact"),
        SeedFigure("FFN (H × 4H + 4H) + (4H × H + H) = 8H² + 5H", "004 Parameter Estimation",
                   (8 * H ** 2 + 5 * H) / 1e6, "params_dense_mlp_per_layer", "M params", 1e6, {},
                   "4,722,432, exact"),
        SeedFigure("one layer 12H² + 13H ≈ 12H²", "004 Parameter Estimation",
                   (12 * H ** 2 + 13 * H) / 1e6,
                   "params_dense_layer", "M params", 1e6, {},
                   "with the two LayerNorms (2H each): 7,087,872, exact; 12H² alone is "
                   "7,077,888"),
        # FLOPs -------------------------------------------------------------------------
        SeedFigure("[A,B]·[B,C] ≈ 2ABC FLOPs, \"近似为 ABC\" (1024 × 768 · 768 × 768)",
                   "004 Computation Estimation", L * H * H / G, "gemm_flops", "GFLOPs", G, {},
                   _MAC + ": 2 × 1024 × 768 × 768 = 1.208 G; its own first line says 2ABC"),
        SeedFigure("QKV projections 3BLH²", "004 Computation Estimation", 3 * B * L * H ** 2 / G,
                   "prefill_qkv_flops_layer", "GFLOPs", G, {},
                   _MAC + ": 6BLH² = 3.624 G, plus the biases: 3.629 G"),
        SeedFigure("attention scores QKᵀ BHL²", "004 Computation Estimation", B * H * L ** 2 / G,
                   "prefill_scores_flops_layer", "GFLOPs", G, {}, _SCORES),
        SeedFigure("attention output × V BHL²", "004 Computation Estimation", B * H * L ** 2 / G,
                   "prefill_av_flops_layer", "GFLOPs", G, {}, _SCORES),
        SeedFigure("output projection W_O BLH²", "004 Computation Estimation", B * L * H ** 2 / G,
                   "prefill_o_flops_layer", "GFLOPs", G, {},
                   _MAC + ": 2BLH² = 1.208 G (+ bias: 1.210 G)"),
        SeedFigure("self-attention 4BLH² + 2BHL²", "004 Computation Estimation",
                   (4 * B * L * H ** 2 + 2 * B * H * L ** 2) / G,
                   "prefill_attention_flops_layer", "GFLOPs", G, {},
                   _MAC + ", scores as full squares: 8BLH² + 2 × 806.09 M causal + biases = "
                   "6.450 G"),
        SeedFigure("FFN 8BLH²", "004 Computation Estimation", 8 * B * L * H ** 2 / G,
                   "prefill_mlp_flops_layer", "GFLOPs", G, {},
                   _MAC + ": 16BLH² = 9.664 G (+ biases: 9.672 G)"),
        SeedFigure("layer total 12BLH² + 2BHL²", "004 Computation Estimation",
                   (12 * B * L * H ** 2 + 2 * B * H * L ** 2) / G,
                   "prefill_flops_layer", "GFLOPs", G, {},
                   _MAC + ": × 2 gives 24BLH² + 4BHL² = 17.717 G; causal attention halves "
                   "the 4BHL²: 16.122 G"),
        # KV cache ----------------------------------------------------------------------
        SeedFigure("KV = 2 × b × s × layers × heads × head_dim × bytes (Llama-2-7B, MHA, "
                   "4096 tokens)", "004 KV Cache", 2 * 1 * 4096 * 32 * 32 * 128 * 2 / G, "kv_cache_bytes", "GB", G,
                   {"model": "llama-2-7b", "seq_len": 4096},
                   "2 × 4096 × 32 × 32 × 128 × 2 = 2,147,483,648 bytes: exact for MHA"),
        SeedFigure("the same formula for Llama-2-70B (GQA)", "004 KV Cache", 2 * 1 * 4096 * 80 * 64 * 128 * 2 / G,
                   "kv_cache_bytes", "GB", G, {"model": "llama-2-70b", "seq_len": 4096},
                   "a different rule (GQA, the seed's next section): K and V have "
                   "num_kv_heads = 8 heads, not 64: 2 × 4096 × 80 × 8 × 128 × 2 = 1.342 GB"),
        SeedFigure("MQA: every query head shares one K/V (Falcon-7B: 71 heads)", "004 MQA", 71,
                   "gqa_group_size", "× smaller", 1, {"model": "falcon-7b"},
                   "71 query heads over 1 K/V head: the cache is 71× smaller than MHA's"),
        # softmax, attention traffic, operators ------------------------------------------
        SeedFigure("naive softmax: 2 reads and 1 write (GPT-2 scores, 12 × 1024²)",
                   "004 Online Softmax", 3 * _SCORES_BYTES / MB, "op_traffic_bytes", "MB", MB,
                   {"operator": "softmax-naive"}, _SOFTMAX.format(r=2, r1=3)),
        SeedFigure("safe softmax: 3 reads and 1 write", "004 Online Softmax", 4 * _SCORES_BYTES / MB,
                   "op_traffic_bytes", "MB", MB, {"operator": "softmax-safe"},
                   _SOFTMAX.format(r=3, r1=4)),
        SeedFigure("online softmax: 2 reads and 1 write", "004 Online Softmax", 3 * _SCORES_BYTES / MB,
                   "op_traffic_bytes", "MB", MB, {"operator": "softmax-online"},
                   _SOFTMAX.format(r=2, r1=3) + " (one pass fewer than the safe softmax)"),
        SeedFigure("element-wise and reduction operators are memory-bound (LayerNorm)",
                   "004 Operator", "memory", "op_bound", "", 1, {"operator": "layernorm"},
                   "8 FLOPs per 4 bytes read and written (2 FLOP/B) against an A100's ridge "
                   "of 153 FLOP/B"),
        SeedFigure("GEMM is compute-bound (1024 tokens × 768 × 768)", "004 Operator", "compute",
                   "gemm_bound", "", 1, {},
                   "2 × 1024 × 768² FLOPs over (1024 + 768 + 1024) × 768 × 2 bytes is 279 "
                   "FLOP/B, above the A100's ridge of 153 FLOP/B; at 50 % MFU 7.7 µs of "
                   "compute against 2.1 µs of traffic"),
        SeedFigure("GEMM is compute-bound (a decode step: 1 token × 768 × 768)", "004 Operator",
                   "compute", "gemm_bound", "", 1, {"gemm_m": 1},
                   "a different rule: a decode step multiplies one token, a matrix-vector "
                   "product of 1 FLOP per byte: memory-bound"),
        SeedFigure("standard attention: 5 reads and 3 writes of N×d and N×N matrices",
                   "004 FlashAttention",
                   12 * (4 * L * 64 + 4 * L * L) * 2 / MB, "attention_eager_hbm_bytes", "MB", MB, {},
                   "FlashAttention Algorithm 0: read Q, K, S, P, V and write S, P, O per head: "
                   "12 × (4 × 1024 × 64 + 4 × 1024²) × 2 bytes: exact"),
        SeedFigure("FlashAttention: 2-4× faster", "004 FlashAttention", 3,
                   "flash_attention_speedup", "×", 1, {},
                   "the roofline of one GPT-2 layer's attention: eager 106.95 MB of HBM traffic "
                   "(52.5 µs at 2.039 TB/s), FlashAttention-2 28.36 MB, then bound by its "
                   "3.22 GFLOPs at 50 % MFU (20.6 µs): 2.54×", seed_range=(2, 4)),
        SeedFigure("FlashAttention: saves more than 10× memory (1024 tokens)", "004 "
                   "FlashAttention", 10, "flash_activation_saving", "×", 1, {},
                   "rule of thumb for long sequences: a GPT-2 layer keeps 34sbh = 26.7 MB "
                   "besides attention; eager attention adds 5as²b = 62.9 MB, FlashAttention "
                   "its 49 kB log-sum-exp: 3.35× at 1024 tokens, 10.4× at 4096",
                   seed_range=(10, None)),
        SeedFigure("FlashAttention: saves more than 10× memory (4096 tokens)", "004 "
                   "FlashAttention", 10, "flash_activation_saving", "×", 1,
                   {"seq_len": 4096}, "5 × 12 × 4096² × 1 versus 34 × 4096 × 768: 10.4×",
                   seed_range=(10, None)),
        # formats -----------------------------------------------------------------------
        SeedFigure("FP32 [1, 8, 23]: 32 bits", "004 Precision Formats", 32, "dtype_bytes",
                   "bits", 1 / 8, {"dtype": "fp32"}, "4 bytes"),
        SeedFigure("TF32 [1, 8, 10]: 19 bits", "004 Precision Formats", 19, "dtype_bytes",
                   "bits", 1 / 8, {"dtype": "tf32"},
                   "a different rule: TF32 is a Tensor Core compute format; its 19 bits are "
                   "stored in 32 (4 bytes), so memory counts 32"),
        SeedFigure("FP16 [1, 5, 10]: 16 bits", "004 Precision Formats", 16, "dtype_bytes",
                   "bits", 1 / 8, {"dtype": "fp16"}, "2 bytes"),
        SeedFigure("BF16 [1, 8, 7]: 16 bits", "004 Precision Formats", 16, "dtype_bytes",
                   "bits", 1 / 8, {"dtype": "bf16"}, "2 bytes"),
        SeedFigure("FP8 [1, 4, 3] or [1, 5, 2]: 8 bits", "004 Precision Formats", 8,
                   "dtype_bytes", "bits", 1 / 8, {"dtype": "fp8"}, "1 byte"),
        SeedFigure("INT8: 8 bits", "004 Precision Formats", 8, "dtype_bytes", "bits", 1 / 8,
                   {"dtype": "int8"}, "1 byte"),
    ),
))
