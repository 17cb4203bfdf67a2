"""Accelerator presets: every figure present with its unit and source, reported memory below
the marketed GiB, names people type, overrides of every preset (issue 12; issue 16 item 12)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

import xlcalc
import xlcalc.udfs as u
from xlcalc.errors import XlcalcError
from xlcalc.estimate import estimate
from xlcalc.hardware import (GPU_FIELDS, PRESET_DIR, canonical_gpu_name, gpu_aliases,
                             gpu_names, load_gpu)

GIB = 2 ** 30
BLOCKS = json.loads((Path(__file__).parent / "data" / "vllm_gpu_blocks.json").read_text())
NAMES = gpu_names()


def _raw(name):
    return json.loads((PRESET_DIR / f"{name}.json").read_text())


def test_the_parts_planners_buy_in_2026_are_presets():
    wanted = ("a10 a100-40gb a100-80gb b200 h100-pcie h100-sxm h200 l4 l40s mi250x mi300x "
              "rtx-4090 t4 v100-16gb v100-32gb h800 h20 a800 l20 l40 h100-nvl gh200 b300 "
              "gb200 gb300 mi325x mi355x gaudi3 rtx-5090 rtx-pro-6000 ascend-910b ascend-910c "
              "tpu-v5e tpu-v5p tpu-v6e").split()
    assert set(wanted) <= set(NAMES) and len(NAMES) >= 35
    # the NVL72 parts are one scale-up domain of 72
    assert load_gpu("gb200").scale_up_domain == load_gpu("gb300").scale_up_domain == 72


@pytest.mark.parametrize("name", NAMES)
def test_every_field_is_present_with_a_source(name):
    raw = _raw(name)
    for f in GPU_FIELDS:
        assert f in raw, (name, f)           # null where the part has no figure
    assert raw["source"].startswith("https://"), name
    assert raw["checked"] and raw["full_name"] and raw["vendor"] and raw["aliases"]
    for f, text in raw["sources"].items():
        assert f in GPU_FIELDS and text.strip(), (name, f)
    for f, conf in raw["confidence"].items():
        assert f in GPU_FIELDS and conf["note"].strip(), (name, f)
        value, rng = raw[f], conf["range"]
        if value is not None and rng:
            lo, hi = rng
            assert lo <= value <= hi, (name, f, value, rng)
    # the figures that are not in the main source name theirs
    assert "memory_bytes_reported" in raw["sources"], name


@pytest.mark.parametrize("name", NAMES)
def test_reported_memory_is_below_the_marketed_gib_and_above_90_percent(name):
    g = load_gpu(name)
    marketed_gib = g.memory_gb * GIB          # the HBM behind "80 GB" is 80 GiB
    assert 0.9 * marketed_gib < g.memory_bytes_reported < marketed_gib, name
    # the planning default is the reported total
    assert estimate("gpu_memory_bytes", gpu=name)["gpu_memory_bytes"] == \
        g.memory_bytes_reported


@pytest.mark.parametrize("name", NAMES)
def test_units_are_gb_per_s_not_gb_it_per_s(name):
    """Links are sold in Gb/s (network) or as bidirectional GB/s (NVLink, xGMI, ICI): the
    per-GPU, per-direction GB/s fields must be those figures converted, not copied."""
    raw, g = _raw(name), load_gpu(name)
    up, out = raw["scale_up_link"], raw["scale_out_link"]
    assert g.intra_node_gb_per_s == pytest.approx(up["gb_per_s_bidirectional"] / 2), name
    assert g.inter_node_gb_per_s == pytest.approx(out["gbit_per_s"] * out["count"] / 8), name
    assert 100 <= g.memory_bandwidth_gb_per_s <= 20000, name   # GB/s of HBM/GDDR, not Gb/s
    assert 1 <= g.scale_up_domain <= 10000 and g.inter_node_gb_per_s <= 200
    # dense peaks rise with each halving of precision, at most 2× (datasheets round: the
    # L40S prints 362.05 bf16 and 733 fp8); fp4 up to 3× fp8 on Blackwell Ultra and 4× on
    # GeForce Blackwell, whose fp8 figure (fp32 accumulate) is halved and fp4 is not.  A
    # sparse figure copied as dense would double a step.
    steps = (("peak_tflops_tf32", "peak_tflops_bf16", 2.03),
             ("peak_tflops_bf16", "peak_tflops_fp8", 2.03),
             ("peak_tflops_fp8", "peak_tflops_fp4", 4.01))
    for lo, hi, most in steps:
        a, b = g.fields[lo], g.fields[hi]
        if a == a and b == b:
            assert a <= b <= most * a, (name, lo, a, hi, b)
    assert g.peak_tflops_16bit == max(p for p in (g.peak_tflops_bf16, g.peak_tflops_fp16)
                                      if p == p)


def test_reported_totals_match_the_vllm_logs_that_print_them():
    checked = 0
    for e in BLOCKS["entries"]:
        total = e["logged"].get("total_gpu_memory_gib")
        if total is not None:
            g = load_gpu(e["xlcalc_gpu"])
            assert round(g.memory_bytes_reported / GIB, 2) == total, e["id"]
            checked += 1
    assert checked >= 2


def test_names_people_type():
    for typed, preset in (("H100", "h100-sxm"), ("A100", "a100-80gb"), ("MI300X", "mi300x"),
                          ("B200", "b200"), ("h200", "h200"), ("GB200 NVL72", "gb200"),
                          ("Gaudi 3", "gaudi3"), ("rtx 4090", "rtx-4090"), ("910B", "ascend-910b"),
                          ("Trillium", "tpu-v6e"), ("  h100_sxm ", "h100-sxm")):
        assert canonical_gpu_name(typed) == preset, typed
        assert load_gpu(typed) is load_gpu(preset)
    # every alias of every file resolves to its file, and no alias names two parts
    for alias, preset in gpu_aliases().items():
        assert load_gpu(alias).name == preset
    # an alias works in every face: the core, an Excel function, the graph's table lookup
    assert xlcalc.decode_step("llama-2-7b", "H100", 1, 100)["step_s"] == \
        xlcalc.decode_step("llama-2-7b", "h100-sxm", 1, 100)["step_s"]
    assert u.GPU_SPEC("A100", "memory_gb") == 80
    from xlcalc import graph
    from xlcalc.cli import main
    assert graph.evaluate(["memory_gb"], gpu="MI300X")["memory_gb"] == 192
    assert main(["infer", "llama-2-7b", "--gpu", "H100", "--batch", "1", "--prompt-len", "128",
                 "--output-len", "16", "--json"]) == 0
    with pytest.raises(XlcalcError, match="unknown gpu 'h100-sx'; did you mean"):
        load_gpu("h100-sx")


@pytest.mark.parametrize("name", NAMES)
def test_override_of_every_preset_with_one_field_changed(name):
    base = load_gpu(name)
    faster = base.memory_bandwidth_gb_per_s * 1.25
    g = load_gpu([["preset", name], ["memory_bandwidth_gb_per_s", faster]])
    assert g.memory_bandwidth_gb_per_s == faster and g.name == f"{name} (modified)"
    for f in GPU_FIELDS:        # every other field as in the preset, missing peaks included
        if f != "memory_bandwidth_gb_per_s":
            same = base.fields[f]
            assert g.fields[f] == same or (math.isnan(same) and math.isnan(g.fields[f])), f
    # a plan on the modified part computes: decode reads faster, prefill as before
    args = ("llama-2-7b", 1, 256)
    slow = xlcalc.decode_step(*args[:1], base, *args[1:])
    fast = xlcalc.decode_step(*args[:1], g, *args[1:])
    assert np.isfinite(fast["step_s"]) and fast["memory_s"] == pytest.approx(
        slow["memory_s"] / 1.25)
    # and through the Excel functions (issue 16 item 12)
    assert u.GPU_SPEC([["preset", name], ["memory_bandwidth_gb_per_s", faster]],
                      "memory_bandwidth_gb_per_s") == pytest.approx(faster)


def test_override_of_a_preset_without_an_fp8_peak():
    """Issue 16 item 12: `[["preset","a100-80gb"],["memory_gb",80]]` failed with
    'peak_tflops_fp8 must be a positive number, got nan'."""
    g = load_gpu([["preset", "a100-80gb"], ["memory_gb", 80]])
    assert math.isnan(g.peak_tflops_fp8) and g.peak_tflops_bf16 == 312
    assert u.GPU_SPEC([["preset", "a100-80gb"], ["memory_gb", 80.0]], "memory_gb") == 80
    assert u.GPU_SPEC([["preset", "a100-80gb"], ["memory_gb", 80.0]], "peak_tflops_fp8") \
        .startswith("#VALUE! gpu 'a100-80gb (modified)' has no peak_tflops_fp8")
    assert u.DECODE_MS("llama-2-7b", [["preset", "v100-32gb"], ["memory_gb", 32.0]], 1.0,
                       1024.0) > 0
    # giving a peak the preset lacks is a field like any other
    fp8 = load_gpu({"preset": "a100-80gb", "peak_tflops_fp8": 624})
    assert estimate("peak_tflops", gpu=fp8, dtype="fp8", compute_dtype="auto")[
        "peak_tflops"] == 624


def test_overriding_memory_drops_the_reported_total_and_a_given_total_wins():
    assert estimate("gpu_memory_bytes", gpu=[["preset", "h100-sxm"], ["memory_gb", 94]])[
        "gpu_memory_bytes"] == 94e9               # the marketed size: no driver figure for it
    both = [["preset", "h100-sxm"], ["memory_gb", 94], ["memory_bytes_reported", 93.1 * GIB]]
    assert estimate("gpu_memory_bytes", gpu=both)["gpu_memory_bytes"] == 93.1 * GIB
    custom = {"name": "my-card", "memory_gb": 48, "memory_bandwidth_gb_per_s": 1000,
              "peak_tflops_bf16": 200}
    assert estimate("gpu_memory_bytes", gpu=custom)["gpu_memory_bytes"] == 48e9
    with pytest.raises(XlcalcError, match="needs peak_tflops_bf16 or peak_tflops_fp16"):
        load_gpu({"memory_gb": 48, "memory_bandwidth_gb_per_s": 1000, "peak_tflops_fp8": 10})
    with pytest.raises(XlcalcError, match="memory_bytes_reported must be a positive number"):
        load_gpu({"preset": "h100-sxm", "memory_bytes_reported": -1})
