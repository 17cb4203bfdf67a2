"""Loading models and accelerators: presets, paths, dicts, Excel rows, and bad input."""

import json
import sys

import pytest

import xlcalc
from xlcalc.errors import XlcalcError
from xlcalc.hardware import gpu_names, load_gpu
from xlcalc.models import SUPPORTED_MODEL_TYPES, load_model, preset_names

REQUIRED_MODELS = ["gpt2", "opt-66b", "llama-7b", "llama-13b", "llama-33b", "llama-65b",
                   "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b",
                   "llama-3.1-405b", "mistral-7b", "mixtral-8x7b", "qwen2.5-7b", "qwen2.5-72b",
                   "gemma-2-9b", "phi-3-mini", "falcon-7b", "deepseek-v3"]
# issue 11: the models a planner sizes in late 2026
CURRENT_MODELS = ["llama-3.3-70b", "llama-4-scout", "llama-4-maverick", "qwen3-8b", "qwen3-32b",
                  "qwen3-30b-a3b", "qwen3-235b-a22b", "qwen3-next-80b-a3b", "gpt-oss-20b",
                  "gpt-oss-120b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b", "deepseek-v3.1",
                  "deepseek-r1", "deepseek-v3.2", "kimi-k2", "glm-4.5", "glm-4.5-air", "glm-4.6",
                  "mistral-small-3.1-24b", "phi-4", "olmo-3-7b", "exaone-4.0-32b",
                  "granite-4.0-h-small", "command-r7b"]
ISSUE_MODEL_TYPES = {"qwen3", "qwen3_moe", "qwen3_next", "qwen3_5", "qwen3_5_moe", "gpt_oss",
                     "gemma3", "gemma3_text", "llama4", "deepseek_v2", "deepseek_v32",
                     "glm4_moe", "mistral3", "ministral", "ministral3", "phimoe", "olmo2",
                     "olmo3", "exaone4", "granite", "granitemoe", "granitemoehybrid", "cohere2",
                     "ernie4_5_moe", "minimax", "deepseek_v3", "kimi_k2", "generic"}
REQUIRED_GPUS = ["v100-16gb", "v100-32gb", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie",
                 "h200", "b200", "l40s", "l4", "rtx-4090", "a10", "mi250x", "mi300x"]


def test_required_presets_exist():
    assert set(REQUIRED_MODELS) <= set(preset_names())
    assert set(CURRENT_MODELS) <= set(preset_names())
    assert len(set(preset_names()) - set(REQUIRED_MODELS)) >= 30 + 13   # 30 current + old ones
    assert set(REQUIRED_GPUS) <= set(gpu_names())
    for name in preset_names():
        assert name == name.lower() and " " not in name and "_" not in name
    old = {"gpt2", "opt", "llama", "mistral", "mixtral", "qwen2", "gemma2", "phi3", "falcon"}
    assert old | ISSUE_MODEL_TYPES <= set(SUPPORTED_MODEL_TYPES)


def test_every_current_preset_records_its_hub_ids():
    from xlcalc.models import hub_ids
    for name in CURRENT_MODELS:
        ids = [r for r, n in hub_ids().items() if n == name]
        assert ids, name
        assert load_model(name).source == \
            f"https://huggingface.co/{load_model(name).config['xlcalc_hub_ids'][0]}/blob/main/config.json"


@pytest.mark.parametrize("typed,preset", [
    ("meta-llama/Llama-3.3-70B-Instruct", "llama-3.3-70b"),
    ("Qwen/Qwen3-32B", "qwen3-32b"),
    ("qwen/qwen3-32b", "qwen3-32b"),                     # case-insensitive
    ("QWEN3-32B", "qwen3-32b"),
    ("google/gemma-3-27b-it", "gemma-3-27b"),
    ("gemma-3-27b-it", "gemma-3-27b"),                   # -it variant of the preset name
    ("qwen3-32b-instruct", "qwen3-32b"),                 # -instruct variant
    ("llama-2-7b-chat", "llama-2-7b"),                   # -chat variant
    ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b"),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"),
    ("openai/gpt-oss-120b", "gpt-oss-120b"),
    ("moonshotai/Kimi-K2-Instruct", "kimi-k2"),
    ("deepseek-ai/DeepSeek-R1-0528", "deepseek-r1"),
])
def test_hub_repo_ids_and_variants_resolve(typed, preset):
    assert load_model(typed) is load_model(preset)


def test_unknown_repo_id_suggests_close_names():
    with pytest.raises(XlcalcError, match=r"unknown model 'Qwen/Qwen3-33B'; did you mean"):
        load_model("Qwen/Qwen3-33B")


