"""Models: Hugging Face ``config.json`` in, normalised architecture fields out.

A preset is one ``config.json``-style file in ``xlcalc/presets/models/`` (the Hub's
file, plus ``xlcalc_*`` keys for its source and nominal size).  :func:`load_model`
accepts a preset name, a path to a ``config.json``, a dict with its contents (or its
text), or a list of ``[key, value]`` rows (an Excel two-column range; a ``preset`` row starts
from that preset and the other rows override it).

Each supported ``model_type`` has one small parser that maps its config keys onto
the glossary's model fields (``hidden_size``, ``num_layers``, ``num_kv_heads``,
``num_experts``, ``kv_lora_rank`` …).  Every formula works on those fields only,
with 0/1 switches for biases, gating, norms and tying, so dense, GQA/MQA, MoE,
MLA and sliding-window models share one set of formulas.  Reading a config never
executes anything from it: it is parsed with :mod:`json` only.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import XlcalcError, checked_keywords, invalid, unknown_choice
from .glossary import check, check_relations
from .model_parsers import (PARSERS, SUPPORTED_MODEL_TYPES, WRAPPERS, Config, base_fields,
                            known_keys, parse, parse_vision)

__all__ = ["Model", "load_model", "preset_names", "preset_name", "hub_ids", "MODEL_FIELDS",
           "SUPPORTED_MODEL_TYPES", "models_table"]

PRESET_DIR = Path(__file__).parent / "presets" / "models"

#: The normalised architecture fields, in display order (all glossary terms; meaning and
#: units in docs/models.md).
MODEL_FIELDS = (
    "vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim",
    "intermediate_size", "max_position_embeddings", "position_embeddings", "mlp_gated",
    "qkv_bias", "o_bias", "mlp_bias", "norm_bias", "norms_per_layer", "tie_word_embeddings",
    "num_experts", "experts_per_token", "moe_intermediate_size",
    "shared_expert_intermediate_size", "num_dense_layers", "q_lora_rank", "kv_lora_rank",
    "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "sliding_window",
    "num_sliding_layers",
    # layer kinds and attention details
    "attention_chunk_size", "num_chunked_layers", "num_linear_layers", "qk_norm",
    "qk_norm_per_head", "attention_sinks", "attention_output_gate", "lm_head_bias",
    # MoE variants
    "moe_bias", "router_bias", "shared_expert_gate",
    # DeepSeek-V3.2 indexer
    "index_num_heads", "index_head_dim", "index_topk",
    # linear attention / state-space layers
    "linear_num_key_heads", "linear_key_head_dim", "linear_num_value_heads",
    "linear_value_head_dim", "linear_conv_kernel", "linear_head_inputs", "linear_head_params",
    "linear_norm_per_head", "linear_conv_bias", "linear_proj_bias",
    # optional parts reported beside the total
    "num_mtp_layers",
    "vision_hidden_size", "vision_num_layers", "vision_intermediate_size",
    "vision_patch_inputs", "vision_patch_bias", "vision_position_embeddings",
    "vision_extra_vectors", "vision_mlp_gated", "vision_bias", "vision_norm_bias",
    "vision_proj_norm", "vision_proj_norm_bias", "vision_proj_in", "vision_proj_mid1",
    "vision_proj_mid2", "vision_proj_out", "vision_proj_bias",
    # how transformers' modules run this family (what the hf training stack keeps)
    "mlp_act_saved", "norm_fp32_scale", "attn_softcap", "final_softcap", "attn_softmax_fp32",
    "attn_sdpa_math", "qkv_fused", "moe_groups", "moe_topk_groups", "moe_router_fp32",
    "moe_router_topk_softmax", "moe_dense_experts", "attn_qk_l2norm", "rope_tables",
)


@dataclass(frozen=True, eq=False)
class Model:
    """A decoder-only transformer as normalised fields.

    ``model["num_layers"]`` (float) is what the formulas read; ``model.fields`` keeps
    the integers; ``model.config`` is the config it came from.
    """
    name: str
    model_type: str
    fields: dict
    config: dict
    source: str = ""
    nominal_params: float | None = None

    def __post_init__(self):
        values = {k: float(v) for k, v in self.fields.items()}
        values["nominal_params"] = float("nan") if self.nominal_params is None \
            else float(self.nominal_params)
        object.__setattr__(self, "_values", values)

    def __getitem__(self, field: str) -> float:
        try:
            return self._values[field]
        except KeyError:
            raise unknown_choice("model field", field, self._values) from None

    def __getattr__(self, field):
        values = self.__dict__.get("_values")
        if values is not None and field in values:
            return self.fields[field]
        raise AttributeError(field)

    @property
    def architecture(self) -> str:
        """Short words for the attention/MLP kind (``GQA``, ``MoE``, ``MLA`` …)."""
        f = self.fields
        if f["kv_lora_rank"]:
            attn = "MLA+DSA" if f["index_head_dim"] else "MLA"
        elif f["num_kv_heads"] == 1:
            attn = "MQA"
        elif f["num_kv_heads"] < f["num_heads"]:
            attn = "GQA"
        else:
            attn = "MHA"
        parts = [attn, "MoE" if f["num_experts"] else "dense"]
        if f["num_sliding_layers"]:
            parts.append("sliding-window")
        if f["num_chunked_layers"]:
            parts.append("chunked")
        if f["num_linear_layers"]:
            parts.append("linear-attention hybrid")
        return " ".join(parts)

    def __repr__(self):
        return f"Model({self.name!r}, {self.model_type}, {self.architecture})"


# ------------------------------------------------------------------------- presets

@functools.lru_cache(maxsize=1)
def preset_names() -> tuple:
    """Names of the shipped model presets (file stems, lower-case with dashes)."""
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.lru_cache(maxsize=1)
def hub_ids() -> dict:
    """Hugging Face repo ids (lower case) -> preset name, from each preset's
    ``xlcalc_hub_ids`` (the repos whose config.json the preset is)."""
    out = {}
    for name in preset_names():
        config = json.loads((PRESET_DIR / f"{name}.json").read_text())
        for repo in config.get("xlcalc_hub_ids", ()):
            out[repo.lower()] = name
    return out


#: suffixes of a repo name that do not change the architecture (chat/instruction tuning,
#: a release date, an FP8 checkpoint of the same model)
_VARIANT = re.compile(r"-(instruct|it|chat|hf|base|fp8|\d{4})$")


def preset_name(text: str) -> str | None:
    """The preset a typed name means, or None: a preset name, a Hub repo id
    (``meta-llama/Llama-3.3-70B-Instruct``), case-insensitive, with ``-instruct``/``-it``/
    ``-chat`` (and date or ``-FP8``) variants mapped to the same architecture."""
    low = text.strip().lower()
    names, ids = preset_names(), hub_ids()
    if low in names:
        return low
    if low in ids:
        return ids[low]
    base = low.rsplit("/", 1)[-1] if low.count("/") == 1 else low
    while True:
        if base in names:
            return base
        for repo, name in ids.items():
            if repo.rsplit("/", 1)[-1] == base:
                return name
        stripped = _VARIANT.sub("", base)
        if stripped == base:
            return None
        base = stripped


@functools.lru_cache(maxsize=None)
def _preset(name: str) -> Model:
    path = PRESET_DIR / f"{name}.json"
    config = json.loads(path.read_text())
    return _from_config(config, name, source=config.get("xlcalc_source", str(path)))


@checked_keywords
def load_model(spec) -> Model:
    """A :class:`Model` from a preset name or Hub repo id, a ``config.json`` path, a dict,
    rows, or the text of a ``config.json`` (a string starting with ``{``).

    Raises :class:`XlcalcError` naming the problem (unknown preset with the closest
    names, missing key, wrong type, unknown ``model_type``).
    """
    if isinstance(spec, Model):
        return spec
    if isinstance(spec, str):
        if spec.lstrip().startswith("{"):
            return _from_text(spec)
        name = preset_name(spec)
        if name is not None:
            return _preset(name)
        if not _looks_like_repo_id(spec) and (spec.strip().lower().endswith(".json") or
                                              os.sep in spec or "/" in spec):
            return _from_path(spec)
        if _looks_like_repo_id(spec) and Path(spec).is_file():
            return _from_path(spec)
        raise unknown_choice("model", spec, preset_names() + tuple(hub_ids()))
    if isinstance(spec, os.PathLike):
        return _from_path(spec)
    if isinstance(spec, dict):
        return _from_mapping(dict(spec), "model")
    if isinstance(spec, (list, tuple)):
        return _from_rows(spec)
    raise invalid("model", spec, "a preset name, a config.json path, a dict or [key, value] rows")


def _looks_like_repo_id(text: str) -> bool:
    """``owner/name`` as typed for the Hub (one slash, not a relative or absolute path)."""
    t = text.strip()
    return t.count("/") == 1 and not t.startswith((".", "/", "~")) and \
        not t.lower().endswith(".json") and " " not in t


def _from_text(text: str) -> Model:
    """``config.json`` contents given as text (pasted into a notebook form or a cell)."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise XlcalcError(f"model config.json text is not valid JSON: {e}", "model") from None
    if not isinstance(config, dict):
        raise invalid("model", text, "a config.json holding a JSON object")
    return _from_mapping(config, "config")


def _from_path(path) -> Model:
    p = Path(path)
    if not p.is_file():
        raise invalid("model", str(path), "a preset name or the path of an existing config.json")
    try:
        config = json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise XlcalcError(f"model config {str(path)!r} is not valid JSON: {e}", "model") from None
    if not isinstance(config, dict):
        raise invalid("model", str(path), "a config.json holding a JSON object")
    # <folder>/config.json is named after its folder, any other file after itself
    default = p.parent.name if p.name == "config.json" and p.parent.name else p.stem
    return _from_config(config, config.get("_name_or_path") or default, source=str(p))


def _from_mapping(config: dict, default_name: str, strict: bool = False) -> Model:
    base = config.pop("preset", None)
    if base is not None:
        name = preset_name(base) if isinstance(base, str) else None
        if name is None:
            # only a shipped preset: a row never makes xlcalc read a file
            raise unknown_choice("preset", base, preset_names())
        start = load_model(name)
        merged = dict(start.config)
        merged.update(config)
        label = f"{start.name} (modified)" if config else start.name
        return _from_config(merged, label, source=start.source, overrides=config,
                            strict=strict)
    return _from_config(config, config.get("_name_or_path") or default_name, source="config",
                        strict=strict)


def _from_rows(rows) -> Model:
    """Rows of ``[key, value]`` (an Excel two-column range); empty rows are skipped.  A
    key no parser and no normalised field knows is an error (a typo is never ignored)."""
    config = {}
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            raise invalid("model", row, f"a [key, value] pair in row {i + 1}")
        key, value = row
        if key is None or (isinstance(key, str) and not key.strip()):
            if value is None:
                continue
            raise invalid("model", row, f"a key in row {i + 1}")
        if not isinstance(key, str):
            raise invalid("model", key, f"a text key in row {i + 1}")
        config[key.strip()] = _cell_value(value)
    if not config:
        raise invalid("model", rows, "at least one [key, value] row")
    return _from_mapping(config, "custom", strict=True)


def _cell_value(value):
    """Excel cells arrive as floats and strings: 4096.0 -> 4096, 'true' -> True."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        if low in ("null", "none", ""):
            return None
    return value


# ---------------------------------------------------------------------- normalise

#: keys of any config that carry no architecture (ours, the Hub's, loaders')
_META_KEYS = {"model_type", "preset", "name", "_name_or_path", "architectures", "torch_dtype",
              "dtype", "transformers_version", "auto_map", "quantization_config",
              "text_config", "vision_config", "rope_theta", "rope_scaling", "use_return_dict",
              "xlcalc_source", "xlcalc_nominal_params", "xlcalc_hub_ids", "xlcalc_notes"}

_REQUIRED_GENERIC = ("vocab_size", "hidden_size", "num_layers", "num_heads",
                     "intermediate_size")


def _generic(config: dict) -> dict:
    """The generic schema (docs/models.md §10): normalised field names, absent = 0."""
    unknown = [k for k in config if k not in MODEL_FIELDS and k not in _META_KEYS
               and not k.startswith("xlcalc_")]
    if unknown:
        raise unknown_choice("model field", unknown[0], MODEL_FIELDS)
    for key in _REQUIRED_GENERIC:
        if config.get(key) is None:
            raise XlcalcError(f"model config is missing {key!r} (needed for model_type "
                              "'generic': see docs/models.md)", "model")
    c = Config(config, "generic")
    hidden, heads = c.int("hidden_size"), c.int("num_heads")
    f = base_fields(vocab=c.int("vocab_size"), hidden=hidden, layers=c.int("num_layers"),
                    heads=heads, kv_heads=c.int("num_kv_heads", default=heads),
                    head_dim=c.opt("head_dim") or _divide(hidden, heads),
                    inter=c.int("intermediate_size"),
                    max_pos=c.int("max_position_embeddings", default=4096))
    f["mlp_gated"] = 1
    for key in MODEL_FIELDS:
        if key in config and config[key] is not None and key not in _REQUIRED_GENERIC:
            f[key] = config[key]
    if "num_dense_layers" not in config:
        f["num_dense_layers"] = 0 if f["num_experts"] else f["num_layers"]
    return f


def _divide(hidden, heads):
    if hidden % heads:
        raise invalid("num_heads", heads, f"a divisor of hidden_size={hidden} when head_dim "
                      "is not given")
    return hidden // heads


def _text_part(config: dict, model_type: str):
    """The language model of a multimodal wrapper: ``text_config`` as its own model_type,
    with the wrapper's ``tie_word_embeddings`` (given or its class default): transformers
    5.24 ties the head by the top-level config, whatever the text part says."""
    text = config.get("text_config")
    if text is None:
        text = {}
    if not isinstance(text, dict):
        raise invalid("text_config", text, "a JSON object (the language model's config)")
    text = dict(text)
    text_type = text.get("model_type") or WRAPPERS[model_type]
    if text_type not in PARSERS:
        raise unknown_choice("text_config model_type", text_type, sorted(PARSERS))
    text["tie_word_embeddings"] = bool(Config(config, model_type).flag("tie_word_embeddings"))
    return text, text_type


def _vision_part(config: dict, model_type: str, text_hidden: int) -> dict:
    vision = config.get("vision_config")
    if not isinstance(vision, dict):
        return {}
    from .model_parsers import _types
    default = _types().get(model_type, {}).get("sub_configs", {}).get("vision_config")
    vision_type = vision.get("model_type") or default
    if vision_type in ("qwen3_5", "qwen3_5_moe"):     # transformers renames these
        vision_type += "_vision"
    return parse_vision(vision, vision_type, Config(config, model_type), text_hidden)


def _check_keys(keys, model_type: str, text_type: str | None, read: set) -> None:
    """An Excel range may only name keys some parser or the generic schema knows."""
    known = set(MODEL_FIELDS) | _META_KEYS | read | known_keys(model_type)
    if text_type:
        known |= known_keys(text_type)
    for key in keys:
        if key not in known and not key.startswith("xlcalc_"):
            raise unknown_choice("model key", key, sorted(known - _META_KEYS) + ["preset"])


def _from_config(config: dict, name: str, source: str = "", overrides: dict | None = None,
                 strict: bool = False) -> Model:
    model_type = config.get("model_type")
    if model_type is None:
        raise XlcalcError("model config has no 'model_type' (one of "
                          + ", ".join(SUPPORTED_MODEL_TYPES) + "; or 'generic' with the "
                          "normalised fields of docs/models.md)", "model")
    if not isinstance(model_type, str) or model_type.lower() not in SUPPORTED_MODEL_TYPES:
        raise XlcalcError(
            f"unknown model_type {model_type!r}"
            + _close_hint(model_type, SUPPORTED_MODEL_TYPES)
            + "; supported: " + ", ".join(SUPPORTED_MODEL_TYPES)
            + ". Describe any other decoder by hand with model_type 'generic' and the "
            "normalised fields (num_layers, hidden_size, num_heads, num_kv_heads, "
            "intermediate_size, vocab_size, ...; see docs/models.md)", "model_type")
    model_type = model_type.lower()
    read: set = set()
    text_type = None
    if model_type == "generic":
        fields = _generic(config)
    elif model_type in WRAPPERS:
        text, text_type = _text_part(config, model_type)
        for key, value in (overrides or {}).items():   # a range on a preset edits the text model
            if key not in _META_KEYS:
                text[key] = value
        fields, read = parse(text, text_type)
        fields.update(_vision_part(config, model_type, fields["hidden_size"]))
    else:
        fields, read = parse(config, model_type)
    if strict:
        _check_keys(overrides if overrides is not None else config, model_type, text_type, read)
    _apply_field_overrides(fields, overrides if overrides is not None else config, read)
    _validate(fields)
    nominal = config.get("xlcalc_nominal_params")
    return Model(name=str(name), model_type=model_type, fields=fields, config=config,
                 source=source, nominal_params=float(nominal) if nominal else None)


def _close_hint(value, choices) -> str:
    import difflib
    close = difflib.get_close_matches(str(value).lower(), choices, n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""


def _apply_field_overrides(fields: dict, given: dict, read: set) -> None:
    """A row/dict may set a normalised field by its glossary name when the config keys of
    its model_type do not name it (``num_layers=40``)."""
    dense_all = fields["num_dense_layers"] == fields["num_layers"]
    slide_all = fields["num_sliding_layers"] == fields["num_layers"] and fields["sliding_window"]
    set_here = {k: _field_value(k, v) for k, v in given.items()
                if k in fields and k not in read}
    fields.update(set_here)
    # a new layer count keeps "every layer dense" / "every layer slides" true
    if "num_layers" in set_here:
        if dense_all and "num_dense_layers" not in set_here:
            fields["num_dense_layers"] = fields["num_layers"]
        if slide_all and "num_sliding_layers" not in set_here:
            fields["num_sliding_layers"] = fields["num_layers"]


def _field_value(key, value):
    if isinstance(value, bool):
        return int(value)
    return value


def _validate(fields: dict) -> None:
    values = {}
    for key in MODEL_FIELDS:
        value = fields[key]
        if isinstance(value, bool):
            value = int(value)
        values[key] = check(key, value)
        fields[key] = int(values[key])
    check_relations("num_kv_heads", values["num_kv_heads"], values)
    f = fields
    layers = f["num_layers"]
    for key in ("num_dense_layers", "num_sliding_layers", "num_chunked_layers",
                "num_linear_layers"):
        if f[key] > layers:
            raise invalid(key, f[key], f"at most num_layers={layers}")
    kinds = f["num_sliding_layers"] + f["num_chunked_layers"] + f["num_linear_layers"]
    if kinds > layers:
        raise invalid("num_layers", layers, f"at least num_sliding_layers + num_chunked_layers "
                      f"+ num_linear_layers = {kinds}")
    if f["num_sliding_layers"] and not f["sliding_window"]:
        raise invalid("sliding_window", 0, "positive when num_sliding_layers > 0")
    if f["num_chunked_layers"] and not f["attention_chunk_size"]:
        raise invalid("attention_chunk_size", 0, "positive when num_chunked_layers > 0")
    if f["num_linear_layers"]:
        for key in ("linear_num_key_heads", "linear_key_head_dim", "linear_num_value_heads",
                    "linear_value_head_dim"):
            if not f[key]:
                raise invalid(key, 0, "positive when num_linear_layers > 0")
    if f["num_dense_layers"] < layers:
        if not f["num_experts"] or not f["moe_intermediate_size"]:
            raise invalid("num_experts", f["num_experts"],
                          "positive (with moe_intermediate_size) when some layers are MoE")
        if not 1 <= f["experts_per_token"] <= f["num_experts"]:
            raise invalid("experts_per_token", f["experts_per_token"],
                          f"between 1 and num_experts={f['num_experts']}")
    if f["kv_lora_rank"] and not (f["qk_rope_head_dim"] and f["v_head_dim"]):
        raise invalid("qk_rope_head_dim", f["qk_rope_head_dim"],
                      "positive (with v_head_dim) for an MLA model")
    if f["index_head_dim"] and not (f["kv_lora_rank"] and f["q_lora_rank"] and
                                    f["index_num_heads"] and f["index_topk"]):
        raise invalid("index_head_dim", f["index_head_dim"], "0 unless the model is MLA with "
                      "q_lora_rank, index_num_heads and index_topk (DeepSeek-V3.2's indexer)")


def models_table():
    """The presets as a DataFrame indexed by name (one column per model field)."""
    import pandas as pd
    rows = {}
    for name in preset_names():
        m = _preset(name)
        rows[name] = {"model_type": m.model_type, **m.fields,
                      "nominal_params": m["nominal_params"]}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame

