"""Parsers: one Hugging Face ``config.json`` per ``model_type`` in, normalised fields out.

The fields are described in ``docs/models.md`` (and are glossary terms).  A parser reads
the keys its ``model_type``'s configuration class has; a key the config does not give
takes **transformers' default for that model_type**, read from the data file
``presets/model_types.json`` (the configuration classes' dataclass defaults, written by
``tests/data/make_model_types.py``), never from code.  What transformers derives in code
(``layer_types`` from a pattern, ``head_dim = hidden_size // heads`` when null) the parser
derives the same way, each rule commented where it is applied.

Counting happens here, once: a ``layer_types`` list becomes counts per kind, an MoE
layer pattern becomes ``num_dense_layers``.  Every formula then reads scalars only.
"""

from __future__ import annotations

import functools
import json
import numbers
from pathlib import Path

from .errors import XlcalcError, invalid, unknown_choice

__all__ = ["parse", "PARSERS", "SUPPORTED_MODEL_TYPES", "known_keys", "base_fields",
           "model_type_defaults"]

TYPES_FILE = Path(__file__).parent / "presets" / "model_types.json"


@functools.lru_cache(maxsize=1)
def _types() -> dict:
    return json.loads(TYPES_FILE.read_text())


def model_type_defaults(model_type: str) -> dict:
    """transformers' defaults of ``model_type``'s configuration class (data)."""
    return _types().get(model_type, {}).get("defaults", {})


def _aliases(model_type: str) -> dict:
    """Legacy key -> field of the configuration class (its ``attribute_map``)."""
    return _types().get(model_type, {}).get("attribute_map", {})


# ------------------------------------------------------------------ config access

_ABSENT = object()


class Config:
    """Typed, tracked access to a config dict of one ``model_type``.

    A key missing from the dict (under its name or an ``attribute_map`` alias) takes the
    configuration class's default from ``model_types.json``; a key given as ``null``
    stays null (transformers derives it), and then the parser's ``default`` applies.
    """

    def __init__(self, data: dict, model_type: str):
        self.data = data
        self.model_type = model_type
        self.read: set = set()
        self._defaults = model_type_defaults(model_type)
        self._alias = {}
        for alias, key in _aliases(model_type).items():
            self._alias.setdefault(key, []).append(alias)

    def raw(self, key):
        """The value of ``key`` (alias or class default when missing; _ABSENT if none)."""
        self.read.add(key)
        if key in self.data:
            return self.data[key]
        for alias in self._alias.get(key, ()):
            self.read.add(alias)
            if alias in self.data:
                return self.data[alias]
        return self._defaults.get(key, _ABSENT)

    def given(self, key) -> bool:
        """Whether the config itself sets ``key`` (not a class default)."""
        return key in self.data or any(a in self.data for a in self._alias.get(key, ()))

    def int(self, key, default=None, minimum=1):
        value = self.raw(key)
        if value is None or value is _ABSENT:
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

    def opt(self, key, default=0):
        """A count that may be absent or null (0 = none)."""
        return self.int(key, default=default, minimum=0)

    def flag(self, key, default: bool = False) -> int:
        value = self.raw(key)
        if value is None or value is _ABSENT:
            return int(default)
        if isinstance(value, bool) or value in (0, 1):
            return int(bool(value))
        raise invalid(key, value, "true or false")

    def number(self, key, default=None):
        value = self.raw(key)
        if value is None or value is _ABSENT:
            return default
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise invalid(key, value, "a number")
        return float(value)

    def text(self, key, default=None):
        value = self.raw(key)
        if value is None or value is _ABSENT:
            return default
        if not isinstance(value, str):
            raise invalid(key, value, "a text")
        return value

    def list(self, key):
        value = self.raw(key)
        if value is None or value is _ABSENT:
            return None
        if not isinstance(value, (list, tuple)):
            raise invalid(key, value, "a list")
        return list(value)

    def note(self, *keys):
        """Keys read that change no count (softcaps, rope settings): mark them as known."""
        self.read.update(keys)


# ---------------------------------------------------------------------- base fields

def base_fields(*, vocab, hidden, layers, heads, kv_heads, head_dim, inter, max_pos) -> dict:
    """Every field: the core ones given, the optional ones 'absent' (0)."""
    return dict(
        vocab_size=vocab, hidden_size=hidden, num_layers=layers, num_heads=heads,
        num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=inter,
        max_position_embeddings=max_pos, position_embeddings=0, mlp_gated=1, qkv_bias=0,
        o_bias=0, mlp_bias=0, norm_bias=0, norms_per_layer=2, tie_word_embeddings=0,
        num_experts=0, experts_per_token=0, moe_intermediate_size=0,
        shared_expert_intermediate_size=0, num_dense_layers=layers, q_lora_rank=0,
        kv_lora_rank=0, qk_rope_head_dim=0, qk_nope_head_dim=0, v_head_dim=0,
        sliding_window=0, num_sliding_layers=0,
        lm_head_bias=0, moe_bias=0, router_bias=0, shared_expert_gate=0,
        index_num_heads=0, index_head_dim=0, index_topk=0,
        attention_chunk_size=0, num_chunked_layers=0, num_linear_layers=0,
        qk_norm=0, qk_norm_per_head=0, attention_sinks=0, attention_output_gate=0,
        linear_num_key_heads=0, linear_key_head_dim=0, linear_num_value_heads=0,
        linear_value_head_dim=0, linear_conv_kernel=0, linear_head_inputs=0,
        linear_head_params=0, linear_norm_per_head=0, linear_conv_bias=0, linear_proj_bias=0,
        num_mtp_layers=0,
        vision_hidden_size=0, vision_num_layers=0, vision_intermediate_size=0,
        vision_patch_inputs=0, vision_patch_bias=0, vision_position_embeddings=0,
        vision_extra_vectors=0, vision_mlp_gated=0, vision_bias=0, vision_norm_bias=0,
        vision_proj_norm=0, vision_proj_norm_bias=0, vision_proj_in=0, vision_proj_mid1=0,
        vision_proj_mid2=0, vision_proj_out=0, vision_proj_bias=0,
        mlp_act_saved=1, norm_fp32_scale=0, attn_softcap=0, final_softcap=0,
        attn_softmax_fp32=1, attn_sdpa_math=0, qkv_fused=0, moe_groups=0, moe_topk_groups=0,
        moe_router_fp32=0, moe_router_topk_softmax=0, moe_dense_experts=0, attn_qk_l2norm=0,
        rope_tables=1)


