"""Worked serving examples of the seeds: each printed figure beside xlcalc's value.

* ``llama-70b-inference`` — seed ``000_*`` §七 example 1 (LLaMA-70B on 8×H100, TP=8,
  batch 8, 512 in / 256 out, prefill MFU 50 %) with the neighbouring sections' figures:
  §1.6 parameters, §2.2 prefill FLOPs, §2.3 decode intensity and the H100 ridge, §2.4 the
  KV-cache table, §4.1 inference memory, §5.4 intensities, §6.2 quantization, §6.3
  speculative decoding.
* ``llama-70b-communication`` — seed ``000_*`` §七 example 3 (TP=4, PP=2, batch 1, seq
  2048) and seed ``002_*`` §五 (disaggregated prefill/decode: OPT-66B KV transfer).
* ``llama-13b-capacity`` — seed ``003_*`` §七 (concurrency on 8×V100-32GB for 10,000
  users; llama-13b and llama-65b, fp16 and int8 weights) and §5.5, the seed's method with
  its own inputs beside the exact (vLLM-style) model.

Every figure was recomputed by hand (``tests/test_serving_seeds.py`` writes the
arithmetic out); the notes say why the seed and xlcalc differ where they do: nominal vs
exact count, a different rule, or an arithmetic slip in the seed.  The examples' inputs
are complete serving inputs, so a workbook can use them as its live inputs.
"""

from __future__ import annotations

from .worked import SEED_ENGINE, SeedFigure, WorkedExample, register_example

GB, MS, GIB, MIB = 1e9, 1e-3, 2.0 ** 30, 2.0 ** 20
NOMINAL_70B = {"params_total": 70e9}
_EXACT_70B = ("nominal vs exact count: the seed uses the nominal 70 B; Llama-2-70B has "
              "68,976,648,192 parameters")
# The seeds' engine (exact tokens, no profiled peak, no overheads) at the flat figures
# xlcalc used before the engine presets (vLLM's 0.9 utilisation, a 1 GB reserve, 8,192
# tokens per pass): the tutorials' arithmetic, stated in full so a workbook shows it.
_ENGINE = dict(SEED_ENGINE, block_size=1, gpu_memory_utilization=0.9,
               infer_reserve_bytes=1e9, max_num_batched_tokens=8192, flash_attention=1,
               quant_group_size=128, gpus_per_node=8, compute_dtype="auto")
_SEED_COMM = {"comm_overlap": 1.0, "link_latency_us": 0.0}   # seed 000 §七's assumptions
# seed 000 §2.4 / §4.1 scenario; the seed plans with 80 GB per H100 (CUDA reports 79.22 GiB)
_MEM_41 = {"tp": 1, "batch": 8, "seq_len": 4096, "gpu_memory_bytes": 80e9}
_KV_TABLE = ("arithmetic slip in the seed: its own formula 2 × s × 80 × 8 × 128 × 2 gives "
             "{exact} GB; the table is ~10× too large throughout (it follows the 104 GB slip)")

def example1_inputs() -> dict:
    """Seed 000 §七 example 1's scenario: LLaMA-70B on 8×H100, TP=8, batch 8, 512 in / 256
    out, prefill at 50 % MFU (the seed's assumptions: its plain roofline and engine)."""
    return dict(model="llama-2-70b", gpu="h100-sxm", tp=8, pp=1, batch=8, prompt_len=512,
                output_len=256, context_len=513, dtype="bf16", kv_dtype="bf16",
                mfu=0.5, bw_eff=1.0, link_eff=1.0, scale_out_eff=1.0, link_latency_us=8.0,
                comm_overlap=0.0, **_ENGINE)


