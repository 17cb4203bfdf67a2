"""Serving engines as data: one JSON file per engine in ``xlcalc/presets/engines/``.

Each file states how the engine sizes its KV cache (``rule``), the numbers that rule
reads (``values``: each with its unit, the engine's own name for it and its source,
repo + path + commit or URL), the batching defaults it picks from the GPU's memory
(``defaults_by_gpu_memory``) and the published log lines the tests reproduce.  The
formula graph reads the numbers through the ``engines`` table (one row per engine,
the values and the memory tiers flattened into columns); nothing is loaded at import.

The four engines share one closed form (:mod:`xlcalc.formulas.engines`)::

    kv = kv_free_fraction × (memory_fraction × (total − context) − weights
                             − activation_counted × activation peak − non-torch)

vLLM: fraction 0.9 of the total, the profiled activation peak subtracted; SGLang: its
``mem_fraction_static`` rule of the free memory at start, activations kept in the rest;
TensorRT-LLM: 0.9 of what is free after everything else; seed: all memory, no reserve.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from .errors import unknown_choice

__all__ = ["engine_names", "load_engine", "engines_table", "ENGINE_COLUMNS", "TIERS",
           "TIER_COLUMNS"]

PRESET_DIR = Path(__file__).parent / "presets" / "engines"

#: Numeric values every engine file states (the table's columns, besides the tiers).
ENGINE_COLUMNS = (
    "memory_fraction", "reserve_rule", "reserve_base_bytes", "reserve_per_prefill_token_bytes",
    "reserve_min_prefill_tokens", "reserve_per_decode_seq_bytes", "reserve_per_rank_bytes",
    "reserve_floor_bytes", "reserve_floor_above_bytes", "kv_free_fraction", "context_bytes",
    "activation_counted", "sampler_bytes_per_logit", "non_torch_bytes", "non_torch_tp_bytes",
    "allreduce_latency_us", "kernel_eff", "step_overhead_s", "request_overhead_s",
    "block_size",
)
#: Memory tiers an engine's batching defaults may depend on (SGLang has five).
TIERS = 5
#: Per-tier columns: ``tier{i}_below_bytes`` (inf for the last) and the defaults below it.
TIER_COLUMNS = ("below_bytes", "max_num_batched_tokens", "max_num_seqs", "max_num_seqs_tp4")
_GIB = 2 ** 30
_NO_LIMIT = 1e30   # "below" of the open last tier (a finite number renders in Excel)


@functools.lru_cache(maxsize=1)
def engine_names() -> tuple:
    """Names of the shipped engine presets."""
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.lru_cache(maxsize=None)
def load_engine(name: str) -> dict:
    """The engine preset ``name`` (case-insensitive) as stored: rule, values with their
    sources, memory tiers, published log lines."""
    key = str(name).strip().lower()
    if key not in engine_names():
        raise unknown_choice("engine", name, engine_names())
    return json.loads((PRESET_DIR / f"{key}.json").read_text(encoding="utf-8"))


def _row(data: dict) -> dict:
    """One table row: the numeric values, then the tiers padded to :data:`TIERS` (a
    missing tier repeats the last one, so a lookup never meets an empty cell)."""
    values = data["values"]
    missing = [c for c in ENGINE_COLUMNS if c not in values]
    if missing:
        raise ValueError(f"engine preset {data['name']!r} lacks {missing}")
    row = {c: float(values[c]["value"]) for c in ENGINE_COLUMNS}
    tiers = list(data["defaults_by_gpu_memory"]["tiers"])
    if not tiers or len(tiers) > TIERS or tiers[-1]["below_gib"] is not None:
        raise ValueError(f"engine preset {data['name']!r}: 1-{TIERS} tiers, the last open")
    tiers += [tiers[-1]] * (TIERS - len(tiers))
    for i, tier in enumerate(tiers, 1):
        below = tier["below_gib"]
        row[f"tier{i}_below_bytes"] = _NO_LIMIT if below is None else float(below) * _GIB
        for c in TIER_COLUMNS[1:]:
            row[f"tier{i}_{c}"] = float(tier[c])
    bad = [k for k, v in row.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"engine preset {data['name']!r}: non-finite {bad}")
    return row


def engines_table():
    """The engine presets as a DataFrame indexed by name (numeric columns only, plus
    ``full_name``, ``version`` and ``offer``: 0 for the tutorials' rule, which the worked
    examples use but no dropdown or help text offers)."""
    import pandas as pd
    rows = {}
    for n in engine_names():
        data = load_engine(n)
        # offer 0: a source tutorial's rule (seed), accepted when typed, not a planner's choice
        rows[n] = {"full_name": data["full_name"], "version": data["version"],
                   "offer": float(data.get("offer", 1)), **_row(data)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "engine"
    return frame
