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
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import XlcalcError, checked_keywords, invalid, unknown_choice
from .glossary import check, check_relations

__all__ = ["Model", "load_model", "preset_names", "MODEL_FIELDS", "SUPPORTED_MODEL_TYPES",
           "models_table"]

PRESET_DIR = Path(__file__).parent / "presets" / "models"

#: The normalised architecture fields, in display order (all glossary terms).
MODEL_FIELDS = (
    "vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim",
    "intermediate_size", "max_position_embeddings", "position_embeddings", "mlp_gated",
    "qkv_bias", "o_bias", "mlp_bias", "norm_bias", "norms_per_layer", "tie_word_embeddings",
    "num_experts", "experts_per_token", "moe_intermediate_size",
    "shared_expert_intermediate_size", "num_dense_layers", "q_lora_rank", "kv_lora_rank",
    "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "sliding_window",
    "num_sliding_layers",
    # how transformers' modules run this family (what the hf training stack keeps)
    "mlp_act_saved", "norm_fp32_scale", "attn_softcap", "final_softcap", "attn_softmax_fp32",
    "attn_sdpa_math", "qkv_fused", "moe_groups", "moe_topk_groups", "moe_router_fp32",
)

#: Tensors of the MLP width an activation function of transformers keeps for backward
#: besides its output (measured: tests/data/activation_measurements.json): silu and the
#: GELUs save their input; ReLU saves only its output (the next projection's input);
#: ``gelu_new`` is written in Python (x, tanh(…), 0.5·x and 1 + tanh(…)).
ACTIVATION_SAVED = {"silu": 1, "swish": 1, "gelu": 1, "gelu_pytorch_tanh": 1, "gelu_new": 4,
                    "relu": 0}


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
            attn = "MLA"
        elif f["num_kv_heads"] == 1:
            attn = "MQA"
        elif f["num_kv_heads"] < f["num_heads"]:
            attn = "GQA"
        else:
            attn = "MHA"
        parts = [attn, "MoE" if f["num_experts"] else "dense"]
        if f["num_sliding_layers"]:
            parts.append("sliding-window")
        return " ".join(parts)

    def __repr__(self):
        return f"Model({self.name!r}, {self.model_type}, {self.architecture})"


# ------------------------------------------------------------------------- presets

@functools.lru_cache(maxsize=1)
def preset_names() -> tuple:
    """Names of the shipped model presets (file stems, lower-case with dashes)."""
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.lru_cache(maxsize=None)
def _preset(name: str) -> Model:
    path = PRESET_DIR / f"{name}.json"
    config = json.loads(path.read_text())
    return _from_config(config, name, source=config.get("xlcalc_source", str(path)))


@checked_keywords
def load_model(spec) -> Model:
    """A :class:`Model` from a preset name, a ``config.json`` path, a dict, rows, or the
    text of a ``config.json`` (a string starting with ``{``).

    Raises :class:`XlcalcError` naming the problem (unknown preset with the closest
    names, missing key, wrong type, unknown ``model_type``).
    """
    if isinstance(spec, Model):
        return spec
    if isinstance(spec, str):
        if spec.lstrip().startswith("{"):
            return _from_text(spec)
        name = spec.strip().lower()
        if name in preset_names():
            return _preset(name)
        if name.endswith(".json") or os.sep in spec or "/" in spec:
            return _from_path(spec)
        raise unknown_choice("model", spec, preset_names())
    if isinstance(spec, os.PathLike):
        return _from_path(spec)
    if isinstance(spec, dict):
        return _from_mapping(dict(spec), "model")
    if isinstance(spec, (list, tuple)):
        return _from_rows(spec)
    raise invalid("model", spec, "a preset name, a config.json path, a dict or [key, value] rows")


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


def _from_mapping(config: dict, default_name: str) -> Model:
    base = config.pop("preset", None)
    if base is not None:
        if not isinstance(base, str) or base.strip().lower() not in preset_names():
            # only a shipped preset: a row never makes xlcalc read a file
            raise unknown_choice("preset", base, preset_names())
        start = load_model(base)
        merged = dict(start.config)
        merged.update(config)
        name = f"{start.name} (modified)" if config else start.name
        return _from_config(merged, name, source=start.source, overrides=config)
    return _from_config(config, config.get("_name_or_path") or default_name, source="config")


def _from_rows(rows) -> Model:
    """Rows of ``[key, value]`` (an Excel two-column range); empty rows are skipped."""
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
    return _from_mapping(config, "custom")


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