def _head_dim(c: Config, hidden: int, heads: int) -> int:
    """Explicit ``head_dim``; null or absent (class default None) is h/a, as transformers."""
    head_dim = c.opt("head_dim")
    if not head_dim:
        if hidden % heads:
            raise invalid("num_attention_heads", heads,
                          f"a divisor of hidden_size={hidden} when head_dim is not given")
        head_dim = hidden // heads
    return head_dim


def _decoder(c: Config, inter_key="intermediate_size", max_pos_default=2048) -> dict:
    """The llama-style core: sizes, heads (num_key_value_heads null = MHA), head_dim,
    biases (``attention_bias`` on q/k/v/o, ``mlp_bias``), tying."""
    hidden = c.int("hidden_size")
    heads = c.int("num_attention_heads")
    f = base_fields(vocab=c.int("vocab_size"), hidden=hidden, layers=c.int("num_hidden_layers"),
                    heads=heads, kv_heads=c.int("num_key_value_heads", default=heads),
                    head_dim=_head_dim(c, hidden, heads),
                    inter=c.int(inter_key) if inter_key else 1,
                    max_pos=c.int("max_position_embeddings", default=max_pos_default))
    bias = c.flag("attention_bias")
    f.update(qkv_bias=bias, o_bias=bias, mlp_bias=c.flag("mlp_bias"),
             tie_word_embeddings=c.flag("tie_word_embeddings"))
    c.note("rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor",
           "hidden_act", "rms_norm_eps", "attention_dropout", "initializer_range",
           "use_cache", "bos_token_id", "eos_token_id", "pad_token_id", "pretraining_tp",
           "head_dim")
    return f


# --------------------------------------------------------------------- layer kinds

_KINDS = {"full_attention": "full", "attention": "full", "global_attention": "full",
          "indexed_attention": "full", "sliding_attention": "sliding",
          "chunked_attention": "chunked", "linear_attention": "linear", "mamba": "linear"}


def _kinds(c: Config, f: dict, derived) -> dict:
    """Count layers per kind from the config's ``layer_types`` (or its legacy alias), else
    from ``derived``: the list transformers builds for this model_type when none is
    given.  A list of the wrong length or with an unknown kind is an error."""
    types = c.list("layer_types")
    if types is None:
        types = derived
    layers = f["num_layers"]
    if len(types) != layers:
        raise invalid("layer_types", f"a list of {len(types)} layer kinds",
                      f"one kind per layer: num_hidden_layers={layers} (give a layer_types "
                      "list of that length, or set num_layers and the per-kind counts by "
                      "their field names)")
    counts = {"full": 0, "sliding": 0, "chunked": 0, "linear": 0}
    for t in types:
        if t not in _KINDS:
            raise unknown_choice("layer_types entry", t, _KINDS)
        counts[_KINDS[t]] += 1
    f.update(num_sliding_layers=counts["sliding"], num_chunked_layers=counts["chunked"],
             num_linear_layers=counts["linear"])
    return counts


def _pattern(layers, every, inside, outside):
    """transformers' ``inside if (i + 1) % every else outside`` for i in range(layers)."""
    return [inside if (i + 1) % every else outside for i in range(layers)] if every else \
        [outside] * layers


def _window(c: Config, f: dict, key="sliding_window"):
    """The window of the sliding layers (error when sliding layers have none)."""
    window = c.opt(key)
    if f["num_sliding_layers"]:
        if not window:
            raise invalid(key, window, "a positive window when layer_types has "
                          "sliding_attention layers")
        f["sliding_window"] = window
    return window


# ----------------------------------------------------------------------------- MoE

def _moe(f: dict, *, experts, per_token, width, shared=0, moe_layers=None, **flags):
    """MoE fields: ``moe_layers`` MoE layers (default: every layer), the rest dense."""
    layers = f["num_layers"]
    moe_layers = layers if moe_layers is None else moe_layers
    if not experts:
        moe_layers = 0
    f.update(num_experts=experts if moe_layers else 0,
             experts_per_token=per_token if moe_layers else 0,
             moe_intermediate_size=width if moe_layers else 0,
             shared_expert_intermediate_size=shared if moe_layers else 0,
             num_dense_layers=layers - moe_layers, **flags)
    return f


def _sparse_step(c: Config, layers: int) -> int:
    """Qwen2/3-MoE: layer i is MoE unless in ``mlp_only_layers``, when
    ``num_experts > 0`` and ``(i + 1) % decoder_sparse_step == 0``."""
    step = c.int("decoder_sparse_step", default=1)
    only = set(c.list("mlp_only_layers") or [])
    return sum(1 for i in range(layers) if i not in only and (i + 1) % step == 0)


# ------------------------------------------------------------------------ parsers

def _llama(c):
    return _decoder(c)


def _all_layers_window(c: Config, f: dict) -> dict:
    window = c.opt("sliding_window")
    if window:
        f.update(sliding_window=window, num_sliding_layers=f["num_layers"])
    return f


def _mistral(c):
    return _all_layers_window(c, _decoder(c))


