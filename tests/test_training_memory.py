"""Training model states: precision recipes, optimizers, ZeRO sharding, TP/PP division,
fit, the fewest GPUs and the fit search.

Every expected number is derived by hand here (arithmetic written out) from the paper or
the architecture, never pasted from xlcalc's output.
"""

import math

import pytest

import xlcalc
from xlcalc.estimate import estimate

GB = 1e9
STATES = ["train_weights_bytes", "train_master_weights_bytes", "train_gradients_bytes",
          "train_optimizer_bytes", "train_model_state_bytes"]


def _defaults(**ctx):
    """``ctx`` with every other training input at its glossary default."""
    from xlcalc.training import TRAINING_DEFAULTS, _inputs
    return _inputs(TRAINING_DEFAULTS, ctx)


def states(psi, **inputs):
    """Model-state nodes with the parameters per GPU fixed to ``psi``."""
    ctx = dict(model="llama-7b", batch=64, seq_len=2048, precision="bf16-mixed",
               optimizer="adamw", zero=0, dp=1, tp=1, pp=1, trainable_fraction=1.0)
    ctx.update(inputs)
    return estimate(STATES, train_params_per_gpu=psi, **_defaults(**ctx))


# ---------------------------------------------------------------- ZeRO paper Table 1

@pytest.mark.parametrize("stage, paper_gb, by_hand_gb", [
    # Rajbhandari et al. 2020, Figure 1 / Table 1: Ψ = 7.5 B, N_d = 64, K = 12 (mixed precision
    # Adam: fp16 weights 2Ψ, fp16 gradients 2Ψ, fp32 master + momentum + variance KΨ).
    (0, 120, (2 + 2 + 12) * 7.5),                   # 16 × 7.5 = 120
    (1, 31.4, 2 * 7.5 + 2 * 7.5 + 12 * 7.5 / 64),   # 15 + 15 + 1.40625 = 31.40625
    (2, 16.6, 2 * 7.5 + (2 + 12) * 7.5 / 64),       # 15 + 1.640625 = 16.640625
    (3, 1.9, (2 + 2 + 12) * 7.5 / 64),              # 120 / 64 = 1.875
])
def test_zero_paper_table_1(stage, paper_gb, by_hand_gb):
    v = states(7.5e9, precision="fp16-mixed", optimizer="adam", zero=stage, dp=64)
    got = v["train_model_state_bytes"] / GB
    assert got == pytest.approx(by_hand_gb, rel=1e-12)
    assert round(got, 1) == pytest.approx(paper_gb)      # the paper prints one decimal


# -------------------------------------------------------------- recipes and optimizers

@pytest.mark.parametrize("precision, per_param", [
    ("fp32", 4 + 4 + 8),             # fp32 weights, fp32 grads, Adam m+v; no master copy
    ("fp16-mixed", 2 + 4 + 2 + 8),   # ZeRO: 2 + 2 + K (K = 4 master + 8 Adam) = 16
    ("bf16-mixed", 2 + 4 + 4 + 8),   # seed 000 §七 ex.2 / Megatron: 18
    ("seed-001", (2 + 4) + (2 + 4) + (4 + 4)),   # seed 001 §3.1: 20
])
def test_recipe_bytes_per_parameter(precision, per_param):
    v = states(1e9, precision=precision)
    assert v["train_model_state_bytes"] == pytest.approx(per_param * 1e9, rel=1e-12)


@pytest.mark.parametrize("d", [1, 2, 8, 64])
def test_megatron_distributed_optimizer_is_6_plus_12_over_d(d):
    # Megatron docs: bf16 params (2) + fp32 grads (4) unsharded, fp32 master (4) + Adam (8)
    # sharded over d: 6 + 12/d bytes per parameter, whatever zero is asked (it is stage 1).
    v = states(1e9, precision="megatron-distopt", zero=0, dp=d, batch=64)
    assert v["train_model_state_bytes"] == pytest.approx((6 + 12 / d) * 1e9, rel=1e-12)
    # asking for ZeRO-2 on top also shards the 4-byte gradients: 2 + 16/d
    v = states(1e9, precision="megatron-distopt", zero=2, dp=d, batch=64)
    assert v["train_model_state_bytes"] == pytest.approx((2 + 16 / d) * 1e9, rel=1e-12)


