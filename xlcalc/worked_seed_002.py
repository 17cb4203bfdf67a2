"""Worked example of seed ``002_*`` (大模型知识点, study notes): every figure it prints beside
xlcalc's value.

Its figures: the RTX 4090's 82.58 TFLOPS and 1.01 TB/s (§1.10), the roofline example of a
decode GEMM (intensity 15.7, 11.3 µs at 1.5 TB/s), MLA's per-token KV (§1.5), ZeRO's 2Ψ/3Ψ
traffic (§1.11.1), GPipe's recomputation cost (§1.11.1), the LLaMA tensor-parallel head
split (§三), the DistServe KV transfer over InfiniBand and NVLink (§五, the 1.13 GB / 90 Gbps
rows are in ``llama-70b-communication``) and the peak KV cache ``b(S+t)·H·l·2·2`` (§六).
The GEMM example prints neither M, N nor K; M = 16 (a decode batch) and N = K = 4096
reproduce both its figures, the time only when elements are counted as bytes.

Every figure is recomputed by hand in ``tests/test_worked_seeds.py``.
"""

from __future__ import annotations

from .worked import SEED_ENGINE, SeedFigure, WorkedExample, register_example

G, GB, US = 1e9, 1e9, 1e-6

SCENARIO = dict(
    **SEED_ENGINE, compute_dtype="auto",
    model="llama-2-7b", gpu="a100-40gb", batch=1, seq_len=4096, prompt_len=512,
    context_len=4096, dtype="fp16", kv_dtype="fp16", tp=1, pp=1, block_size=1, mfu=1.0,
    bw_eff=1.0, gemm_m=16, gemm_n=4096, gemm_k=4096, request_rate=10, link_eff=1.0,
    scale_out_eff=1.0,
    link_latency_us=0.0, gpus_per_node=8, precision="fp16-mixed", optimizer="adam",
    zero=2, dp=1, trainable_fraction=1.0, tokens=2048, recompute="none")

_DP64 = {"dp": 64, "batch": 64}
_DISTSERVE = {"model": "opt-66b", "prompt_len": 512, "kv_dtype": "fp16", "tp": 1}

