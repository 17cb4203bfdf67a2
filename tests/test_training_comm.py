"""Training communication per optimizer step: DP ring all-reduce 2(n−1)/n × bytes, ZeRO
volumes (stage 3 = 1.5× with fp16), TP all-reduces per layer, PP sends per micro-batch,
and the time on NVLink vs the network.  Expected values are derived by hand."""

import pytest

import xlcalc
from xlcalc.estimate import estimate

P7B = 6_738_415_616        # LLaMA-7B parameters


def comm(**kw):
    # the spec-sheet links and the seeds' 8 µs per collective (the calibrated NCCL figures
    # are the defaults: tests/test_calibration.py)
    ctx = dict(model="llama-7b", batch=64, seq_len=2048, gpu="h100-sxm", dp=8, tp=1, pp=1,
               zero=0, precision="bf16-mixed", recompute="none", link_eff=1.0,
               scale_out_eff=1.0, link_latency_us=8.0)
    ctx.update(kw)
    return xlcalc.training_comm(**ctx)


def test_dp_gradient_all_reduce_is_2_n_minus_1_over_n():
    # bf16-mixed reduces fp32 gradients: 4 × 6,738,415,616 = 26,953,662,464 bytes;
    # ring all-reduce over 8: 2 × 7/8 × that = 47,168,909,312 bytes per GPU per step
    assert comm()["dp_bytes"] == pytest.approx(2 * 7 / 8 * 4 * P7B, rel=1e-12)
    assert comm()["dp_bytes"] == pytest.approx(47_168_909_312)
    assert comm(dp=1, batch=8)["dp_bytes"] == 0


def test_zero_volumes_with_fp16_match_the_zero_paper():
    # ZeRO §7: with fp16 gradients and weights, DDP and stages 1-2 move 2Ψ, stage 3 3Ψ
    # (per rank, × (n−1)/n): stage 3 is 1.5× the data-parallel traffic.
    z = [comm(zero=k, precision="fp16-mixed")["dp_bytes"] for k in range(4)]
    assert z[0] == pytest.approx(2 * 7 / 8 * 2 * P7B)
    assert z[1] == pytest.approx(z[0]) and z[2] == pytest.approx(z[0])
    assert z[3] == pytest.approx(1.5 * z[0])


def test_zero_volumes_with_fp32_gradients():
    # bf16 weights (2) and fp32 gradients (4): stage 1-2 = 7/8·Ψ·(4 + 2), stage 3 =
    # 7/8·Ψ·(4 + 2·2), against DDP's 2·7/8·Ψ·4
    assert comm(zero=1)["dp_bytes"] == pytest.approx(7 / 8 * P7B * 6)
    assert comm(zero=3)["dp_bytes"] == pytest.approx(7 / 8 * P7B * 8)


def test_tp_all_reduces_per_layer_and_micro_batch():
    # Llama-2-70B, tp = 8, one sequence of 2048 per micro-batch: each all-reduce moves
    # 1 × 2048 × 8192 × 2 = 33,554,432 bytes → 2 × 7/8 × 33,554,432 = 58,720,256 per GPU;
    # 2 forward + 2 backward per layer × 80 layers × 1 micro-batch.
    v = comm(model="llama-2-70b", batch=1, dp=1, tp=8)
    assert v["tp_bytes"] == pytest.approx(4 * 80 * 2 * 7 / 8 * 2048 * 8192 * 2)
    # full recomputation repeats the forward all-reduces: 6 per layer
    w = comm(model="llama-2-70b", batch=1, dp=1, tp=8, recompute="full")
    assert w["tp_bytes"] == pytest.approx(v["tp_bytes"] * 6 / 4)
    # gradient accumulation: 4 micro-batches of 1 → 4× the traffic
    a = comm(model="llama-2-70b", batch=4, dp=1, tp=8, micro_batch=1)
    assert a["tp_bytes"] == pytest.approx(4 * v["tp_bytes"])


def test_pp_sends_per_micro_batch():
    # pp = 4, 16 micro-batches of 1 sequence: forward activations and backward gradients,
    # 2 × 16 sends of 2048 × 8192 × 2 = 33,554,432 bytes
    v = comm(model="llama-2-70b", batch=16, dp=1, pp=4, micro_batch=1)
    assert v["pp_bytes"] == 2 * 16 * 2048 * 8192 * 2
    # sequence parallelism scatters each send over the tensor-parallel ranks
    w = comm(model="llama-2-70b", batch=16, dp=1, tp=8, pp=4, micro_batch=1,
             sequence_parallel=1)
    assert w["pp_bytes"] == 2 * 16 * 2048 * 8192 * 2 / 8
    assert comm(model="llama-2-70b", batch=16, dp=1, pp=1)["pp_bytes"] == 0


def test_times_on_nvlink_and_the_network():
    # H100: NVLink 450 GB/s, network 50 GB/s per GPU; 8 µs per collective; efficiency 1.
    # tp = 8 fits in a node (NVLink); dp = 8 on top spans 64 GPUs (network).
    v = comm(model="llama-2-70b", batch=8, dp=8, tp=8, micro_batch=1)
    assert v["dp_s"] == pytest.approx(v["dp_bytes"] / 50e9 + 8e-6)
    tp_collectives = 4 * 80 * 1
    assert v["tp_s"] == pytest.approx(v["tp_bytes"] / 450e9 + tp_collectives * 8e-6)
    assert v["total_s"] == pytest.approx(v["dp_s"] + v["tp_s"] + v["pp_s"])
    # dp = 8 alone fits in one node: NVLink
    w = comm(dp=8, tp=1)
    assert w["dp_s"] == pytest.approx(w["dp_bytes"] / 450e9 + 8e-6)


def test_nvlink_and_the_network_have_their_own_efficiency():
    # link_eff scales NVLink only, scale_out_eff the network only: tp = 8 on NVLink at 0.5,
    # dp = 8 across nodes on 50 GB/s at 0.8 (H100; 8 µs per collective)
    v = comm(model="llama-2-70b", batch=8, dp=8, tp=8, micro_batch=1, link_eff=0.5,
             scale_out_eff=0.8)
    assert v["dp_s"] == pytest.approx(v["dp_bytes"] / (50e9 * 0.8) + 8e-6)
    assert v["tp_s"] == pytest.approx(v["tp_bytes"] / (450e9 * 0.5) + 4 * 80 * 8e-6)
    w = comm(dp=8, tp=1, link_eff=0.5, scale_out_eff=0.8)          # one node: NVLink
    assert w["dp_s"] == pytest.approx(w["dp_bytes"] / (450e9 * 0.5) + 8e-6)


def test_the_network_efficiency_defaults_to_calculons_infiniband_model():
    # collectives.json model_parameters: Calculon's A100 InfiniBand HDR network, 0.9; no
    # family has a measured cross-server figure, so every family (and a custom GPU) takes it
    from xlcalc.efficiency import calibration_table
    assert set(calibration_table()["scale_out_eff"]) == {0.9}
    v = estimate(["scale_out_eff", "link_eff"], gpu="a100-80gb")
    assert v["scale_out_eff"] == 0.9 and v["link_eff"] == pytest.approx(231.58 / 300)


def test_ring_formula_is_shared_with_serving():
    # the training traffic reuses xlcalc.formulas.comm.ring_allreduce_bytes
    from xlcalc.formulas.comm import ring_allreduce_bytes
    from xlcalc.training import TRAINING_DEFAULTS, _inputs
    v = estimate(["train_dp_allreduce_bytes", "train_grad_payload_bytes"],
                 **_inputs(TRAINING_DEFAULTS, dict(model="llama-7b", dp=8, batch=8)))
    assert v["train_dp_allreduce_bytes"] == ring_allreduce_bytes(v["train_grad_payload_bytes"], 8)
