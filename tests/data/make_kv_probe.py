"""KV-cache and linear-state probe: what transformers really caches, per layer kind.

Run once by hand (transformers and torch are NOT dependencies of xlcalc)::

    /work/torchenv/bin/python tests/data/make_kv_probe.py     # writes tests/data/kv_probe.json

Each case of ``PROBES`` is a small config of one model_type, rebuilt on the CPU with random
weights in bfloat16.  For each sequence length ``s`` (below, at and above the window /
chunk) the script runs a real forward pass with ``use_cache=True``:

``stored``   after a prefill of ``s`` tokens, per layer: the tokens and bytes the cache
             object keeps (keys + values tensors, ``numel × element size``; the index keys
             of DeepSeek-V3.2; the conv and recurrent states of linear layers with their
             dtypes and shapes)
``attended`` a prefill of ``s − 1`` tokens then one decode step: per attention layer, the
             tokens of the key/value tensors the layer's cache update returns for that
             step (what the new token's attention is given: the peak the cache holds
             while the ``s``-th token is processed)

The per-layer kind comes from the config's ``layer_types`` (the cache layer class is
recorded too).  Bytes per token per layer are ``bytes / tokens``.

``python tests/data/make_kv_probe.py presets`` adds ``_presets``: every shipped preset
rebuilt small (the first layers that include each of its layer kinds; vocabulary, MLP and
expert sizes shrunk, every width that a cache depends on kept) and probed at 3 tokens:
bytes per token per layer kind, index-key bytes, and the linear layers' states.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.cache_utils import Cache

OUT = Path(__file__).resolve().parent / "kv_probe.json"
LENGTHS = (3, 8, 9, 20)          # window = chunk = 8: below, at, just above, well above

_T = dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
          intermediate_size=96, vocab_size=128, pad_token_id=0, bos_token_id=1,
          eos_token_id=2)
PROBES = {
    "llama": dict(_T, model_type="llama", num_hidden_layers=2),
    "mistral": dict(_T, model_type="mistral", num_hidden_layers=2, sliding_window=8),
    "gemma3_text": dict(_T, model_type="gemma3_text", num_hidden_layers=6, sliding_window=8),
    "gpt_oss": dict(_T, model_type="gpt_oss", num_hidden_layers=2, sliding_window=8,
                    num_local_experts=4, num_experts_per_tok=2, intermediate_size=32),
    "llama4_text": dict(_T, model_type="llama4_text", num_hidden_layers=4, attention_chunk_size=8,
                        intermediate_size=32, intermediate_size_mlp=96, num_local_experts=4,
                        num_experts_per_tok=1),
    "olmo3": dict(_T, model_type="olmo3", num_hidden_layers=4, sliding_window=8),
    "cohere2": dict(_T, model_type="cohere2", num_hidden_layers=4, sliding_window=8,
                    head_dim=None),
    "qwen3_next": dict(_T, model_type="qwen3_next", num_hidden_layers=4, head_dim=32,
                       num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                       shared_expert_intermediate_size=32, linear_num_key_heads=2,
                       linear_num_value_heads=4, linear_key_head_dim=16,
                       linear_value_head_dim=24, linear_conv_kernel_dim=4),
    "qwen3_5_text": dict(_T, model_type="qwen3_5_text", num_hidden_layers=4, head_dim=32,
                         linear_num_key_heads=2, linear_num_value_heads=4,
                         linear_key_head_dim=16, linear_value_head_dim=24,
                         linear_conv_kernel_dim=4),
    "granitemoehybrid": dict(_T, model_type="granitemoehybrid", num_hidden_layers=3,
                             num_local_experts=4, num_experts_per_tok=2,
                             shared_intermediate_size=48, intermediate_size=32,
                             layer_types=["mamba", "attention", "mamba"], mamba_n_heads=8,
                             mamba_n_groups=2, mamba_d_state=16, mamba_d_head=16,
                             mamba_d_conv=4, mamba_chunk_size=8),
    "minimax": dict(_T, model_type="minimax", num_hidden_layers=2, num_local_experts=4,
                    num_experts_per_tok=2, intermediate_size=32, block_size=8),
    "deepseek_v3": dict(_T, model_type="deepseek_v3", num_hidden_layers=2, num_key_value_heads=4,
                        head_dim=None,
                        q_lora_rank=24, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=16,
                        v_head_dim=16, n_routed_experts=4, n_shared_experts=1,
                        num_experts_per_tok=2, moe_intermediate_size=24, first_k_dense_replace=1,
                        n_group=2, topk_group=1),
    "deepseek_v32": dict(_T, model_type="deepseek_v32", num_hidden_layers=2, num_key_value_heads=4,
                         head_dim=None,
                         q_lora_rank=24, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=16,
                         v_head_dim=16, n_routed_experts=4, n_shared_experts=1,
                         num_experts_per_tok=2, moe_intermediate_size=24,
                         first_k_dense_replace=1, n_group=2, topk_group=1, index_n_heads=2,
                         index_head_dim=16, index_topk=4),
}


def _bytes(t):
    return 0 if t is None else t.numel() * t.element_size()


def _tokens(t):
    return 0 if t is None or t.numel() == 0 else int(t.shape[-2])


def build(cfg: dict):
    cfg = {k: v for k, v in cfg.items() if v is not None}
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()
    return config, model


def stored(cache, layers: int) -> list:
    """What the cache object keeps, layer by layer (MiniMax keeps its lightning-attention
    state in a ``linear_cache`` list beside the layers)."""
    out = []
    linear = getattr(cache, "linear_cache", None) or []
    for i in range(layers):
        layer = cache.layers[i] if i < len(cache.layers) else None
        row = {"cache_layer": type(layer).__name__}
        if i < len(linear) and isinstance(linear[i], torch.Tensor):
            t = linear[i]
            row["recurrent_states"] = {"bytes": _bytes(t), "shapes": [list(t.shape)],
                                       "dtype": str(t.dtype)}
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        if isinstance(keys, torch.Tensor) and keys.numel():
            row.update(tokens=_tokens(keys), kv_bytes=_bytes(keys) + _bytes(values),
                       kv_dtype=str(keys.dtype), key_shape=list(keys.shape),
                       value_shape=list(values.shape),
                       storage_bytes=keys.untyped_storage().nbytes() +
                       values.untyped_storage().nbytes())
        index = getattr(layer, "indexer_keys", None)
        if isinstance(index, torch.Tensor) and index.numel():
            row.update(index_tokens=int(index.shape[1]), index_bytes=_bytes(index),
                       index_shape=list(index.shape), index_dtype=str(index.dtype))
        for kind in ("conv_states", "recurrent_states"):
            states = getattr(layer, kind, None)
            if isinstance(states, dict):
                tensors = [t for t in states.values() if isinstance(t, torch.Tensor)]
                if tensors:
                    row[kind] = {"bytes": sum(_bytes(t) for t in tensors),
                                 "shapes": [list(t.shape) for t in tensors],
                                 "dtype": str(tensors[0].dtype)}
        out.append(row)
    return out


class _Recorder:
    """Wraps Cache.update to record the key/value tokens each layer's update returns."""

    def __init__(self):
        self.seen = {}
        self._orig = Cache.update

    def __enter__(self):
        recorder = self

        def update(cache, key_states, value_states, layer_idx, *args, **kwargs):
            k, v = recorder._orig(cache, key_states, value_states, layer_idx, *args, **kwargs)
            recorder.seen[layer_idx] = {"tokens": int(k.shape[-2]),
                                        "kv_bytes": _bytes(k) + _bytes(v)}
            return k, v
        Cache.update = update
        return self

    def __exit__(self, *exc):
        Cache.update = self._orig


