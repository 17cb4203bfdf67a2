"""Shared pieces of the benchmarks: the preset grid and llm-analysis model configs."""

from __future__ import annotations

from xlcalc.models import load_model, preset_names


def splits_over_tp8(fields: dict) -> bool:
    """Heads split over tp = 1, 2, 4, 8 (falcon-7b's 71 heads do not)."""
    kv = fields["num_kv_heads"]
    return fields["num_heads"] % 8 == 0 and (kv % 8 == 0 or 8 % kv == 0)


def grid_models(dense_only: bool = False) -> list:
    """Presets usable on a tp ∈ {1, 2, 4, 8} grid (optionally without MoE/MLA, which
    llm-analysis has no inference model for)."""
    out = []
    for name in preset_names():
        f = load_model(name).fields
        if dense_only and (f["num_experts"] or f["kv_lora_rank"]):
            continue
        if splits_over_tp8(f):
            out.append(name)
    return out


def llm_analysis_model(model_name: str, max_seq_len: int | None = None,
                       gated_as_wider: bool = False):
    """llm-analysis's ModelConfig for an xlcalc preset.  llm-analysis models a two-matrix
    MLP (2·h·ffn); with ``gated_as_wider`` a gated MLP (3·h·f) becomes its
    parameter-equivalent ffn = 1.5·f, otherwise ffn = f (and it undercounts)."""
    from llm_analysis.config import ModelConfig
    f = load_model(model_name).fields
    ffn = f["intermediate_size"] if f["num_experts"] == 0 else f["moe_intermediate_size"]
    if gated_as_wider and f["mlp_gated"]:
        ffn = int(ffn * 1.5)
    return ModelConfig(name=model_name, num_layers=f["num_layers"], n_head=f["num_heads"],
                       hidden_dim=f["hidden_size"], vocab_size=f["vocab_size"],
                       max_seq_len=max(f["max_position_embeddings"], max_seq_len or 0),
                       num_key_value_heads=f["num_kv_heads"], ffn_embed_dim=ffn,
                       expansion_ratio=ffn / f["hidden_size"],
                       moe_num_experts=max(f["num_experts"], 1),
                       moe_top_k=max(f["experts_per_token"], 1))
