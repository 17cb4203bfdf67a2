"""Worked example of seed ``000_*``'s figures that ``llama-70b-inference`` and the training
examples leave out: the architecture (§1.4-1.6), the per-layer prefill FLOPs of §2.2, the
decode utilisation of §2.3, the 5050 passes of §2.4, training's 3× (§3.5), checkpointing
(§4.3), the per-layer FLOPs coefficients of §5.2, FlashAttention (§6.1), paging (§6.4)
and the benchmark ranges of 附录B (rules of thumb: where xlcalc's figure lands).

The scenario is §七 example 1's (LLaMA-70B on 8×H100, TP=8, batch 8, 512 in / 256 out);
rows add their own inputs.  Every figure is recomputed by hand in
``tests/test_worked_seeds.py``.
"""

from __future__ import annotations

from .worked import SeedFigure, WorkedExample, register_example
from .worked_inference import example1_inputs

G, MS = 1e9, 1e-3

_ONE_GPU_5 = {"tp": 1, "batch": 1, "prompt_len": 5}
_DECODE_6 = {"tp": 1, "batch": 1, "context_len": 6}
_7B_2048 = {"model": "llama-2-7b", "batch": 1, "prompt_len": 2048, "tp": 1}
_TRAIN_70B = {"micro_batch": 1, "seq_len": 2048, "precision": "bf16-mixed", "dropout": 0,
              "sequence_parallel": 0, "pp": 1, "tp": 1, "tokens": 2048}
_4090 = {"model": "llama-2-7b", "gpu": "rtx-4090", "tp": 1, "batch": 1}


def _scenario():
    inputs = dict(example1_inputs())
    inputs.update(flash_block_size=128, seq_len=4096)
    return inputs


