"""Ground-truth parameter counts for the model presets, from Hugging Face transformers.

Run once by hand when presets change (transformers and torch are NOT dependencies of
xlcalc; use any environment that has them, e.g. a throw-away venv)::

    python tests/data/make_param_counts.py            # writes tests/data/param_counts.json

For every ``xlcalc/presets/models/*.json`` the model is built from its config on
``torch.device("meta")`` (no memory is allocated, so DeepSeek-V3 works too) and its
parameters are counted:

``total``       ``model.num_parameters()``: tied weights once; buffers are not counted
``embedding``   token embeddings and learned position embeddings
``attention``   q/k/v/o projections and biases (fused qkv too; MLA's q_a/q_b/kv_a/kv_b)
``mlp``         dense MLP, routed and shared experts, MoE router (gate) weights
``norm``        every LayerNorm/RMSNorm weight and bias (incl. final and MLA norms)
``lm_head``     output projection (0 when tied to the embedding)
``active``      ``total`` less the routed experts a token does not use
                ((num_experts - experts_per_token) experts per MoE layer); = total for
                dense models
``routed_experts``  all routed-expert parameters (MoE only)
``buffers``     each buffer (layer index replaced by ``*``) with its element count and
                whether it is persistent (saved in the checkpoint); none is counted in
                ``total``.  DeepSeek-V3's ``e_score_correction_bias`` is such a buffer.
``mtp``         parameters of transformers' ``MtpModel`` built on the model with
                ``num_mtp_layers`` modules, less the embedding and head it shares with the
                main model (only for configs with MTP modules)
``vision``      the vision tower and multimodal projector of a multimodal wrapper (built
                as the ``...ForConditionalGeneration`` model; its language model gives the
                other parts)

Besides the presets, ``tests/data/model_type_cases.json`` holds small configs, one or more
per supported model_type, each exercising a feature of its parser; they are stored as
``case:<name>``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "xlcalc" / "presets" / "models"
OUT = Path(__file__).resolve().parent / "param_counts.json"
CASES = Path(__file__).resolve().parent / "model_type_cases.json"

# Keys that are not model architecture: ours, remote-code pointers, and the FP8
# quantisation block (it would make transformers try to quantise on construction).
DROP = ("xlcalc_source", "xlcalc_nominal_params", "xlcalc_hub_ids", "xlcalc_notes", "auto_map",
        "quantization_config")
WRAPPERS = ("gemma3", "llama4", "mistral3", "qwen3_5", "qwen3_5_moe")
#: published model_types transformers builds under another name (Kimi K2 is DeepSeek-V3's
#: architecture; its config.json says kimi_k2 and points at remote code)
ALIASES = {"kimi_k2": "deepseek_v3"}
VISION = ("vision_tower", "vision_model", "visual", "multi_modal_projector")

GROUPS = ("embedding", "attention", "mlp", "norm", "lm_head")


def classify(name: str) -> str:
    parts = name.split(".")
    leaf_module = parts[-2] if len(parts) >= 2 else parts[-1]
    if re.search(r"(norm|^ln_\w*$|^ln$)", leaf_module):
        return "norm"
    if name.startswith("lm_head.") or ".lm_head." in name:
        return "lm_head"
    if leaf_module in ("embed_tokens", "wte", "wpe", "embed_positions", "word_embeddings"):
        return "embedding"
    if any(p in ("self_attn", "attn", "self_attention", "attention", "linear_attn", "mamba")
           for p in parts):
        return "attention"
    if any(p in ("mlp", "block_sparse_moe", "feed_forward", "shared_mlp") for p in parts) or \
            leaf_module in ("fc1", "fc2"):
        return "mlp"
    raise ValueError(f"unclassified parameter {name!r}")


def is_routed_expert(name: str) -> bool:
    return ".experts." in name and "shared_experts" not in name


def moe_shape(config) -> tuple[int, int]:
    experts = getattr(config, "num_local_experts", None) or \
        getattr(config, "n_routed_experts", None) or getattr(config, "num_experts", None) or \
        getattr(config, "moe_num_experts", None) or 0
    per_token = getattr(config, "num_experts_per_tok", None) or getattr(config, "moe_k", 0)
    return int(experts), int(per_token or 0)


def build(raw: dict):
    cfg = {k: v for k, v in raw.items() if k not in DROP}
    model_type = ALIASES.get(cfg.get("model_type"), cfg.get("model_type"))
    cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    auto = AutoModelForImageTextToText if model_type in WRAPPERS else AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(config)
    return config, model


def is_vision(name: str) -> bool:
    return any(part in VISION for part in name.split("."))


def mtp_params(model, config, raw: dict) -> int | None:
    """Parameters of transformers' MtpModel on ``model`` (shared embedding/head excluded).
    A config whose class has no ``num_mtp_layers`` field but whose file names its MTP
    modules (DeepSeek-V3.2's num_nextn_predict_layers, Qwen3-Next's mtp_num_hidden_layers)
    gets the attribute set so that MtpModel builds them on the model's last layer type."""
    text = config.get_text_config()
    raw_text = raw.get("text_config") or raw
    n = getattr(text, "num_mtp_layers", None)
    if n is None:
        n = raw_text.get("num_nextn_predict_layers") or raw_text.get("mtp_num_hidden_layers")
        if n:
            text.num_mtp_layers = n
    if not n:
        return None
    types = getattr(text, "layer_types", None)
    if types and getattr(text, "mtp_layer_types", None) is None:
        # MTP modules repeat the model's last layer (a full-attention layer in Qwen3.5,
        # an indexed one in DeepSeek-V3.2); transformers asks for their kinds explicitly
        text.mtp_layer_types = [types[-1]] * n
    mlp_types = getattr(text, "mlp_layer_types", None)
    if mlp_types and getattr(text, "mtp_mlp_layer_types", None) is None:
        text.mtp_mlp_layer_types = [mlp_types[-1]] * n
    from transformers.modeling_layers import MtpModel
    with torch.device("meta"):
        mtp = MtpModel(model, n)
    shared = {id(p) for p in model.parameters()}
    return sum(p.numel() for p in mtp.parameters() if id(p) not in shared)