class _Config:
    """Typed, tracked access to a config dict (which keys a parser read)."""

    def __init__(self, data: dict, model_type: str):
        self.data = data
        self.model_type = model_type
        self.read: set = set()

    def has(self, key):
        return self.data.get(key) is not None

    def int(self, key, default=None, minimum=1):
        self.read.add(key)
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise XlcalcError(
                    f"model config is missing {key!r} (needed for model_type "
                    f"{self.model_type!r})", "model")
            return default
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not float(value).is_integer() or value < minimum:
            allowed = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise invalid(key, value, allowed)
        return int(value)

    def flag(self, key, default: bool) -> int:
        self.read.add(key)
        value = self.data.get(key)
        if value is None:
            return int(default)
        if isinstance(value, bool) or value in (0, 1):
            return int(bool(value))
        raise invalid(key, value, "true or false")

    def text(self, key, default=None):
        self.read.add(key)
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise invalid(key, value, "a text")
        return value


def _base(c: _Config, *, hidden, layers, heads, kv_heads, inter, vocab, max_pos) -> dict:
    """Fields every parser fills; the rest default to 'absent' (0)."""
    head_dim = c.int("head_dim", default=0, minimum=0) or 0
    if not head_dim:
        if hidden % heads:
            raise invalid("num_attention_heads", heads,
                          f"a divisor of hidden_size={hidden} when head_dim is not given")
        head_dim = hidden // heads
    return dict(
        vocab_size=vocab, hidden_size=hidden, num_layers=layers, num_heads=heads,
        num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=inter,
        max_position_embeddings=max_pos, position_embeddings=0, mlp_gated=1, qkv_bias=0,
        o_bias=0, mlp_bias=0, norm_bias=0, norms_per_layer=2, tie_word_embeddings=0,
        num_experts=0, experts_per_token=0, moe_intermediate_size=0,
        shared_expert_intermediate_size=0, num_dense_layers=layers, q_lora_rank=0,
        kv_lora_rank=0, qk_rope_head_dim=0, qk_nope_head_dim=0, v_head_dim=0,
        sliding_window=0, num_sliding_layers=0, mlp_act_saved=1, norm_fp32_scale=0,
        attn_softcap=0, final_softcap=0, attn_softmax_fp32=1, attn_sdpa_math=0, qkv_fused=0,
        moe_groups=0, moe_topk_groups=0, moe_router_fp32=0)


def _activation(c: _Config, key: str, default: str) -> int:
    """``mlp_act_saved`` for the config's activation function (unknown ones: 1, as the
    GELUs and SiLU)."""
    name = c.text(key, default) or default
    return ACTIVATION_SAVED.get(name.lower(), 1)


def _llama(c: _Config) -> dict:
    heads = c.int("num_attention_heads")
    f = _base(c, hidden=c.int("hidden_size"), layers=c.int("num_hidden_layers"), heads=heads,
              kv_heads=c.int("num_key_value_heads", default=heads),
              inter=c.int("intermediate_size"), vocab=c.int("vocab_size"),
              max_pos=c.int("max_position_embeddings", default=2048))
    bias = c.flag("attention_bias", False)
    f.update(qkv_bias=bias, o_bias=bias, mlp_bias=c.flag("mlp_bias", False),
             tie_word_embeddings=c.flag("tie_word_embeddings", False),
             mlp_act_saved=_activation(c, "hidden_act", "silu"))
    return f


def _all_layers_window(c: _Config, f: dict) -> dict:
    window = c.int("sliding_window", default=0, minimum=0)
    if window:
        f.update(sliding_window=window, num_sliding_layers=f["num_layers"])
    return f


def _mistral(c):
    return _all_layers_window(c, _llama(c))


def _phi3(c):
    f = _all_layers_window(c, _llama(c))
    f.update(qkv_fused=1)          # one qkv_proj, sliced
    return f


def _mixtral(c):
    f = _all_layers_window(c, _llama(c))
    experts = c.int("num_local_experts")
    f.update(num_experts=experts, experts_per_token=c.int("num_experts_per_tok", default=2),
             moe_intermediate_size=f["intermediate_size"], num_dense_layers=0)
    return f


def _qwen2(c):
    f = _llama(c)
    f.update(qkv_bias=1, o_bias=0, mlp_bias=0,
             tie_word_embeddings=c.flag("tie_word_embeddings", False))
    if c.flag("use_sliding_window", False):
        window = c.int("sliding_window", default=0, minimum=0)
        full = c.int("max_window_layers", default=f["num_layers"], minimum=0)
        if window:
            f.update(sliding_window=window, num_sliding_layers=max(f["num_layers"] - full, 0))
    else:
        c.read.update({"sliding_window", "max_window_layers"})
    return f