def test_every_preset_states_its_source():
    for name in preset_names():
        m = load_model(name)
        assert m.source.startswith("https://huggingface.co/"), name
    for name in gpu_names():
        g = load_gpu(name)
        assert g.source.startswith("https://"), name


def test_architectures_are_recognised():
    assert load_model("llama-2-70b").architecture == "GQA dense"
    assert load_model("llama-2-7b").architecture == "MHA dense"
    assert load_model("falcon-7b").architecture == "MQA dense"
    assert load_model("mixtral-8x7b").architecture == "GQA MoE"
    assert load_model("deepseek-v3").architecture == "MLA MoE"
    assert load_model("gemma-2-9b").architecture == "GQA dense sliding-window"
    g = load_model("gemma-2-9b")
    assert g.head_dim == 256 and g.hidden_size // g.num_heads == 224   # head_dim != h/a
    d = load_model("deepseek-v3")
    assert (d.num_dense_layers, d.num_experts, d.experts_per_token) == (3, 256, 8)
    assert d.shared_expert_intermediate_size == 2048                   # 1 shared expert
    q = load_model("qwen2.5-7b")
    assert (q.qkv_bias, q.o_bias) == (1, 0)
    assert load_model("gpt2").norm_bias == 1 and load_model("llama-2-7b").norm_bias == 0


def test_names_are_case_insensitive():
    assert load_model("LLaMA-2-70B") is load_model("llama-2-70b")
    assert load_gpu("H100-SXM") is load_gpu("h100-sxm")


def test_unknown_names_suggest_close_ones():
    with pytest.raises(XlcalcError, match=r"unknown model 'llama-2-71b'; did you mean 'llama-2-7b'"):
        load_model("llama-2-71b")
    with pytest.raises(XlcalcError, match=r"unknown gpu 'h100-sx'; did you mean .*'h100-sxm'"):
        load_gpu("h100-sx")


def test_load_from_path_dict_and_rows(tmp_path):
    cfg = dict(load_model("mistral-7b").config)
    folder = tmp_path / "my-mistral"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    from_path = load_model(str(folder / "config.json"))
    assert from_path.name == "my-mistral"
    assert xlcalc.params(from_path)["total"] == 7_241_732_096
    assert xlcalc.params(cfg)["total"] == 7_241_732_096
    # Excel two-column range: floats for integers, empty rows, "true"/"false" text
    rows = [["model_type", "llama"], ["hidden_size", 4096.0], ["num_hidden_layers", 32.0],
            ["num_attention_heads", 32.0], ["intermediate_size", 11008.0],
            ["vocab_size", 32000.0], [None, None], ["tie_word_embeddings", "false"]]
    assert xlcalc.params(rows)["total"] == 6_738_415_616


def test_rows_override_a_preset_by_glossary_name():
    m = load_model([["preset", "llama-2-70b"], ["num_layers", 40]])
    assert m.num_layers == 40 and m.num_kv_heads == 8
    assert m.name == "llama-2-70b (modified)"


def test_gpu_from_rows_and_dict():
    g = load_gpu([["preset", "h100-sxm"], ["memory_gb", 94.0]])
    assert g.memory_gb == 94 and g.peak_tflops_bf16 == 989.4
    custom = load_gpu({"name": "my-card", "memory_gb": 48, "memory_bandwidth_gb_per_s": 1000,
                       "peak_tflops_fp16": 200})
    assert custom.memory_gb == 48
    assert custom.peak_tflops_fp8 != custom.peak_tflops_fp8      # NaN: not supported
    with pytest.raises(XlcalcError, match="memory_gb must be a positive number, got -1"):
        load_gpu({"memory_gb": -1, "memory_bandwidth_gb_per_s": 1, "peak_tflops_fp16": 1})
    with pytest.raises(XlcalcError, match="unknown gpu field 'memory_gib'"):
        load_gpu({"memory_gib": 80})


def test_unknown_model_type_lists_the_supported_ones_and_the_generic_schema():
    with pytest.raises(XlcalcError) as info:
        load_model({"model_type": "qwen4_moe", "hidden_size": 8})
    text = str(info.value)
    assert "unknown model_type 'qwen4_moe'" in text and "did you mean 'qwen3_moe'" in text
    for t in ("qwen3", "gpt_oss", "llama4", "deepseek_v32", "granitemoehybrid"):
        assert t in text
    assert "model_type 'generic'" in text and "docs/models.md" in text


