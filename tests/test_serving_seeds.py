"""Serving worked examples, figure by figure, with the arithmetic written out by hand.

Seed 000 §七 example 1 (LLaMA-70B on 8×H100, TP=8, batch 8, 512 in / 256 out) and its
neighbouring sections, §七 example 3 (communication), seed 002 §五 (PD KV transfer) and
seed 003 §七 (capacity).  Every expected number below is derived here from the model's
architecture (Llama-2-70B: h = 8192, L = 80, a = 64, k = 8, d = 128, f = 28672,
V = 32000, untied head) and the spec sheet (H100 SXM: 989.4 TFLOP/s dense bf16,
3.35 TB/s, NVLink 450 GB/s per direction), never pasted from the code's output.
"""

import math

import pytest

import xlcalc
from xlcalc.estimate import estimate
from xlcalc.worked import REASONS, compare, example

H, L, A, K, D, F, V = 8192, 80, 64, 8, 128, 28672, 32000
PEAK, HBM, NVLINK = 989.4e12, 3.35e12, 450e9
GIB, MIB = 2 ** 30, 2 ** 20

ATTN_LAYER = H * A * D + 2 * H * K * D + A * D * H        # W_Q, W_K, W_V, W_O
MLP_LAYER = 3 * H * F                                      # gate, up, down
LAYER = ATTN_LAYER + MLP_LAYER + 2 * H                     # + 2 RMSNorms
PARAMS = L * LAYER + H + 2 * V * H                         # + final norm, embedding, head
MATMUL = L * (ATTN_LAYER + MLP_LAYER) + V * H              # weights a token multiplies
WEIGHTS = 2 * PARAMS                                       # bf16 bytes
KV_TOKEN = L * 2 * K * D * 2                               # bytes per token, all layers


def _prefill_flops(batch, prompt):
    linear = 2 * prompt * (MATMUL - V * H) + 2 * V * H       # LM head for the last token
    attention = 2 * A * (2 * D) * (prompt * (prompt + 1) / 2) * L   # causal pairs
    return batch * (linear + attention)


def _forward_flops(context):
    return 2 * MATMUL + 2 * A * (2 * D) * L * context


BASE = example("llama-70b-inference").inputs


def value(node, **changes):
    return estimate([node], **{**BASE, **changes})[node]


def test_architecture_constants_are_the_preset():
    assert PARAMS == 68_976_648_192 == xlcalc.params("llama-2-70b")["total"]
    assert LAYER == 855_654_400


def test_section_1_6_parameters():
    assert value("params_attention_per_layer") == 150_994_944 == ATTN_LAYER
    assert value("params_dense_mlp_per_layer") == 704_643_072
    assert value("params_dense_layer") == LAYER
    assert value("params_non_embedding") == L * LAYER + H == 68_452_360_192
    assert value("params_lm_head") == 262_144_000


def test_section_2_prefill_and_decode_flops():
    # §2.2: 5 tokens → 685.07 GFLOPs, not 800 (the seed sizes K and V like Q)
    assert value("prefill_flops", batch=1, prompt_len=5) == pytest.approx(685_074_022_400)
    assert _prefill_flops(1, 5) == pytest.approx(685_074_022_400)
    # §2.3: one token at context 6 → 137.44 GFLOPs (the seed's 32 B is a slip)
    assert value("decode_flops", batch=1, context_len=6, tp=1) == _forward_flops(6) == \
        137_442_099_200
    intensity = _forward_flops(6) / (WEIGHTS + 6 * KV_TOKEN)
    assert value("decode_intensity", batch=1, context_len=6, tp=1) == pytest.approx(intensity)
    assert intensity == pytest.approx(0.99628, rel=1e-5)           # ≈ 1 (§5.4), not 0.23
    assert value("ridge_intensity") == pytest.approx(989.4 / 3.35, rel=1e-12)   # 295.3


def test_section_2_4_kv_table_is_ten_times_too_large_in_the_seed():
    kv = 2 * 8 * 4096 * L * K * D * 2
    assert kv == 10_737_418_240 == 10 * GIB                       # seed prints 104 GB
    assert value("kv_cache_bytes", tp=1, batch=8, seq_len=4096) == kv
    for seq, printed in [(512, 1.6), (2048, 6.5), (4096, 13), (8192, 26), (32768, 104),
                         (131072, 416)]:
        exact = 2 * seq * L * K * D * 2
        assert value("kv_cache_bytes", tp=1, batch=1, seq_len=seq) == exact
        assert 9 < printed * 1e9 / exact < 10.5                   # the seed's ~10× slip


