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
REQUIRED_GPUS = ["v100-16gb", "v100-32gb", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie",
                 "h200", "b200", "l40s", "l4", "rtx-4090", "a10", "mi250x", "mi300x"]


def test_required_presets_exist():
    assert set(REQUIRED_MODELS) <= set(preset_names())
    assert set(REQUIRED_GPUS) <= set(gpu_names())
    for name in preset_names():
        assert name == name.lower() and " " not in name and "_" not in name
    assert set(SUPPORTED_MODEL_TYPES) == {"gpt2", "opt", "llama", "mistral", "mixtral", "qwen2",
                                          "gemma2", "phi3", "falcon", "deepseek_v3"}


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


@pytest.mark.parametrize("config,message", [
    ({"hidden_size": 4096}, "no 'model_type'"),
    ({"model_type": "bert"}, "unknown model_type 'bert'"),
    ({"model_type": "llama", "hidden_size": 4096}, "missing 'num_attention_heads'"),
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
