"""Step time as it runs: compute, the pipeline bubble, communication by kind and what of it
the compute hides, tokens/s and MFU, against hand arithmetic; the whole run with goodput."""

import pytest

import xlcalc

# LLaMA-7B: h 4096, 32 heads of 128 (MHA), SwiGLU f 11008, 32 layers, vocabulary 32,000
H, A, F, L, V = 4096, 32, 11008, 32, 32000
P7B = 6_738_415_616
PEAK = 989.4e12                   # H100 SXM dense bf16
BW = 3350e9                       # H100 SXM HBM bytes/s


def _step(*args, **kwargs):
    """training_step on the plain figures the hand arithmetic uses (the spec-sheet links and
    8 µs a collective, as the seeds; compute at 0.55 of the peak), not the GPU family's
    calibrated ones (tests/test_calibration.py)."""
    plain = {"link_eff": 1.0, "scale_out_eff": 1.0, "link_latency_us": 8.0, "compute_eff": 0.55}
    return xlcalc.training_step(*args, **{**plain, **kwargs})


def _flops(B, s, passes=3):
    """Megatron's count by hand: per token and layer the projections 2h(3h) + 2h·h, the
    attention core over the full s×s 2·s·a·2d, the SwiGLU MLP 2h·f·3; the logits 6·h·V."""
    layer = 2 * H * 3 * H + 2 * H * H + 2 * s * A * 256 + 2 * H * F * 3
    return B * s * (passes * L * layer + 6 * H * V)


def _core(B, s, passes=3):
    return passes * B * s * L * 2 * s * A * 256


def _elementwise_s(micro_batch, s, layers, m):
    """4 × the activations a Megatron layer produces (bf16, flash: per token 8h + 2·3h +
    2h + 6f plus the fp32 log-sum-exp 4a), per micro-batch and layer, ÷ 70 % of HBM."""
    per_token = 8 * H + 2 * 3 * H + 2 * H + 6 * F + 4 * A
    return 4 * per_token * micro_batch * s * layers * m / (BW * 0.7)


def test_compute_is_executed_flops_at_the_efficiency_plus_elementwise_traffic():
    B, s = 64, 4096
    st = _step("llama-7b", "h100-sxm", B, s, micro_batch=1, dp=8)
    core = _core(B, s)
    executed = _flops(B, s) - core + core * (s + 1) / (2 * s)   # flash: the causal half
    m = B // 8
    by_hand = executed / (8 * PEAK * 0.55) + _elementwise_s(1, s, L, m)
    assert st["compute_s"] == pytest.approx(by_hand, rel=1e-12)
    assert st["bubble_s"] == 0
    # MFU: Megatron's model FLOPs ÷ (step × GPUs × peak); tokens/s per GPU
    assert st["mfu"] == pytest.approx(_flops(B, s) / (st["step_s"] * 8 * PEAK), rel=1e-12)
    assert st["tokens_per_s_per_gpu"] == pytest.approx(B * s / (st["step_s"] * 8), rel=1e-12)


