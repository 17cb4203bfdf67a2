"""Worked example of seed ``003_*``'s figures that ``llama-13b-capacity`` leaves out: the
LLaMA parameter table (§2.5), the memory rules (§三, §5.2-5.4), the FLOPs (§4.1-4.2) and the
latency formulas (§六, after kipp.ly).

The scenario is llama-13b in fp16 (h = 5120, n = 40, V = 32000), one sequence of 2048
tokens, on 8×V100-32GB as in §七; rows add their own inputs.  Every figure is recomputed
by hand in ``tests/test_worked_seeds.py``.
"""

from __future__ import annotations

from .worked import SEED_ENGINE, SeedFigure, WorkedExample, register_example

G, GB, MS = 1e9, 1e9, 1e-3
_SEED_13B = 40 * (12 * 5120 ** 2 + 4 * 5120) + 32000 * 5120     # n(12h² + 4h) + Vh

SCENARIO = dict(
    **SEED_ENGINE, compute_dtype="auto",
    model="llama-13b", gpu="v100-32gb", batch=1, seq_len=2048, prompt_len=2048,
    context_len=2048, dtype="fp16", kv_dtype="fp16", tp=1, pp=1, block_size=1, mfu=0.5,
    bw_eff=1.0, link_eff=1.0, scale_out_eff=1.0, link_latency_us=8.0, gpus_per_node=8,
    comm_overlap=0.0,
    gpu_memory_utilization=0.9, infer_reserve_bytes=1e9, max_num_batched_tokens=8192,
    flash_attention=1, attention="flash", quant_group_size=128, micro_batch=1,
    precision="fp16-mixed",
    optimizer="adamw", zero=0, dp=1, recompute="none", activation_rule="korthikanti",
    train_reserve_bytes=0.0, trainable_fraction=1.0, sequence_parallel=0, dropout=0, vp=1)

_TABLE = ("12nh² leaves out the embedding and LM head (2Vh), the norms, and LLaMA's SwiGLU "
          "is 3hf with f = {f} (8h² = {eight}): the exact count is {exact}")


def _table_rows(model, h, n, heads, actual, f, exact):
    theory = 12 * n * h * h
    return (
        SeedFigure(f"{model}: 12nh² (h = {h}, n = {n}, {heads} heads)", "003 §2.5",
                   theory / 1e9, "params_12lh2", "B params", 1e9, {"model": model},
                   f"12 × {n} × {h}² = {theory:,}: the formula, exactly"),
        SeedFigure(f"{model}: actual {actual} B", "003 §2.5", actual, "params_total",
                   "B params", 1e9, {"model": model},
                   _TABLE.format(f=f"{f:,}", eight=f"{8 * h * h / (3 * h * f) * 100:.0f} % of it",
                                 exact=f"{exact:,}")),
    )


