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


# ------------------------------------------------------------- honest timing

def warm_llm_analysis() -> float:
    """Import llm-analysis before anything is timed (it imports transformers: seconds that
    a warm process never pays again); returns the seconds the import took."""
    import logging
    import time
    t0 = time.perf_counter()
    import llm_analysis.analysis  # noqa: F401
    import llm_analysis.config  # noqa: F401
    logging.disable(logging.WARNING)     # it warns on most configurations
    return time.perf_counter() - t0


def interleaved_rates(contenders, repeat: int) -> dict:
    """Configurations per second of each ``(label, fn)``, ``fn()`` returning how many
    configurations it computed: one call each per round, rounds interleaved, so every
    contender sees the same machine load.  Call each once untimed first (warm-up)."""
    import time
    rates = {label: [] for label, _ in contenders}
    for _ in range(repeat):
        for label, fn in contenders:
            t0 = time.perf_counter()
            n = fn()
            rates[label].append(n / (time.perf_counter() - t0))
    return rates


def print_rates(rates: dict, baseline: str) -> dict:
    """Median (min–max) rate of each contender and its median per-round ratio against
    ``baseline`` (measured in the same round); returns the median ratios."""
    import statistics
    ratios = {}
    for label, values in rates.items():
        print(f"  {label}: median {statistics.median(values):,.0f} configurations/s "
              f"(min {min(values):,.0f}, max {max(values):,.0f}, {len(values)} rounds)")
    for label, values in rates.items():
        if label == baseline:
            continue
        per_round = [a / b for a, b in zip(values, rates[baseline])]
        ratios[label] = statistics.median(per_round)
        print(f"  ratio {label} / {baseline}: median {ratios[label]:,.0f}x "
              f"(rounds {min(per_round):,.0f}x–{max(per_round):,.0f}x)")
    return ratios


# ------------------------------------------------------------- machine load

def wait_for_load(threshold, timeout_s: float = 600.0) -> None:
    """Wait (at most ``timeout_s``) until the 1-minute load average is below ``threshold``
    (the machine is shared: other people's test suites slow every timing); ``None``: no
    wait."""
    import os
    import time
    if threshold is None:
        return
    deadline = time.monotonic() + timeout_s
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        time.sleep(10)


def load_line(when: str) -> str:
    """The load averages, for the report: ``load average before: 1.20 (1 min), ...``."""
    import os
    one, five, _ = os.getloadavg()
    return (f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min); "
            f"{os.cpu_count()} CPUs")
