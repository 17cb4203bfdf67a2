"""Parameter counts: every preset against transformers, and the seeds' worked numbers."""

import json
from pathlib import Path

import pytest

import xlcalc
from xlcalc.models import load_model, preset_names

# Ground truth: transformers 5.24 num_parameters() and per-group sums of
# named_parameters() on the meta device (tests/data/make_param_counts.py, run once), for
# every preset and for the small per-model_type configs of model_type_cases.json.
DATA = Path(__file__).parent / "data"
TRUTH = json.loads((DATA / "param_counts.json").read_text())
CASES = {k: v for k, v in json.loads((DATA / "model_type_cases.json").read_text()).items()
         if not k.startswith("_")}


def _spec(label):
    return dict(CASES[label[5:]]) if label.startswith("case:") else label


def test_every_preset_and_model_type_has_ground_truth():
    from xlcalc.models import SUPPORTED_MODEL_TYPES
    assert len(preset_names()) >= 60
    assert set(preset_names()) <= set(TRUTH)
    assert {f"case:{k}" for k in CASES} <= set(TRUTH)
    # every parser is exercised by a small case built with transformers (generic: by hand)
    built = {json.loads(json.dumps(v))["model_type"] for v in CASES.values()} | \
        {load_model(n).model_type for n in preset_names()}
    text_types = {CASES[k[5:]]["text_config"]["model_type"] for k in TRUTH
                  if k.startswith("case:") and "text_config" in CASES[k[5:]]}
    assert set(SUPPORTED_MODEL_TYPES) - {"generic"} <= built | text_types


@pytest.mark.parametrize("label", sorted(TRUTH))
def test_params_match_transformers(label):
    p = xlcalc.params(_spec(label))
    truth = TRUTH[label]
    assert int(p["total"]) == truth["total"], "total differs from num_parameters()"
    for part in ("embedding", "attention", "mlp", "norm", "lm_head", "active"):
        assert int(p[part]) == truth[part], part
    assert p["embedding"] + p["attention"] + p["mlp"] + p["norm"] + p["lm_head"] == p["total"]
    # optional parts: transformers' MtpModel (shared embedding/head excluded), the vision
    # tower + projector of a multimodal wrapper; never inside total
    assert int(p["mtp"]) == truth.get("mtp", 0) or "mtp_error" in truth
    assert int(p["vision"]) == truth.get("vision", 0)


@pytest.mark.parametrize("name,count", [
    # published counts (model cards / papers), independent of the transformers run
    ("gpt2", 124_439_808),
    ("llama-2-7b", 6_738_415_616),
    ("mistral-7b", 7_241_732_096),
    ("mixtral-8x7b", 46_702_792_704),
])
def test_published_totals(name, count):
    assert int(xlcalc.params(name)["total"]) == count


def test_mixtral_active_about_12_9b():
    # 2 of 8 experts per token: non-expert 46.70 B - 32·8·3·4096·14336 = 1.60 B,
    # plus 32·2·3·4096·14336 = 11.27 B active experts
    expert = 3 * 4096 * 14336
    active = 46_702_792_704 - 32 * 6 * expert
    assert int(xlcalc.params("mixtral-8x7b")["active"]) == active
    assert round(active / 1e9, 1) == 12.9


def test_dense_active_equals_total():
    p = xlcalc.params("llama-3-8b")
    assert p["active"] == p["total"]


def test_llama70b_per_layer_seed_000():
    # seed 000 §1.6: W_Q, W_O 8192² each, W_K, W_V 8192·1024 each, gate/up/down
    # 8192·28672 each, two RMSNorms 8192 each: ≈ 855 M per layer, × 80 layers
    attention = 2 * 8192 * 8192 + 2 * 8192 * 1024
    mlp = 3 * 8192 * 28672
    layer = attention + mlp + 2 * 8192
    assert attention == 150_994_944 and mlp == 704_643_072      # seed: 150 M, 705 M
    v = xlcalc.compute(["params_dense_layer", "params_attention", "params_mlp"],
                        model="llama-2-70b")
    assert v["params_dense_layer"] == layer == 855_654_400       # seed: ~855 M
    assert v["params_attention"] + v["params_mlp"] + 80 * 2 * 8192 == 80 * layer
    assert round(80 * layer / 1e9, 1) == 68.5                    # seed prints 68.4 B


@pytest.mark.parametrize("name,expected", [
    # seed 003 §2.5 table, 12·n·h²: (h, n) = (4096, 32), (5120, 40), (6656, 60), (8192, 80)
    ("llama-7b", 12 * 32 * 4096 ** 2),
    ("llama-13b", 12 * 40 * 5120 ** 2),
    ("llama-33b", 12 * 60 * 6656 ** 2),
    ("llama-65b", 12 * 80 * 8192 ** 2),
])
def test_seed_003_table(name, expected):
    assert expected in (6_442_450_944, 12_582_912_000, 31_897_681_920, 64_424_509_440)
    assert xlcalc.params_shortcuts(name)["12*L*h^2 (seed 001/003)"] == expected


def test_seed_001_and_003_formulas_by_hand():
    s = xlcalc.params_shortcuts("llama-7b")
    h, L, V = 4096, 32, 32000
    assert s["L(12h^2+13h)+2Vh (seed 001 §2.5)"] == L * (12 * h * h + 13 * h) + 2 * V * h
    assert s["n(12h^2+4h)+Vh (seed 003 §2.5)"] == L * (12 * h * h + 4 * h) + V * h
    # seed 001 §2.6 GQA estimate for llama-3-8b: h=4096, kv/h=8/32, f=14336, V=128256
    g = xlcalc.params_shortcuts("llama-3-8b")["GQA+SwiGLU estimate (seed 001 §2.6)"]
    assert g == 32 * (2 * 4096 ** 2 + 2 * 4096 * 4096 * 8 / 32 + 3 * 4096 * 14336) \
        + 2 * 128256 * 4096