register_example(WorkedExample(
    name="llama-70b-inference",
    title="LLaMA-70B inference on 8×H100 (TP=8): batch 8, 512 in / 256 out",
    seed="000 §七 example 1 (and §1.6, §2.2-2.4, §4.1, §5.4, §6.2-6.3)",
    inputs=example1_inputs(),
    figures=(
        # §1.6 parameters ------------------------------------------------------------
        SeedFigure("token embedding 32000 × 8192", "000 §1.6", 262, "params_embedding",
                   "M params", 1e6, {}, "32,000 × 8,192 = 262,144,000"),
        SeedFigure("attention per layer (W_Q, W_K, W_V, W_O)", "000 §1.6", 150,
                   "params_attention_per_layer", "M params", 1e6, {},
                   "2 × 8192² + 2 × 8192 × 1024 = 150,994,944 (the seed adds rounded terms)"),
        SeedFigure("FFN per layer (gate, up, down)", "000 §1.6", 705,
                   "params_dense_mlp_per_layer", "M params", 1e6, {},
                   "3 × 8192 × 28672 = 704,643,072"),
        SeedFigure("one decoder layer", "000 §1.6", 855, "params_dense_layer", "M params", 1e6,
                   {}, "150,994,944 + 704,643,072 + 2 RMSNorms × 8192 = 855,654,400"),
        SeedFigure("80 layers", "000 §1.6", 68.4e3, "params_non_embedding", "M params", 1e6, {},
                   "80 × 855,654,400 + the final norm 8192 = 68,452,360,192"),
        SeedFigure("LM head 8192 × 32000", "000 §1.6", 262, "params_lm_head", "M params", 1e6,
                   {}, "the seed says it is usually tied to the embedding; Llama-2-70B's is not "
                   "(tie_word_embeddings false), so it counts: 262,144,000"),
        SeedFigure("total parameters ≈ 70 B", "000 §1.6", 70, "params_total", "B params", 1e9,
                   {}, _EXACT_70B + " (262 M + 68.45 B + the untied 262 M head); the seed's "
                   "own sum 262 M + 68.4 B = 68.7 B is rounded to the nominal 70 B"),
        # §2.2-2.3 ------------------------------------------------------------------
        SeedFigure("prefill FLOPs, 5 tokens, 80 layers ≈ 800 B", "000 §2.2", 800,
                   "prefill_flops", "GFLOPs", 1e9, {"batch": 1, "prompt_len": 5},
                   "a different rule: the seed's QKV line 3 × 2 × s × h² sizes K and V like Q "
                   "(MHA) although LLaMA-70B's GQA K/V are 1024 wide, and rounds 9.7 B per "
                   "layer to 10 B; exact 2 × 5 × 68.45 B + 2 × 262 M (last-token LM head) + "
                   "causal attention 39 M = 685.07 GFLOPs"),
        SeedFigure("decode FLOPs per token (batch 1) ≈ 32 B", "000 §2.3", 32,
                   "decode_flops", "GFLOPs", 1e9, {"batch": 1, "context_len": 6, "tp": 1},
                   "arithmetic slip in the seed: '每层 ~2B FLOPs / seq = ~400M' divides the "
                   "per-token 2 B by the sequence length a second time; 2 FLOPs per weight "
                   "(§5.3's own rule): 2 × 68.71 B multiplied weights + attention = 137.44 "
                   "GFLOPs"),
        SeedFigure("decode arithmetic intensity ≈ 0.23 FLOP/B", "000 §2.3", 0.23,
                   "decode_intensity", "FLOP/B", 1, {"batch": 1, "context_len": 6, "tp": 1},
                   "arithmetic slip in the seed (the 32 B above): 137.44 GFLOPs / (137.95 GB of weights + 2 MB "
                   "of KV) = 0.996 — '≈ 1', as the same seed's §5.4 says"),
        SeedFigure("H100 ridge point 990 T / 3.35 T ≈ 295 FLOP/B", "000 §2.3", 295,
                   "ridge_intensity", "FLOP/B", 1, {},
                   "989.4 TFLOP/s dense bf16 / 3.35 TB/s = 295.3"),
        # §2.4 KV cache -------------------------------------------------------------
        SeedFigure("KV cache, batch 8 × 4096 tokens", "000 §2.4", 104, "kv_cache_bytes", "GB",
                   GB, _MEM_41, "arithmetic slip in the seed: its own 2 × 8 × 4096 × 80 × 8 × "
                   "128 × 2 = 10,737,418,240 bytes = 10.74 GB (10 GiB), not 104 GB"),
        SeedFigure("KV cache, batch 1, seq 512", "000 §2.4", 1.6, "kv_cache_bytes", "GB", GB,
                   {"tp": 1, "batch": 1, "seq_len": 512}, _KV_TABLE.format(exact="0.168")),
        SeedFigure("KV cache, batch 1, seq 2048", "000 §2.4", 6.5, "kv_cache_bytes", "GB", GB,
                   {"tp": 1, "batch": 1, "seq_len": 2048}, _KV_TABLE.format(exact="0.671")),
        SeedFigure("KV cache, batch 1, seq 4096", "000 §2.4", 13, "kv_cache_bytes", "GB", GB,
                   {"tp": 1, "batch": 1, "seq_len": 4096}, _KV_TABLE.format(exact="1.342")),
        SeedFigure("KV cache, batch 1, seq 8192", "000 §2.4", 26, "kv_cache_bytes", "GB", GB,
                   {"tp": 1, "batch": 1, "seq_len": 8192}, _KV_TABLE.format(exact="2.684") +
                   "; 8192 tokens exceed Llama-2-70B's 4096 (a warning, not an error)"),
        SeedFigure("KV cache, batch 1, seq 32768", "000 §2.4", 104, "kv_cache_bytes", "GB", GB,
                   {"tp": 1, "batch": 1, "seq_len": 32768}, _KV_TABLE.format(exact="10.74") +
                   "; beyond the model's 4096-token context"),
        SeedFigure("KV cache, batch 1, seq 131072", "000 §2.4", 416, "kv_cache_bytes", "GB",
                   GB, {"tp": 1, "batch": 1, "seq_len": 131072},
                   _KV_TABLE.format(exact="42.95") + "; beyond the model's 4096-token context"),
        # §4.1 inference memory -------------------------------------------------------
        SeedFigure("weights, FP16 (nominal 70 B)", "000 §4.1", 140, "model_weights_bytes_rule",
                   "GB", GB, NOMINAL_70B, "70e9 × 2 bytes = 140 GB"),
        SeedFigure("weights, BF16 (exact)", "000 §4.1", 140, "model_weights_bytes", "GB", GB,
                   {}, _EXACT_70B + ": × 2 = 137.95 GB"),
        SeedFigure("KV cache in the memory total", "000 §4.1", 104, "infer_kv_cache_bytes",
                   "GB", GB, _MEM_41, "arithmetic slip in the seed (as §2.4): 10.74 GB"),
        SeedFigure("activation peak (seed's rule b·s·h·4·2)", "000 §4.1", 2,
                   "infer_activation_bytes_seed_000", "GB", GB, _MEM_41,
                   "rounding in the seed: its own 8 × 4096 × 8192 × 4 × 2 = 2.15 GB is printed as "
                   "≈ 2 GB"),
        SeedFigure("activation peak (gated MLP, whole batch in one pass)", "000 §4.1", 2,
                   "infer_activation_bytes", "GB", GB,
                   {**_MEM_41, "max_num_batched_tokens": 32768},
                   "a different rule (seed 003 §5.4 for a gated MLP): the gate and up outputs "
                   "8 × 4096 × 2 × 28672 × 2 bytes = 3.76 GB (0.94 GB at vLLM's 8192-token "
                   "chunks)"),
        SeedFigure("temporary buffers ≈ 2 GB (1-5 GB)", "000 §4.1", 2, "infer_reserve_bytes",
                   "GB", GB, {}, "a different rule: xlcalc's default engine reserve is vLLM's "
                   "non-torch memory, 1 GB per GPU (an input; the seed allows 1-5 GB)"),
        SeedFigure("inference total, batch 8 × 4096, one GPU", "000 §4.1", 248,
                   "infer_total_bytes", "GB", GB, _MEM_41,
                   "arithmetic slip in the seed (the §2.4 KV: 104 for 10.74 GB) and nominal vs exact count (140 GB): the seed's "
                   "own parts corrected give 140 + 10.74 + 2.15 + 2 = 154.9 GB; xlcalc "
                   "(exact weights, 0.94 GB activations at 8192-token chunks, 1 GB reserve): "
                   "150.63 GB"),
        SeedFigure("80 GB GPUs needed (total / 80 GB)", "000 §4.1", 4, "gpus_needed_rule",
                   "GPUs", 1, _MEM_41, "arithmetic slip in the seed: its 248 / 80 = 3.1 → 4 rests on the KV slip; "
                   "the same rule on the corrected total: ceil(150.63 / 80) = 2"),
        SeedFigure("80 GB GPUs needed (per-GPU fit)", "000 §4.1", 4, "gpus_needed", "GPUs", 1,
                   _MEM_41, "a different rule (the fewest GPUs whose busiest GPU fits): with "
                   "vLLM's 0.9 utilisation of the seed's 80 GB (72 GB) and a 1 GB reserve per "
                   "GPU, TP=2 needs 75.8 GB per GPU and TP=4 (38.4 GB) fits with 4 GPUs, but "
                   "three pipeline stages of at most 27 layers (1.85 GB each) fit one GPU "
                   "apiece: 3 GPUs (tp 1 × pp 3); at the 79.22 GiB CUDA reports (76.6 GB "
                   "usable) TP=2 fits: 2 GPUs"),
        # §5.4 intensity ------------------------------------------------------------------
        SeedFigure("prefill intensity = seq (seq 1000)", "000 §5.4", 1000, "prefill_intensity",
                   "FLOP/B", 1, {"tp": 1, "batch": 1, "prompt_len": 1000},
                   "2 FLOPs per weight per token over 2 bytes per weight: 138.24 TFLOPs / "
                   "138.28 GB = 999.5 (attention FLOPs and the KV written nearly cancel)"),
        SeedFigure("decode intensity ≈ 1", "000 §5.4", 1, "decode_intensity", "FLOP/B", 1,
                   {"batch": 1, "context_len": 6, "tp": 1}, "137.44 GFLOPs / 137.96 GB = 0.996"),
        # §七 example 1 -------------------------------------------------------------------
        SeedFigure("prefill FLOPs = 2 × 70 B × 512 × 8", "000 §七 example 1", 573,
                   "prefill_flops_rule", "TFLOPs", 1e12, NOMINAL_70B,
                   "the seed's rule: 2 × 70e9 × 512 × 8 = 573.44 TFLOPs"),
        SeedFigure("prefill FLOPs (exact)", "000 §七 example 1", 573, "prefill_flops", "TFLOPs",
                   1e12, {}, _EXACT_70B + "; exact count: every prompt token through 68.45 B "
                   "layer weights, the LM head for the last token only, causal attention "
                   "2.75 TFLOPs: 563.51 TFLOPs"),
        SeedFigure("prefill compute time", "000 §七 example 1", 144, "prefill_compute_s", "ms",
                   MS, {}, "563.51 TFLOPs / (8 × 989.4 TFLOP/s × 0.5) = 142.39 ms (the seed: "
                   "nominal 573 TFLOPs at 990 TFLOP/s)"),
        SeedFigure("TP traffic in prefill (2 all-reduces × 80 layers)", "000 §七 example 1",
                   1800, "tp_comm_bytes", "GB", GB, {"seq_len": 512},
                   "arithmetic slip in the seed: its own 2 × 80 × 2 × 7/8 × 8 × 512 × 8192 × "
                   "2 = 18,790,481,920 bytes = 18.79 GB per GPU, not 1.8 TB"),
        SeedFigure("TP communication time in prefill", "000 §七 example 1", 2,
                   "prefill_tp_comm_s", "ms", MS, {},
                   "arithmetic slip in the seed (1.8 TB / 900 GB/s would be 2 s, not 2 ms) and a "
                   "unit confusion (NVLink's 900 GB/s counts both directions; one carries 450 "
                   "GB/s): 18.79 GB / 450 GB/s = 41.76 ms, plus 160 all-reduces × 8 µs = "
                   "43.04 ms — not negligible against 142 ms of compute"),
        SeedFigure("prefill latency (communication exposed)", "000 §七 example 1", 150, "ttft_s",
                   "ms", MS, {}, "a different rule: the seed assumes the (mis-computed 2 ms) "
                   "communication hides behind compute; xlcalc exposes it (comm_overlap = 0, as in vLLM): 142.39 + 43.04 = 185.42 ms"),
        SeedFigure("prefill latency (the seed's assumption: overlapped)", "000 §七 example 1",
                   150, "ttft_s", "ms", MS, _SEED_COMM,
                   "rounding in the seed: with its assumption (comm_overlap = 1) 142.39 ms; the "
                   "seed rounds its 144 ms + 2 ms up to 150"),
        SeedFigure("decode FLOPs per step = 2 × 70 B × 8", "000 §七 example 1", 1.12,
                   "decode_flops", "TFLOPs", 1e12, {},
                   _EXACT_70B + ": 8 × (2 × 68.71 B + attention over 513 tokens) = 1.110 TFLOPs"),
        SeedFigure("weights per GPU = 140 GB / 8", "000 §七 example 1", 17.5,
                   "infer_weights_bytes", "GB", GB, {}, _EXACT_70B + ": 137.95 / 8 = 17.24 GB"),
        SeedFigure("decode memory time 17.5 GB / 3.35 TB/s", "000 §七 example 1", 5.2,
                   "decode_memory_s", "ms", MS, {}, "(17.24 GB weights + 0.17 GB KV at 513 "
                   "tokens × batch 8) / 3.35 TB/s = 5.20 ms"),
        SeedFigure("per-token latency ≈ 5-6 ms (5.5 used)", "000 §七 example 1", 5.5, "tpot_s",
                   "ms", MS, {}, "a different rule: the seed leaves out the per-token TP all-reduces: 160 × (8 µs "
                   "latency + 0.5 µs transfer) = 1.36 ms on top of 5.21 ms mean memory time: "
                   "6.57 ms"),
        SeedFigure("per-token latency (the seed's assumption: no all-reduce latency)",
                   "000 §七 example 1", 5.5, "tpot_s", "ms", MS, _SEED_COMM,
                   "rounding in the seed: it picks 5.5 ms from its 5-6 ms range; with "
                   "link_latency_us = 0 the mean over contexts 513-767 is 5.29 ms"),
        SeedFigure("256 tokens of decode ≈ 1.4 s", "000 §七 example 1", 1.4, "decode_total_s",
                   "s", 1, {}, "a different rule: the seed counts 256 steps × 5.5 ms = 1.41 s; the first token "
                   "comes from prefill, so 255 decode steps with the context growing, each "
                   "paying 1.36 ms of all-reduces: 1.676 s"),
        SeedFigure("end-to-end latency ≈ 1.55 s", "000 §七 example 1", 1.55, "e2e_s", "s", 1, {},
                   "a different rule: exposed TP communication (prefill 43 ms, decode 1.36 ms per "
                   "step) that the seed neglects: 0.185 + 1.676 = 1.861 s"),
        SeedFigure("end-to-end latency (the seed's assumptions)", "000 §七 example 1", 1.55,
                   "e2e_s", "s", 1, _SEED_COMM, "rounding in the seed: 150 ms + 256 × 5.5 ms rounds its own figures up; with "
                   "communication overlapped / latency-free as it assumes: 0.142 + 255 × "
                   "5.29 ms = 1.492 s"),
        SeedFigure("throughput 8 × 256 / 1.55 ≈ 1320 tokens/s", "000 §七 example 1", 1320,
                   "tokens_per_s", "tokens/s", 1, {}, "a different rule (the exposed communication above): "
                   "8 × 256 / 1.861 s = 1100 tokens/s"),
        SeedFigure("throughput (the seed's assumptions)", "000 §七 example 1", 1320,
                   "tokens_per_s", "tokens/s", 1, _SEED_COMM,
                   "rounding in the seed (its 1.55 s): 8 × 256 / 1.492 s = 1373 tokens/s"),
        # §6.2 quantization, §6.3 speculative decoding --------------------------------------
        SeedFigure("INT8 weights: half of FP16's 140 GB", "000 §6.2", 70, "model_weights_bytes",
                   "GB", GB, {"dtype": "int8"}, "68.45 B layer weights × 1 byte + the embedding "
                   "and LM head kept 16-bit (0.52 B × 2) = 69.50 GB"),
        SeedFigure("INT4 weights: a quarter of FP16's 140 GB", "000 §6.2", 35,
                   "model_weights_bytes", "GB", GB, {"dtype": "int4"},
                   "a different rule: group-wise int4 adds a 16-bit scale per 128 weights and "
                   "keeps the embedding/LM head 16-bit: 68.45 B × (0.5 + 2/128) + 1.05 GB = "
                   "36.34 GB"),
        SeedFigure("speculative decoding speed-up 2-3× at 70-80 % acceptance", "000 §6.3", 2.5,
                   "spec_speedup", "×", 1,
                   {"acceptance_rate": 0.75, "draft_len": 4, "draft_cost_ratio": 0.05},
                   "Leviathan et al. 2023: (1 − 0.75⁵)/(1 − 0.75) = 3.05 tokens per step over "
                   "1 + 4 × 0.05 = 2.54× (α 0.7 → 2.3×, α 0.8 → 2.8×); the seed's range"),
    ),
))