@pytest.mark.parametrize("optimizer, per_param", [
    ("adamw", 2 * 4), ("adam", 2 * 4), ("sgd", 0), ("sgd-momentum", 4), ("lion", 4),
    ("adamw-bf16", 2 * 2),              # DeepSeek-V3 §3.3.2: both moments in bf16
    ("adam-8bit", 2 * (1 + 4 / 2048)),   # 8-bit m, v + one fp32 absmax per 2048-block each
    ("adafactor", 4 * (1 / 4096 + 1 / 4096)),   # factored v: (r + c)·4 / (r·c), r = c = h
])
def test_optimizer_state_bytes(optimizer, per_param):
    v = states(1.0, optimizer=optimizer)          # llama-7b: hidden_size 4096
    assert v["train_optimizer_bytes"] == pytest.approx(per_param, rel=1e-12)


def test_frozen_parameters_need_no_master_gradient_or_optimizer_state():
    full = states(1e9)
    lora = states(1e9, trainable_fraction=0.01)
    assert lora["train_weights_bytes"] == full["train_weights_bytes"] == 2e9
    assert lora["train_master_weights_bytes"] == pytest.approx(0.01 * 4e9)
    assert lora["train_gradients_bytes"] == pytest.approx(0.01 * 4e9)
    assert lora["train_optimizer_bytes"] == pytest.approx(0.01 * 8e9)


@pytest.mark.parametrize("zero, sharded", [
    (0, ()), (1, ("master", "optimizer")), (2, ("master", "optimizer", "gradients")),
    (3, ("master", "optimizer", "gradients", "weights")),
])
def test_each_zero_stage_shards_its_parts(zero, sharded):
    v = states(1e9, zero=zero, dp=8)
    expect = {"weights": 2e9, "master": 4e9, "gradients": 4e9, "optimizer": 8e9}
    names = {"weights": "train_weights_bytes", "master": "train_master_weights_bytes",
             "gradients": "train_gradients_bytes", "optimizer": "train_optimizer_bytes"}
    for part, full in expect.items():
        want = full / 8 if part in sharded else full
        assert v[names[part]] == pytest.approx(want), part


# ----------------------------------------------------------- tensor and pipeline split

# Llama-2-70B by hand: h = 8192, a = 64, k = 8, d = 128, f = 28672, V = 32000, L = 80.
EMB = 32000 * 8192                                       # 262,144,000
LAYER = (8192 * (64 * 128 + 2 * 8 * 128) + 64 * 128 * 8192  # attention 150,994,944
         + 3 * 8192 * 28672                              # SwiGLU MLP 704,643,072
         + 2 * 8192)                                     # two RMSNorms 16,384
TOTAL_70B = EMB + 80 * LAYER + 8192 + EMB                # + final norm + untied head


def test_hand_counts_agree_with_the_preset():
    assert LAYER == 855_654_400                            # seed 000 §1.6 "≈ 855 M per layer"
    assert xlcalc.params("llama-2-70b")["total"] == TOTAL_70B == 68_976_648_192


@pytest.mark.parametrize("tp, pp, layers_first", [(8, 1, 80), (8, 4, 20), (2, 3, 27)])
def test_tp_divides_and_the_first_stage_holds_the_embedding(tp, pp, layers_first):
    v = estimate(["train_params_per_gpu", "train_weights_bytes", "stage_layers"],
                 **_defaults(model="llama-2-70b", tp=tp, pp=pp, dp=1, zero=0,
                             precision="bf16-mixed"))
    if pp == 1:
        first = TOTAL_70B                           # the whole model
    else:                                           # embedding + ceil(80/pp) layers
        first = EMB + layers_first * LAYER
    assert v["stage_layers"] == layers_first        # ceil(80/3) = 27: uneven stages allowed
    assert v["train_params_per_gpu"] == pytest.approx(first / tp, rel=1e-12)
    assert v["train_weights_bytes"] == pytest.approx(2 * first / tp, rel=1e-12)