def _gemma2(c):
    f = _llama(c)
    act = _activation(c, "hidden_activation", c.text("hidden_act") or "gelu_pytorch_tanh")
    f.update(norms_per_layer=4, tie_word_embeddings=c.flag("tie_word_embeddings", True),
             norm_fp32_scale=1, mlp_act_saved=act,
             attn_softcap=int(c.has("attn_logit_softcapping")),
             final_softcap=int(c.has("final_logit_softcapping")))
    c.read.update({"attn_logit_softcapping", "final_logit_softcapping"})
    window = c.int("sliding_window", default=4096, minimum=0)
    types = c.data.get("layer_types")
    c.read.add("layer_types")
    if isinstance(types, list):
        sliding = sum(1 for t in types if t == "sliding_attention")
    else:
        sliding = (f["num_layers"] + 1) // 2   # even-numbered layers slide (HF Gemma2)
    if window:
        f.update(sliding_window=window, num_sliding_layers=sliding)
    return f


def _gpt2(c):
    hidden = c.int("n_embd")
    positions = c.int("n_positions", default=1024)
    inner = c.int("n_inner", default=4 * hidden)
    f = _base(c, hidden=hidden, layers=c.int("n_layer"), heads=c.int("n_head"),
              kv_heads=c.int("n_head"), inter=inner, vocab=c.int("vocab_size"),
              max_pos=positions)
    f.update(position_embeddings=positions, mlp_gated=0, qkv_bias=1, o_bias=1, mlp_bias=1,
             norm_bias=1, tie_word_embeddings=c.flag("tie_word_embeddings", True),
             mlp_act_saved=_activation(c, "activation_function", "gelu_new"), qkv_fused=1,
             attn_softmax_fp32=0)
    return f


def _opt(c):
    hidden = c.int("hidden_size")
    proj = c.int("word_embed_proj_dim", default=hidden)
    if proj != hidden:
        raise invalid("word_embed_proj_dim", proj,
                      f"equal to hidden_size={hidden} (OPT-350m's projected embeddings "
                      "are not supported)")
    heads = c.int("num_attention_heads")
    max_pos = c.int("max_position_embeddings", default=2048)
    f = _base(c, hidden=hidden, layers=c.int("num_hidden_layers"), heads=heads, kv_heads=heads,
              inter=c.int("ffn_dim"), vocab=c.int("vocab_size"), max_pos=max_pos)
    bias = c.flag("enable_bias", True)
    # OPT's learned positions carry an offset of 2 rows (OPTLearnedPositionalEmbedding).
    f.update(position_embeddings=max_pos + 2, mlp_gated=0, qkv_bias=bias, o_bias=bias,
             mlp_bias=bias, norm_bias=1, tie_word_embeddings=c.flag("tie_word_embeddings", True),
             mlp_act_saved=_activation(c, "activation_function", "relu"))
    if not c.flag("do_layer_norm_before", True):
        raise invalid("do_layer_norm_before", False, "true (post-norm OPT-350m is not supported)")
    return f


def _falcon(c):
    hidden = c.int("hidden_size")
    heads = c.int("num_attention_heads")
    new_arch = c.flag("new_decoder_architecture", False)
    if new_arch:
        kv = c.int("num_kv_heads", default=heads)
    elif c.flag("multi_query", True):
        kv = 1
    else:
        kv = heads
    f = _base(c, hidden=hidden, layers=c.int("num_hidden_layers"), heads=heads, kv_heads=kv,
              inter=c.int("ffn_hidden_size", default=4 * hidden), vocab=c.int("vocab_size"),
              max_pos=c.int("max_position_embeddings", default=2048))
    bias = c.flag("bias", False)
    parallel = c.flag("parallel_attn", True)
    if new_arch:
        norms = c.int("num_ln_in_parallel_attn", default=2)
    else:
        norms = 1 if parallel else 2
    c.flag("alibi", False)  # ALiBi or rotary: neither adds parameters
    # transformers' Falcon: one fused query_key_value, nn.GELU, softmax in the model dtype,
    # sdpa on MQA-expanded K/V with a float mask (the math path)
    f.update(mlp_gated=0, qkv_bias=bias, o_bias=bias, mlp_bias=bias, norm_bias=1,
             norms_per_layer=norms, tie_word_embeddings=c.flag("tie_word_embeddings", True),
             qkv_fused=1, attn_softmax_fp32=0, attn_sdpa_math=1)
    return f