register_example(WorkedExample(
    name="llama-70b-communication",
    title="LLaMA-70B communication: TP=4, PP=2, batch 1 × 2048 tokens; PD KV transfer",
    seed="000 §七 example 3, 002 §五",
    inputs=dict(model="llama-2-70b", gpu="h100-sxm", tp=4, pp=2, batch=1, seq_len=2048,
                prompt_len=2048, dtype="bf16", kv_dtype="bf16", link_eff=1.0,
                scale_out_eff=1.0, link_latency_us=0.0, gpus_per_node=8),
    figures=(
        SeedFigure("TP all-reduce per layer: 2 × 3/4 × 2048 × 8192 × 2", "000 §七 example 3",
                   50, "tp_allreduce_bytes", "MB", 1e6, {},
                   "50,331,648 bytes = 50.33 MB (48 MiB)"),
        SeedFigure("TP traffic per stage: 50 MB × 40 layers × 2", "000 §七 example 3", 4,
                   "tp_comm_bytes_per_stage", "GB", GB, {},
                   "80 all-reduces × 50,331,648 = 4.03 GB per GPU"),
        SeedFigure("TP time per stage at 450 GB/s", "000 §七 example 3", 9,
                   "tp_comm_s_per_stage", "ms", MS, {},
                   "4.03 GB / 450 GB/s = 8.95 ms (no per-message latency, as the seed)"),
        SeedFigure("PP boundary: 1 × 2048 × 8192 × 2 = 32 MB", "000 §七 example 3", 32,
                   "pp_message_bytes", "MiB", MIB, {},
                   "33,554,432 bytes: the seed's 32 MB here is MiB (33.55 MB), while its 50 MB "
                   "above is decimal (48 MiB)"),
        SeedFigure("PP time at an assumed 100 GB/s IB", "000 §七 example 3", 0.3, "pp_comm_s",
                   "ms", MS, {"gpus_per_node": 4, "inter_node_gb_per_s": 100},
                   "rounding in the seed: 33.55 MB / 100 GB/s = 0.34 ms, printed as 0.3 (the boundary "
                   "crosses nodes here: 4 GPUs per node; DGX H100 has 50 GB/s per GPU: "
                   "0.67 ms)"),
        SeedFigure("OPT-66B KV of one 512-token request ≈ 1.13 GB", "002 §五", 1.13,
                   "kv_transfer_bytes", "GiB", GIB,
                   {"model": "opt-66b", "prompt_len": 512, "kv_dtype": "fp16"},
                   "64 layers × 2 × 9216 × 2 bytes × 512 = 1,207,959,552 bytes: DistServe's GB "
                   "is GiB (1.125 GiB = 1.21 GB)"),
        SeedFigure("KV transfer at 10 requests/s ≈ 11.3 GB/s", "002 §五", 11.3,
                   "kv_transfer_bytes_per_s", "GiB/s", GIB,
                   {"model": "opt-66b", "prompt_len": 512, "kv_dtype": "fp16",
                    "request_rate": 10}, "1.125 GiB × 10 = 11.25 GiB/s (12.08 GB/s)"),
        SeedFigure("KV transfer at 10 requests/s ≈ 90 Gbps", "002 §五", 90,
                   "kv_transfer_gbit_per_s", "Gbit/s", 1,
                   {"model": "opt-66b", "prompt_len": 512, "kv_dtype": "fp16",
                    "request_rate": 10},
                   "unit confusion in the seed (from DistServe): GiB/s times 8 read as Gbit/s: "
                   "11.25 GiB/s × 8 = 90 Gibit/s, which is 12.08e9 × 8 = 96.6 Gbit/s in "
                   "network units (1e9 bits)"),
    ),
))