def test_section_4_1_memory_and_gpus():
    ctx = dict(tp=1, batch=8, seq_len=4096)
    activations = 8192 * 2 * F * 2        # gate+up outputs of an 8192-token chunk, 2 bytes
    total = WEIGHTS + 10 * GIB + activations + 1e9
    assert value("infer_activation_bytes", **ctx) == activations == 939_524_096
    assert value("infer_total_bytes", **ctx) == pytest.approx(total)
    assert total == pytest.approx(150.63e9, rel=1e-4)            # the seed: 248 GB (KV slip)
    seed_gpu = dict(ctx, gpu_memory_bytes=80e9)                  # the seed's "80 GB"
    assert value("gpus_needed_rule", **seed_gpu) == math.ceil(total / 80e9) == 2
    # per-GPU fit at 0.9 × 80 GB: TP=2 needs 75.8 GB, TP=4 38.4 GB (4 GPUs, the seed's
    # answer), but three pipeline stages of 27/27/26 layers fit one GPU each: 3 GPUs
    assert (total - 1e9) / 2 + 1e9 > 72e9 > (total - 1e9) / 4 + 1e9
    per_layer = (WEIGHTS - 2 * V * H * 2) / 80 + 10 * GIB / 80
    assert 27 * per_layer + activations + V * H * 2 + 1e9 < 72e9          # the busiest stage
    assert value("gpus_needed", **seed_gpu) == 3 and value("tp_needed", **seed_gpu) == 1
    # at the total CUDA reports (79.22 GiB, 76.6 GB usable) TP=2 fits: 2 GPUs
    assert (total - 1e9) / 2 + 1e9 < 0.9 * 79.22 * GIB
    assert value("gpus_needed", **ctx) == 2
    assert value("infer_activation_bytes_seed_000", **ctx) == 8 * 4096 * 8192 * 4 * 2


def test_section_5_4_prefill_intensity_is_about_seq():
    expected = _prefill_flops(1, 1000) / (WEIGHTS + 1000 * KV_TOKEN)
    assert value("prefill_intensity", tp=1, batch=1, prompt_len=1000) == pytest.approx(expected)
    assert expected == pytest.approx(999.52, abs=0.01)


def test_example_1_prefill():
    flops = _prefill_flops(8, 512)
    assert value("prefill_flops") == pytest.approx(flops)
    assert flops == pytest.approx(563.509e12, rel=1e-5)          # seed: 573 (2 × 70 B × 512 × 8)
    assert value("prefill_flops_rule", params_total=70e9) == 2 * 70e9 * 512 * 8
    compute = flops / (8 * PEAK * 0.5)
    assert value("prefill_compute_s") == pytest.approx(compute)
    assert compute == pytest.approx(0.14239, rel=1e-4)            # seed: 144 ms
    # TP traffic: 2 all-reduces × 80 layers × 2(8−1)/8 × 8 × 512 × 8192 × 2 bytes
    tp_bytes = 2 * 80 * 2 * 7 / 8 * 8 * 512 * 8192 * 2
    assert tp_bytes == 18_790_481_920                              # seed: "1.8 TB"
    assert value("tp_comm_bytes", seq_len=512) == tp_bytes
    tp_time = tp_bytes / NVLINK + 160 * 8e-6
    assert value("prefill_tp_comm_s") == pytest.approx(tp_time)   # 43.04 ms; seed: 2 ms
    assert value("ttft_s") == pytest.approx(compute + tp_time)    # exposed: 185.4 ms
    assert value("ttft_s", comm_overlap=1.0, link_latency_us=0.0) == pytest.approx(compute)


def _decode_steps(latency_us):
    """The decode loop written out: 255 steps, context 513 … 767, each max(compute,
    memory) + 160 all-reduces of batch × hidden × 2 bytes."""
    allreduce = 2 * 7 / 8 * 8 * 8192 * 2
    comm = 160 * (allreduce / NVLINK + latency_us * 1e-6)
    steps = []
    for context in range(513, 768):
        compute = 8 * _forward_flops(context) / (8 * PEAK * 0.5)
        memory = (WEIGHTS / 8 + 8 * context * KV_TOKEN / 8) / HBM
        steps.append(max(compute, memory) + comm)
    return steps


