"""Training activations: Korthikanti et al. 2022 Table 2 at the paper's 22 B config, the
GQA / gated-MLP / FlashAttention adjustments, pipeline in-flight micro-batches, the
embedding and output terms, micro-batch vs global batch, and the seeds' rules.

Expected values are worked out by hand below from the paper's formulas.
"""

import pytest

from xlcalc.estimate import estimate

GiB = 2 ** 30

# Korthikanti et al. 2022 Table 3, 22 B row: 64 heads, hidden 6144, 48 layers, tensor
# parallel 8, micro-batch 4, sequence 2048 (vocabulary 51,200, GPT: MHA, 4h GeLU MLP).
GPT_22B = {"model_type": "gpt2", "n_embd": 6144, "n_head": 64, "n_layer": 48,
           "vocab_size": 51200, "n_positions": 2048}
S, B, H, A, T = 2048, 4, 6144, 64, 8
SBH = S * B * H                       # 50,331,648
SCORE = 5 * A * S / (H * T)           # 5·64·2048 / (6144·8) = 13.333…

# the paper's GPT training: 16-bit activations, dropout, no FlashAttention
PAPER = dict(model=GPT_22B, batch=B, seq_len=S, tp=T, pp=1, dp=1, precision="bf16-mixed",
             dropout=1, attention="eager", stack="megatron", cp=1, vp=1)

TABLE_2 = [
    # (sequence parallel, recompute, paper GiB, by-hand bytes)
    (0, "none", 1.234, SBH * (10 + 24 / T + SCORE)),     # tensor parallel (baseline)
    (1, "none", 0.824, SBH * (34 / T + SCORE)),          # + sequence parallel
    (0, "selective", 0.609, SBH * (10 + 24 / T)),        # + selective recomputation
    (1, "selective", 0.199, SBH * 34 / T),               # + both
    (0, "full", 0.094, SBH * 2),                         # full recomputation: 2sbh
]


@pytest.mark.parametrize("sp, recompute, paper_gib, by_hand", TABLE_2)
def test_korthikanti_table_2_general_formula(sp, recompute, paper_gib, by_hand):
    v = estimate(["train_act_per_layer_bytes"], **PAPER, sequence_parallel=sp,
                 recompute=recompute)["train_act_per_layer_bytes"]
    assert v == pytest.approx(by_hand, rel=1e-12)
    assert round(v / GiB, 3) == paper_gib


def test_korthikanti_table_2_named_rows():
    names = ["act_layer_korthikanti_tp", "act_layer_korthikanti_tp_sp",
             "act_layer_korthikanti_tp_selective", "act_layer_korthikanti_tp_sp_selective",
             "act_layer_korthikanti_full"]
    v = estimate(names, model=GPT_22B, micro_batch=B, seq_len=S, tp=T)
    for name, (_, _, paper_gib, by_hand) in zip(names, TABLE_2):
        assert v[name] == pytest.approx(by_hand, rel=1e-12), name
        assert round(v[name] / GiB, 3) == paper_gib, name


def test_no_parallelism_is_34_plus_5as_over_h():
    # t = 1: sbh(34 + 5as/h) = 50,331,648 × (34 + 106.67) bytes
    want = SBH * (34 + 5 * A * S / H)
    v = estimate(["train_act_per_layer_bytes", "act_layer_korthikanti"],
                 **{**PAPER, "tp": 1}, sequence_parallel=0, recompute="none")
    assert v["train_act_per_layer_bytes"] == pytest.approx(want, rel=1e-12)
    assert v["act_layer_korthikanti"] == pytest.approx(want, rel=1e-12)


def test_full_recomputation_with_sequence_parallelism_splits_the_kept_input():
    v = estimate(["train_act_per_layer_bytes"], **PAPER, sequence_parallel=1,
                 recompute="full")["train_act_per_layer_bytes"]
    assert v == pytest.approx(2 * SBH / T)