# ------------------------------------------------------------------- fit and totals

def test_fit_headroom_share_and_total_is_the_sum_of_parts():
    # LLaMA-7B exact (6,738,415,616 params), bf16-mixed AdamW, batch 8 × 1024, full
    # recomputation: 18 B/param of model states.
    s = xlcalc.train_memory("llama-7b", 8, 1024, recompute="full", gpu="a100-80gb")
    parts = ["weights", "master_weights", "gradients", "optimizer", "activations", "reserve"]
    assert s["total"] == pytest.approx(sum(s[p] for p in parts), rel=1e-12)
    states_ = 18 * 6_738_415_616
    # full recomputation: 2·s·b·h per layer + final-norm/output inputs + fp32 logits
    sb = 8 * 1024
    acts = 32 * 2 * sb * 4096 + 2 * 2 * sb * 4096 + 4 * sb * 32000
    assert s["activations"] == acts
    total = states_ + acts + 2e9
    assert s["total"] == pytest.approx(total, rel=1e-12)
    reported = 79.25 * 2 ** 30          # the A100 80GB's total as CUDA reports it
    assert s["gpu_memory"] == pytest.approx(reported)
    assert s["fits"] is (total <= reported)
    assert s["headroom"] == pytest.approx(reported - total)
    assert s["share"] == pytest.approx(total / reported)


def test_a_plan_that_does_not_fit_is_a_result():
    s = xlcalc.train_memory("llama-2-70b", 1, 2048, gpu="h100-sxm")
    assert s["fits"] is False and s["headroom"] < 0 and s["share"] > 1


def test_gpus_needed_by_hand():
    # LLaMA-7B, batch 32 × 2048, full recomputation (Korthikanti), bf16-mixed AdamW, 2 GB
    # reserve, H100s at the 79.22 GiB CUDA reports: states 18 × 6,738,415,616 =
    # 121,291,481,088 B; activations of the whole batch 32·(2·65536·4096) + 2·2·65536·4096
    # + 4·65536·32000 = 26,642,219,008 B.
    usable = 79.22 * 2 ** 30 - 2e9
    states_ = 18 * 6_738_415_616
    acts = 32 * 2 * 65536 * 4096 + 2 * 2 * 65536 * 4096 + 4 * 65536 * 32000
    assert acts == 26_642_219_008
    want = math.ceil((states_ + acts) / usable)     # 147.9 / 83.06 → 2
    assert xlcalc.train_gpus_needed("llama-7b", "h100-sxm", 32, 2048, recompute="full") == want == 2
    # with tp = 2 the replica's states halve and so do the per-layer activations; the
    # logits split too (vocab-parallel); the gpus are counted in tp groups: 2 · ceil(...)
    acts_tp2 = 32 * (2 * 65536 * 4096) + 2 * 2 * 65536 * 4096 + 4 * 65536 * 32000 / 2
    want_tp2 = 2 * math.ceil((states_ / 2 + acts_tp2) / usable)    # 2 · ceil(1.0005) = 4
    got = xlcalc.train_gpus_needed("llama-7b", "h100-sxm", 32, 2048, tp=2, recompute="full")
    assert got == want_tp2 == 4


# ------------------------------------------------------------------------ fit search

