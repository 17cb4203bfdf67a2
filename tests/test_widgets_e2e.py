"""End to end: the planner dashboard served by Voilà, driven in chromium by Playwright.

A person's path through the form: the page opens on seed 000 §七 example 1, they pick
another model and move the batch slider, read the new numbers (which must be the core's),
look at the sweep and the training tab, and copy the Excel formula.  Screenshots land in
tests/artifacts/ (widgets_*.png).
"""

from __future__ import annotations

import math

import pytest

from browser import (browser, chromium, control, open_notebook, page,  # noqa: F401
                     screenshot, select, slider_keys, tab, text, toggle, value, voila,
                     wait_change)
from xlcalc.serving import inference_latency, inference_memory, serving_capacity
from xlcalc.training import train_memory


def close(shown: str, expected: float, rel=1e-9) -> bool:
    return math.isclose(float(shown), float(expected), rel_tol=rel)


def test_planner_dashboard_in_the_browser(page, voila, artifacts_dir):
    open_notebook(page, voila("dashboard.ipynb"), "[data-name=ttft_ms]")

    # opens on seed 000 §七 example 1's plan (LLaMA-2-70B, 8×H100, batch 8, 512 in / 256
    # out) as a planner runs it: engine vllm, calibrated efficiencies (the core's defaults)
    lat = inference_latency("llama-2-70b", "h100-sxm", 8, 512, 256, tp=8)
    assert close(value(page, "ttft_ms"), lat["ttft_s"] * 1e3)
    assert text(page, "ttft_ms").startswith(f"{lat['ttft_s'] * 1e3:.0f}")     # 198 ms

    # a dropdown: another model (same heads, so tp stays 8)
    old = value(page, "ttft_ms")
    select(page, "model", "llama-3-70b")
    wait_change(page, "ttft_ms", old)
    lat = inference_latency("llama-3-70b", "h100-sxm", 8, 512, 256, tp=8)
    assert close(value(page, "ttft_ms"), lat["ttft_s"] * 1e3)
    assert close(value(page, "tpot_ms"), lat["tpot_s"] * 1e3)

    # a slider: batch one step up the log scale (8 -> 12)
    old = value(page, "tpot_ms")
    batch = int(slider_keys(page, "batch", "ArrowRight"))
    assert batch == 12
    wait_change(page, "tpot_ms", old)
    lat = inference_latency("llama-3-70b", "h100-sxm", batch, 512, 256, tp=8)
    mem = inference_memory("llama-3-70b", batch, 768, tp=8, gpu="h100-sxm")
    cap = serving_capacity("llama-3-70b", "h100-sxm", 768, tp=8)
    assert close(value(page, "tpot_ms"), lat["tpot_s"] * 1e3)
    assert close(value(page, "tokens_per_s"), lat["tokens_per_s"])
    assert close(value(page, "headroom_gb"), mem["headroom"] / 1e9)
    assert close(value(page, "max_batch"), cap["max_sequences"])
    assert value(page, "fits") == "fits"
    assert f"{mem['total'] / 1e9:.2f}" in text(page, "breakdown")     # total GB, styled table
    shot = screenshot(page, artifacts_dir, "widgets_inference")
    assert shot.stat().st_size > 20_000

    # the sweep tab: one input across its range
    tab(page, "Sweep")
    page.wait_for_selector("[data-name=sweep]", state="visible")
    assert "1,024" in text(page, "sweep")
    screenshot(page, artifacts_dir, "widgets_sweep")

    # the export tab: the equivalent Excel formula
    tab(page, "Export")
    formula = control(page, "text", "formula").locator("input")
    page.wait_for_function("() => [...document.querySelectorAll('input[type=text]')]"
                           ".some(e => e.value.startsWith('=INFER_MEM('))")
    # the GPU is an argument: the engine's budget and activation profile depend on it
    assert formula.input_value() == \
        '=INFER_MEM("llama-3-70b",12,768,"bf16","bf16",8,1,"total","GB","h100-sxm")'
    assert close(value(page, "formula_value"), mem["total"] / 1e9)
    screenshot(page, artifacts_dir, "widgets_export")

    # the training form: ZeRO-3 over 8 GPUs makes seed example 2 fit
    tab(page, "Training")
    page.wait_for_selector("[data-name=train_days]", state="visible")
    assert value(page, "fits") == "does not fit"
    old = value(page, "n_gpus")
    select(page, "dp", "8")
    wait_change(page, "n_gpus", old)
    old = value(page, "headroom_gb")
    toggle(page, "zero", "3")
    wait_change(page, "headroom_gb", old)
    mem = train_memory("llama-7b", 32, 2048, zero=3, dp=8, recompute="full", gpu="h100-sxm")
    assert close(value(page, "headroom_gb"), mem["headroom"] / 1e9)
    assert value(page, "fits") == "fits"
    screenshot(page, artifacts_dir, "widgets_training")

    assert not [e for e in page.console_errors if "Error" in e and "favicon" not in e], \
        page.console_errors
