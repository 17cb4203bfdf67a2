"""Worked training examples of seed ``000_*``: each printed figure beside xlcalc's value.

* ``llama-7b-training`` — §七 example 2: LLaMA-7B, BF16 mixed precision, AdamW, batch 32,
  sequence 2048, activation recomputation; the nominal 7 B and the exact 6.74 B side by
  side.
* ``llama-70b-training-memory`` — §四 4.2: LLaMA-70B, BF16 mixed, batch 1, sequence 2048:
  140 + 280 + 280 + 560 + 90 + 15 ≈ 1365 GB → at least 18 × 80 GB.
* ``llama-70b-pretraining-days`` — §五 5.3: 6 × 70 B × 1 T tokens on 1,000 H100 at
  990 TFLOP/s and 30 % ≈ 16 days.

Every figure was recomputed by hand (see ``tests/test_training_seeds.py``); the notes say
why the seed and xlcalc differ where they do.  The examples' inputs are complete training
inputs, so a workbook can use them as its live inputs.
"""

from __future__ import annotations

from .worked import SeedFigure, WorkedExample, register_example

GB = 1e9
NOMINAL_7B = {"params_total": 7e9}
NOMINAL_70B = {"params_total": 70e9}
# rows that reproduce a seed's total name the seed's activation rule (and buffers) so that
# they keep their meaning when a workbook's live inputs choose another rule
SEED_7B = {"activation_rule": "seed-000-recompute", "train_reserve_bytes": 0.0}
SEED_70B = {"activation_rule": "seed-000", "train_reserve_bytes": 15e9}
# the seed counts GPUs of "80 GB" (CUDA reports 79.22 GiB = 85.06e9 bytes on an H100)
SEED_80GB = {"gpu_memory_bytes": 80e9}

_EXACT_7B = ("nominal vs exact count: the seed uses the nominal 7 B; LLaMA-7B has "
             "6,738,415,616 parameters")
_EXACT_70B = ("nominal vs exact count: the seed uses the nominal 70 B; Llama-2-70B has "
              "68,976,648,192 parameters")