def test_fit_search_rows_are_the_single_calls():
    # by hand: ZeRO-3 over 2 GPUs halves the 121.29 GB of states; each GPU runs 16
    # sequences with full recomputation: 32·2·(16·2048)·4096 + 2·2·(16·2048)·4096 +
    # 4·(16·2048)·32000 = 13,321,109,504 B; plus the 2 GB reserve.
    table = xlcalc.train_fit_search("llama-7b", 32, 2048, "h100-sxm", tp=1, pp=1, dp=2,
                                    micro_batch=16, zero=3, recompute="full")
    best = table.iloc[0]
    sb = 16 * 2048
    acts = 32 * 2 * sb * 4096 + 2 * 2 * sb * 4096 + 4 * sb * 32000
    assert best.fits and best.gpus == 2
    assert best.total == pytest.approx(18 * 6_738_415_616 / 2 + acts + 2e9, rel=1e-12)
    # ZeRO-2 on two GPUs: 13.48 + 107.81/2 + 13.32 + 2 = 82.7 GB does not fit an H100
    # planned at its marketed 80e9 bytes (a memory_gb override drops the reported total)
    z2 = xlcalc.train_fit_search("llama-7b", 32, 2048, {"preset": "h100-sxm", "memory_gb": 80},
                                 tp=1, pp=1, dp=2, micro_batch=16, zero=2, recompute="full")
    assert not z2.fits.any()
    assert z2.iloc[0].total == pytest.approx(2 * 6_738_415_616 + 16 * 6_738_415_616 / 2 +
                                             acts + 2e9)
    assert z2.attrs["message"].startswith("nothing fits on the GPUs searched: smallest "
                                          "shortfall 2.71 GB per GPU")
    # at the 79.22 GiB CUDA reports (85.06e9 bytes) the same ZeRO-2 plan fits
    assert xlcalc.train_fit_search("llama-7b", 32, 2048, "h100-sxm", tp=1, pp=1, dp=2,
                                   micro_batch=16, zero=2, recompute="full").fits.all()
    single = xlcalc.train_memory("llama-7b", 32, 2048, zero=3, dp=2, recompute="full",
                                 micro_batch=16)
    assert best.total == pytest.approx(single["total"], rel=1e-12)


def test_fit_search_returns_the_fastest_fitting_plans_brute_force():
    axes = dict(tp=[1, 2], pp=[1, 2], dp=[1, 2, 4], micro_batch=[1, 2], zero=[0, 3],
                recompute=["none", "full"])
    table = xlcalc.train_fit_search("llama-7b", 32, 2048, "h100-sxm", n_gpus=4, top=3, **axes)
    import itertools
    fitting = []
    for tp, pp, dp, mb, zero, rec in itertools.product(*axes.values()):
        if tp * pp * dp != 4:
            continue
        mem = xlcalc.train_memory("llama-7b", 32, 2048, zero=zero, dp=dp, tp=tp, pp=pp,
                                  recompute=rec, micro_batch=mb, gpu="h100-sxm")
        if mem["fits"]:
            step = xlcalc.training_step("llama-7b", "h100-sxm", 32, 2048, micro_batch=mb,
                                        dp=dp, tp=tp, pp=pp, zero=zero, recompute=rec)
            fitting.append(step["step_s"])
    assert len(table) == 3 and table.fits.all() and (table.gpus == 4).all()
    assert table.step_s.iloc[0] == pytest.approx(min(fitting), rel=1e-12)
    assert list(table.step_s) == sorted(table.step_s)


def test_fit_search_takes_a_scalar_for_every_axis():
    # issue 17: recompute="full" used to be iterated letter by letter
    table = xlcalc.train_fit_search("llama-7b", 32, 2048, "h100-sxm", tp=1, pp=1, dp=4,
                                    micro_batch=2, zero=1, recompute="full", cp=1, ep=1)
    assert len(table) == 1 and table.recompute[0] == "full" and table.zero[0] == 1
    with pytest.raises(xlcalc.XlcalcError, match="unknown recompute 'ful'"):
        xlcalc.train_fit_search("llama-7b", 32, 2048, "h100-sxm", recompute="ful")
