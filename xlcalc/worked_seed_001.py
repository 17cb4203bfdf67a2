"""Worked example of seed ``001_*`` (探秘Transformer系列之（16）--- 资源占用): every figure it
prints beside xlcalc's value.

The seed teaches formulas more than numbers, so each formula is instantiated on a model
it describes exactly — GPT-2 (MHA, a 4h GELU MLP with biases, LayerNorm, fp16
activations; one 1024-token sequence) — and, where the seed turns to LLaMA, on the LLaMA
presets.  Its figures: the 12·l·d² and 12d² + 13d parameter counts, the 1 B = 1 G and
1000 × 1000 × 4 = 4 MB conversions (a unit confusion: the seed defines G and MB as powers
of 1024), 20 bytes per parameter, Korthikanti's 34bsh + 5bas², "13B ≈ 1 MB per token", the
FLOPs of a layer (24bsh² + 4bs²h) and of prefill and decode, Megatron's training FLOPs
(whose printed form counts the logits twice), "batch < 16 is memory-bound", "decode
attention is 1:1" and "the KV cache saves 1 − 1/s".

Every figure is recomputed by hand in ``tests/test_worked_seeds.py``.
"""

from __future__ import annotations

from .worked import SEED_ENGINE, SeedFigure, WorkedExample, register_example

GB, MB, GIB, MIB, G = 1e9, 1e6, 2.0 ** 30, 2.0 ** 20, 1e9

#: GPT-2, one 1024-token sequence (b = 1, s = 1024, h = 768, a = 12, l = 12, V = 50257)
SCENARIO = dict(
    **SEED_ENGINE, compute_dtype="auto",
    model="gpt2", gpu="a100-80gb", batch=1, seq_len=1024, prompt_len=1024, output_len=1,
    context_len=1025, dtype="fp16", kv_dtype="fp16", tp=1, pp=1, block_size=1,
    mfu=0.5, bw_eff=1.0, gpu_memory_utilization=0.9, infer_reserve_bytes=1e9,
    max_num_batched_tokens=8192, flash_attention=0, attention="eager", quant_group_size=128,
    gpus_per_node=8,
    precision="bf16-mixed", optimizer="adamw", zero=0, dp=1, recompute="none",
    activation_rule="korthikanti", train_reserve_bytes=0.0, trainable_fraction=1.0,
    sequence_parallel=0, dropout=1, vp=1, tokens=1024)

_LLAMA_7B_TRAIN = {"model": "llama-2-7b", "seq_len": 2048, "prompt_len": 2048,
                   "flash_attention": 1, "attention": "flash", "dropout": 0, "dtype": "bf16",
                   "kv_dtype": "bf16"}


def _MEGATRON_SEED(coefficient):
    """The seed's printed form for GPT-2 (b = 1, l = 12, s = 1024, h = 768, V = 50257):
    coefficient·blsh²(1 + s/6h + V/16lh) + 2bshV, in GFLOPs."""
    b, l, s, h, v = 1, 12, 1024, 768, 50257
    return (coefficient * b * l * s * h ** 2 * (1 + s / (6 * h) + v / (16 * l * h)) +
            2 * b * s * h * v) / G


_CAUSAL = ("a different rule (causal attention): the seed multiplies the full s × s square; "
           "a decoder's token i attends to i tokens, s(s+1)/2 pairs (the seed's own 0x04 "
           "intro halves it): 2 × 768 × 1024 × 1025 / 2 = 806.09 M")
_UNIT = ("unit confusion: the seed defines G as 1024³ bytes (存储度量: 进制是 1024) yet equates "
         "1e9 parameters × {b} bytes with {b} G; {b}e9 bytes = {gib} GiB ({b} GB in decimal "
         "units)")