# ------------------------------------------------------------ GQA, gated MLP, flash

# Llama-2-70B: h = 8192, a = 64, k = 8 KV heads, d = 128, f = 28672 (SwiGLU), V = 32000.
LLAMA = dict(model="llama-2-70b", batch=1, seq_len=2048, tp=1, pp=1, dp=1, stack="megatron",
             cp=1, precision="bf16-mixed", dropout=0, sequence_parallel=0, vp=1,
             recompute="none", attention="flash")
# per token and layer, bytes (e = 2):
#   replicated: two norm inputs + QKV input + MLP input = 4 × 2 × 8192     =  65,536
#   Q 2·64·128 + K,V 2·(2·8·128) + attention output 2·64·128                =  36,864
#   gated MLP: gate‖up 2·2f + down input 2f = 6 × 28672                     = 172,032
BODY_PER_TOKEN = 4 * 2 * 8192 + 2 * (64 * 128 + 2 * 8 * 128 + 64 * 128) + 2 * 3 * 28672
SCORES_EAGER = 2 * 64 * 2048          # softmax output, e·a·s per token (no dropout)
SCORES_FLASH = 4 * 64                 # fp32 log-sum-exp per head


def test_gqa_and_gated_mlp_adjustments():
    assert BODY_PER_TOKEN == 274_432
    for flash, scores in ((0, SCORES_EAGER), (1, SCORES_FLASH)):
        v = estimate(["train_act_per_layer_bytes"],
                     **dict(LLAMA, attention="flash" if flash else "eager"))
        assert v["train_act_per_layer_bytes"] == 2048 * (BODY_PER_TOKEN + scores)
    # an MHA, 4h-GeLU layer of the same width would keep 34 bytes per hidden unit
    # (Korthikanti with dropout); GQA saves K/V width, SwiGLU at f = 3.5h costs more.
    assert BODY_PER_TOKEN / 8192 == pytest.approx(33.5)


def test_whole_model_first_stage_with_output_terms():
    # 80 layers × 2048 × (274,432 + 256) + final-norm and output-layer inputs 2·2·2048·8192
    # + fp32 logits 4·2048·32000 (no pipeline: this GPU holds them)
    want = 80 * 2048 * (BODY_PER_TOKEN + SCORES_FLASH) + 2 * 2 * 2048 * 8192 + 4 * 2048 * 32000
    assert want == 45_334_134_784
    v = estimate(["train_activation_bytes"], **LLAMA,
                 activation_rule="korthikanti")
    assert v["train_activation_bytes"] == want


def test_output_terms_match_korthikanti_section_4_3():
    # with sequence parallelism: 4sbh/t·(1 + v/h) = 4·50,331,648/8·(1 + 51200/6144)
    want = 4 * SBH / T * (1 + 51200 / H)
    assert want == pytest.approx(234_881_024)
    v = estimate(["train_act_output_bytes"], **PAPER, sequence_parallel=1, micro_batch=B)
    assert v["train_act_output_bytes"] == pytest.approx(want)
    # only the first stage matters and with a pipeline it is not the last one
    v = estimate(["train_act_output_bytes"], **{**PAPER, "pp": 4}, sequence_parallel=1)
    assert v["train_act_output_bytes"] == 0


# ---------------------------------------------------------------------- pipeline

PER_LAYER_B1 = 2048 * (BODY_PER_TOKEN + SCORES_FLASH)   # one micro-batch of 1 sequence


def test_1f1b_first_stage_holds_pp_micro_batches():
    # pp = 4, micro-batch 1, 16 micro-batches per step: the first stage runs 20 layers and
    # keeps min(4, 16) = 4 micro-batches in flight = 80 layers' worth (Korthikanti §4.2.3).
    ctx = dict(LLAMA, pp=4, batch=16, micro_batch=1)
    v = estimate(["train_act_inflight", "train_act_model_bytes", "grad_accum_steps"], **ctx)
    assert v["grad_accum_steps"] == 16
    assert v["train_act_inflight"] == 4
    assert v["train_act_model_bytes"] == 20 * 4 * PER_LAYER_B1
    # fewer micro-batches than stages: only those are in flight
    v = estimate(["train_act_inflight"], **dict(ctx, batch=2))
    assert v["train_act_inflight"] == 2