def test_example_1_decode_and_end_to_end():
    assert value("decode_flops") == pytest.approx(8 * _forward_flops(513))   # ≈ 1.11 TFLOPs
    assert value("infer_weights_bytes") == WEIGHTS / 8 == 17_244_162_048      # seed: 17.5 GB
    memory = (WEIGHTS / 8 + 8 * 513 * KV_TOKEN / 8) / HBM
    assert value("decode_memory_s") == pytest.approx(memory)                  # 5.20 ms
    steps = _decode_steps(8)
    ttft = _prefill_flops(8, 512) / (8 * PEAK * 0.5) + 18_790_481_920 / NVLINK + 160 * 8e-6
    assert value("decode_total_s") == pytest.approx(sum(steps), rel=1e-12)
    assert value("tpot_s") == pytest.approx(sum(steps) / 255, rel=1e-12)      # 6.57 ms
    assert value("e2e_s") == pytest.approx(ttft + sum(steps), rel=1e-12)      # 1.861 s
    assert value("tokens_per_s") == pytest.approx(8 * 256 / (ttft + sum(steps)))   # 1100
    # the seed's assumptions: overlapped prefill communication, no all-reduce latency
    seed_steps = _decode_steps(0)
    seed = dict(comm_overlap=1.0, link_latency_us=0.0)
    e2e = _prefill_flops(8, 512) / (8 * PEAK * 0.5) + sum(seed_steps)
    assert value("e2e_s", **seed) == pytest.approx(e2e, rel=1e-12)           # 1.492 s
    assert value("tokens_per_s", **seed) == pytest.approx(2048 / e2e)         # 1373


def test_quantization_and_speculative_rows():
    layers, vocab = PARAMS - 2 * V * H, 2 * V * H
    assert value("model_weights_bytes", dtype="int8") == layers * 1 + vocab * 2
    assert value("model_weights_bytes", dtype="int4") == pytest.approx(
        layers * (4 + (16 + 4) / 128) / 8 + vocab * 2)      # GPTQ: fp16 scale + 4-bit zero
    expected_tokens = (1 - 0.75 ** 5) / (1 - 0.75)
    assert value("spec_speedup", acceptance_rate=0.75, draft_len=4, draft_cost_ratio=0.05) \
        == pytest.approx(expected_tokens / 1.2)
    assert expected_tokens / 1.2 == pytest.approx(2.5423, rel=1e-4)


def test_example_3_communication():
    ex = example("llama-70b-communication").inputs

    def comm(node, **changes):
        return estimate([node], **{**ex, **changes})[node]

    allreduce = 2 * 3 / 4 * 1 * 2048 * 8192 * 2
    assert comm("tp_allreduce_bytes") == allreduce == 50_331_648       # ≈ 50 MB
    assert comm("tp_comm_bytes_per_stage") == 80 * allreduce            # 40 layers × 2 ≈ 4 GB
    assert comm("tp_comm_s_per_stage") == pytest.approx(80 * allreduce / NVLINK)   # 8.95 ms
    assert comm("pp_message_bytes") == 2048 * 8192 * 2 == 32 * MIB      # "32 MB" = 32 MiB
    assert comm("pp_comm_s", gpus_per_node=4, inter_node_gb_per_s=100) == \
        pytest.approx(32 * MIB / 100e9)                                 # 0.34 ms
    assert comm("pp_link", gpus_per_node=4) == "inter-node"
    assert comm("pp_link") == "intra-node" and comm("tp_link") == "intra-node"


def test_seed_002_disaggregated_kv_transfer():
    kv = 64 * 2 * 9216 * 2 * 512                     # OPT-66B: 64 layers, MHA d_model 9216
    got = xlcalc.kv_transfer("opt-66b", 512, 10, kv_dtype="fp16", gpu="a100-80gb", tp=4,
                             link_eff=1.0, link_latency_us=8)       # the seed's spec link
    assert got["bytes_per_request"] == kv == 1.125 * GIB              # "1.13 GB" is GiB
    assert got["bytes_per_s"] == 10 * kv                              # 11.25 GiB/s
    assert got["gbit_per_s"] == pytest.approx(10 * kv * 8 / 1e9)      # 96.6, seed "90 Gbps"
    # A100 80GB: 25 GB/s network per GPU; 4 GPUs send their shards in parallel
    assert got["transfer_s"] == pytest.approx(kv / (4 * 25e9) + 8e-6)
    assert got["link_utilisation"] == pytest.approx(10 * kv / (4 * 25e9))


