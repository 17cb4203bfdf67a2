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
published: TFLOP/s, TB/s, GB/s and the peak they are compared with).

:func:`calibration_table` condenses them into the defaults the formulas read, one row per
GPU family (the ``family`` of each accelerator preset), by rules simple enough to redo by
hand — no fitting against validation rows happens here:

* ``gemm_eff_16bit`` / ``gemm_eff_8bit`` — the plateau of large GEMMs: per measurement the
  best efficiency of a size sweep (or the best shape of a brute-force search), median over
  the family's measurements in that precision class;
* ``gemm_fixed_us`` — the fixed time of one GEMM (launch, prologue/epilogue, wave tail):
  the 1024³ point of each sweep minus its FLOPs at the plateau rate, median over the
  family's sweeps.  Together they are a Calculon-style saturating curve: a GEMM of ``F``
  FLOPs runs at ``eff(F) = plateau × F / (F + plateau × peak × fixed)``, i.e. for ``m``
  tokens through a ``k × n`` weight at ``plateau × m / (m + m½)`` with
  ``m½ = plateau × peak × fixed / (2kn)``;
* ``attention_eff`` — the best fused attention kernel measured on the family (engines ship
  their best: FlashAttention-3 on Hopper);
* ``hbm_eff`` — sustained bandwidth (STREAM triad) over the datasheet, median over the
  family's GPUs: the ceiling of memory-bound decode;
* ``link_eff`` — all-reduce bus bandwidth at the largest message over the per-direction
  scale-up bandwidth (NVLink SHARP reduces in the switch: above 1), median over the family;
* ``collective_latency_us`` — the smallest message's time (ring bytes / busBW), median
  over the family: the start-up latency of one NCCL/RCCL collective;
* ``scale_out_eff`` — bus bandwidth over the scale-out network (the GPU's share of the
  NICs): every collected nccl-tests run is one VM's NVLink, so the network's figure is the
  fitted network model of ``collectives.json``'s ``model_parameters`` (Calculon's
  InfiniBand HDR model, 0.9); ``link_eff`` never applies to the network.

