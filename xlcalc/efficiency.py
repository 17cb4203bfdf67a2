"""Measured efficiencies as data: ``xlcalc/presets/efficiency/*.json``.

What a GPU family achieves against its datasheet, each figure with its source and
conditions, never fitted to a validation row:

* ``gemm.json`` — GEMM TFLOP/s by shape and dtype (cuBLASLt/hipBLASLt size sweeps, the
  maximum achievable matmul FLOPS of a shape search, Calculon's fitted A100 curve for
  comparison): efficiency against the GEMM's FLOPs, as Calculon's curves;
* ``attention.json`` — FlashAttention-2/3 and unfused attention TFLOP/s;
* ``hbm.json`` — sustained HBM bandwidth (STREAM-style) against the datasheet;
* ``collectives.json`` — all-reduce bus bandwidth by message size (nccl/rccl-tests) against
  the per-direction scale-up bandwidth, from which latency per collective follows.

Ratios are computed here from the stored measurements (the files keep what was
published: TFLOP/s, TB/s, GB/s and the peak they are compared with).  These tables are the
evidence for the default ``mfu``/``bw_eff``/link efficiencies; wiring them into the
formulas is a separate step.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .errors import unknown_choice

__all__ = ["efficiency_names", "load_efficiency", "gemm_efficiency", "attention_efficiency",
           "hbm_efficiency", "collective_efficiency"]

PRESET_DIR = Path(__file__).parent / "presets" / "efficiency"


@functools.lru_cache(maxsize=1)
def efficiency_names() -> tuple:
    """Names of the efficiency data files (gemm, attention, hbm, collectives)."""
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.lru_cache(maxsize=None)
def load_efficiency(name: str) -> dict:
    """One efficiency file as stored (measurements with sources and conditions)."""
    if name not in efficiency_names():
        raise unknown_choice("efficiency table", name, efficiency_names())
    return json.loads((PRESET_DIR / f"{name}.json").read_text(encoding="utf-8"))


def gemm_efficiency():
    """GEMM measurements, one row per shape: gpu, family, dtype, kind, m, n, k, gflop
    (2·m·n·k / 1e9), tflops, peak_tflops, efficiency (tflops / peak)."""
    import pandas as pd
    rows = []
    for m in load_efficiency("gemm")["measurements"]:
        for p in m.get("points", []):
            rows.append({"gpu": m["gpu"], "family": m["family"], "dtype": m["dtype"],
                         "kind": m["kind"], "m": p["m"], "n": p["n"], "k": p["k"],
                         "gflop": 2 * p["m"] * p["n"] * p["k"] / 1e9, "tflops": p["tflops"],
                         "peak_tflops": m["peak_tflops"],
                         "efficiency": p["tflops"] / m["peak_tflops"]})
    return pd.DataFrame(rows)


def attention_efficiency():
    """Attention-kernel measurements: gpu, kernel, head_dim, tflops, efficiency."""
    import pandas as pd
    return pd.DataFrame([{"gpu": m["gpu"], "family": m["family"], "kernel": m["kernel"],
                          "head_dim": m.get("head_dim"), "tflops": m["tflops"],
                          "peak_tflops": m["peak_tflops"],
                          "efficiency": m["tflops"] / m["peak_tflops"]}
                         for m in load_efficiency("attention")["measurements"]])


def hbm_efficiency(kernel: str = "triad"):
    """Sustained HBM bandwidth per GPU for one STREAM kernel: gpu, tb_per_s, spec, efficiency."""
    import pandas as pd
    rows = []
    for m in load_efficiency("hbm")["measurements"]:
        if kernel not in m["tb_per_s"]:
            raise unknown_choice("kernel", kernel, m["tb_per_s"])
        tb = m["tb_per_s"][kernel]
        rows.append({"gpu": m["gpu"], "family": m["family"], "tb_per_s": tb,
                     "spec_tb_per_s": m["spec_gb_per_s"] / 1000,
                     "efficiency": tb * 1000 / m["spec_gb_per_s"]})
    return pd.DataFrame(rows)


def collective_efficiency(gpu: str):
    """All-reduce measurements of one GPU by message size: bytes, bus_gb_per_s, alg_gb_per_s
    (busBW × n / (2(n−1))), time_s (bytes / algBW), efficiency (busBW / link bandwidth)."""
    import pandas as pd
    found = [m for m in load_efficiency("collectives")["measurements"] if m["gpu"] == gpu]
    if not found:
        names = [m["gpu"] for m in load_efficiency("collectives")["measurements"]]
        raise unknown_choice("gpu", gpu, names)
    m = found[0]
    n = m["ranks"]
    rows = []
    for p in m["points"]:
        alg = p["bus_gb_per_s"] * n / (2 * (n - 1))
        rows.append({"bytes": p["bytes"], "bus_gb_per_s": p["bus_gb_per_s"],
                     "alg_gb_per_s": alg, "time_s": p["bytes"] / (alg * 1e9),
                     "efficiency": p["bus_gb_per_s"] / m["link_gb_per_s"]})
    return pd.DataFrame(rows)