def test_seed_003_capacity_method_and_exact_model():
    ex = example("llama-13b-capacity").inputs

    def cap(node, **changes):
        return estimate([node], **{**ex, **changes})[node]

    seed_inputs = {"gpu_memory_bytes": 32 * GIB, "params_total": 24.6 * GIB / 2,
                   "kv_bytes_per_token_seed_003": MIB}
    assert cap("max_sequences_seed_003", **seed_inputs) == pytest.approx((256 - 24.6) / 2)
    assert cap("max_sequences_seed_003", **seed_inputs, dtype="int8") == \
        pytest.approx((256 - 12.3) / 2)                                 # 121.85
    # the same method on exact figures: 13,015,864,320 × 2 bytes, 4 × 40 × 5120 bytes/token
    assert cap("kv_bytes_per_token_seed_003") == 4 * 40 * 5120 == 819_200
    exact = (8 * 32 * GIB - 13_015_864_320 * 2) / (819_200 * 2048)
    assert cap("max_sequences_seed_003", gpu_memory_bytes=32 * GIB) == pytest.approx(exact)
    assert exact == pytest.approx(148.32, abs=0.01)
    # llama-65b: exact inputs reproduce 26.88 and 39.04
    w65 = 65_285_660_672 * 2
    per_request = 4 * 80 * 8192 * 2048
    assert per_request == 5 * GIB
    for dtype, weights in (("fp16", w65), ("int8", w65 / 2)):
        assert cap("max_sequences_seed_003", model="llama-65b", gpu_memory_bytes=32 * GIB,
                   dtype=dtype) == pytest.approx((256 * GIB - weights) / per_request)
    assert (256 * GIB - w65) / per_request == pytest.approx(26.88, abs=0.005)
    assert (256 * GIB - w65 / 2) / per_request == pytest.approx(39.04, abs=0.005)
    # nodes: the seed divides 10,000 users by its measured ~100 per node
    assert cap("nodes_needed_seed_003", max_sequences_seed_003=100) == 100
    # seed 003 §5.5: (40 − 26) GB / 1 MB = 14,000 tokens; / 512 = 27.3 (the seed says 28)
    a100 = dict(gpu="a100-40gb", n_gpus=1, params_total=13e9, kv_bytes_per_token_seed_003=1e6,
                gpu_memory_bytes=40e9)
    assert cap("kv_tokens_fit_seed_003", **a100) == pytest.approx(14_000)
    assert cap("max_sequences_seed_003", **a100, seq_len=512) == pytest.approx(14_000 / 512)


def test_vllm_block_arithmetic_by_hand():
    """llama-13b fp16 on 8×V100-32GB, TP=8, 2048-token requests, the vLLM engine preset's
    defaults (a V100 has under 70 GiB: max_num_batched_tokens 2048, max_num_seqs 256)."""
    budget = 0.9 * 31.75 * GIB                            # utilisation × the total CUDA reports
    weights = 13_015_864_320 * 2 / 8                      # fp16 weights split 8 ways
    forward = 2048 * 2 * 13824 * 2 / 8                    # profile at max_num_batched_tokens
    sampler = 256 * 32000 * 38.4                          # 256 requests × vocab × 38.4 B
    activations = max(forward, sampler)
    non_torch = 139_586_437 + 450_971_566                 # 0.13 GiB + 0.42 GiB at tp > 1
    kv_budget = budget - weights - activations - non_torch
    block = 16 * (40 * 2 * 5 * 128 * 2)                   # 16 tokens × 40 layers × K,V of 5 heads
    num_blocks = math.floor(kv_budget / block)
    assert block == 1_638_400 and activations == sampler
    got = xlcalc.serving_capacity("llama-13b", "v100-32gb", 2048, tp=8, dtype="fp16",
                                  kv_dtype="fp16", n_gpus=8, concurrent_users=10_000)
    assert got["kv_budget"] == pytest.approx(kv_budget)
    assert got["num_blocks"] == num_blocks
    assert got["kv_tokens"] == num_blocks * 16
    assert got["max_concurrency_vllm"] == pytest.approx(num_blocks * 16 / 2048)
    assert got["max_sequences"] == math.floor(num_blocks / (2048 / 16))
    assert got["nodes_needed"] == math.ceil(10_000 / got["max_sequences"])
    # at the flat figures xlcalc used before the engine presets (1 GB reserve, a forward
    # pass of 8192 tokens, no sampler): 16,095 blocks, 125 sequences, 80 nodes
    old = xlcalc.serving_capacity("llama-13b", "v100-32gb", 2048, tp=8, dtype="fp16",
                                  kv_dtype="fp16", n_gpus=8, concurrent_users=10_000,
                                  infer_reserve_bytes=1e9, engine_comm_buffer_bytes=0,
                                  max_num_batched_tokens=8192, engine_sampler_bytes=0)
    assert old["kv_budget"] == pytest.approx(budget - weights - 8192 * 2 * 13824 * 2 / 8 - 1e9)
    assert (old["num_blocks"], old["max_sequences"], old["nodes_needed"]) == (16_095, 125, 80)


def test_worked_examples_compare_and_every_differing_row_has_a_reason():
    for name in ("llama-70b-inference", "llama-70b-communication", "llama-13b-capacity"):
        frame = compare(name)
        assert len(frame) >= 8
        for _, row in frame.iterrows():
            assert row["note"], row["item"]
            if row["status"] == "differs":
                assert any(reason in row["note"] for reason in REASONS), row["item"]
    frame = compare("llama-70b-inference").set_index("item")
    assert frame.loc["80 GB GPUs needed (per-GPU fit)", "status"] == "differs"
    assert frame.loc["KV cache, batch 8 × 4096 tokens", "status"] == "differs"