def _phi3(c):
    f = _decoder(c)
    c.note("original_max_position_embeddings", "resid_pdrop", "embd_pdrop")
    return _all_layers_window(c, f)


def _mixtral(c):
    f = _all_layers_window(c, _decoder(c))
    return _moe(f, experts=c.int("num_local_experts"),
                per_token=c.int("num_experts_per_tok", default=2), width=f["intermediate_size"])


def _ministral(c):
    """Ministral-8B (``ministral``) and Ministral 3 (``ministral3``): Mistral with an
    optional per-layer ``layer_types`` (sliding and full)."""
    f = _decoder(c)
    if c.list("layer_types") is not None:
        _kinds(c, f, None)
        _window(c, f)
        return f
    return _all_layers_window(c, f)


def _qwen2(c):
    f = _decoder(c)
    f.update(qkv_bias=1, o_bias=0, mlp_bias=0)
    _qwen_window(c, f)
    return f


def _qwen_window(c: Config, f: dict) -> None:
    """Qwen2/Qwen3: with ``use_sliding_window`` the layers ``i >= max_window_layers`` slide
    (transformers' rule) unless a ``layer_types`` list says otherwise; without it no layer
    slides (transformers sets sliding_window to None)."""
    layers = f["num_layers"]
    if not c.flag("use_sliding_window"):
        c.note("sliding_window", "max_window_layers", "layer_types")
        return
    window = c.opt("sliding_window")
    full = c.int("max_window_layers", default=layers, minimum=0)
    _kinds(c, f, ["sliding_attention" if window and i >= full else "full_attention"
                  for i in range(layers)])
    _window(c, f)


def _qwen2_moe(c):
    f = _qwen2(c)
    f["qkv_bias"] = c.flag("qkv_bias", True)
    return _moe(f, experts=c.opt("num_experts"), per_token=c.opt("num_experts_per_tok"),
                width=c.opt("moe_intermediate_size"),
                shared=c.opt("shared_expert_intermediate_size"),
                moe_layers=_sparse_step(c, f["num_layers"]),
                shared_expert_gate=int(c.opt("shared_expert_intermediate_size") > 0))


def _qwen3(c):
    f = _decoder(c)
    f.update(qk_norm=1, qk_norm_per_head=1)
    _qwen_window(c, f)
    return f


def _qwen3_moe(c):
    f = _qwen3(c)
    return _moe(f, experts=c.opt("num_local_experts"), per_token=c.opt("num_experts_per_tok"),
                width=c.opt("moe_intermediate_size"),
                moe_layers=_sparse_step(c, f["num_layers"]))


def _gated_deltanet(c: Config, f: dict) -> None:
    """Qwen3-Next / Qwen3.5 linear layers (gated DeltaNet) and their layer pattern:
    without ``layer_types`` every ``full_attention_interval``-th layer (4) is full."""
    f.update(qk_norm=1, qk_norm_per_head=1, attention_output_gate=1,
             linear_num_key_heads=c.int("linear_num_key_heads"),
             linear_key_head_dim=c.int("linear_key_head_dim"),
             linear_num_value_heads=c.int("linear_num_value_heads"),
             linear_value_head_dim=c.int("linear_value_head_dim"),
             linear_conv_kernel=c.int("linear_conv_kernel_dim"),
             linear_head_inputs=2, linear_head_params=2, linear_norm_per_head=1)
    every = c.int("full_attention_interval", default=4)
    _kinds(c, f, _pattern(f["num_layers"], every, "linear_attention", "full_attention"))
    if not f["num_linear_layers"]:
        _clear_linear(f)
    f["num_mtp_layers"] = c.opt("mtp_num_hidden_layers")


def _clear_linear(f):
    for k in ("linear_num_key_heads", "linear_key_head_dim", "linear_num_value_heads",
              "linear_value_head_dim", "linear_conv_kernel", "linear_head_inputs",
              "linear_head_params", "linear_norm_per_head"):
        f[k] = 0


def _qwen3_next(c):
    f = _decoder(c)
    _gated_deltanet(c, f)
    experts = c.opt("num_experts")
    shared = c.opt("shared_expert_intermediate_size")
    return _moe(f, experts=experts, per_token=c.opt("num_experts_per_tok"),
                width=c.opt("moe_intermediate_size"), shared=shared,
                moe_layers=_sparse_step(c, f["num_layers"]),
                shared_expert_gate=int(shared > 0))


def _qwen3_5_text(c):
    f = _decoder(c)
    _gated_deltanet(c, f)
    return f


def _qwen3_5_moe_text(c):
    f = _decoder(c, inter_key=None)
    _gated_deltanet(c, f)
    shared = c.opt("shared_expert_intermediate_size")
    f = _moe(f, experts=c.int("num_experts"), per_token=c.int("num_experts_per_tok"),
             width=c.int("moe_intermediate_size"), shared=shared,
             shared_expert_gate=int(shared > 0))
    f["intermediate_size"] = f["moe_intermediate_size"]   # no dense MLP: a placeholder
    return f


def _gpt_oss(c):
    f = _decoder(c)
    f["attention_sinks"] = 1
    layers = f["num_layers"]
    _kinds(c, f, _pattern(layers, 2, "sliding_attention", "full_attention"))
    _window(c, f)
    return _moe(f, experts=c.int("num_local_experts"), per_token=c.int("num_experts_per_tok"),
                width=f["intermediate_size"], moe_bias=1, router_bias=1)


def _gemma2(c):
    f = _decoder(c)
    f.update(norms_per_layer=4, tie_word_embeddings=c.flag("tie_word_embeddings", True))
    c.note("final_logit_softcapping", "attn_logit_softcapping", "query_pre_attn_scalar",
           "hidden_activation")
    # transformers' Gemma2: even-indexed layers slide
    _kinds(c, f, ["sliding_attention" if not i % 2 else "full_attention"
                  for i in range(f["num_layers"])])
    _window(c, f)
    return f