register_example(WorkedExample(
    name="seed-000-more",
    title="Seed 000's other figures: LLaMA-70B's matrices, per-layer FLOPs, decode "
          "utilisation, the KV cache's saving, checkpointing, FlashAttention, paging, "
          "benchmark ranges",
    seed="000 (§1.4-1.6, §2.2-2.4, §3.5, §4.3, §5.2, §6.1, §6.4, 附录B)",
    inputs=_scenario(),
    figures=(
        # §1.4-1.6 architecture -------------------------------------------------------------
        SeedFigure("head_dim = 8192 / 64 = 128", "000 §1.4", 128, "head_dim", "elements", 1,
                   {}, "128"),
        SeedFigure("GQA: 8 query heads share each K/V head, the KV cache 8× smaller",
                   "000 §1.4", 8, "gqa_group_size", "×", 1, {}, "64 / 8 = 8"),
        SeedFigure("FFN W1 + W2 = 2 × 8192 × 32768 ≈ 536 M (intermediate = 4 × hidden)",
                   "000 §1.5", 2 * 8192 * 32768 / 1e6, "params_dense_mlp_per_layer", "M params", 1e6,
                   {"intermediate_size": 32768, "mlp_gated": 0},
                   "2 × 8192 × 32768 = 536,870,912 (268 M each)"),
        SeedFigure("… LLaMA-70B's FFN (the largest part)", "000 §1.5",
                   2 * 8192 * 32768 / 1e6,
                   "params_dense_mlp_per_layer", "M params", 1e6, {},
                   "a different rule: LLaMA-70B's MLP is gated, three 8192 × 28672 matrices: "
                   "704,643,072 (§1.6 of the same seed)"),
        SeedFigure("W_Q + W_K + W_V = 67 M + 8 M + 8 M", "000 §1.6", 83, "params_qkv_proj_per_layer",
                   "M params", 1e6, {}, "8192² + 2 × 8192 × 1024 = 83,886,080"),
        SeedFigure("W_O = 8192 × 8192 = 67 M", "000 §1.6", 67, "params_o_proj_per_layer",
                   "M params", 1e6, {}, "67,108,864"),
        # §2.2 prefill of 5 tokens, per layer -------------------------------------------------
        SeedFigure("QKV: 3 × 2 × 1 × 5 × 8192 × 8192 = 2.0 B", "000 §2.2", 2.0,
                   "prefill_qkv_flops_layer", "GFLOPs", G, _ONE_GPU_5,
                   "a different rule (GQA): K and V are 1024 wide, not 8192: 2 × 5 × 8192 × "
                   "(8192 + 2 × 1024) = 0.839 G"),
        SeedFigure("attention: 2 × 1 × 64 × 5 × 5 × 128 = 0.4 M", "000 §2.2",
                   2 * 1 * 64 * 5 * 5 * 128 / 1e6,
                   "prefill_scores_flops_layer", "MFLOPs", 1e6, _ONE_GPU_5,
                   "a different rule (causal attention): QKᵀ over the 15 causal (query, key) "
                   "pairs of 5 tokens, 2 × 64 × 128 × 15 = 0.246 M; the weighted sum of V "
                   "costs as much again (the seed counts one product)"),
        SeedFigure("output: 2 × 1 × 5 × 8192 × 8192 = 0.67 B", "000 §2.2", 0.67,
                   "prefill_o_flops_layer", "GFLOPs", G, _ONE_GPU_5, "0.671 G"),
        SeedFigure("FFN: 2 × 1 × 5 × 8192 × 3 × 28672 = 7.1 B", "000 §2.2", 7.1,
                   "prefill_mlp_flops_layer", "GFLOPs", G, _ONE_GPU_5, "7.046 G"),
        SeedFigure("one layer ≈ 10 B", "000 §2.2", 10, "prefill_flops_layer", "GFLOPs", G,
                   _ONE_GPU_5,
                   "a different rule (GQA and rounding): the seed's own lines add to 9.73 G "
                   "with MHA-sized K and V; exactly 0.839 + 0.0005 + 0.671 + 7.046 = 8.557 G"),
        # §2.3 decode -------------------------------------------------------------------------
        SeedFigure("decode, one layer: ~2 B / seq = ~400 M", "000 §2.3", 0.4,
                   "decode_flops_layer", "GFLOPs", G, _DECODE_6,
                   "arithmetic slip in the seed: one new token through one layer is 2 FLOPs "
                   "per weight, 2 × 855.6 M = 1.711 G (with attention over 6 tokens); dividing "
                   "by the sequence length again gives its 400 M"),
        SeedFigure("GPU compute used in decode: 0.23 / 295 ≈ 0.08 %", "000 §2.3", 0.08,
                   "decode_compute_utilisation", "%", 0.01, _DECODE_6,
                   "arithmetic slip in the seed (its 32 B FLOPs): 137.44 GFLOPs in the 41.2 ms "
                   "it takes to read 137.95 GB at 3.35 TB/s, on a 989.4 TFLOP/s GPU: 0.337 %"),
        # §2.4 KV cache -----------------------------------------------------------------------
        SeedFigure("without a KV cache, 100 tokens cost 1 + 2 + … + 100 = 5050 token passes",
                   "000 §2.4", 5050, "no_cache_token_passes", "tokens", 1,
                   {"prompt_len": 1, "output_len": 100},
                   "a 1-token prompt and 100 generated tokens: 100 × 1 + 100 × 99 / 2 = 5050 "
                   "(100 with the cache)"),
        # §3.5 and §4.3 training ------------------------------------------------------------
        SeedFigure("training compute 3× inference (forward 1 + backward 2)", "000 §3.5", 3,
                   "training_flops", "× forward", 1, {"forward_flops": 1}, "1 + 2 = 3"),
        SeedFigure("checkpointing: memory down to √N (80 layers: √80 of 80)", "000 §4.3",
                   80 ** 0.5 / 80, "sqrt_checkpoint_memory_ratio", "", 1, _TRAIN_70B,
                   "a different rule (Chen et al. 2016): segments of ceil(√80) = 9 layers keep "
                   "9 layer inputs (2sbh each, 6 % of a layer) and one segment's 9 layers: "
                   "0.119 of storing all 80 (the seed's √N/N = 0.112 counts the segment only)"),
        SeedFigure("checkpointing: compute +33 %", "000 §4.3", 0.33,
                   "recompute_extra_flops_fraction", "", 1, _TRAIN_70B,
                   "one extra forward (2ND) on 6ND: 1/3"),
        # §5.2 per-layer FLOPs coefficients (Llama-2-7B: MHA, h = 4096, I = 11008) -------------
        SeedFigure("attention ≈ 4BSH² + 4BS²H, GQA aside (Llama-2-7B, S = 2048)", "000 §5.2",
                   (4 * 2048 * 4096 ** 2 + 4 * 2048 ** 2 * 4096) / G, "prefill_attention_flops_layer", "GFLOPs", G, _7B_2048,
                   "arithmetic slip in the seed: its own lines (Q, K, V, O: 2BSH² each) add to "
                   "8BSH² = 274.9 G; causal attention then halves its 4BS²H: 274.9 + 34.4 = "
                   "309.3 G"),
        SeedFigure("FFN = 6BSHI ≈ 24BSH² (I ≈ 4H)", "000 §5.2",
                   24 * 2048 * 4096 ** 2 / G,
                   "prefill_mlp_flops_layer", "GFLOPs", G, _7B_2048,
                   "a different rule: I ≈ 4H is a two-matrix MLP's width; a gated MLP is about "
                   "8H/3 wide (Llama-2-7B: 11008 = 2.69H), so 6BSHI ≈ 16BSH²: 554.1 G"),
        SeedFigure("one layer ≈ 28BSH² + 4BS²H ≈ 24BSH²", "000 §5.2",
                   24 * 2048 * 4096 ** 2 / G,
                   "prefill_flops_layer", "GFLOPs", G, _7B_2048,
                   "arithmetic slip in the seed: 4 + 24 is 28, and dropping the S² term does "
                   "not make it 24; with 8BSH² of attention and LLaMA's 16.1BSH² of MLP the "
                   "projections are 24.1BSH² (two errors that cancel), plus causal attention: "
                   "863.4 G"),
        # §6.1, §6.4 ----------------------------------------------------------------------
        SeedFigure("FlashAttention: 2-4× faster (one LLaMA-70B layer, 4096 tokens, H100)",
                   "000 §6.1", 3, "flash_attention_speedup", "×", 1, {"batch": 1, "tp": 1},
                   "rule of thumb, at its lower end: one layer's eager attention reads and "
                   "writes 8.86 GB (2.644 ms at 3.35 TB/s), FlashAttention-2 4.43 GB (1.322 ms: "
                   "K and V re-read for each of 32 query blocks) for 0.55 PFLOPs (1.111 ms at "
                   "50 % MFU): 2.00× (1.9995)", seed_range=(2, 4)),
        SeedFigure("preallocated KV memory: 50-60 % used (768 of 4096 tokens)", "000 §6.4",
                   0.55, "kv_preallocated_utilisation", "", 1, {"seq_len": 768},
                   "rule of thumb: preallocating the model's 4096-token context for a 512 + 256 "
                   "token request uses 768 / 4096 = 18.75 %; the share depends on the requests",
                   seed_range=(0.5, 0.6)),
        SeedFigure("PagedAttention: 90 %+ used (768 tokens in 16-token blocks)", "000 §6.4",
                   0.9, "kv_paged_utilisation", "", 1,
                   {"seq_len": 768, "block_size": 16},
                   "768 = 48 whole blocks: 100 %; at worst a block less one token is empty "
                   "per sequence", seed_range=(0.9, 1)),
        # 附录B benchmark ranges ---------------------------------------------------------------
        SeedFigure("70B on 8 GPUs: time to first token 100-200 ms", "000 附录B", 150, "ttft_s",
                   "ms", MS, {}, "example 1's scenario: 185.4 ms (exposed TP all-reduces)",
                   seed_range=(100, 200)),
        SeedFigure("70B on 8 GPUs: 5-10 ms per token", "000 附录B", 7.5, "tpot_s", "ms", MS, {},
                   "example 1's scenario: 6.57 ms", seed_range=(5, 10)),
        SeedFigure("7B local: time to first token 50-100 ms (RTX 4090, 512 tokens)",
                   "000 附录B", 75, "ttft_s", "ms", MS, _4090,
                   "2 × 512 × 6.48 G weights + the last token's LM head + causal attention = "
                   "6.70 TFLOPs at 50 % of 165.2 TFLOP/s: 81.1 ms", seed_range=(50, 100)),
        SeedFigure("7B local: 20-50 ms per token (RTX 4090)", "000 附录B", 35, "tpot_s", "ms", MS,
                   _4090,
                   "rule of thumb: a 4090 reads 13.5 GB of bf16 weights and the KV cache in "
                   "13.7 ms at 1,008 GB/s; 20-50 ms means 270-670 GB/s achieved (a slower card "
                   "or engine)",
                   seed_range=(20, 50)),
        SeedFigure("7B on one A100: 1000-2000 tokens/s (batch 8, 512 in / 256 out)",
                   "000 附录B", 1500, "tokens_per_s", "tokens/s", 1,
                   {"model": "llama-2-7b", "gpu": "a100-80gb", "tp": 1},
                   "rule of thumb: at batch 8 the roofline gives 8 × 256 tokens in 2.36 s, 866 "
                   "tokens/s; memory-bound decode scales with the batch, about 10 to 19 "
                   "sequences reach the range", seed_range=(1000, 2000)),
        SeedFigure("70B on 8×H100: 500-1500 tokens/s", "000 附录B", 1000, "tokens_per_s",
                   "tokens/s", 1, {}, "example 1's scenario: 1100 tokens/s",
                   seed_range=(500, 1500)),
        SeedFigure("70B on 8×A100: 300-800 tokens/s", "000 附录B", 550, "tokens_per_s",
                   "tokens/s", 1, {"gpu": "a100-80gb"},
                   "example 1's scenario on A100-80GB (2.039 TB/s, NVLink 300 GB/s): 670 "
                   "tokens/s", seed_range=(300, 800)),
        SeedFigure("decode uses 5-15 % of the GPU", "000 附录B", 0.1,
                   "decode_compute_utilisation", "", 1, {},
                   "rule of thumb: example 1's decode (batch 8, 513 tokens) uses 2.1 % of the "
                   "dense peak; at 2 bytes per weight 5-15 % needs batches of about 19 to 56",
                   seed_range=(0.05, 0.15)),
    ),
))