register_example(WorkedExample(
    name="llama-7b-training",
    title="LLaMA-7B training memory: BF16 mixed precision, AdamW, batch 32 × 2048 tokens",
    seed="000 §七 example 2",
    inputs=dict(model="llama-7b", gpu="h100-sxm", batch=32, seq_len=2048,
                precision="bf16-mixed", optimizer="adamw", zero=0, dp=1, tp=1, pp=1,
                recompute="full", activation_rule="seed-000-recompute",
                train_reserve_bytes=0.0, trainable_fraction=1.0, stack="megatron",
                attention="flash", cp=1, sequence_parallel=0, dropout=0, vp=1),
    figures=(
        SeedFigure("weights, BF16 (nominal 7 B)", "000 §七 example 2", 14,
                   "train_weights_bytes", "GB", GB, NOMINAL_7B,
                   "7e9 × 2 bytes = 14 GB"),
        SeedFigure("weights, BF16 (exact 6.74 B)", "000 §七 example 2", 14,
                   "train_weights_bytes", "GB", GB, {}, _EXACT_7B + ": × 2 = 13.48 GB"),
        SeedFigure("master weights, FP32 (nominal 7 B)", "000 §七 example 2", 28,
                   "train_master_weights_bytes", "GB", GB, NOMINAL_7B, "7e9 × 4 = 28 GB"),
        SeedFigure("master weights, FP32 (exact 6.74 B)", "000 §七 example 2", 28,
                   "train_master_weights_bytes", "GB", GB, {}, _EXACT_7B + ": × 4 = 26.95 GB"),
        SeedFigure("gradients, FP32 (nominal 7 B)", "000 §七 example 2", 28,
                   "train_gradients_bytes", "GB", GB, NOMINAL_7B, "7e9 × 4 = 28 GB"),
        SeedFigure("gradients, FP32 (exact 6.74 B)", "000 §七 example 2", 28,
                   "train_gradients_bytes", "GB", GB, {}, _EXACT_7B + ": × 4 = 26.95 GB"),
        SeedFigure("AdamW states, FP32 (nominal 7 B)", "000 §七 example 2", 56,
                   "train_optimizer_bytes", "GB", GB, NOMINAL_7B, "2 × 7e9 × 4 = 56 GB"),
        SeedFigure("AdamW states, FP32 (exact 6.74 B)", "000 §七 example 2", 56,
                   "train_optimizer_bytes", "GB", GB, {}, _EXACT_7B + ": 2 × 4 = 53.91 GB"),
        SeedFigure("activations with recomputation (seed's rule)", "000 §七 example 2", 34,
                   "train_activation_bytes", "GB", GB, SEED_7B,
                   "the seed's own rule 32 × 2048 × 4096 × 32 × 2 × 2 = 34.36 GB; its "
                   "'/ recompute factor' is not applied in its arithmetic"),
        SeedFigure("activations with full recomputation (Korthikanti)", "000 §七 example 2", 34,
                   "train_activation_bytes", "GB", GB, {"activation_rule": "korthikanti"},
                   "a different rule: Korthikanti's full recomputation keeps 2sbh per layer "
                   "(17.18 GB for 32 layers; the seed's × 2 × 2 is twice that) plus the "
                   "output-layer inputs (1.07 GB) and the fp32 logits 4·s·b·V (8.39 GB), "
                   "which the seed leaves out: 26.64 GB"),
        SeedFigure("total per GPU (nominal 7 B)", "000 §七 example 2", 160,
                   "train_total_bytes", "GB", GB, {**NOMINAL_7B, **SEED_7B},
                   "14 + 28 + 28 + 56 + 34.36 = 160.36 GB (the seed rounds the activations "
                   "to 34)"),
        SeedFigure("total per GPU (exact 6.74 B)", "000 §七 example 2", 160,
                   "train_total_bytes", "GB", GB, SEED_7B,
                   _EXACT_7B + ": 121.29 + 34.36 = 155.65 GB"),
        SeedFigure("GPUs needed, 80 GB each (nominal 7 B)", "000 §七 example 2", 2,
                   "train_gpus_needed", "GPUs", 1, {**NOMINAL_7B, **SEED_7B, **SEED_80GB},
                   "rounding in the seed: 160.36 GB is more than 2 × 80 GB, "
                   "so even perfectly sharded it needs 3; the seed rounded the activations "
                   "to 34 GB to get exactly 160 = 2 × 80"),
        SeedFigure("GPUs needed, 80 GB each (exact 6.74 B)", "000 §七 example 2", 2,
                   "train_gpus_needed", "GPUs", 1, {**SEED_7B, **SEED_80GB},
                   "155.65 GB fully sharded over 2 × 80 GB: 2"),
        SeedFigure("per-GPU total with ZeRO-2 on 2 GPUs (seed: fits in 80 GB)",
                   "000 §七 example 2", 80, "train_total_bytes", "GB", GB,
                   {"zero": 2, "dp": 2, **NOMINAL_7B, **SEED_7B},
                   "a different rule (ZeRO-2 shards no weights), so the seed's claim does not "
                   "hold: ZeRO-2 keeps the 14 GB of BF16 weights "
                   "on every GPU, 14 + (28 + 28 + 56)/2 + 34.36/2 = 87.18 GB > 80 GB "
                   "(84.56 GB with the exact count). ZeRO-3 on 2 GPUs gives 80.18 GB nominal, "
                   "77.83 GB exact; ZeRO-2 fits from 4 GPUs (xlcalc.train_fit_search)"),
    ),
))

