"""Expert, context and HSDP parallelism, offload, LoRA/QLoRA and the FP8 recipes: model
states and activations per GPU against hand arithmetic."""

import pytest

import xlcalc
from xlcalc.estimate import estimate
from xlcalc.training import TRAINING_DEFAULTS, _inputs

# Mixtral-8x7B: h 4096, 32 layers, 8 experts of 3·4096·14336 = 176,160,768 parameters
EXPERT = 3 * 4096 * 14336
EXPERTS = 32 * 8 * EXPERT                            # 45,097,156,608
MIXTRAL = 46_702_792_704                             # transformers' num_parameters()
P7B = 6_738_415_616                                  # LLaMA-7B


def test_expert_parallelism_splits_the_routed_experts():
    dense = MIXTRAL - EXPERTS                        # 1,605,636,096 outside the experts
    s = xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=8, ep=8, zero=1)
    assert s["weights"] == pytest.approx(2 * (dense + EXPERTS / 8), rel=1e-12)
    # ZeRO-1 shards the dense part's master weights over the 8 data-parallel ranks; the
    # experts' over tp·cp·dp/(etp·ep) = 8/8 = 1 expert-data-parallel rank (not at all)
    assert s["master_weights"] == pytest.approx(4 * (dense / 8 + EXPERTS / 8), rel=1e-12)
    assert s["optimizer"] == pytest.approx(8 * (dense / 8 + EXPERTS / 8), rel=1e-12)
    # ep = 2: the experts' states sharded over 8/2 = 4 ranks
    t = xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=8, ep=2, zero=1)
    assert t["master_weights"] == pytest.approx(4 * (dense / 8 + EXPERTS / 2 / 4), rel=1e-12)


def test_expert_parallelism_must_divide_the_experts_and_the_ranks():
    with pytest.raises(xlcalc.XlcalcError, match="ep must be a divisor of num_experts=8"):
        xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=8, ep=3)
    with pytest.raises(xlcalc.XlcalcError, match="ep must be a divisor of tp·cp·dp/etp=2"):
        xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=2, ep=4)


def test_expert_tensor_parallelism_splits_each_expert():
    # tp 2, ep 4 on 8 GPUs: by default each expert is split over tp (etp = 2) and a GPU
    # holds 8/4 experts of each layer at half their width; etp = 1 keeps whole experts, so
    # the expert weights per GPU double (bf16): 2 × EXPERTS/4 × (1 − 1/2) more bytes
    split = xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=4, tp=2, ep=4)
    whole = xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=4, tp=2, ep=4, etp=1)
    assert whole["weights"] - split["weights"] == pytest.approx(2 * EXPERTS / 4 / 2, rel=1e-12)
    # ep draws its ranks from tp·cp·dp/etp: 8/2 = 4 with etp 2, so ep 8 needs etp 1
    with pytest.raises(xlcalc.XlcalcError, match="ep must be a divisor of tp·cp·dp/etp=4"):
        xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=4, tp=2, ep=8)
    xlcalc.train_memory("mixtral-8x7b", 8, 4096, dp=4, tp=2, ep=8, etp=1)


def test_context_parallelism_divides_the_activations():
    one = xlcalc.train_memory("llama-3.1-8b", 1, 32768, cp=1)
    four = xlcalc.train_memory("llama-3.1-8b", 1, 32768, cp=4)
    assert four["activations"] == pytest.approx(one["activations"] / 4, rel=1e-12)
    # ZeRO shards over the data- and context-parallel ranks (Megatron's dp·cp group)
    z = xlcalc.train_memory("llama-3.1-8b", 1, 32768, cp=4, zero=1)
    assert z["optimizer"] == pytest.approx(one["optimizer"] / 4, rel=1e-12)
    with pytest.raises(xlcalc.XlcalcError, match="cp must be a divisor of seq_len=1000"):
        xlcalc.train_memory("llama-3.1-8b", 1, 1000, cp=3)


def test_hsdp_shards_within_the_group_only():
    full = xlcalc.train_memory("llama-7b", 16, 2048, dp=16, zero=3)
    hsdp = xlcalc.train_memory("llama-7b", 16, 2048, dp=16, zero=3, dp_shard=8)
    assert full["weights"] == pytest.approx(2 * P7B / 16, rel=1e-12)
    assert hsdp["weights"] == pytest.approx(2 * P7B / 8, rel=1e-12)
    assert hsdp["optimizer"] == pytest.approx(8 * P7B / 8, rel=1e-12)
    with pytest.raises(xlcalc.XlcalcError, match="dp_shard must be a divisor of dp=16"):
        xlcalc.train_memory("llama-7b", 16, 2048, dp=16, zero=3, dp_shard=3)


def test_offload_moves_states_to_host_memory():
    gpu = xlcalc.train_memory("llama-7b", 8, 2048, dp=8, zero=2)
    off = xlcalc.train_memory("llama-7b", 8, 2048, dp=8, zero=2, offload="optimizer")
    assert off["master_weights"] == off["optimizer"] == off["gradients"] == 0
    assert off["weights"] == gpu["weights"] == pytest.approx(2 * P7B)
    # host: (4 master + 8 Adam + 4 gradients) × Ψ / 8 per GPU, × 8 GPUs per node
    assert off["host"] == pytest.approx(16 * P7B / 8, rel=1e-12)
    assert off["host_per_node"] == pytest.approx(16 * P7B, rel=1e-12)
    both = xlcalc.train_memory("llama-7b", 8, 2048, dp=8, zero=3, offload="optimizer+params")
    assert both["weights"] == 0 and both["host"] == pytest.approx(18 * P7B / 8, rel=1e-12)