A family without a measurement of a column takes the median over the measured families
(the ``generic`` row, also used by a custom accelerator that names no family); the
``sources`` column says which.  ``training_share`` (the same in every row) is fitted on the
calibration half of the validation rows (``presets/training/step_share.json``, with its
tool): the share of the GEMM plateau a training step reaches end to end (6ND without a
plan); ``step_compute_share`` (``step_compute_share.json``) the share the step model's
compute reaches (:func:`xlcalc.training_step`'s ``compute_eff``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .errors import unknown_choice

__all__ = ["efficiency_names", "load_efficiency", "gemm_efficiency", "attention_efficiency",
           "hbm_efficiency", "collective_efficiency", "calibration_table", "CALIBRATION_COLUMNS"]

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


# ------------------------------------------------------------------ calibrated defaults

#: Numeric columns of :func:`calibration_table` (one row per GPU family).
CALIBRATION_COLUMNS = ("gemm_eff_16bit", "gemm_eff_8bit", "gemm_fixed_us", "attention_eff",
                       "hbm_eff", "link_eff", "collective_latency_us", "scale_out_eff")
_EIGHT_BIT = ("fp8", "int8", "fp4")
_FUSED = ("flash-attention-2", "flash-attention-3")
_SMALL = 1024            # the sweeps' smallest square GEMM: the fixed time shows there


def _median(values):
    import statistics
    return float(statistics.median(values))


def _gemm_evidence() -> dict:
    """(family, column) -> [(value, what)] from gemm.json: plateaus per precision class and
    the fixed time per sweep."""
    out: dict = {}
    for m in load_efficiency("gemm")["measurements"]:
        points = m.get("points", [])
        if not points:
            continue              # Calculon's fitted curve: shown for comparison only
        column = "gemm_eff_8bit" if m["dtype"] in _EIGHT_BIT else "gemm_eff_16bit"
        plateau = max(p["tflops"] for p in points)
        what = f"{m['gpu']} {m['dtype']} {m['kind']} ({m['source'].get('repo', '')})"
        out.setdefault((m["family"], column), []).append((plateau / m["peak_tflops"], what))
        small = [p for p in points if p["m"] == p["n"] == p["k"] == _SMALL]
        if m["kind"] == "shape_sweep" and small:
            flops = 2 * _SMALL ** 3
            fixed = flops / (small[0]["tflops"] * 1e12) - flops / (plateau * 1e12)
            out.setdefault((m["family"], "gemm_fixed_us"), []).append(
                (fixed * 1e6, f"{m['gpu']} {m['dtype']} 1024³ sweep point"))
    return out


def _attention_evidence() -> dict:
    best: dict = {}
    for m in load_efficiency("attention")["measurements"]:
        if m["kernel"] not in _FUSED:
            continue
        eff = m["tflops"] / m["peak_tflops"]
        if eff > best.get(m["family"], (0, ""))[0]:
            best[m["family"]] = (eff, f"{m['gpu']} {m['kernel']}")
    return {(f, "attention_eff"): [v] for f, v in best.items()}


def _hbm_evidence() -> dict:
    out: dict = {}
    for m in load_efficiency("hbm")["measurements"]:
        eff = m["tb_per_s"]["triad"] * 1000 / m["spec_gb_per_s"]
        out.setdefault((m["family"], "hbm_eff"), []).append((eff, f"{m['gpu']} triad"))
    return out


def _collective_evidence() -> dict:
    out: dict = {}
    for m in load_efficiency("collectives")["measurements"]:
        c = collective_efficiency(m["gpu"])
        what = f"{m['gpu']} {m['ranks']}-GPU all_reduce"
        out.setdefault((m["family"], "link_eff"), []).append(
            (float(c.efficiency.iloc[c.bytes.argmax()]), what + " at the largest message"))
        out.setdefault((m["family"], "collective_latency_us"), []).append(
            (float(c.time_s.iloc[c.bytes.argmin()]) * 1e6, what + " at the smallest message"))
    return out


def _scale_out_evidence() -> dict:
    """The network's bus-bandwidth efficiency: no nccl-tests run across servers is in the
    collected measurements (all are one VM's NVLink), so the fitted network models of
    collectives.json's ``model_parameters`` that describe a scale-out network (Calculon's
    InfiniBand HDR model for A100) set it."""
    from .hardware import load_gpu
    out: dict = {}
    for p in load_efficiency("collectives")["model_parameters"]:
        if "infiniband" not in p["network"].lower():
            continue
        family = load_gpu(p["gpu"]).family
        src = p["source"]
        out.setdefault((family, "scale_out_eff"), []).append(
            (float(p["efficiency"]), f"{p['gpu']} {p['network']}: fitted model "
             f"({src['repo']} {src['path']}@{src['commit'][:7]})"))
    return out


#: The training constants fitted on the calibration half (one file each, with its tool):
#: ``training_share`` prices 6ND without a plan, ``step_compute_share`` the step model.
FITTED_TRAINING_SHARES = {"training_share": "step_share.json",
                          "step_compute_share": "step_compute_share.json"}


def fitted_training_share(name: str) -> dict:
    """The stored fit of one of :data:`FITTED_TRAINING_SHARES` (value, rule, source)."""
    path = PRESET_DIR.parent / "training" / FITTED_TRAINING_SHARES[name]
    return json.loads(path.read_text())


@functools.lru_cache(maxsize=1)
def calibration_table():
    """The calibrated efficiency defaults, one row per GPU family (index ``family``): the
    :data:`CALIBRATION_COLUMNS` and ``sources`` (which measurements set each column, or
    that it is the median over the measured families).  See the module docstring for the
    rule of each column."""
    import pandas as pd
    from .hardware import GENERIC_FAMILY, gpus_table
    evidence = {**_gemm_evidence(), **_attention_evidence(), **_hbm_evidence(),
                **_collective_evidence(), **_scale_out_evidence()}
    measured = {}
    for (family, column), items in evidence.items():
        measured.setdefault(column, {})[family] = (_median([v for v, _ in items]),
                                                   "; ".join(w for _, w in items))
    generic = {c: _median([v for v, _ in measured[c].values()]) for c in CALIBRATION_COLUMNS}
    families = sorted(set(gpus_table()["family"]) | {GENERIC_FAMILY})
    rows = {}
    for family in families:
        row, notes = {}, []
        for c in CALIBRATION_COLUMNS:
            if family in measured[c]:
                row[c], what = measured[c][family]
                notes.append(f"{c}: {what}")
            else:
                row[c] = generic[c]
                notes.append(f"{c}: median of the measured families "
                             f"({', '.join(sorted(measured[c]))})")
        row["sources"] = "; ".join(notes)
        rows[family] = row
    for name in FITTED_TRAINING_SHARES:
        value = float(fitted_training_share(name)["value"])
        for row in rows.values():
            row[name] = value
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "family"
    return frame