def count(raw: dict, label: str) -> dict:
    config, model = build(raw)
    groups = dict.fromkeys(GROUPS, 0)
    vision = 0
    routed_by_layer: dict[str, int] = {}
    for name, p in model.named_parameters():        # shared (tied) tensors once
        if is_vision(name):
            vision += p.numel()
            continue
        groups[classify(name)] += p.numel()
        if is_routed_expert(name):
            layer = name.split(".experts.")[0]
            routed_by_layer[layer] = routed_by_layer.get(layer, 0) + p.numel()
    total = model.num_parameters() - vision
    assert sum(groups.values()) == total, (label, groups, total)

    buffers: dict[str, dict] = {}
    for mod_name, mod in model.named_modules():
        for buf_name, buf in mod.named_buffers(recurse=False):
            key = re.sub(r"\.\d+\.", ".*.", f"{mod_name}.{buf_name}")
            entry = buffers.setdefault(key, {
                "numel": 0, "persistent": buf_name not in mod._non_persistent_buffers_set})
            entry["numel"] += buf.numel()

    out = {"total": total, **groups, "active": total}
    experts, per_token = moe_shape(config.get_text_config())
    if routed_by_layer:
        routed = sum(routed_by_layer.values())
        per_layer = set(routed_by_layer.values())
        assert len(per_layer) == 1 and experts and per_token, (label, per_layer)
        per_expert, rem = divmod(per_layer.pop(), experts)
        assert rem == 0
        out.update(active=total - len(routed_by_layer) * (experts - per_token) * per_expert,
                   routed_experts=routed, moe_layers=len(routed_by_layer),
                   num_experts=experts, experts_per_token=per_token,
                   params_per_expert=per_expert)
    out["tied_word_embeddings"] = groups["lm_head"] == 0
    text = config.get_text_config()
    types = getattr(text, "layer_types", None)
    if types:
        out["layer_types"] = {t: types.count(t) for t in sorted(set(types))}
    for key in ("sliding_window", "attention_chunk_size", "index_topk"):
        value = getattr(text, key, None)
        if value:
            out[key] = value
    if vision:
        out["vision"] = vision
    try:
        mtp = mtp_params(model, config, raw)
    except Exception as e:            # a model_type without MTP support in this version
        out["mtp_error"] = repr(e)
    else:
        if mtp is not None:
            out["mtp"] = mtp
    out["buffers"] = buffers
    if label.startswith("deepseek"):
        is_param = any("e_score_correction_bias" in n for n, _ in model.named_parameters())
        out["e_score_correction_bias_is_parameter"] = is_param
        out["note"] = (
            "transformers registers e_score_correction_bias as a persistent buffer "
            "(the Hub's remote modeling_deepseek.py makes it an nn.Parameter), so it is "
            "not in total; the multi-token-prediction layer (num_nextn_predict_layers) is "
            "not built by transformers and is not counted either.")
    out["transformers_version"] = transformers.__version__
    return out


def configs() -> dict:
    """label -> config: every preset, and every case as ``case:<name>``."""
    out = {p.stem: json.loads(p.read_text()) for p in sorted(PRESETS.glob("*.json"))}
    for name, cfg in json.loads(CASES.read_text()).items():
        if not name.startswith("_"):
            out[f"case:{name}"] = cfg
    return out


def main(argv=None) -> int:
    names = (argv or sys.argv)[1:]
    todo = configs()
    if names:
        todo = {k: v for k, v in todo.items() if k in names}
    results = json.loads(OUT.read_text()) if OUT.exists() and names else {}
    for label, raw in todo.items():
        try:
            results[label] = count(raw, label)
        except (KeyError, ValueError, TypeError, AssertionError) as e:   # e.g. a model_type this version lacks
            print(f"{label}: cannot build with transformers "
                  f"{transformers.__version__}: {e!r}", file=sys.stderr)
            continue
        r = results[label]
        print(f"{label:30s} total {r['total']:>16,d}  active {r['active']:>16,d}"
              + (f"  mtp {r['mtp']:,d}" if "mtp" in r else "")
              + (f"  vision {r['vision']:,d}" if "vision" in r else ""))
    OUT.write_text(json.dumps(dict(sorted(results.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