def test_deepseek_v3_mla_moe():
    p = xlcalc.params("deepseek-v3")
    # published: 671 B total, 37 B activated (the 14 B multi-token-prediction module
    # is not part of the Hugging Face model)
    assert round(p["total"] / 1e9) == 671
    assert 37e9 < p["active"] < 38e9
    # MLA attention per layer by hand (h=7168, a=128, q_lora 1536, kv_lora 512,
    # rope 64, nope 128, v 128)
    q = 7168 * 1536 + 1536 * 128 * (128 + 64)
    kv = 7168 * (512 + 64) + 512 * 128 * (128 + 128)
    o = 128 * 128 * 7168
    assert p["attention"] == 61 * (q + kv + o)


def test_params_from_config_dict_and_rows():
    cfg = dict(xlcalc.load_model("llama-2-7b").config)
    cfg["num_hidden_layers"] = 16
    half = xlcalc.params(cfg)["total"]
    rows = [["preset", "llama-2-7b"], ["num_hidden_layers", 16.0], [None, None]]
    assert xlcalc.params(rows)["total"] == half
    per_layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096
    assert xlcalc.params("llama-2-7b")["total"] - half == 16 * per_layer


@pytest.mark.parametrize("label", sorted(TRUTH))
def test_layer_kinds_match_transformers(label):
    """Counts per layer kind equal transformers' layer_types (its own derivation from
    patterns where the config gives none), and the windows equal its config's."""
    truth = TRUTH[label]
    m = load_model(_spec(label))
    kinds = truth.get("layer_types")
    if kinds is None:
        return
    assert m.num_sliding_layers == kinds.get("sliding_attention", 0)
    assert m.num_chunked_layers == kinds.get("chunked_attention", 0)
    assert m.num_linear_layers == kinds.get("linear_attention", 0) + kinds.get("mamba", 0)
    full = sum(kinds.get(k, 0) for k in ("full_attention", "attention", "indexed_attention"))
    assert m.num_layers - m.num_sliding_layers - m.num_chunked_layers - \
        m.num_linear_layers == full
    if m.num_sliding_layers:
        assert m.sliding_window == truth["sliding_window"]
    if m.num_chunked_layers:
        assert m.attention_chunk_size == truth["attention_chunk_size"]
    if m.index_topk:
        assert m.index_topk == truth["index_topk"]


@pytest.mark.parametrize("name,total,active,digits", [
    # model cards' figures, in billions, to the digits they print (vision tower included
    # where the card counts the multimodal model)
    ("qwen3-32b", 32.8, None, 1),            # Qwen3-32B card: 32.8B
    ("qwen3-8b", 8.2, None, 1),              # Qwen3-8B card: 8.2B
    ("qwen3-30b-a3b", 30.5, 3.3, 1),         # 30.5B, 3.3B activated
    ("qwen3-235b-a22b", 235, 22, 0),         # 235B, 22B activated
    ("gpt-oss-120b", 116.83, 5.13, 2),       # OpenAI model card: 116.83B / 5.13B active
    ("gpt-oss-20b", 20.91, 3.61, 2),         # 20.91B / 3.61B active (embeddings excluded)
    ("kimi-k2", 1026, 32.9, None),           # Kimi K2 card: 1T total, 32B activated
    ("phi-4", 14.7, None, 1),                # Phi-4 card: 14B; Hub: 14.7B
    ("granite-4.0-h-small", 32, 9, 0),       # Granite 4.0-H-Small card: 32B, 9B active
    ("llama-4-scout", 109, 17, 0),           # Llama 4 card: 109B total, 17B active
    ("llama-4-maverick", 400, 17, 0),        # 400B total, 17B active
    ("gemma-3-12b", 12.2, None, 1),          # Hub: 12.2B (with the vision tower)
    ("gemma-3-27b", 27.4, None, 1),          # Hub: 27.4B (with the vision tower)
])
def test_model_card_figures(name, total, active, digits):
    p = xlcalc.params(name)
    whole = (p["total"] + p["vision"]) / 1e9
    if name.startswith("gpt-oss"):
        # OpenAI's active count leaves out the embedding (not the unembedding)
        act = (p["active"] - p["embedding"]) / 1e9
    else:
        act = p["active"] / 1e9
    if digits is None:                           # "1T": within 3 %
        assert abs(whole - total) / total < 0.03
        assert abs(act - active) < 1
        return
    # cards round or truncate: within one unit of the last digit they print
    unit = 10 ** -digits
    assert abs(whole - total) < unit or abs(p["total"] / 1e9 - total) < unit
    if active is not None:
        assert abs(act - active) < unit


def test_published_exact_counts():
    # Qwen3-Next-80B-A3B: the checkpoint's safetensors total and its total minus the
    # inactive experts, as published (https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Instruct)
    p = xlcalc.params("qwen3-next-80b-a3b")
    assert int(p["total"]) == 79_674_391_296 and int(p["active"]) == 3_874_929_408
    # Gemma 3 4B: 4,300,079,472 with its SigLIP tower and projector
    g = xlcalc.params("gemma-3-4b")
    assert int(g["total"] + g["vision"]) == 4_300_079_472
    # Mistral Small 3.1: 24,011,361,280 in the checkpoint, which ships its own lm_head; the
    # preset says tie_word_embeddings=false (transformers 5.24 would tie a config without it)
    m = xlcalc.params("mistral-small-3.1-24b")
    assert int(m["lm_head"]) == 5120 * 131072
    assert int(m["total"] + m["vision"]) == 24_011_361_280
