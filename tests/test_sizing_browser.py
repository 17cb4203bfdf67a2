"""End to end: the SizingForm served by Voilà (examples/sizing.ipynb), driven in chromium
through the forms' harness (tests/browser.py).  A planner opens it on the issue's question,
reads the verdict and the cheapest plan (the core's), picks a smaller model and moves the
request rate: the answer follows.  The chart is checked on screen (the cheapest plan's red
star is drawn where the SVG says).  Screenshots: tests/artifacts/sizing_*.png."""

from __future__ import annotations

import io
import math

from browser import (browser, chromium, open_notebook, page, screenshot, select,  # noqa: F401
                     slider_keys, text, value, voila, wait_change)
from xlcalc.widgets.sizing import SIZING_DEFAULTS, SIZING_GRID
import xlcalc

RED = (0xB4, 0x23, 0x18)


def core(**kw):
    v = dict(SIZING_DEFAULTS, **kw)
    prices = {g: float(xlcalc.gpu_prices().loc[g, "price_per_gpu_hour"]) for g in v["gpus"]}
    return xlcalc.plan_serving(v["model"], v["prompt_len"], v["output_len"],
                               request_rate=v["request_rate"], ttft_ms_max=v["ttft_ms_max"],
                               tpot_ms_max=v["tpot_ms_max"], gpus=list(v["gpus"]),
                               dtypes=list(v["dtypes"]), price_per_gpu_hour=prices,
                               disaggregated=(False, True), **SIZING_GRID)


def _star_pixel(page):
    from PIL import Image
    star = page.locator("[data-name=pareto_best]").first
    box = star.bounding_box()
    shot = page.screenshot(clip={"x": box["x"] + box["width"] / 2 - 1,
                                 "y": box["y"] + box["height"] / 2 - 1, "width": 3, "height": 3})
    return Image.open(io.BytesIO(shot)).convert("RGB").getpixel((1, 1))


def _close(rgb, expected, tol=10):
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected))


def test_sizing_form_in_the_browser(page, voila, artifacts_dir):
    open_notebook(page, voila("sizing.ipynb"), "[data-name=verdict]")
    expected = core()
    assert value(page, "verdict") == expected.attrs["verdict"]
    first = expected.iloc[0]
    assert float(value(page, "gpus")) == first["gpus"]
    assert math.isclose(float(value(page, "cost_per_m_output_tokens")),
                        first["cost_per_m_output_tokens"], rel_tol=1e-12)
    svg = page.locator("[data-name=pareto_svg]").first
    assert int(svg.get_attribute("data-points")) > 100
    assert int(svg.get_attribute("data-front")) >= 2
    assert _close(_star_pixel(page), RED)
    assert "b200" in text(page, "plans")
    shot = screenshot(page, artifacts_dir, "sizing_default")
    assert shot.stat().st_size > 20_000

    # a smaller model: the answer follows
    old = value(page, "verdict")
    select(page, "model", "llama-3.1-8b")
    wait_change(page, "verdict", old)
    assert value(page, "verdict") == core(model="llama-3.1-8b").attrs["verdict"]

    # the request rate one step down its log slider (200 → 10^(log10(200) − 0.05))
    old = value(page, "verdict")
    slider_keys(page, "request_rate", "ArrowLeft")
    wait_change(page, "verdict", old)
    rate = 10 ** (round(math.log10(200) / 0.05) * 0.05 - 0.05)
    got = value(page, "verdict")
    want = core(model="llama-3.1-8b", request_rate=rate).attrs["verdict"]
    assert got == want, (got, want)
    assert _close(_star_pixel(page), RED)
    screenshot(page, artifacts_dir, "sizing_changed")
    assert not [e for e in page.console_errors if "Error" in e and "favicon" not in e], \
        page.console_errors