def probe(name: str, cfg: dict) -> dict:
    config, model = build(cfg)
    kinds = list(getattr(config, "layer_types", None) or ["full_attention"] *
                 config.num_hidden_layers)
    result = {"config": cfg, "layer_types": kinds, "dtype": "bfloat16", "lengths": {}}
    for s in LENGTHS:
        ids = torch.randint(3, cfg["vocab_size"], (1, s))
        with torch.no_grad():
            out = model(input_ids=ids, use_cache=True)
        after = stored(out.past_key_values, config.num_hidden_layers)
        with torch.no_grad():
            first = model(input_ids=ids[:, :-1], use_cache=True) if s > 1 else None
            with _Recorder() as rec:
                model(input_ids=ids[:, -1:], past_key_values=first.past_key_values,
                      use_cache=True)
        for i, row in enumerate(after):
            row["kind"] = kinds[i]
            if i in rec.seen:
                row["attended"] = rec.seen[i]
        result["lengths"][str(s)] = after
    return result


# ------------------------------------------------------------ every preset, rebuilt small

PRESETS = Path(__file__).resolve().parents[2] / "xlcalc" / "presets" / "models"
ALIASES = {"kimi_k2": "deepseek_v3"}
WRAPPERS = ("gemma3", "llama4", "mistral3", "qwen3_5", "qwen3_5_moe")
#: keys that do not change what a layer caches, shrunk so a rebuild runs on a CPU
SHRINK = {"vocab_size": 512, "intermediate_size": 64, "intermediate_size_mlp": 64,
          "moe_intermediate_size": 32, "shared_expert_intermediate_size": 32,
          "shared_intermediate_size": 32, "num_local_experts": 4, "n_routed_experts": 4,
          "num_experts": 4, "moe_num_experts": 4, "num_experts_per_tok": 2, "moe_k": 2,
          "n_group": 1, "topk_group": 1, "ffn_dim": 64, "n_inner": 64, "ffn_hidden_size": 64,
          "first_k_dense_replace": 0, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
KINDS = ("full_attention", "sliding_attention", "chunked_attention", "linear_attention")


def small_rebuild(raw: dict):
    """A preset's config cut to the first layers that include every kind it has, with
    the sizes that do not change a layer's cache shrunk (vocabulary, MLP widths,
    experts); widths, heads, head_dim, MLA ranks, windows and linear-layer sizes kept."""
    cfg = {k: v for k, v in raw.items() if not k.startswith("xlcalc_")
           and k not in ("quantization_config", "auto_map")}
    model_type = ALIASES.get(cfg.pop("model_type"), raw["model_type"])
    text = cfg.get("text_config") if model_type in WRAPPERS else cfg
    if model_type in WRAPPERS:
        text = dict(text)
        cfg["text_config"] = text
        cfg.pop("vision_config", None)
    full = AutoConfig.for_model(ALIASES.get(text.get("model_type"), text.get("model_type"))
                                or model_type, **{k: v for k, v in text.items()
                                                  if k != "model_type"}) \
        if model_type in WRAPPERS else AutoConfig.for_model(model_type, **cfg)
    types = list(getattr(full, "layer_types", None) or [])
    keep = 1
    if types:
        seen = []
        for i, t in enumerate(types):
            if t not in seen:
                seen.append(t)
                keep = i + 1
    for key, value in SHRINK.items():
        if key in text or key in ("vocab_size",):
            text[key] = value
    text["num_hidden_layers"] = keep
    if types:
        text["layer_types"] = types[:keep]
    for key in ("no_rope_layers", "moe_layers", "mlp_only_layers"):
        text.pop(key, None)
    if model_type in WRAPPERS:
        text_type = text.pop("model_type", None)
        config = AutoConfig.for_model(ALIASES.get(text_type, text_type), **text)
    else:
        config = AutoConfig.for_model(model_type, **text)
    if getattr(config, "layer_types", None) is not None and types:
        config.layer_types = types[:keep]
    return config


def probe_preset(name: str) -> dict:
    raw = json.loads((PRESETS / f"{name}.json").read_text())
    config = small_rebuild(raw)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).eval()
    kinds = list(getattr(config, "layer_types", None) or ["full_attention"] *
                 config.num_hidden_layers)
    s = 3
    ids = torch.randint(3, 500, (1, s))
    with torch.no_grad():
        first = model(input_ids=ids[:, :-1], use_cache=True)
        with _Recorder() as rec:
            out = model(input_ids=ids[:, -1:], past_key_values=first.past_key_values,
                        use_cache=True)
    rows = stored(out.past_key_values, config.num_hidden_layers)
    per_kind = {}
    for i, row in enumerate(rows):
        kind = kinds[i]
        entry = {}
        if i in rec.seen:
            entry["kv_bytes_per_token"] = rec.seen[i]["kv_bytes"] / rec.seen[i]["tokens"]
        if "index_bytes" in row:
            entry["index_bytes_per_token"] = row["index_bytes"] / row["index_tokens"]
        for key in ("conv_states", "recurrent_states"):
            if key in row:
                entry[key] = row[key]
        per_kind.setdefault(kind, entry)
    return {"layers_built": config.num_hidden_layers, "layer_types": kinds, "dtype": "bfloat16",
            "per_kind": per_kind}


def main(argv=None) -> int:
    names = (argv or sys.argv)[1:] or list(PROBES)
    if names == ["presets"]:
        results = json.loads(OUT.read_text())
        presets = results.setdefault("_presets", {})
        for path in sorted(PRESETS.glob("*.json")):
            presets[path.stem] = probe_preset(path.stem)
            print(path.stem, presets[path.stem]["per_kind"])
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    results = json.loads(OUT.read_text()) if OUT.exists() and len(names) < len(PROBES) else {}
    results["_about"] = ("tests/data/make_kv_probe.py with transformers "
                         f"{transformers.__version__}, torch {torch.__version__}, CPU, bf16")
    for name in names:
        if name.startswith("_"):
            continue
        results[name] = probe(name, PROBES[name])
        last = results[name]["lengths"][str(LENGTHS[-1])]
        print(name, [(r["kind"][:4], r.get("tokens"), r.get("attended", {}).get("tokens"),
                      r.get("recurrent_states", {}).get("dtype")) for r in last])
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