def test_generic_schema_describes_any_decoder():
    """docs/models.md §9: normalised field names; absent fields are 0 (absent)."""
    llama = load_model("llama-2-7b").fields
    generic = {"model_type": "generic", **{k: llama[k] for k in (
        "vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
        "max_position_embeddings")}}
    assert xlcalc.params(generic)["total"] == 6_738_415_616
    # a hybrid decoder nobody has a parser for: 24 sliding layers of 32, a fixed state
    hybrid = dict(generic, num_kv_heads=8, sliding_window=4096, num_sliding_layers=24)
    m = load_model(hybrid)
    assert (m.num_sliding_layers, m.sliding_window, m.num_kv_heads) == (24, 4096, 8)
    assert m.architecture == "GQA dense sliding-window"
    with pytest.raises(XlcalcError, match=r"unknown model field 'numlayers'; did you mean "
                                          r"'num_layers'"):
        load_model(dict(generic, numlayers=3))
    with pytest.raises(XlcalcError, match="missing 'hidden_size'.*generic"):
        load_model({"model_type": "generic", "vocab_size": 8, "num_layers": 2, "num_heads": 2,
                    "intermediate_size": 8})


def test_unknown_key_in_a_range_is_an_error_with_close_names():
    """An Excel range override is checked key by key (a typo is never ignored)."""
    with pytest.raises(XlcalcError, match=r"unknown model key 'numlayers'; did you mean "
                                          r"'num_layers'"):
        load_model([["preset", "llama-2-70b"], ["numlayers", 40]])
    with pytest.raises(XlcalcError, match=r"unknown model key 'sliding_windw'.*'sliding_window'"):
        load_model([["preset", "gemma-3-27b"], ["sliding_windw", 512]])
    # keys of the model_type's configuration class and normalised fields are fine
    m = load_model([["preset", "gemma-3-27b"], ["sliding_window", 512.0], ["rope_theta", 1e6]])
    assert m.sliding_window == 512
    # a whole pasted config.json may carry any other key (architectures, quantization ...)
    cfg = dict(load_model("qwen3-8b").config, some_future_key=1)
    assert xlcalc.params(cfg)["total"] == xlcalc.params("qwen3-8b")["total"]


def test_inconsistent_layer_types_are_errors():
    cfg = dict(load_model("gpt-oss-20b").config)
    with pytest.raises(XlcalcError, match=r"layer_types must be one kind per layer: "
                                          r"num_hidden_layers=24"):
        load_model(dict(cfg, layer_types=cfg["layer_types"][:-1]))
    with pytest.raises(XlcalcError, match=r"unknown layer_types entry 'slidng_attention'"):
        load_model(dict(cfg, layer_types=["slidng_attention"] + cfg["layer_types"][1:]))
    with pytest.raises(XlcalcError, match=r"num_layers must be at least num_sliding_layers"):
        load_model({"model_type": "generic", "vocab_size": 8, "hidden_size": 8, "num_layers": 2,
                    "num_heads": 2, "intermediate_size": 8, "num_sliding_layers": 2,
                    "sliding_window": 4, "num_linear_layers": 1, "linear_num_key_heads": 1,
                    "linear_key_head_dim": 1, "linear_num_value_heads": 1,
                    "linear_value_head_dim": 1})


def test_absent_keys_take_transformers_defaults_for_the_model_type():
    """Defaults are data (presets/model_types.json, from transformers' configuration
    classes): a Gemma-2 config without head_dim has 256 (not h/a = 224 for gemma-2-9b), a
    Qwen3 config 128, a Gemma-3 text config without heads 8 query / 4 KV heads."""
    cfg = dict(load_model("gemma-2-9b").config)
    cfg.pop("head_dim")
    assert load_model(cfg).head_dim == 256
    q = {"model_type": "qwen3", "hidden_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
         "vocab_size": 100}
    assert load_model(q).head_dim == 128
    g = load_model("gemma-3-4b")          # its Hub file names neither heads nor vocab
    assert (g.num_heads, g.num_kv_heads, g.head_dim, g.vocab_size) == (8, 4, 256, 262208)
    assert "num_attention_heads" not in g.config["text_config"]