register_example(WorkedExample(
    name="seed-002-notes",
    title="Seed 002: roofline of a decode GEMM, MLA, ZeRO traffic, recomputation, TP heads, "
          "DistServe links, the peak KV cache",
    seed="002 (大模型知识点: §1.5, §1.10, §1.11, §三, §五, §六)",
    inputs=SCENARIO,
    figures=(
        # §1.10 roofline ------------------------------------------------------------------
        SeedFigure("RTX 4090 reaches 82.58 TFLOPS", "002 §1.10", 82.58, "peak_tflops",
                   "TFLOP/s", 1, {"gpu": "rtx-4090", "dtype": "fp32"},
                   "the fp32 (non-tensor) peak, 82.6 (Ada whitepaper); its fp16/bf16 Tensor "
                   "Cores reach 165.2 dense with fp32 accumulation"),
        SeedFigure("RTX 4090 bandwidth 1.01 TB/s", "002 §1.10", 1.01,
                   "memory_bandwidth_gb_per_s", "TB/s", 1000, {"gpu": "rtx-4090"},
                   "1,008 GB/s"),
        SeedFigure("a decode GEMM's intensity 2MNK / ((MK + KN + MN) × 2) = 15.7", "002 §1.10",
                   15.7, "gemm_intensity", "FLOP/B", 1, {},
                   "M = 16, N = K = 4096 (the seed prints none of them): 2 × 16 × 4096² / "
                   "((2 × 16 × 4096 + 4096²) × 2) = 15.88"),
        SeedFigure("… memory-bound: T_mem = (MK + KN + MN) / 1.5e12 B/s = 11.3 µs",
                   "002 §1.10", 11.3, "gemm_memory_s", "µs", US,
                   {"hbm_bytes_per_s": 1.5e12},
                   "elements counted as bytes: (2 × 16 × 4096 + 4096²) = 16,908,288 elements "
                   "are 33,816,576 bytes in fp16: 22.5 µs at the seed's 1.5 TB/s (21.7 µs on an "
                   "A100-40GB's 1.555 TB/s); 16.9 M / 1.5e12 = 11.3 µs counts elements"),
        SeedFigure("… which makes it memory-bound (intensity below the ridge)", "002 §1.10",
                   "memory", "gemm_bound", "", 1, {},
                   "15.88 FLOP/B against the A100's 312 / 1.555 = 200.6"),
        SeedFigure("A100 HBM 2.0 TB/s (against its L2's 4 TB/s: GQA gains at most 2×)",
                   "002 §1.10", 2.0, "memory_bandwidth_gb_per_s", "TB/s", 1000,
                   {"gpu": "a100-80gb"},
                   "2,039 GB/s (A100 80GB; the 40GB card has 1,555); the L2 figure is not in "
                   "the accelerator presets"),
        # §1.5 MLA ----------------------------------------------------------------------
        SeedFigure("MHA caches 2·n_h·d_h·l values per token (DeepSeek-V3 as if MHA)",
                   "002 §1.5", 2 * 128 * 128 * 61 * 2 / 1e6, "kv_cache_bytes_per_token", "MB", 1e6,
                   {"model": "deepseek-v3", "kv_dtype": "bf16"},
                   "a different rule (MLA caches its compressed latent): 2 × 128 × 128 × 61 × "
                   "2 bytes = 4.0 MB would be MHA's; MLA keeps (512 + 64) × 61 values = "
                   "70,272 bytes, 1/57 of it"),
        # §1.11 training ---------------------------------------------------------------
        SeedFigure("ZeRO-1/2: each process sends and receives 2Ψ (dp = 64)", "002 §1.11.1", 2,
                   "train_dp_comm_bytes", "× Ψ (fp16)", 2, {"train_params_per_gpu": 1, **_DP64},
                   "reduce-scatter of the fp16 gradients and all-gather of the fp16 weights, "
                   "(dp − 1)/dp each: 2 × 63/64 = 1.97 Ψ"),
        SeedFigure("ZeRO-3: 3Ψ (dp = 64)", "002 §1.11.1", 3, "train_dp_comm_bytes",
                   "× Ψ (fp16)", 2, {"train_params_per_gpu": 1, "zero": 3, **_DP64},
                   "the weights are all-gathered twice (forward and backward): 3 × 63/64 = "
                   "2.95 Ψ"),
        SeedFigure("GPipe: the extra forward is 1/3 of the system's compute", "002 §1.11.1",
                   1 / 3, "recompute_flops_share", "", 1, {},
                   "arithmetic slip in the seed: recomputation adds one forward (2ND) to a "
                   "step of 6ND, +1/3 (seed 000 §4.3's +33 %), which is 2ND of 8ND = 1/4 of "
                   "the recomputing system's compute"),
        # §三 tensor parallelism of heads ----------------------------------------------
        SeedFigure("8 heads over 2 GPUs: 4 query heads each (Gemma-2-2B: 8 heads, 4 KV)",
                   "002 §三", 4, "heads_per_gpu", "heads", 1,
                   {"model": "gemma-2-2b", "tp": 2}, "8 / 2 = 4"),
        SeedFigure("… and 2 KV heads each", "002 §三", 2, "kv_heads_per_gpu", "heads", 1,
                   {"model": "gemma-2-2b", "tp": 2}, "4 / 2 = 2"),
        SeedFigure("… each KV head serves n_rep = 2 query heads", "002 §三", 2,
                   "gqa_group_size", "heads", 1, {"model": "gemma-2-2b"}, "8 / 4 = 2"),
        # §五 DistServe links -----------------------------------------------------------
        SeedFigure("800 Gbps InfiniBand hides 10 requests/s of OPT-66B KV (utilisation < 1)",
                   "002 §五", 0.5, "kv_link_utilisation", "", 1,
                   {**_DISTSERVE, "inter_node_gb_per_s": 100},
                   "1,207,959,552 bytes × 10 / 100e9 bytes/s = 12.1 % of the link",
                   seed_range=(0, 1)),
        SeedFigure("A100 NVLink peak 600 GB/s", "002 §五", 600, "intra_node_gb_per_s", "GB/s",
                   1, {"gpu": "a100-80gb"},
                   "a different rule (direction): 600 GB/s adds both directions (12 NVLink 3 "
                   "links × 25 GB/s each way); xlcalc's links are per direction, 300 GB/s"),
        # §六 peak KV cache ------------------------------------------------------------
        SeedFigure("peak KV b(S+t)·H·l·2·2 (Llama-2-7B, S + t = 4096)", "002 §六",
                   1 * 4096 * 4096 * 32 * 2 * 2 / GB, "kv_cache_bytes", "GB", GB, {},
                   "1 × 4096 × 4096 × 32 × 2 × 2 = 2,147,483,648 bytes: exact for MHA"),
        SeedFigure("the same for Llama-3.1-8B (GQA)", "002 §六",
                   1 * 4096 * 4096 * 32 * 2 * 2 / GB, "kv_cache_bytes",
                   "GB", GB, {"model": "llama-3.1-8b"},
                   "a different rule (GQA): H counts the query width; K and V have 8 heads of "
                   "128: 4096 × 32 × 2 × 1024 × 2 = 0.537 GB"),
    ),
))