register_example(WorkedExample(
    name="llama-70b-training-memory",
    title="LLaMA-70B training memory: BF16 mixed precision, AdamW, batch 1 × 2048 tokens",
    seed="000 §四 4.2",
    inputs=dict(model="llama-2-70b", gpu="h100-sxm", batch=1, seq_len=2048,
                precision="bf16-mixed", optimizer="adamw", zero=0, dp=1, tp=1, pp=1,
                recompute="none", activation_rule="seed-000", train_reserve_bytes=15e9,
                trainable_fraction=1.0, stack="megatron", attention="flash", cp=1,
                sequence_parallel=0, dropout=0, vp=1),
    figures=(
        SeedFigure("weights, BF16 (nominal 70 B)", "000 §四 4.2", 140, "train_weights_bytes",
                   "GB", GB, NOMINAL_70B, "70e9 × 2 = 140 GB"),
        SeedFigure("weights, BF16 (exact 68.98 B)", "000 §四 4.2", 140, "train_weights_bytes",
                   "GB", GB, {}, _EXACT_70B + ": × 2 = 137.95 GB"),
        SeedFigure("master weights, FP32 (nominal 70 B)", "000 §四 4.2", 280,
                   "train_master_weights_bytes", "GB", GB, NOMINAL_70B, "70e9 × 4 = 280 GB"),
        SeedFigure("gradients, FP32 (nominal 70 B)", "000 §四 4.2", 280,
                   "train_gradients_bytes", "GB", GB, NOMINAL_70B, "70e9 × 4 = 280 GB"),
        SeedFigure("AdamW states, FP32 (nominal 70 B)", "000 §四 4.2", 560,
                   "train_optimizer_bytes", "GB", GB, NOMINAL_70B, "2 × 70e9 × 4 = 560 GB"),
        SeedFigure("activations (seed's rule × 34 × 2)", "000 §四 4.2", 90,
                   "train_activation_bytes", "GB", GB, {"activation_rule": "seed-000"},
                   "1 × 2048 × 8192 × 80 × 34 × 2 = 91.27 GB, printed as ≈ 90"),
        SeedFigure("activations (Korthikanti, (34 + 5as/h)·sbh per layer)", "000 §四 4.2", 90,
                   "activations_seed_001", "GB", GB, {},
                   "a different rule: Korthikanti's 34 is already bytes (the seed multiplies "
                   "it by 2 again) and the score term 5as/h = 80 is larger than 34 at s = "
                   "2048: 1.34e9 × 114 = 153 GB without FlashAttention (seed 001 §3.3). With "
                   "FlashAttention and LLaMA's GQA/SwiGLU, no dropout, xlcalc's model gives "
                   "45.3 GB"),
        SeedFigure("temporary buffers", "000 §四 4.2", 15, "train_reserve_bytes", "GB", GB,
                   {"train_reserve_bytes": 15e9},
                   "an input: the seed's 10-20 GB, midpoint"),
        SeedFigure("total (nominal 70 B)", "000 §四 4.2", 1365, "train_total_bytes", "GB", GB,
                   {**NOMINAL_70B, **SEED_70B}, "140 + 280 + 280 + 560 + 91.27 + 15 = 1366.27 GB"),
        SeedFigure("total (exact 68.98 B)", "000 §四 4.2", 1365, "train_total_bytes", "GB", GB,
                   SEED_70B, _EXACT_70B + ": 1241.58 + 91.27 + 15 = 1347.85 GB"),
        SeedFigure("80 GB GPUs, total ÷ 80 rounded up (nominal 70 B)", "000 §四 4.2", 18,
                   "train_gpus_seed_rule", "GPUs", 1, {**NOMINAL_70B, **SEED_70B, **SEED_80GB},
                   "the seed's rule: 1366.27 / 80 = 17.08 → 18"),
        SeedFigure("80 GB GPUs with the reserve on every GPU (nominal 70 B)", "000 §四 4.2", 18,
                   "train_gpus_needed", "GPUs", 1, {**NOMINAL_70B, **SEED_70B, **SEED_80GB},
                   "a different rule: the 15 GB of buffers are needed on every GPU, not once: "
                   "(1260 + 91.27) / (80 − 15) = 20.8 → 21 GPUs fully sharded"),
    ),
))

register_example(WorkedExample(
    name="llama-70b-pretraining-days",
    title="Pre-training a 70 B model on 1 T tokens with 1,000 H100 at 30 % utilisation",
    seed="000 §五 5.3",
    inputs=dict(model="llama-2-70b", gpu="h100-sxm", tokens=1e12, n_gpus=1000, mfu=0.3,
                recompute="none", precision="bf16-mixed"),
    figures=(
        SeedFigure("training FLOPs 6ND (nominal 70 B)", "000 §五 5.3", 420, "train_flops",
                   "ZFLOPs", 1e21, NOMINAL_70B, "6 × 70e9 × 1e12 = 4.2e23 = 420 ZFLOPs"),
        SeedFigure("training FLOPs 6ND (exact 68.98 B)", "000 §五 5.3", 420, "train_flops",
                   "ZFLOPs", 1e21, {}, _EXACT_70B + ": 413.86 ZFLOPs"),
        SeedFigure("H100 dense BF16 peak", "000 §五 5.3", 990, "train_peak_tflops", "TFLOP/s",
                   1, {}, "the H100 SXM datasheet's 1,979 TFLOP/s with sparsity, halved: 989.4"),
        SeedFigure("days (nominal 70 B)", "000 §五 5.3", 16, "train_days", "days", 1,
                   NOMINAL_70B,
                   "rounding in the seed: 4.2e23 / (1000 × 989.4e12 × 0.3) = 1.415e6 s = "
                   "16.38 days (16.37 with 990), printed as ≈ 16"),
        SeedFigure("days (exact 68.98 B)", "000 §五 5.3", 16, "train_days", "days", 1, {},
                   _EXACT_70B + ": 16.14 days"),
    ),
))
