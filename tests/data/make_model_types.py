"""Write ``xlcalc/presets/model_types.json``: transformers' configuration defaults as data.

For every ``model_type`` xlcalc parses, the configuration class's fields and their default
values (what transformers uses when a ``config.json`` omits the key), the class's
``attribute_map`` (legacy key -> field) and, for multimodal wrappers, the model_types of
their ``text_config`` / ``vision_config``.  Run once by hand when transformers changes
(transformers is NOT a dependency of xlcalc)::

    /work/torchenv/bin/python tests/data/make_model_types.py

Defaults that transformers *computes* in ``__post_init__`` (``layer_types`` from a pattern,
``head_dim = hidden_size // num_attention_heads`` when null, ...) are not data: the parsers
in ``xlcalc/models.py`` apply the same rules and ``docs/models.md`` lists them.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import transformers
from transformers import CONFIG_MAPPING

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "xlcalc" / "presets" / "model_types.json"

#: model_types with a parser in xlcalc/models.py (text models and multimodal wrappers)
MODEL_TYPES = (
    "gpt2", "opt", "llama", "mistral", "mixtral", "qwen2", "gemma2", "phi3", "falcon",
    "deepseek_v3", "qwen2_moe", "qwen3", "qwen3_moe", "qwen3_next", "qwen3_5", "qwen3_5_text",
    "qwen3_5_moe", "qwen3_5_moe_text", "gpt_oss", "gemma3", "gemma3_text", "llama4",
    "llama4_text", "deepseek_v2", "deepseek_v32", "glm4_moe", "mistral3", "ministral",
    "ministral3", "phimoe", "olmo2", "olmo3", "exaone4", "granite", "granitemoe",
    "granitemoeshared", "granitemoehybrid", "cohere2", "ernie4_5", "ernie4_5_moe", "minimax",
    "minimax_m2", "smollm3",
)
#: vision towers of the multimodal wrappers
VISION_TYPES = ("siglip_vision_model", "llama4_vision_model", "pixtral", "qwen3_5_vision",
                "qwen3_5_moe_vision")

#: multimodal wrappers: the default model_type of their text_config and vision_config
#: (the sub-config classes named in each wrapper's configuration module)
WRAPPERS = {"gemma3": ("gemma3_text", "siglip_vision_model"),
            "llama4": ("llama4_text", "llama4_vision_model"),
            "mistral3": ("mistral", "pixtral"),
            "qwen3_5": ("qwen3_5_text", "qwen3_5_vision"),
            "qwen3_5_moe": ("qwen3_5_moe_text", "qwen3_5_moe_vision")}

# PreTrainedConfig's own fields: not architecture, the same for every class
BASE = {f.name for f in dataclasses.fields(transformers.PreTrainedConfig)}


def _json(value):
    """A JSON-serialisable default (classes, callables, tuples as lists; None kept)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None                      # JSON has no inf (Granite's time_step_limit)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return None


def describe(model_type: str) -> dict:
    cls = CONFIG_MAPPING[model_type]
    fields = {}
    for f in dataclasses.fields(cls):
        if f.name in BASE and f.name != "tie_word_embeddings":
            continue
        if f.default is not dataclasses.MISSING:
            fields[f.name] = _json(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = _json(f.default_factory())
        else:
            fields[f.name] = None
    out = {"class": cls.__name__, "defaults": fields,
           "attribute_map": dict(getattr(cls, "attribute_map", {}) or {})}
    if model_type in WRAPPERS:
        text, vision = WRAPPERS[model_type]
        out["sub_configs"] = {"text_config": text, "vision_config": vision}
    return out


def main() -> int:
    data = {"_source": f"transformers {transformers.__version__} configuration classes "
                       "(dataclass field defaults); written by tests/data/make_model_types.py",
            "_base_keys": sorted(BASE)}
    for t in MODEL_TYPES + VISION_TYPES:
        data[t] = describe(t)
    OUT.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT} ({len(MODEL_TYPES)} text + {len(VISION_TYPES)} vision model_types)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