def test_layer_kinds_of_current_models():
    scout = load_model("llama-4-scout")
    assert (scout.num_chunked_layers, scout.attention_chunk_size, scout.num_dense_layers) == \
        (36, 8192, 0)
    maverick = load_model("llama-4-maverick")          # interleave_moe_layer_step 2
    assert maverick.num_dense_layers == 24 and maverick.num_experts == 128
    nxt = load_model("qwen3-next-80b-a3b")
    assert (nxt.num_linear_layers, nxt.attention_output_gate, nxt.shared_expert_gate) == \
        (36, 1, 1)
    oss = load_model("gpt-oss-120b")
    assert (oss.num_sliding_layers, oss.sliding_window, oss.attention_sinks, oss.moe_bias,
            oss.router_bias) == (18, 128, 1, 1, 1)
    g = load_model("gemma-3-27b")
    assert (g.num_sliding_layers, g.sliding_window, g.qk_norm, g.norms_per_layer) == \
        (52, 1024, 1, 4)
    v32 = load_model("deepseek-v3.2")
    assert (v32.index_head_dim, v32.index_topk, v32.num_mtp_layers) == (128, 2048, 1)
    assert v32.architecture == "MLA+DSA MoE"
    granite = load_model("granite-4.0-h-small")
    assert (granite.num_linear_layers, granite.linear_head_params,
            granite.shared_expert_intermediate_size) == (36, 3, 1536)
    assert load_model("kimi-k2").model_type == "kimi_k2"


@pytest.mark.parametrize("config,message", [
    ({"hidden_size": 4096}, "no 'model_type'"),
    ({"model_type": "bert"}, "unknown model_type 'bert'"),
    ({"model_type": "llama", "hidden_size": 4096, "num_attention_heads": None},
     "missing 'num_attention_heads'"),
    ({"model_type": "llama", "hidden_size": "4096x", "num_hidden_layers": 2,
      "num_attention_heads": 32, "intermediate_size": 8, "vocab_size": 8},
     "hidden_size must be a positive integer, got '4096x'"),
    ({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2.5,
      "num_attention_heads": 32, "intermediate_size": 8, "vocab_size": 8},
     "num_hidden_layers must be a positive integer, got 2.5"),
    ({"model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 2,
      "num_attention_heads": 64, "num_key_value_heads": 6, "intermediate_size": 8,
      "vocab_size": 8}, "num_kv_heads must be a divisor of num_heads=64, got 6"),
    ({"model_type": "llama", "hidden_size": 100, "num_hidden_layers": 2,
      "num_attention_heads": 3, "intermediate_size": 8, "vocab_size": 8},
     "num_attention_heads must be a divisor of hidden_size=100"),
])
def test_malformed_configs(config, message):
    with pytest.raises(XlcalcError, match=message):
        load_model(config)


def test_bad_files(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(XlcalcError, match="not valid JSON"):
        load_model(str(bad))
    with pytest.raises(XlcalcError, match="existing config.json"):
        load_model(str(tmp_path / "missing" / "config.json"))


def test_reading_a_config_executes_nothing():
    cfg = dict(load_model("llama-2-7b").config)
    cfg["auto_map"] = {"AutoModelForCausalLM": "evil_module_xyz.Model"}
    cfg["trust_remote_code"] = True
    cfg["architectures"] = ["__import__('os').system('false')"]
    assert xlcalc.params(cfg)["total"] == 6_738_415_616
    assert "evil_module_xyz" not in sys.modules


def test_error_is_a_value_error_naming_the_argument():
    with pytest.raises(ValueError) as info:
        xlcalc.kv_cache_bytes("llama-2-7b", -1, 100)
    assert str(info.value) == "batch must be a positive integer, got -1"
    assert info.value.argument == "batch"


def test_excel_texts_never_read_files(tmp_path):
    """A path typed in a cell must not make the Excel/notebook face read the file."""
    from xlcalc import udfs
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(load_model("llama-2-7b").config))
    assert xlcalc.params(str(cfg))["total"] == 6_738_415_616        # Python: allowed
    assert udfs.LLM_PARAMS(str(cfg)).startswith("#VALUE! unknown model")
    assert udfs.LLM_PARAMS([["preset", str(cfg)]]).startswith("#VALUE! model range: unknown "
                                                              "preset")
    with pytest.raises(XlcalcError, match="unknown preset"):
        load_model([["preset", str(cfg)]])


def test_readme_model_list_is_true():
    """The README's preset table lists every preset with its Hub id, model_type,
    architecture and parameter counts as the core computes them now."""
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `") and " B |" in line]
    seen = []
    for line in rows:
        name, hub, model_type, arch, total, active = [c.strip() for c in line.strip("|").split("|")]
        name = name.strip("`")
        m = load_model(name)
        p = xlcalc.params(m)
        assert hub.strip("`") == (m.config.get("xlcalc_hub_ids") or [""])[0]
        assert (model_type, arch) == (m.model_type, m.architecture)
        assert total == f"{p['total'] / 1e9:,.2f} B" and active == f"{p['active'] / 1e9:,.2f} B"
        seen.append(name)
    assert seen == list(preset_names())