def _gemma3_text(c):
    f = _decoder(c)
    f.update(norms_per_layer=4, qk_norm=1, qk_norm_per_head=1,
             tie_word_embeddings=c.flag("tie_word_embeddings", True))
    c.note("final_logit_softcapping", "attn_logit_softcapping", "query_pre_attn_scalar",
           "hidden_activation", "rope_local_base_freq", "use_bidirectional_attention")
    every = c.int("sliding_window_pattern", default=6)   # transformers' BC default
    _kinds(c, f, _pattern(f["num_layers"], every, "sliding_attention", "full_attention"))
    _window(c, f)
    return f


def _llama4_text(c):
    """Llama 4: chunked local attention on the RoPE layers (``no_rope_layers[i] = 1``,
    default every layer but each ``no_rope_layer_interval``-th), MoE layers from
    ``moe_layers`` or every ``interleave_moe_layer_step``-th layer, dense layers of
    ``intermediate_size_mlp``, one shared expert of ``intermediate_size``."""
    f = _decoder(c, inter_key="intermediate_size_mlp")
    layers = f["num_layers"]
    chunk = c.opt("attention_chunk_size")
    interval = c.int("no_rope_layer_interval", default=4)
    rope = c.list("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(layers)]
    if len(rope) != layers:
        raise invalid("no_rope_layers", f"a list of {len(rope)} entries",
                      f"one entry per layer: num_hidden_layers={layers}")
    _kinds(c, f, ["chunked_attention" if r and chunk else "full_attention" for r in rope])
    if f["num_chunked_layers"]:
        f["attention_chunk_size"] = chunk
    c.note("use_qk_norm", "attn_temperature_tuning", "floor_scale", "attn_scale")  # L2 norm: no weights
    step = c.int("interleave_moe_layer_step", default=1)
    moe = c.list("moe_layers")
    if moe is None:
        moe = list(range(step - 1, layers, step))
    width = c.int("intermediate_size")
    return _moe(f, experts=c.int("num_local_experts"), per_token=c.int("num_experts_per_tok"),
                width=width, shared=width, moe_layers=len(set(moe) & set(range(layers))))


def _mla(c: Config, f: dict, rope_key="qk_rope_head_dim") -> dict:
    rope = c.int(rope_key)
    nope = c.int("qk_nope_head_dim")
    f.update(head_dim=nope + rope, q_lora_rank=c.opt("q_lora_rank"),
             kv_lora_rank=c.int("kv_lora_rank"), qk_rope_head_dim=rope, qk_nope_head_dim=nope,
             v_head_dim=c.int("v_head_dim"), o_bias=0, mlp_bias=0)
    if f["qkv_bias"]:
        raise invalid("attention_bias", True, "false for MLA models")
    return f


def _deepseek(c: Config, first_dense_default=0) -> dict:
    f = _decoder(c, max_pos_default=4096)
    f["num_kv_heads"] = f["num_heads"]   # MLA: num_key_value_heads is not used
    _mla(c, f)
    layers = f["num_layers"]
    experts = c.opt("n_routed_experts")
    dense = min(c.opt("first_k_dense_replace", first_dense_default), layers)
    freq = c.int("moe_layer_freq", default=1)
    if freq != 1:
        raise invalid("moe_layer_freq", freq, "1 (every layer after the dense ones is MoE)")
    width = c.opt("moe_intermediate_size")
    c.note("n_group", "topk_group", "topk_method", "routed_scaling_factor", "norm_topk_prob",
           "scoring_func", "rope_interleave", "aux_loss_alpha", "seq_aux", "ep_size")
    _moe(f, experts=experts, per_token=c.opt("num_experts_per_tok"), width=width,
         shared=width * c.opt("n_shared_experts"), moe_layers=layers - dense)
    f["num_mtp_layers"] = c.opt("num_nextn_predict_layers", c.opt("num_mtp_layers"))
    return f


def _deepseek_v2(c):
    return _deepseek(c)


def _deepseek_v3(c):
    return _deepseek(c)


def _deepseek_v32(c):
    f = _deepseek(c)
    f.update(index_num_heads=c.int("index_n_heads"), index_head_dim=c.int("index_head_dim"),
             index_topk=c.int("index_topk"))
    if not f["q_lora_rank"]:
        raise invalid("q_lora_rank", f["q_lora_rank"], "positive: the indexer projects the "
                      "compressed query")
    return f


def _glm4_moe(c):
    f = _decoder(c)
    f.update(o_bias=0, qk_norm=c.flag("use_qk_norm"), qk_norm_per_head=1)
    layers = f["num_layers"]
    dense = min(c.opt("first_k_dense_replace"), layers)
    width = c.opt("moe_intermediate_size")
    _moe(f, experts=c.opt("n_routed_experts"), per_token=c.opt("num_experts_per_tok"),
         width=width, shared=width * c.opt("n_shared_experts"), moe_layers=layers - dense)
    f["num_mtp_layers"] = c.opt("num_nextn_predict_layers", c.opt("num_mtp_layers"))
    c.note("n_group", "topk_group", "routed_scaling_factor", "norm_topk_prob")
    return f


def _phimoe(c):
    f = _all_layers_window(c, _decoder(c))
    f.update(norm_bias=1, lm_head_bias=c.flag("lm_head_bias"))
    c.note("input_jitter_noise", "router_jitter_noise")
    return _moe(f, experts=c.int("num_local_experts"), per_token=c.int("num_experts_per_tok"),
                width=f["intermediate_size"])


def _olmo2(c):
    f = _decoder(c)
    f.update(qk_norm=1, qk_norm_per_head=0)   # RMSNorm over a·d and k·d: no head sharing
    return f


def _olmo3(c):
    f = _olmo2(c)
    _kinds(c, f, _pattern(f["num_layers"], 4, "sliding_attention", "full_attention"))
    _window(c, f)
    return f


def _exaone4(c):
    f = _decoder(c)
    f.update(qk_norm=1, qk_norm_per_head=1)
    window = c.opt("sliding_window")
    pattern = c.raw("sliding_window_pattern")
    layers = f["num_layers"]
    if isinstance(pattern, str):      # "LLLG": L slides, G is global, repeated
        derived = ["sliding_attention" if pattern[i % len(pattern)] == "L" else
                   "full_attention" for i in range(layers)]
    else:
        every = int(pattern or 0) if window else 0
        derived = _pattern(layers, every, "sliding_attention", "full_attention")
    _kinds(c, f, derived)
    _window(c, f)
    return f


def _granite(c):
    f = _decoder(c)
    c.note("embedding_multiplier", "logits_scaling", "residual_multiplier",
           "attention_multiplier")
    return f


def _granitemoe(c):
    f = _granite(c)
    return _moe(f, experts=c.int("num_local_experts"), per_token=c.int("num_experts_per_tok"),
                width=f["intermediate_size"])


def _granitemoeshared(c):
    f = _granitemoe(c)
    f["shared_expert_intermediate_size"] = c.opt("shared_intermediate_size")
    return f


def _granitemoehybrid(c):
    """Granite 4.0: Mamba-2 (``mamba``) and attention layers; a shared MLP of
    ``shared_intermediate_size`` in every layer, plus routed experts when
    ``num_local_experts > 0`` (else the shared MLP is the layer's dense MLP)."""
    f = _granite(c)
    hidden = f["hidden_size"]
    _kinds(c, f, ["mamba"] * f["num_layers"])
    heads = c.int("mamba_n_heads")
    d_head = c.raw("mamba_d_head")
    if d_head in ("auto", None, _ABSENT):
        d_head = c.int("mamba_expand") * hidden // heads
    elif isinstance(d_head, bool) or not isinstance(d_head, numbers.Integral) or d_head < 1:
        raise invalid("mamba_d_head", d_head, "a positive integer or 'auto'")
    if f["num_linear_layers"]:
        f.update(linear_num_key_heads=c.int("mamba_n_groups"),
                 linear_key_head_dim=c.int("mamba_d_state"),
                 linear_num_value_heads=heads, linear_value_head_dim=int(d_head),
                 linear_conv_kernel=c.int("mamba_d_conv"), linear_head_inputs=1,
                 linear_head_params=3, linear_norm_per_head=0,
                 linear_conv_bias=c.flag("mamba_conv_bias", True),
                 linear_proj_bias=c.flag("mamba_proj_bias"))
    c.note("position_embedding_type", "mamba_chunk_size", "time_step_limit",
           "time_step_min", "time_step_max", "time_step_floor")
    shared = c.opt("shared_intermediate_size")
    experts = c.opt("num_local_experts")
    if experts:
        return _moe(f, experts=experts, per_token=c.int("num_experts_per_tok"),
                    width=f["intermediate_size"], shared=shared)
    f["intermediate_size"] = c.int("shared_intermediate_size")
    return f


def _cohere2(c):
    """Command R7B: one LayerNorm (weight only) per layer before the parallel attention
    and MLP, tied head; transformers sets head_dim = h/a; every 4th layer full."""
    f = _decoder(c)
    hidden, heads = f["hidden_size"], f["num_heads"]
    if hidden % heads:
        raise invalid("num_attention_heads", heads, f"a divisor of hidden_size={hidden}")
    f.update(head_dim=hidden // heads, norms_per_layer=1,
             tie_word_embeddings=c.flag("tie_word_embeddings", True))
    c.note("logit_scale", "layer_norm_eps", "sliding_window_pattern")
    every = c.int("sliding_window_pattern", default=4)
    _kinds(c, f, _pattern(f["num_layers"], every, "sliding_attention", "full_attention"))
    _window(c, f)
    return f


def _ernie4_5(c):
    f = _decoder(c)
    bias = c.flag("use_bias")
    f.update(qkv_bias=bias, o_bias=bias, mlp_bias=bias,
             tie_word_embeddings=c.flag("tie_word_embeddings", True))
    return f


def _ernie4_5_moe(c):
    """ERNIE 4.5 MoE: layer i is MoE when ``start <= i <= end`` and
    ``(i + 1) % moe_layer_interval == 0``; its ``e_score_correction_bias`` is a
    parameter (``router_bias``)."""
    f = _ernie4_5(c)
    layers = f["num_layers"]
    start = c.int("moe_layer_start_index", default=0, minimum=0)
    end = c.raw("moe_layer_end_index")
    end = layers - 1 if end in (None, -1, _ABSENT) else c.int("moe_layer_end_index", minimum=0)
    every = c.int("moe_layer_interval", default=1)
    experts = c.opt("moe_num_experts")
    moe = sum(1 for i in range(layers) if start <= i <= end and (i + 1) % every == 0)
    width = c.opt("moe_intermediate_size")
    c.note("moe_norm_min", "moe_use_aux_free", "moe_capacity", "moe_gate")
    return _moe(f, experts=experts, per_token=c.opt("moe_k"), width=width,
                shared=width * c.opt("moe_num_shared_experts"), moe_layers=moe,
                router_bias=1)


def _minimax(c):
    """MiniMax-Text-01: lightning (linear) attention layers with an output gate and full
    attention layers (default pattern: odd-numbered layers linear), Mixtral-style MoE."""
    f = _decoder(c)
    heads, d = f["num_heads"], f["head_dim"]
    _kinds(c, f, _pattern(f["num_layers"], 2, "full_attention", "linear_attention"))
    if f["num_linear_layers"]:
        f.update(linear_num_key_heads=heads, linear_key_head_dim=d, linear_num_value_heads=heads,
                 linear_value_head_dim=d)
    _window(c, f)
    c.note("block_size", "full_attn_alpha_factor", "full_attn_beta_factor",
           "linear_attn_alpha_factor", "linear_attn_beta_factor", "mlp_alpha_factor",
           "mlp_beta_factor", "postnorm", "layernorm_full_attention_alpha")
    return _moe(f, experts=c.int("num_local_experts"), per_token=c.int("num_experts_per_tok"),
                width=f["intermediate_size"])


def _minimax_m2(c):
    f = _decoder(c)
    f.update(qk_norm=int(c.flag("use_qk_norm", True)), qk_norm_per_head=0)
    # MiniMax's MTP modules (use_mtp, num_mtp_modules) are not built by transformers and
    # their structure is not published: not counted (num_mtp_layers stays 0)
    c.note("qk_norm_type", "rotary_dim", "scoring_func", "use_routing_bias", "use_mtp",
           "num_mtp_modules", "mtp_transformer_layers", "shared_intermediate_size")
    return _moe(f, experts=c.int("num_local_experts"), per_token=c.int("num_experts_per_tok"),
                width=f["intermediate_size"])


def _smollm3(c):
    """SmolLM3: no RoPE on every ``no_rope_layer_interval``-th layer (``no_rope_layers[i]``
    0; changes no count); with ``use_sliding_window`` transformers makes those layers
    slide."""
    f = _decoder(c)
    f["tie_word_embeddings"] = c.flag("tie_word_embeddings", True)
    layers = f["num_layers"]
    interval = c.int("no_rope_layer_interval", default=4)
    rope = c.list("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(layers)]
    window = c.opt("sliding_window") if c.flag("use_sliding_window") else 0
    _kinds(c, f, ["sliding_attention" if window and not r else "full_attention"
                  for r in rope])
    if f["num_sliding_layers"]:
        f["sliding_window"] = window
    return f


def _gpt2(c):
    hidden = c.int("n_embd")
    positions = c.int("n_positions", default=1024)
    heads = c.int("n_head")
    f = base_fields(vocab=c.int("vocab_size"), hidden=hidden, layers=c.int("n_layer"),
                    heads=heads, kv_heads=heads, head_dim=_head_dim(c, hidden, heads),
                    inter=c.int("n_inner", default=4 * hidden), max_pos=positions)
    f.update(position_embeddings=positions, mlp_gated=0, qkv_bias=1, o_bias=1, mlp_bias=1,
             norm_bias=1, tie_word_embeddings=c.flag("tie_word_embeddings", True))
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
    f = base_fields(vocab=c.int("vocab_size"), hidden=hidden, layers=c.int("num_hidden_layers"),
                    heads=heads, kv_heads=heads, head_dim=_head_dim(c, hidden, heads),
                    inter=c.int("ffn_dim"), max_pos=max_pos)
    bias = c.flag("enable_bias", True)
    # OPT's learned positions carry an offset of 2 rows (OPTLearnedPositionalEmbedding).
    f.update(position_embeddings=max_pos + 2, mlp_gated=0, qkv_bias=bias, o_bias=bias,
             mlp_bias=bias, norm_bias=1, tie_word_embeddings=c.flag("tie_word_embeddings", True))
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
    f = base_fields(vocab=c.int("vocab_size"), hidden=hidden, layers=c.int("num_hidden_layers"),
                    heads=heads, kv_heads=kv, head_dim=_head_dim(c, hidden, heads),
                    inter=c.int("ffn_hidden_size", default=4 * hidden),
                    max_pos=c.int("max_position_embeddings", default=2048))
    bias = c.flag("bias", False)
    parallel = c.flag("parallel_attn", True)
    if new_arch:
        norms = c.int("num_ln_in_parallel_attn", default=2)
    else:
        norms = 1 if parallel else 2
    c.flag("alibi", False)  # ALiBi or rotary: neither adds parameters
    f.update(mlp_gated=0, qkv_bias=bias, o_bias=bias, mlp_bias=bias, norm_bias=1,
             norms_per_layer=norms, tie_word_embeddings=c.flag("tie_word_embeddings", True))
    return f


PARSERS = {
    "gpt2": _gpt2, "opt": _opt, "llama": _llama, "mistral": _mistral, "mixtral": _mixtral,
    "qwen2": _qwen2, "gemma2": _gemma2, "phi3": _phi3, "falcon": _falcon,
    "deepseek_v3": _deepseek_v3, "qwen2_moe": _qwen2_moe, "qwen3": _qwen3,
    "qwen3_moe": _qwen3_moe, "qwen3_next": _qwen3_next, "qwen3_5_text": _qwen3_5_text,
    "qwen3_5_moe_text": _qwen3_5_moe_text, "gpt_oss": _gpt_oss, "gemma3_text": _gemma3_text,
    "llama4_text": _llama4_text, "deepseek_v2": _deepseek_v2, "deepseek_v32": _deepseek_v32,
    "glm4_moe": _glm4_moe, "ministral": _ministral, "ministral3": _ministral,
    "phimoe": _phimoe, "olmo2": _olmo2, "olmo3": _olmo3, "exaone4": _exaone4,
    "granite": _granite, "granitemoe": _granitemoe, "granitemoeshared": _granitemoeshared,
    "granitemoehybrid": _granitemoehybrid, "cohere2": _cohere2, "ernie4_5": _ernie4_5,
    "ernie4_5_moe": _ernie4_5_moe, "minimax": _minimax, "minimax_m2": _minimax_m2,
    "smollm3": _smollm3,
}

#: model_types published under another name that transformers builds as a supported one
#: (Kimi K2's config says ``kimi_k2`` and is DeepSeek-V3's architecture, remote code
#: ``DeepseekV3ForCausalLM``)
ALIASES = {"kimi_k2": "deepseek_v3"}
PARSERS.update({alias: PARSERS[target] for alias, target in ALIASES.items()})

#: multimodal wrappers: the language model is ``text_config`` (parsed as its own
#: model_type, default below), the vision tower ``vision_config``
WRAPPERS = {"gemma3": "gemma3_text", "llama4": "llama4_text", "mistral3": "mistral",
            "qwen3_5": "qwen3_5_text", "qwen3_5_moe": "qwen3_5_moe_text"}

SUPPORTED_MODEL_TYPES = tuple(sorted(set(PARSERS) | set(WRAPPERS) | {"generic"}))


def known_keys(model_type: str) -> set:
    """Config keys transformers' class for ``model_type`` knows (fields, aliases, and the
    base config's keys): what an Excel range may name besides the normalised fields."""
    t = _types()
    info = t.get(ALIASES.get(model_type, model_type), {})
    keys = set(info.get("defaults", {})) | set(info.get("attribute_map", {}))
    return keys | set(t.get("_base_keys", ()))


def parse(config: dict, model_type: str) -> tuple[dict, set]:
    """Normalised fields of ``config`` (a text model of ``model_type``) and the keys read."""
    c = Config(config, ALIASES.get(model_type, model_type))
    fields = PARSERS[model_type](c)
    _training_fields(c, ALIASES.get(model_type, model_type), fields)
    return fields, c.read


# ------------------------------------------ how transformers' modules run a family

#: Tensors of the MLP width an activation function of transformers keeps for backward
#: besides its output (measured: tests/data/activation_measurements.json): SiLU and the
#: GELUs save their input; ReLU only its output (the next projection's input); GPT-2's
#: ``gelu_new`` is written in Python (x, tanh(…), 0.5·x and 1 + tanh(…)).
ACTIVATION_SAVED = {"silu": 1, "swish": 1, "gelu": 1, "gelu_pytorch_tanh": 1, "gelu_new": 4,
                    "relu": 0}
#: the config key naming the MLP activation and its default, where not ``hidden_act``/silu
_ACTIVATION_KEY = {"gpt2": ("activation_function", "gelu_new"),
                   "opt": ("activation_function", "relu"), "falcon": (None, "gelu"),
                   "gemma2": ("hidden_activation", "gelu_pytorch_tanh"),
                   "gemma3_text": ("hidden_activation", "gelu_pytorch_tanh")}
#: RMSNorm multiplying by (1 + weight) in fp32 (the normalised tensor kept in fp32)
_NORM_FP32_SCALE = {"gemma2", "gemma3_text", "qwen3_next", "qwen3_5_text",
                    "qwen3_5_moe_text", "gpt_oss"}
#: eager attention taking the softmax in the model dtype (legacy modeling code; gpt-oss's
#: softmax over the sink column; Llama 4)
_SOFTMAX_MODEL_DTYPE = {"gpt2", "falcon", "gpt_oss", "llama4_text"}
#: one fused query_key_value / qkv_proj, sliced into q, k and v
_QKV_FUSED = {"gpt2", "falcon", "phi3"}
#: DeepSeek-V3-style routers: group-limited top-k scored in fp32 from an fp32 input copy
_GROUP_ROUTER = {"deepseek_v3", "deepseek_v32", "glm4_moe"}


def _training_fields(c: Config, model_type: str, f: dict) -> None:
    """The fields the ``hf`` training stack reads (xlcalc.formulas.activations_hf): what
    transformers' modules of this family keep for backward, from the measurements in
    ``tests/data/``."""
    key, default = _ACTIVATION_KEY.get(model_type, ("hidden_act", "silu"))
    act = (c.text(key) if key else None) or default
    if model_type == "gemma2" or model_type == "gemma3_text":
        act = c.text("hidden_activation") or c.text("hidden_act") or default
    f["mlp_act_saved"] = ACTIVATION_SAVED.get(act.lower(), 1)
    f["norm_fp32_scale"] = int(model_type in _NORM_FP32_SCALE)
    f["attn_softcap"] = int(c.number("attn_logit_softcapping") is not None) \
        if model_type in ("gemma2", "gemma3_text") else 0
    f["final_softcap"] = int(c.number("final_logit_softcapping") is not None) \
        if model_type in ("gemma2", "gemma3_text") else 0
    f["attn_softmax_fp32"] = int(model_type not in _SOFTMAX_MODEL_DTYPE)
    # sdpa's math path: q and v head widths differ (MLA), Falcon's expanded MQA
    f["attn_sdpa_math"] = int(model_type == "falcon" or f["kv_lora_rank"] > 0)
    f["qkv_fused"] = int(model_type in _QKV_FUSED)
    if model_type == "gpt_oss":
        # clamped GLU: the clamps, sigmoid, GLU and (up + 1) keep five tensors of the
        # expert width; the router softmaxes its top-k logits only, in the model dtype
        f.update(mlp_act_saved=4, moe_router_topk_softmax=1)
    if model_type == "llama4_text":
        # every expert runs every token (scores zero the unrouted ones); queries and keys
        # of the RoPE (chunked) layers are L2-normalised in fp32
        f.update(moe_dense_experts=int(f["num_experts"] > 0),
                 attn_qk_l2norm=c.flag("use_qk_norm", True))
    if model_type == "gemma3_text" and f["num_sliding_layers"] and \
            f["num_sliding_layers"] < f["num_layers"]:
        f["rope_tables"] = 2     # local (sliding) and global rotary bases: two cos/sin
    group = model_type in _GROUP_ROUTER and f["num_experts"] > 0
    f["moe_router_fp32"] = int(group)
    f["moe_groups"] = c.int("n_group", default=1) if group else 0
    f["moe_topk_groups"] = c.int("topk_group", default=1) if group else 0


# -------------------------------------------------------------------- vision towers

def _vision_siglip(v: Config, wrapper: Config, text_hidden: int) -> dict:
    """SigLIP (Gemma 3): biased LayerNorms and linears, learned positions, post-LN; the
    projector is an RMSNorm (weight) and one h_v × h matrix."""
    hv = v.int("hidden_size")
    patch = v.int("patch_size")
    if v.flag("vision_use_head", True):
        raise invalid("vision_use_head", True, "false (the SigLIP pooling head is not part "
                      "of a multimodal model's tower)")
    return dict(vision_hidden_size=hv, vision_num_layers=v.int("num_hidden_layers"),
                vision_intermediate_size=v.int("intermediate_size"),
                vision_patch_inputs=v.int("num_channels") * patch * patch, vision_patch_bias=1,
                vision_position_embeddings=(v.int("image_size") // patch) ** 2,
                vision_extra_vectors=2, vision_mlp_gated=0, vision_bias=1, vision_norm_bias=1,
                vision_proj_norm=hv, vision_proj_norm_bias=0, vision_proj_in=hv,
                vision_proj_out=text_hidden)


def _vision_llama4(v: Config, wrapper: Config, text_hidden: int) -> dict:
    """Llama 4: class token, learned positions (+1 row), pre/post LayerNorms; projector
    fc1 (f_v → projector_input_dim), fc2 (projector_output_dim²), linear_1 → h, no biases."""
    hv = v.int("hidden_size")
    patch = v.int("patch_size")
    pin, pout = v.int("projector_input_dim"), v.int("projector_output_dim")
    vout = v.int("vision_output_dim")
    if not pin == pout == vout:
        raise invalid("projector_output_dim", pout, f"equal to projector_input_dim={pin} and "
                      f"vision_output_dim={vout} (as in every Llama 4 release)")
    if v.flag("multi_modal_projector_bias"):
        raise invalid("multi_modal_projector_bias", True, "false")
    return dict(vision_hidden_size=hv, vision_num_layers=v.int("num_hidden_layers"),
                vision_intermediate_size=v.int("intermediate_size"),
                vision_patch_inputs=v.int("num_channels") * patch * patch, vision_patch_bias=0,
                vision_position_embeddings=(v.int("image_size") // patch) ** 2 + 1,
                vision_extra_vectors=5, vision_mlp_gated=0, vision_bias=1, vision_norm_bias=1,
                vision_proj_in=v.int("intermediate_size"), vision_proj_mid1=pin,
                vision_proj_mid2=pout, vision_proj_out=text_hidden)


def _vision_pixtral(v: Config, wrapper: Config, text_hidden: int) -> dict:
    """Pixtral (Mistral 3): RMSNorms, gated MLP, no biases, 2-D RoPE (no position table);
    projector RMSNorm, patch merger (h_v·m² → h_v), linear_1 (h_v → h), linear_2 (h → h)."""
    hv = v.int("hidden_size")
    patch = v.int("patch_size")
    merge = wrapper.int("spatial_merge_size", default=2)
    if wrapper.flag("multimodal_projector_bias"):
        raise invalid("multimodal_projector_bias", True, "false (as in every Mistral 3 release)")
    return dict(vision_hidden_size=hv, vision_num_layers=v.int("num_hidden_layers"),
                vision_intermediate_size=v.int("intermediate_size"),
                vision_patch_inputs=v.int("num_channels") * patch * patch, vision_patch_bias=0,
                vision_position_embeddings=0, vision_extra_vectors=1, vision_mlp_gated=1,
                vision_bias=0, vision_norm_bias=0, vision_proj_norm=hv,
                vision_proj_in=hv * merge * merge, vision_proj_mid1=hv,
                vision_proj_mid2=text_hidden, vision_proj_out=text_hidden)


def _vision_qwen3_5(v: Config, wrapper: Config, text_hidden: int) -> dict:
    """Qwen3.5: a 3-D patch convolution (temporal patches), learned positions, biased
    LayerNorms and linears; the merger is a LayerNorm, fc1 (h_v·m²)² and fc2 → out."""
    hv = v.int("hidden_size")
    patch = v.int("patch_size")
    merged = hv * v.int("spatial_merge_size") ** 2
    return dict(vision_hidden_size=hv, vision_num_layers=v.int("depth"),
                vision_intermediate_size=v.int("intermediate_size"),
                vision_patch_inputs=v.int("in_channels") * v.int("temporal_patch_size") *
                patch * patch, vision_patch_bias=1,
                vision_position_embeddings=v.int("num_position_embeddings"),
                vision_extra_vectors=0, vision_mlp_gated=0, vision_bias=1, vision_norm_bias=1,
                vision_proj_norm=hv, vision_proj_norm_bias=1, vision_proj_in=merged,
                vision_proj_mid1=merged, vision_proj_out=v.int("out_hidden_size"),
                vision_proj_bias=1)


VISION_PARSERS = {"siglip_vision_model": _vision_siglip, "llama4_vision_model": _vision_llama4,
                  "pixtral": _vision_pixtral, "qwen3_5_vision": _vision_qwen3_5,
                  "qwen3_5_moe_vision": _vision_qwen3_5}


def parse_vision(vision: dict, vision_type: str, wrapper: Config, text_hidden: int) -> dict:
    """Vision-tower fields of a multimodal config's ``vision_config``."""
    if vision_type not in VISION_PARSERS:
        raise unknown_choice("vision_config model_type", vision_type, VISION_PARSERS)
    v = Config(vision, vision_type)
    return VISION_PARSERS[vision_type](v, wrapper, text_hidden)