def test_interleaved_schedule_factor():
    # Korthikanti §4.2.3: interleaving with m chunks multiplies by 1 + (p − 1)/(p·m)
    ctx = dict(LLAMA, pp=4, batch=16, micro_batch=1, vp=2)
    v = estimate(["train_act_inflight", "train_act_model_bytes"], **ctx)
    assert v["train_act_inflight"] == pytest.approx(4 * (1 + 3 / 8))
    assert v["train_act_model_bytes"] == pytest.approx(20 * 4 * 1.375 * PER_LAYER_B1)


def test_embedding_dropout_term():
    # sbhp/t with sequence parallelism: 2048 × 1 × 8192 × 4 micro-batches / 8
    ctx = dict(LLAMA, tp=8, pp=4, batch=16, micro_batch=1, dropout=1, sequence_parallel=1)
    v = estimate(["train_act_embedding_bytes"], **ctx)
    assert v["train_act_embedding_bytes"] == 2048 * 8192 * 4 / 8


# ---------------------------------------------------------- micro vs global batch

def test_micro_batch_defaults_to_the_replica_share_and_scales_activations():
    ctx = dict(LLAMA, batch=32, dp=4, activation_rule="korthikanti")
    v = estimate(["micro_batch", "grad_accum_steps", "train_activation_bytes"], **ctx)
    assert v["micro_batch"] == 32 / 4 and v["grad_accum_steps"] == 1
    w = estimate(["micro_batch", "grad_accum_steps", "train_activation_bytes"], **ctx,
                 micro_batch=2)
    assert w["grad_accum_steps"] == 8 / 2
    # every term is linear in the micro-batch (no pipeline: one micro-batch in flight)
    assert w["train_activation_bytes"] == pytest.approx(v["train_activation_bytes"] / 4)


# ------------------------------------------------------------------ seeds' rules

def test_seed_rules_of_thumb():
    # seed 000 §4.2: 1 × 2048 × 8192 × 80 × 34 × 2 = 91,268,055,040 bytes (≈ 90 GB)
    # seed 000 §七 ex.2: 32 × 2048 × 4096 × 32 × 2 × 2 = 34,359,738,368 bytes (≈ 34 GB)
    # seed 001 §3.3: (34bsh + 5bas²)·L = 80 × (34·16,777,216 + 5·64·2048²) = 153,008,209,920
    v = estimate(["activations_seed_rule", "activations_seed_001"], model="llama-2-70b",
                 micro_batch=1, seq_len=2048)
    assert v["activations_seed_rule"] == 1 * 2048 * 8192 * 80 * 34 * 2 == 91_268_055_040
    assert v["activations_seed_001"] == 80 * (34 * 2048 * 8192 + 5 * 64 * 2048 ** 2) \
        == 153_008_209_920
    v = estimate(["activations_seed_recompute_rule"], model="llama-7b", micro_batch=32,
                 seq_len=2048)
    assert v["activations_seed_recompute_rule"] == 32 * 2048 * 4096 * 32 * 2 * 2 \
        == 34_359_738_368


@pytest.mark.parametrize("rule, node", [
    ("seed-000", "activations_seed_rule"),
    ("seed-000-recompute", "activations_seed_recompute_rule"),
    ("seed-001", "activations_seed_001"),
    ("korthikanti", "train_act_model_bytes"),
])
def test_activation_rule_picks_one_estimate(rule, node):
    v = estimate(["train_activation_bytes", node], **LLAMA,
                 activation_rule=rule)
    assert v["train_activation_bytes"] == v[node]