def _deepseek_v3(c):
    heads = c.int("num_attention_heads")
    layers = c.int("num_hidden_layers")
    rope = c.int("qk_rope_head_dim")
    nope = c.int("qk_nope_head_dim")
    f = _base(c, hidden=c.int("hidden_size"), layers=layers, heads=heads,
              kv_heads=c.int("num_key_value_heads", default=heads),
              inter=c.int("intermediate_size"), vocab=c.int("vocab_size"),
              max_pos=c.int("max_position_embeddings", default=4096))
    experts = c.int("n_routed_experts", default=0, minimum=0)
    moe_inter = c.int("moe_intermediate_size", default=0, minimum=0)
    dense = c.int("first_k_dense_replace", default=0, minimum=0) if experts else layers
    freq = c.int("moe_layer_freq", default=1)
    if freq != 1:
        raise invalid("moe_layer_freq", freq, "1 (every layer after the dense ones is MoE)")
    f.update(
        head_dim=nope + rope, qkv_bias=c.flag("attention_bias", False), o_bias=0,
        tie_word_embeddings=c.flag("tie_word_embeddings", False),
        num_experts=experts, experts_per_token=c.int("num_experts_per_tok", default=0, minimum=0),
        moe_intermediate_size=moe_inter,
        shared_expert_intermediate_size=moe_inter * c.int("n_shared_experts", default=0,
                                                          minimum=0),
        num_dense_layers=min(dense, layers), q_lora_rank=c.int("q_lora_rank", default=0, minimum=0),
        kv_lora_rank=c.int("kv_lora_rank"), qk_rope_head_dim=rope, qk_nope_head_dim=nope,
        v_head_dim=c.int("v_head_dim"), mlp_act_saved=_activation(c, "hidden_act", "silu"),
        # q and v head widths differ: transformers' sdpa takes the math path; the router
        # scores groups of experts in fp32
        attn_sdpa_math=1, moe_router_fp32=int(experts > 0),
        moe_groups=c.int("n_group", default=1) if experts else 0,
        moe_topk_groups=c.int("topk_group", default=1) if experts else 0)
    if f["qkv_bias"]:
        raise invalid("attention_bias", True, "false for MLA models")
    return f


_PARSERS = {
    "gpt2": _gpt2, "opt": _opt, "llama": _llama, "mistral": _mistral, "mixtral": _mixtral,
    "qwen2": _qwen2, "gemma2": _gemma2, "phi3": _phi3, "falcon": _falcon,
    "deepseek_v3": _deepseek_v3,
}
SUPPORTED_MODEL_TYPES = tuple(sorted(_PARSERS))


def _from_config(config: dict, name: str, source: str = "", overrides: dict | None = None) -> Model:
    model_type = config.get("model_type")
    if model_type is None:
        raise XlcalcError("model config has no 'model_type' (one of "
                          + ", ".join(SUPPORTED_MODEL_TYPES) + ")", "model")
    if not isinstance(model_type, str) or model_type.lower() not in _PARSERS:
        raise unknown_choice("model_type", model_type, SUPPORTED_MODEL_TYPES)
    c = _Config(config, model_type)
    fields = _PARSERS[model_type.lower()](c)
    # A row/dict may also set a normalised field by its glossary name when the
    # config keys of this model_type do not name it (e.g. num_layers=40).
    dense_all = fields["num_dense_layers"] == fields["num_layers"]
    slide_all = fields["num_sliding_layers"] == fields["num_layers"] and fields["sliding_window"]
    set_here = {k: v for k, v in (overrides or config).items() if k in fields and k not in c.read}
    fields.update(set_here)
    # a new layer count keeps "every layer dense" / "every layer slides" true
    if "num_layers" in set_here:
        if dense_all and "num_dense_layers" not in set_here:
            fields["num_dense_layers"] = fields["num_layers"]
        if slide_all and "num_sliding_layers" not in set_here:
            fields["num_sliding_layers"] = fields["num_layers"]
    _validate(fields)
    nominal = config.get("xlcalc_nominal_params")
    return Model(name=str(name), model_type=model_type.lower(), fields=fields, config=config,
                 source=source, nominal_params=float(nominal) if nominal else None)


def _validate(fields: dict) -> None:
    values = {}
    for key in MODEL_FIELDS:
        value = fields[key]
        if isinstance(value, bool):
            value = int(value)
        values[key] = check(key, value)
        fields[key] = int(values[key])
    check_relations("num_kv_heads", values["num_kv_heads"], values)
    if fields["num_dense_layers"] > fields["num_layers"]:
        raise invalid("num_dense_layers", fields["num_dense_layers"],
                      f"at most num_layers={fields['num_layers']}")
    if fields["num_sliding_layers"] > fields["num_layers"]:
        raise invalid("num_sliding_layers", fields["num_sliding_layers"],
                      f"at most num_layers={fields['num_layers']}")
    if fields["num_dense_layers"] < fields["num_layers"]:
        if not fields["num_experts"] or not fields["moe_intermediate_size"]:
            raise invalid("num_experts", fields["num_experts"],
                          "positive (with moe_intermediate_size) when some layers are MoE")
        if not 1 <= fields["experts_per_token"] <= fields["num_experts"]:
            raise invalid("experts_per_token", fields["experts_per_token"],
                          f"between 1 and num_experts={fields['num_experts']}")
    if fields["kv_lora_rank"] and not (fields["qk_rope_head_dim"] and fields["v_head_dim"]):
        raise invalid("qk_rope_head_dim", fields["qk_rope_head_dim"],
                      "positive (with v_head_dim) for an MLA model")


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