# ------------------------------------------------------------------------ LoRA, QLoRA

# Llama-2-7B: h 4096, 32 heads of 128 (MHA), SwiGLU f 11008, 32 layers
H, F, L = 4096, 11008, 32


@pytest.mark.parametrize("targets, rank, per_layer", [
    # PEFT's print_trainable_parameters() for Llama-2-7B prints 4,194,304 (r 8, q and v)
    ("qv", 8, 2 * (H + H)),
    ("attention", 16, 4 * (H + H)),
    # all linear: + gate, up, down (3 × (4096 + 11008)): 39,976,960 at r 16
    ("all-linear", 16, 4 * (H + H) + 3 * (H + F)),
])
def test_lora_adapter_parameters(targets, rank, per_layer):
    v = estimate(["train_adapter_params_per_gpu"], **_inputs(TRAINING_DEFAULTS, dict(
        model="llama-2-7b", finetune="lora", lora_rank=rank, lora_targets=targets)))
    assert v["train_adapter_params_per_gpu"] == rank * per_layer * L
    if targets == "qv":
        assert rank * per_layer * L == 4_194_304
    if targets == "all-linear":
        assert rank * per_layer * L == 39_976_960


def test_lora_memory_by_hand():
    total = 6_738_415_616                            # Llama-2-7B
    adapters = 39_976_960
    s = xlcalc.train_memory("llama-2-7b", 1, 2048, finetune="lora")
    assert s["weights"] == 2 * total                 # frozen base in bf16
    assert s["adapters"] == 2 * adapters
    assert s["master_weights"] == 4 * adapters
    assert s["gradients"] == 4 * adapters
    assert s["optimizer"] == 8 * adapters


def test_qlora_base_is_nf4_with_double_quantisation():
    total = 6_738_415_616
    linear = 32 * (4 * H * H + 3 * H * F)            # 6,476,005,376 in q/k/v/o/gate/up/down
    nf4 = 0.5 + 1 / 64 + 4 / (64 * 256)              # QLoRA §3: 4.127 bits per parameter
    s = xlcalc.train_memory("llama-2-7b", 1, 2048, finetune="qlora")
    assert s["weights"] == pytest.approx(linear * nf4 + (total - linear) * 2, rel=1e-9)
    assert s["master_weights"] == 4 * 39_976_960


# -------------------------------------------------------------------------- FP8

def test_fp8_recipe_keeps_fp8_weight_copies_and_fp8_projection_inputs():
    s = xlcalc.train_memory("llama-2-7b", 1, 4096, precision="fp8-current")
    # bf16 weights plus the cached fp8 weight and its transpose (2 bytes)
    assert s["weights"] == 4 * 6_738_415_616
    assert s["master_weights"] == 4 * 6_738_415_616
    # per token and layer (Megatron stack, flash): norm inputs 2e·h, QKV and MLP inputs
    # 2g·h, Q/K/V e·(a·d + 2k·d), output-projection input g·a·d, SwiGLU e·2f and the down
    # projection's input g·f, log-sum-exp 4a; e = 2, g = 1
    per_token = (4 + 2) * H + 2 * (H + 2 * H) + H + 2 * 2 * F + F + 4 * 32
    bf16_token = 8 * H + 2 * 3 * H + 2 * H + 2 * 3 * F + 4 * 32
    v = estimate(["train_act_per_layer_bytes"], **_inputs(TRAINING_DEFAULTS, dict(
        model="llama-2-7b", batch=1, seq_len=4096, precision="fp8-current")))
    w = estimate(["train_act_per_layer_bytes"], **_inputs(TRAINING_DEFAULTS, dict(
        model="llama-2-7b", batch=1, seq_len=4096)))
    assert v["train_act_per_layer_bytes"] == 4096 * per_token
    assert w["train_act_per_layer_bytes"] == 4096 * bf16_token


def test_fp8_recipe_needs_an_fp8_peak():
    with pytest.raises(xlcalc.XlcalcError, match="precision must be a recipe a100-80gb "
                                                 "computes in"):
        xlcalc.training_step("llama-2-7b", "a100-80gb", 8, 2048, precision="fp8-current")


def test_offload_pcie_traffic_per_step():
    # ZeRO-2 + optimizer offload on 8 GPUs: each GPU sends its fp32 gradient shard (4Ψ/8)
    # to the host and gets the bf16 weights of the shard the CPU updated (2Ψ/8) back, per
    # step, over 32 GB/s
    c = xlcalc.training_comm("llama-7b", 8, 2048, "h100-sxm", dp=8, zero=2, offload="optimizer")
    assert c["offload_bytes"] == pytest.approx(4 * P7B / 8 + 2 * P7B / 8, rel=1e-12)
    assert c["offload_s"] == pytest.approx(c["offload_bytes"] / 32e9, rel=1e-12)