def test_fp8_recipe_runs_the_projections_at_the_fp8_peak():
    # fp8-current on H100 SXM: projections and logits at the fp8 dense peak 1,978.9 TFLOP/s,
    # the attention core at the bf16 peak; element-wise traffic of the fp8 recipe's
    # activations (projection inputs kept in fp8: per token 6h + 2·3h + h + 4f + f + 4a)
    B, s = 64, 4096
    st = _step("llama-7b", "h100-sxm", B, s, micro_batch=1, dp=8,
                              precision="fp8-current")
    core = _core(B, s)
    per_token = 6 * H + 2 * 3 * H + H + 4 * F + F + 4 * A
    elementwise = 4 * per_token * s * L * (B // 8) / (BW * 0.7)
    by_hand = (_flops(B, s) - core) / (8 * 1978.9e12 * 0.55) + \
        core * (s + 1) / (2 * s) / (8 * PEAK * 0.55) + elementwise
    assert st["compute_s"] == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize("pp, vp, m", [(2, 1, 8), (4, 1, 8), (4, 2, 8), (4, 1, 32)])
def test_bubble_is_p_minus_1_over_m_v(pp, vp, m):
    st = _step("llama-7b", "h100-sxm", 8 * m, 4096, micro_batch=1, dp=8, pp=pp,
                              vp=vp)
    assert st["bubble_s"] == pytest.approx(st["compute_s"] * (pp - 1) / (m * vp), rel=1e-12)


def test_data_parallel_reduction_hides_behind_the_last_backward():
    # DDP (ZeRO 0) on 8 GPUs in a node: ring all-reduce of fp32 gradients 2·7/8·4Ψ bytes
    # over NVLink 450 GB/s plus 8 µs; the window is the last micro-batch's backward (2/3)
    st = _step("llama-7b", "h100-sxm", 64, 4096, micro_batch=1, dp=8)
    comm = 2 * 7 / 8 * 4 * P7B / 450e9 + 8e-6
    assert st["dp_comm_s"] == pytest.approx(comm, rel=1e-12)
    window = st["compute_s"] / 8 * 2 / 3
    assert st["exposed_comm_s"] == pytest.approx(max(comm - window, 0), abs=1e-12)
    # nothing hidden with dp_overlap 0
    bare = _step("llama-7b", "h100-sxm", 64, 4096, micro_batch=1, dp=8,
                                dp_overlap=0.0)
    assert bare["exposed_comm_s"] == pytest.approx(comm, rel=1e-12)
    assert bare["step_s"] == pytest.approx(bare["compute_s"] + comm, rel=1e-12)


def test_zero_3_regathers_the_weights_every_micro_batch():
    # FSDP / ZeRO-3 on 8 GPUs, 8 micro-batches: each micro-batch reduce-scatters the fp32
    # gradients (7/8 · 4Ψ) and all-gathers the bf16 weights forward and backward
    # (2 · 7/8 · 2Ψ): 8 × 7/8 × 8Ψ bytes over NVLink, one latency (bucketed)
    st = _step("llama-7b", "h100-sxm", 64, 4096, micro_batch=1, dp=8, zero=3)
    assert st["dp_comm_s"] == pytest.approx(8 * 7 / 8 * 8 * P7B / 450e9 + 8e-6, rel=1e-12)


def test_pipeline_sends_cross_nodes_when_the_stages_do():
    # pp 2 over dp 8: Megatron's rank order puts each stage's 8 GPUs on its own node, so
    # the 2 sends per micro-batch (1 × 4096 × 4096 × 2 bytes each) run on the 50 GB/s network
    st = _step("llama-7b", "h100-sxm", 64, 4096, micro_batch=1, dp=8, pp=2)
    sends = 2 * 8
    assert st["pp_comm_s"] == pytest.approx(sends * 4096 * H * 2 / 50e9 + sends * 8e-6,
                                            rel=1e-12)


def test_tensor_parallel_all_reduces_are_exposed_unless_overlapped():
    # tp 4: 4 all-reduces per layer and micro-batch (2 forward, 2 backward) of b·s·h·2
    # bytes, ring 2·3/4 of it, 32 layers × 8 micro-batches
    st = _step("llama-7b", "h100-sxm", 8, 4096, micro_batch=1, tp=4)
    count = 4 * L * 8
    by_hand = count * 2 * 3 / 4 * 4096 * H * 2 / 450e9 + count * 8e-6
    assert st["tp_comm_s"] == pytest.approx(by_hand, rel=1e-12)
    half = _step("llama-7b", "h100-sxm", 8, 4096, micro_batch=1, tp=4,
                                mp_overlap=0.5)
    assert half["exposed_comm_s"] == pytest.approx(by_hand / 2, rel=1e-12)


def test_expert_parallel_all_to_alls():
    # Mixtral, ep 8 on 8 GPUs, micro-batch 1 × 4096: each of 32 MoE layers dispatches and
    # combines t·k = 4096·2 token copies of h·2 bytes, 7/8 of them leave the GPU; four
    # all-to-alls per layer (forward and backward), one micro-batch
    st = _step("mixtral-8x7b", "h100-sxm", 8, 4096, micro_batch=1, dp=8, ep=8)
    per = 4096 * 2 * 4096 * 2 * 7 / 8
    count = 4 * 32
    assert st["ep_comm_s"] == pytest.approx(count * per / 450e9 + count * 8e-6, rel=1e-12)


def test_context_parallel_ring_exchange():
    # cp 4 on Llama-3.1-8B (8 KV heads of 128): each layer passes its K/V chunk
    # (2 bytes × 8192/4 tokens × 8 heads × (128 + 128)) to its ring neighbour cp − 1 = 3
    # times forward, and K/V plus dK/dV 2 × 3 times backward: 9 chunks per layer
    st = _step("llama-3.1-8b", "h100-sxm", 1, 8192, cp=4)
    chunk = 2 * 8192 / 4 * 8 * 256
    sends = 3 * 3 * 32
    assert st["cp_comm_s"] == pytest.approx(sends * chunk / 450e9 + sends * 8e-6, rel=1e-12)


def test_training_time_from_the_step_and_goodput():
    t = xlcalc.training_time("llama-7b", 1e12, "h100-sxm", 64, batch=512, seq_len=4096, tp=2,
                             micro_batch=1)
    step = xlcalc.training_step("llama-7b", "h100-sxm", 512, 4096, micro_batch=1, dp=32, tp=2)
    steps = 1e12 / (512 * 4096)
    assert t["steps"] == pytest.approx(steps)
    assert t["seconds"] == pytest.approx(steps * step["step_s"] / 0.9, rel=1e-12)
    assert t["days"] == pytest.approx(t["seconds"] / 86400)
    with pytest.raises(xlcalc.XlcalcError, match="n_gpus must be dp·tp·pp·cp = 64"):
        xlcalc.training_time("llama-7b", 1e12, "h100-sxm", 100, batch=512, seq_len=4096,
                             tp=2, dp=32)