register_example(WorkedExample(
    name="seed-003-more",
    title="Seed 003's other figures: the LLaMA parameter table, memory rules, FLOPs and the "
          "decode latency formulas (llama-13b, fp16, 2048 tokens)",
    seed="003 (§2.5, §三, §4.1-4.2, §5.2-5.4, §六)",
    inputs=SCENARIO,
    figures=(
        *_table_rows("llama-7b", 4096, 32, 32, 6.7, 11008, 6_738_415_616),
        *_table_rows("llama-13b", 5120, 40, 40, 13.0, 13824, 13_015_864_320),
        *_table_rows("llama-33b", 6656, 60, 52, 32.5, 17920, 32_528_943_616),
        *_table_rows("llama-65b", 8192, 80, 64, 65.2, 22016, 65_285_660_672),
        SeedFigure("n(12h² + 4h) + Vh (llama-13b)", "003 §2.5", _SEED_13B / 1e9, "params_total",
                   "B params", 1e9, {},
                   "a different rule: the SwiGLU MLP is 3 × 5120 × 13824 = 212.3 M per layer "
                   "(8h² = 209.7 M), RMSNorm has no bias (2h, not 4h) and the LM head is not "
                   "tied (+Vh): 13,015,864,320"),
        # memory ----------------------------------------------------------------------------
        SeedFigure("memory_model = [n(12h² + 4h) + Vh] × 2", "003 §5.4", 2 * _SEED_13B / GB,
                   "model_weights_bytes", "GB", GB, {},
                   "a different rule (the count above): 13,015,864,320 × 2 = 26.03 GB"),
        SeedFigure("inference memory ≈ 1.2 × the weights (batch 1 × 2048)", "003 §三",
                   1.2 * 2 * 13_015_864_320 / GB, "infer_total_bytes", "GB", GB, {},
                   "rule of thumb: 26.03 GB of weights + 1.68 GB of KV + 0.11 GB of "
                   "activations + 1 GB of engine reserve = 28.82 GB (1.11×); at batch 16 the "
                   "KV cache alone is 26.8 GB (2.1×)"),
        SeedFigure("a larger batch barely adds memory (each 2048-token sequence)", "003 §5.2",
                   0, "kv_sequence_bytes", "GB", GB, {"tp": 1},
                   "rule of thumb refuted by its own §5.4: each sequence adds its KV cache, 4 × "
                   "40 × 5120 × 2048 = 1.68 GB; 16 sequences hold as much as the weights"),
        SeedFigure("memory_intermediate = 8bsh (the MLP's first output)", "003 §5.4",
                   8 * 1 * 2048 * 5120 / GB, "infer_activation_bytes", "GB", GB, {},
                   "a different rule (gated MLP): LLaMA's gate and up outputs are both 13824 "
                   "wide: 2 × 2048 × 2 × 13824 = 0.113 GB"),
        SeedFigure("memory_kv-cache = 4bnh(s + o)", "003 §5.4", 4 * 1 * 40 * 5120 * 2048 / GB, "kv_cache_bytes",
                   "GB", GB, {}, "4 × 1 × 40 × 5120 × 2048 = 1,677,721,600 bytes: exact (MHA)"),
        # FLOPs -----------------------------------------------------------------------------
        SeedFigure("n(24bsh² + 4bs²h) + 2bshV (llama-13b, 2048 tokens)", "003 §4.1",
                   (40 * (24 * 2048 * 5120 ** 2 + 4 * 2048 ** 2 * 5120) + 2 * 2048 * 5120 * 32000) / 1e12, "prefill_flops", "TFLOPs", 1e12, {},
                   "a different rule: the SwiGLU MLP (6hf = 16.2h², not 16h²), causal "
                   "attention (half of 4bs²h) and the last token's logits only in a serving "
                   "prefill: 53.69 TFLOPs"),
        SeedFigure("2 FLOPs per parameter per token, < 2 % off (llama-13b at 2048 tokens)",
                   "003 §4.2", 2 * 13_015_864_320 / G, "forward_flops_per_token", "GFLOPs", G, {},
                   "rule of thumb (h ≫ s): 2 × 13,015,864,320 = 26.03 G; exactly 2 per weight "
                   "multiplied (25.70 G: the embedding is a lookup) plus attention over 2048 "
                   "tokens (1.68 G): 27.38 G, 5.2 % more"),
        SeedFigure("GPT-3 13B: 6 × 12850 M × 300 B = 2.313e22 FLOPs", "003 §4.2", 2.313e22 / 1e21,
                   "training_flops_6nd", "ZFLOPs", 1e21,
                   {"params_active": 12.85e9, "tokens": 300e9},
                   "6 × 12.85e9 × 300e9 = 2.313e22: exact"),
        # §六 decode latency (small batch) --------------------------------------------------
        SeedFigure("small batch: compute = 2P / (N · A_bm) (8 × V100)", "003 §六",
                   2 * 13_015_864_320 / (8 * 900e9) / MS, "decode_memory_s", "ms", MS, {"tp": 8},
                   "a different rule: 2P / A_bm is the weights' read time (2 bytes each), not "
                   "compute; 26.03 GB / 8 / 900 GB/s = 3.615 ms, plus the KV cache of 2048 "
                   "tokens (0.21 GB per GPU, 0.23 ms): 3.848 ms"),
        SeedFigure("small batch: comms = 4 · n_layers · 8 µs", "003 §六", 4 * 40 * 8e-6 / MS,
                   "decode_tp_comm_s", "ms", MS, {"tp": 8},
                   "a different rule: Megatron's tensor parallelism needs two all-reduces per "
                   "layer (after attention, after the MLP): 80 × (8 µs + 17.9 kB / 150 GB/s) = "
                   "0.650 ms; the seed (after kipp.ly) counts four per layer"),
    ),
))