# the seed counts each V100's 32 GB as 32 GiB of usable memory (CUDA reports 31.75 GiB)
_SEED_13B = {"gpu_memory_bytes": 32 * GIB, "params_total": 24.6 * GIB / 2,
             "kv_bytes_per_token_seed_003": MIB}
_SEED_65B = {"model": "llama-65b", "gpu_memory_bytes": 32 * GIB}
_EXACT_13B = {"gpu_memory_bytes": 32 * GIB}

register_example(WorkedExample(
    name="llama-13b-capacity",
    title="Concurrency on 8×V100-32GB: llama-13b / llama-65b, 512 + 1536 tokens, 10,000 users",
    seed="003 §七 (and §5.5)",
    inputs=dict(model="llama-13b", gpu="v100-32gb", tp=8, pp=1, n_gpus=8, seq_len=2048,
                concurrent_users=10000, dtype="fp16", kv_dtype="fp16",
                **dict(_ENGINE, block_size=16)),
    figures=(
        SeedFigure("llama-13b KV per token ≈ 1 MB", "003 §七", 1, "kv_bytes_per_token_seed_003",
                   "MB", 1e6, {}, "a different rule: the seed quotes the '1 MB per token for "
                   "13B' rule of thumb (ray-project llm-numbers); its own 4 × n_layers × "
                   "d_model = 4 × 40 × 5120 = 819,200 bytes (0.78 MiB)"),
        SeedFigure("llama-13b KV per 2048-token request ≈ 2 GB", "003 §七", 2, "kv_model_bytes",
                   "GiB", GIB, {"batch": 1, "block_size": 1},
                   "a different rule (the 1 MB per token rule of thumb): 2048 × 819,200 = 1,677,721,600 bytes = 1.5625 GiB"),
        SeedFigure("llama-13b fp16: (32 × 8 − 24.6) / 2 = 115.7", "003 §七", 115.7,
                   "max_sequences_seed_003", "sequences", 1, _SEED_13B,
                   "the seed's method with the seed's inputs: 32 GB per V100 counted as "
                   "32 GiB (its HBM2 is 32 GiB), 24.6 GiB of fp16 weights, 1 MiB per token"),
        SeedFigure("llama-13b int8: (32 × 8 − 24.6/2) / 2 = 121.85", "003 §七", 121.85,
                   "max_sequences_seed_003", "sequences", 1, {**_SEED_13B, "dtype": "int8"},
                   "the seed's method with the seed's inputs, weights halved"),
        SeedFigure("llama-13b fp16, the seed's method on exact figures", "003 §七", 115.7,
                   "max_sequences_seed_003", "sequences", 1, _EXACT_13B,
                   "a different rule (rounding): exact weights 13,015,864,320 × 2 = 24.24 GiB "
                   "and 0.78 MiB per token: (256 − 24.24) / 1.5625 = 148.3; the seed rounds "
                   "the KV up to 1 MiB per token (+28 %) and uses 24.6 GiB"),
        SeedFigure("llama-13b fp16, exact model (vLLM: TP=8, 0.9 × 32 GB, 16-token blocks)",
                   "003 §七", 115.7, "max_sequences", "sequences", 1, {},
                   "a different rule (the exact model): per GPU 0.9 × 31.75 GiB (the total "
                   "CUDA reports) − 3.25 GB weights − 0.06 GB activations − 1 GB reserve = "
                   "26.37 GB of KV over 209.7 MB per 2048-token sequence = 125.8 → 125 whole "
                   "sequences"),
        SeedFigure("nodes for 10,000 users (seed: ≈100 measured per node)", "003 §七", 100,
                   "nodes_needed_seed_003", "nodes", 1, {"max_sequences_seed_003": 100},
                   "the seed divides by DeepSpeed's measured ≈100 sequences per node, not by "
                   "its theoretical 115.7 (which gives ceil(10000 / 115.7) = 87)"),
        SeedFigure("nodes for 10,000 users (exact model)", "003 §七", 100, "nodes_needed",
                   "nodes", 1, {}, "a different rule (the exact model): ceil(10000 / 125) = 80 "
                   "replicas of 8 GPUs = 80 nodes (the seed uses the measured ≈100 per node)"),
        SeedFigure("llama-65b KV per token ≈ 2.5 MB", "003 §七", 2.5,
                   "kv_bytes_per_token_seed_003", "MiB", MIB, {"model": "llama-65b"},
                   "4 × 80 × 8192 = 2,621,440 bytes = 2.5 MiB"),
        SeedFigure("llama-65b fp16: (32 × 8 − 121.6) / 5 = 26.88", "003 §七", 26.88,
                   "max_sequences_seed_003", "sequences", 1, _SEED_65B,
                   "exact inputs reproduce it: 65,285,660,672 × 2 = 121.61 GiB; 2.5 MiB × "
                   "2048 = 5 GiB per request"),
        SeedFigure("llama-65b int8: (32 × 8 − 121.6/2) / 5 = 39.04", "003 §七", 39.04,
                   "max_sequences_seed_003", "sequences", 1, {**_SEED_65B, "dtype": "int8"},
                   "(256 − 60.80) / 5 = 39.04"),
        SeedFigure("llama-65b fp16, exact model (vLLM: TP=8)", "003 §七", 26.88,
                   "max_sequences", "sequences", 1, {"model": "llama-65b"},
                   "a different rule (the exact model): per GPU 0.9 × 31.75 GiB = 30.68 GB − "
                   "16.32 GB weights − 0.09 GB activations − 1 GB reserve = 13.27 GB of KV "
                   "over 671 MB per sequence = 19.8 → 19 (the seed counts all 32 GiB and no "
                   "reserve)"),
        SeedFigure("A100-40G, llama-13b: (40 − 26) GB / 1 MB ≈ 14,000 tokens", "003 §5.5",
                   14000, "kv_tokens_fit_seed_003", "tokens", 1,
                   {"gpu": "a100-40gb", "n_gpus": 1, "params_total": 13e9,
                    "kv_bytes_per_token_seed_003": 1e6, "gpu_memory_bytes": 40e9},
                   "the seed's rounded inputs: (40e9 − 13e9 × 2) / 1e6 = 14,000"),
        SeedFigure("A100-40G, 512-token requests ≈ 28", "003 §5.5", 28,
                   "max_sequences_seed_003", "sequences", 1,
                   {"gpu": "a100-40gb", "n_gpus": 1, "params_total": 13e9,
                    "kv_bytes_per_token_seed_003": 1e6, "seq_len": 512,
                    "gpu_memory_bytes": 40e9},
                   "rounding in the seed (up, where whole sequences round down): 14,000 / 512 "
                   "= 27.3, so 27 whole sequences, not 28"),
    ),
))
