"""Measured efficiencies (presets/efficiency/*.json): provenance, and the ratios the loader
derives checked by hand against the published figures."""

import pytest

from xlcalc.efficiency import (attention_efficiency, collective_efficiency, efficiency_names,
                               gemm_efficiency, hbm_efficiency, load_efficiency)
from xlcalc.errors import XlcalcError


def test_every_measurement_has_a_source_and_conditions():
    assert set(efficiency_names()) == {"gemm", "attention", "hbm", "collectives"}
    for name in efficiency_names():
        data = load_efficiency(name)
        assert data["about"] and data["date"]
        for m in data["measurements"]:
            src = m["source"]
            assert src.get("url") or (src.get("repo") and src.get("path")), (name, m)
            assert m["conditions"], (name, m)


def test_gemm_efficiency_by_hand():
    """ND H100 v5 cuBLASLt FP8, m = n = k = 16384: 1377.3 TFLOP/s of 1978.9 → 0.696;
    ml-engineering MAMF BF16 on H100 SXM: 794.5 of 989 → 0.803 (the table prints 80.3 %)."""
    g = gemm_efficiency()
    row = g[(g.gpu == "h100-sxm") & (g.dtype == "fp8") & (g.m == 16384) & (g.kind == "shape_sweep")]
    assert row.efficiency.item() == pytest.approx(1377.3 / 1978.9)
    assert row.gflop.item() == pytest.approx(2 * 16384 ** 3 / 1e9)
    mamf = g[(g.gpu == "h100-sxm") & (g.dtype == "bf16") & (g.kind == "max_achievable")]
    assert mamf.efficiency.item() == pytest.approx(0.803, abs=5e-4)


def test_small_gemms_run_far_below_peak():
    """Every published sweep: a 1024³ GEMM reaches well under half the efficiency of the
    largest one (the size dependence Calculon models)."""
    g = gemm_efficiency()
    for (gpu, dtype), s in g[(g.kind == "shape_sweep") & (g.m == g.n) & (g.n == g.k)].groupby(
            ["gpu", "dtype"]):
        small = s[s.m == 1024].efficiency.item()
        assert small < 0.5 * s.efficiency.max(), (gpu, dtype)


def test_hbm_and_attention_by_hand():
    """Triad 2.97 TB/s on an H100 SXM (3.35 TB/s) → 0.887; FA2 327.9 of 989.4 → 0.331."""
    h = hbm_efficiency()
    assert h[h.gpu == "h100-sxm"].efficiency.item() == pytest.approx(2.97 / 3.35)
    assert all(0.7 < e < 1 for e in h.efficiency)
    a = attention_efficiency()
    fa2 = a[(a.gpu == "h100-sxm") & (a.kernel == "flash-attention-2")]
    assert fa2.efficiency.item() == pytest.approx(327.9 / 989.4)
    with pytest.raises(XlcalcError, match="kernel"):
        hbm_efficiency("tri")


def test_collective_latency_and_bus_efficiency_by_hand():
    """8 × H100 NVLS all-reduce: 8 GB at 478.87 GB/s busBW → algBW 273.6 GB/s, efficiency
    1.06 of the 450 GB/s link (in-switch reduction); 1 KB at 0.07 GB/s busBW →
    1024 / (0.07 × 8/14 × 1e9) = 25.6 µs per collective."""
    c = collective_efficiency("h100-sxm")
    big = c[c.bytes == 8 * 2 ** 30]
    assert big.efficiency.item() == pytest.approx(478.87 / 450)
    small = c[c.bytes == 1024]
    assert small.time_s.item() == pytest.approx(1024 / (0.07 * 8 / 14 * 1e9))
    assert 10e-6 < small.time_s.item() < 50e-6
    with pytest.raises(XlcalcError, match="gpu"):
        collective_efficiency("h100")