register_example(WorkedExample(
    name="seed-001-resources",
    title="Seed 001: parameters, memory, activations and FLOPs of a standard transformer "
          "(GPT-2, one 1024-token sequence; LLaMA where the seed turns to it)",
    seed="001 (探秘Transformer系列之（16）: 0x00-0x04)",
    inputs=SCENARIO,
    figures=(
        # 0x00, 0x02 parameters -----------------------------------------------------------
        SeedFigure("all blocks 12 · l · d² (GPT-2: 12 × 12 × 768²)", "001 §0x00", 12 * 12 * 768 ** 2 / 1e6,
                   "params_non_embedding", "M params", 1e6, {},
                   "the seed's 12ld² leaves out biases and norms (13d per layer) and the final "
                   "LayerNorm: 12 × 7,087,872 + 1,536 = 85,056,000"),
        SeedFigure("one layer 12d² + 13d (d = 768)", "001 §2.3 小结", (12 * 768 ** 2 + 13 * 768) / 1e6,
                   "params_dense_layer", "M params", 1e6, {},
                   "4d² + 4d (MHA) + 8d² + 5d (FFN) + 4d (two LayerNorms) = 7,087,872: exact"),
        SeedFigure("MHA 4d² + 4d", "001 §2.3", (4 * 768 ** 2 + 4 * 768) / 1e6, "params_attention_per_layer",
                   "M params", 1e6, {}, "4 × 768² + 4 × 768 = 2,362,368: exact"),
        SeedFigure("FFN 8d² + 5d", "001 §2.3", (8 * 768 ** 2 + 5 * 768) / 1e6, "params_dense_mlp_per_layer",
                   "M params", 1e6, {}, "768 × 3072 + 3072 + 3072 × 768 + 768 = 4,722,432: exact"),
        SeedFigure("model l(12d² + 13d) + 2vd", "001 §2.5",
                   (12 * (12 * 768 ** 2 + 13 * 768) + 2 * 50257 * 768) / 1e6, "params_total",
                   "M params", 1e6, {},
                   "a different rule: GPT-2 ties its LM head to the embedding (the seed's own "
                   "§2.4 allows it; 2vd counts 38.6 M twice), and adds 1,024 learned positions "
                   "(0.79 M) and a final LayerNorm: 124,439,808"),
        SeedFigure("12 · l · d² still holds for SwiGLU at d_FFN = 8d/3 (Llama-2-7B)",
                   "001 §2.6", 12 * 32 * 4096 ** 2 / 1e6, "params_non_embedding", "M params", 1e6,
                   {"model": "llama-2-7b"},
                   "12 × 32 × 4096² = 6,442,450,944; exact 6,476,271,616 (d_FFN = 11,008, 8d/3 "
                   "rounded up to a multiple of 256, and the RMSNorms)"),
        SeedFigure("LLaMA-3: n(2d² + 2d·d·kv/h + 3d·d_FFN) + 2Vd (Llama-3.1-8B)", "001 §2.6",
                   (32 * (2 * 4096 ** 2 + 2 * 4096 * 4096 * 8 / 32 + 3 * 4096 * 14336) +
                    2 * 128256 * 4096) / 1e6, "params_total", "M params", 1e6, {"model": "llama-3.1-8b"},
                   "32 × (2 × 4096² + 2 × 4096² × 8/32 + 3 × 4096 × 14336) + 2 × 128256 × 4096 = "
                   "8,029,995,008; the norms add 266,240: 8,030,261,248"),
        SeedFigure("GQA: d_FFN × 1.3 keeps the parameters (Llama-2-70B: 1.3 × 8d/3)",
                   "001 §2.6", 1.3 * 8 / 3 * 8192, "intermediate_size", "elements", 1,
                   {"model": "llama-2-70b"},
                   "1.3 × 8/3 × 8192 = 28,399; Llama-2-70B uses 28,672 = 1.3125 × 8/3 × 8192"),
        # 1.2 units -----------------------------------------------------------------------
        SeedFigure("1000 × 1000 float32 ≈ 4 MB", "001 §1.2", 4, "model_weights_bytes_rule",
                   "MiB", MIB, {"params_total": 1e6, "dtype": "fp32"},
                   "unit confusion: the seed's MB is 1024² bytes (存储度量: 进制是 1024), and "
                   "1000 × 1000 × 4 = 4,000,000 bytes = 3.81 MiB; 4 MB only in decimal units"),
        SeedFigure("1 B parameters in fp32 = 4 G", "001 §1.2", 4, "model_weights_bytes_rule",
                   "GiB", GIB, {"params_total": 1e9, "dtype": "fp32"},
                   _UNIT.format(b=4, gib="3.725")),
        SeedFigure("1 B parameters in fp16/bf16 = 2 G", "001 §1.2", 2,
                   "model_weights_bytes_rule", "GiB", GIB,
                   {"params_total": 1e9, "dtype": "fp16"}, _UNIT.format(b=2, gib="1.863")),
        SeedFigure("1 B parameters in int8 = 1 G", "001 §1.2", 1, "model_weights_bytes_rule",
                   "GiB", GIB, {"params_total": 1e9, "dtype": "int8"},
                   _UNIT.format(b=1, gib="0.931")),
        SeedFigure("1 B parameters in int4 = 0.5 G", "001 §1.2", 0.5,
                   "model_weights_bytes_rule", "GiB", GIB,
                   {"params_total": 1e9, "dtype": "int4"}, _UNIT.format(b=0.5, gib="0.466")),
        # 1.3, 3.1, 3.2 memory ------------------------------------------------------------
        SeedFigure("training needs 3-4× the memory of inference (Llama-2-7B, 2048 tokens)",
                   "001 §1.3", 3.5, "train_infer_memory_ratio", "×", 1, _LLAMA_7B_TRAIN,
                   "rule of thumb refuted by its own §3.1: mixed-precision AdamW keeps 18 bytes "
                   "per parameter (121.3 GB) against inference's 2 (13.5 GB); with 8.9 GB of "
                   "activations, and 1.1 GB of KV cache, 0.1 GB of activations and 1 GB of "
                   "engine reserve for inference: 130.2 / 15.6 GB = 8.3×",
                   seed_range=(3, 4)),
        SeedFigure("(2+4) + (2+4) + (4+4) = 20 bytes per parameter (the seed's recipe)",
                   "001 §3.1", 20, "train_model_state_bytes", "bytes/param", 1,
                   {"train_params_per_gpu": 1, "precision": "seed-001"},
                   "fp16 weights and their fp32 copy, fp16 and fp32 gradients, Adam's two fp32 "
                   "states: 20"),
        SeedFigure("20 bytes per parameter against Megatron's bf16 recipe", "001 §3.1", 20,
                   "train_model_state_bytes", "bytes/param", 1, {"train_params_per_gpu": 1},
                   "a different rule: Megatron-LM keeps no 16-bit gradient copy (bf16 weights, "
                   "fp32 master, fp32 gradients, Adam): 2 + 4 + 4 + 8 = 18; ZeRO's fp16 "
                   "analysis (16-bit gradients) counts 16"),
        SeedFigure("backward ≈ 2 × forward: a training step is 3 forward passes", "001 §3.1",
                   3, "training_flops", "× forward", 1, {"forward_flops": 1},
                   "1 + 2 = 3 (six FLOPs per parameter per token)"),
        SeedFigure("inference memory = 2 × n_params (fp16)", "001 §3.2", 2 * 124_439_808 / 1e6,
                   "model_weights_bytes", "MB", MB, {},
                   "2 × 124,439,808 = 248,879,616 bytes: exact (KV cache and activations aside)"),
        # 3.3 activations --------------------------------------------------------------
        SeedFigure("activations per layer 34bsh + 5bas² (b = 1, s = 1024)", "001 §3.3",
                   (34 * 1024 * 768 + 5 * 12 * 1024 ** 2) / 1e6, "train_act_per_layer_bytes", "MB", MB, {},
                   "34 × 1024 × 768 + 5 × 12 × 1024² = 89,653,248 bytes: Korthikanti et al. "
                   "Table 2, reproduced exactly for a GPT-2 layer (eager attention, dropout)"),
        SeedFigure("l layers: (34bsh + 5bas²) × l", "001 §3.3 总结",
                   12 * (34 * 1024 * 768 + 5 * 12 * 1024 ** 2) / 1e6,
                   "train_activation_bytes", "MB", MB, {},
                   "a different rule: the seed drops the embedding dropout mask (sbh, 0.79 MB) "
                   "and the output terms 4sbh(1 + v/h) its own §并行 lists: 209.0 MB, mostly "
                   "GPT-2's fp32 logits over 50,257 tokens: 1,285.6 MB (19 % more)"),
        SeedFigure("embedding, final norm and logits: 4sbh/t (1 + v/h)", "001 §3.3 并行",
                   4 * 1024 * 768 * (1 + 50257 / 768) / 1e6, "train_act_output_bytes", "MB", MB, {},
                   "4 × 1024 × 768 × (1 + 50257/768) = 208,998,400 bytes: exact"),
        SeedFigure("13B LLM ≈ 1 MB of memory per token (Llama-13B, fp16)", "001 §3.3", 1,
                   "kv_cache_bytes_per_token", "MB", MB, {"model": "llama-13b"},
                   "rule of thumb (ray-project llm-numbers): the KV cache of one token is 2 × "
                   "40 layers × 5120 × 2 bytes = 819,200 bytes = 0.82 MB (0.78 MiB)"),
        # 4.1-4.4 FLOPs -------------------------------------------------------------------
        SeedFigure("matrix-vector: one multiply-add (2 FLOPs) per matrix element (4096²)",
                   "001 §4.1", 2, "gemm_intensity", "FLOP/B", 1,
                   {"gemm_m": 1, "gemm_n": 4096, "gemm_k": 4096},
                   "elements counted as bytes: the seed's I/O (M×N + M×P + N×P) counts elements; "
                   "at 2 bytes per fp16 element a matrix-vector product does 2 × 4096² / "
                   "(2 × (4096² + 2 × 4096)) = 0.9995 FLOP per byte"),
        SeedFigure("QKV 6bsh²", "001 §4.2", 6 * 1024 * 768 ** 2 / G, "prefill_qkv_flops_layer", "GFLOPs",
                   G, {}, "6 × 1024 × 768² = 3.624 G; the biases add 3 × 2 × 1024 × 768: 3.629 G"),
        SeedFigure("QKᵀ 2bs²h", "001 §4.2", 2 * 1024 ** 2 * 768 / G, "prefill_scores_flops_layer",
                   "GFLOPs", G, {}, _CAUSAL),
        SeedFigure("attention × V 2bs²h", "001 §4.2", 2 * 1024 ** 2 * 768 / G, "prefill_av_flops_layer",
                   "GFLOPs", G, {}, _CAUSAL),
        SeedFigure("output projection 2bsh²", "001 §4.2", 2 * 1024 * 768 ** 2 / G, "prefill_o_flops_layer",
                   "GFLOPs", G, {}, "2 × 1024 × 768² = 1.208 G (+ bias: 1.210 G)"),
        SeedFigure("MLP 8bsh² + 8bsh²", "001 §4.2", 16 * 1024 * 768 ** 2 / G, "prefill_mlp_flops_layer",
                   "GFLOPs", G, {}, "16 × 1024 × 768² = 9.664 G (+ biases: 9.672 G)"),
        SeedFigure("MHA block 8sh² + 4s²h (prefill)", "001 §4.4",
                   (8 * 1024 * 768 ** 2 + 4 * 1024 ** 2 * 768) / G,
                   "prefill_attention_flops_layer", "GFLOPs", G, {},
                   "a different rule (causal attention): 8 × 1024 × 768² + 4 × 1024² × 768 = "
                   "8.053 G counts the full square; causally 6.450 G (with biases)"),
        SeedFigure("one layer 24bsh² + 4bs²h", "001 §4.2",
                   (24 * 1024 * 768 ** 2 + 4 * 1024 ** 2 * 768) / G, "prefill_flops_layer",
                   "GFLOPs", G, {},
                   "a different rule (causal attention): 24 × 1024 × 768² + 4 × 1024² × 768 = "
                   "17.717 G; causal scores and P·V (1.612 G instead of 3.221 G) and the "
                   "biases: 16.122 G"),
        SeedFigure("prefill 24lh²bs + 4lhbs² + 2bshV", "001 §4.4",
                   (12 * (24 * 768 ** 2 * 1024 + 4 * 768 * 1024 ** 2) + 2 * 1024 * 768 * 50257) / G,
                   "prefill_flops", "GFLOPs", G, {},
                   "a different rule (causal attention, and serving's logits): 12 × 17.717 G + "
                   "2 × 1024 × 768 × 50257 = 291.65 G is a training forward pass; a serving "
                   "prefill attends causally and needs the last token's logits only "
                   "(2hV = 77.2 M): 193.54 G"),
        SeedFigure("decode MHA 8h² + 4(s+1)h and FFN 16h² per token (s + 1 = 1025)",
                   "001 §4.4", (24 * 768 ** 2 + 4 * 1025 * 768) / 1e6, "decode_flops_layer", "MFLOPs", 1e6, {},
                   "24 × 768² + 4 × 1025 × 768 = 17,304,576; the biases add 13,824: 17,318,400"),
        SeedFigure("decode step 24lh²b + 4lhb(s+1) + 2bshV", "001 §4.4",
                   (24 * 12 * 768 ** 2 + 4 * 12 * 768 * 1025 + 2 * 1024 * 768 * 50257) / 1e6,
                   "decode_flops", "MFLOPs", 1e6, {},
                   "arithmetic slip in the seed: a decode step computes the logits of one new "
                   "token per sequence, 2bhV (its own line before has b × (…) + 2bhV); 2bshV "
                   "repeats the prefill's: 12 × 17.32 M + 2 × 768 × 50257 = 285.0 MFLOPs, not "
                   "79.26 GFLOPs"),
        SeedFigure("training with checkpointing 96blsh²(1 + s/6h + V/16lh) + 2bshV",
                   "001 §4.3 总体计算量",
                   _MEGATRON_SEED(96), "megatron_training_flops_recompute",
                   "GFLOPs", G, {},
                   "a logits term counted twice: 96blsh² × V/(16lh) is already the LM head's "
                   "6bshV (forward 2, backward 4, not recomputed); the extra 2bshV counts it "
                   "again: 96 × 12 × 1024 × 768² × (1 + 1024/4608) + 6 × 1024 × 768 × 50257 "
                   "= 1,087.55 G (Narayanan et al. 2021 eq. 3)"),
        SeedFigure("training without checkpointing 72blsh²(1 + s/6h + V/16lh) + 2bshV",
                   "001 §4.3 总体计算量", _MEGATRON_SEED(72), "megatron_training_flops", "GFLOPs", G,
                   {},
                   "a logits term counted twice (+2bshV) and a different rule: V/(16lh) belongs "
                   "to the 96 form; with 72 the LM head's 6bshV is 72blsh² × V/(12lh): "
                   "72 × 12 × 1024 × 768² × (1 + 1024/4608) + 6bshV = 874.94 G"),
        SeedFigure("Megatron-DeepSpeed: coefficient 32 for GLU (Llama-7B, s = 2048, no "
                   "checkpointing)", "001 §4.3",
                   32 * 3 * 2048 * 32 * 4096 ** 2 * (1 + 2048 / (6 * 4096) + 32000 / (16 * 32 * 4096)) / G, "megatron_training_flops_glu",
                   "GFLOPs", G, {"model": "llama-7b", "seq_len": 2048},
                   "a different rule: 32 = 24 + 8 assumes a GLU whose two up-projections are 4h "
                   "wide; LLaMA's SwiGLU is 11008 ≈ 8h/3 wide, so its MLP costs about what a "
                   "plain 4h MLP does and 24 fits; Megatron-LM's count with LLaMA-7B's widths: "
                   "87,785 G"),
        SeedFigure("forward FLOPs ≈ 2 × parameters per token (Llama-2-7B, 1024-token context)",
                   "001 §4.4", 2 * 6_738_415_616 / G, "forward_flops_per_token", "GFLOPs", G,
                   {"model": "llama-2-7b", "context_len": 1024},
                   "2 × 6,738,415,616 = 13.48 G; exactly 2 per weight a token multiplies "
                   "(6,607,077,376: the embedding is a lookup, the LM head a matmul) = 13.21 G "
                   "plus attention over 1024 tokens, 2 × 32 × 256 × 1024 × 32 = 0.54 G: 13.75 G"),
        SeedFigure("batch < 16 keeps matrix multiplies memory-bound (Llama-2-7B decode on "
                   "A100-80GB, spec rates)", "001 §4.4", 16, "decode_critical_batch",
                   "sequences", 1, {"model": "llama-2-7b", "context_len": 1, "mfu": 1.0,
                                    "dtype": "bf16", "kv_dtype": "bf16"},
                   "rule of thumb refuted: at 2 bytes per weight a decode step does about "
                   "batch FLOPs per byte, so it turns compute-bound near the ridge, 312 / 2.039 "
                   "= 153 sequences (157 here; about half at 50 % MFU); with a long context "
                   "the KV reads push it further out (never, for MHA Llama-2-7B at 1024 "
                   "tokens)"),
        SeedFigure("decode self-attention ≈ 1:1 FLOPs to bytes (Llama-2-7B, MHA)", "001 §4.4",
                   1, "decode_attention_intensity", "FLOP/B", 1,
                   {"model": "llama-2-7b", "kv_dtype": "bf16"},
                   "2 × 32 × 256 FLOPs per cached token per layer over its 2 × 32 × 128 × 2 "
                   "bytes of K and V = 1"),
        SeedFigure("decode self-attention ≈ 1:1 (Llama-2-70B, GQA 8:1)", "001 §4.4", 1,
                   "decode_attention_intensity", "FLOP/B", 1,
                   {"model": "llama-2-70b", "kv_dtype": "bf16"},
                   "a different rule (GQA): 8 query heads read each K/V head: 2 × 64 × 256 / "
                   "(2 × 8 × 128 × 2) = 8 FLOP/B"),
        SeedFigure("the KV cache saves 1 − 1/s of the compute (s = 100)", "001 §4.4", 0.99,
                   "kv_cache_flops_saved_fraction", "", 1,
                   {"prompt_len": 1, "output_len": 100},
                   "with a cache the 100 tokens pass through the weights once (100 passes), "
                   "without one 1 + 2 + … + 100 = 5050 times; the weights' saving is 1 − "
                   "100/5050 = 1 − 2/(s+1) = 0.980, attention's more; GPT-2 in all: 0.971"),
    ),
))
