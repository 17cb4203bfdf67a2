"""End to end: the scenario grid served by Voilà and edited in chromium (the forms' harness,
tests/browser.py).  A person double-clicks scenario 1's batch cell, types a batch too big
for the GPU and presses Enter: the row's outputs change to the core's numbers and the
row turns red.  Screenshots: tests/artifacts/grid_before.png, grid_after.png."""

from __future__ import annotations

import io
import math

import nbformat

from browser import (browser, chromium, open_notebook, page, screenshot,  # noqa: F401
                     value, voila, wait_change)
from xlcalc.widgets.grid import COLUMN_HEADER, ROW, ROW_HEADER, ScenarioGrid
from xlcalc.serving import inference_memory

RED = (0xFF, 0xC7, 0xCE)
YELLOW = (0xFF, 0xF2, 0xCC)


def _notebook(folder):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from xlcalc.widgets import ScenarioGrid\n\ngrid = ScenarioGrid()\ngrid")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(nb, folder / "grid.ipynb")


def _cell_centre(box, row: int, column: str):
    """Where a cell is drawn on the grid's canvas (widgets/grid.py's geometry)."""
    grid = ScenarioGrid()
    widths = grid._column_widths()
    x = box["x"] + ROW_HEADER
    for name in grid.columns:
        width = widths[name]
        if name == column:
            return x + width / 2, box["y"] + COLUMN_HEADER + ROW * (row - 1) + ROW / 2
        x += width
    raise KeyError(column)


def _pixel(page, x, y):
    from PIL import Image
    shot = page.screenshot(clip={"x": x - 2, "y": y + 6, "width": 4, "height": 3})
    return Image.open(io.BytesIO(shot)).convert("RGB").getpixel((1, 1))


def _close(rgb, expected, tol=6):
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected))


def test_edit_a_grid_cell_in_the_browser(page, voila, tmp_path, artifacts_dir):
    _notebook(tmp_path)
    _edit_scenario(page, voila("grid.ipynb", root=tmp_path), artifacts_dir)


def _edit_scenario(page, url, artifacts_dir):
    open_notebook(page, url, "[data-name=grid_status]")
    grid = page.locator(".xl-grid .lm-DataGrid, .xl-grid .p-DataGrid").first
    grid.wait_for(state="visible")
    page.wait_for_timeout(1000)                     # the canvas paints after the data
    assert value(page, "grid_not_fitting") == "1"  # scenario 3 does not fit
    box = grid.bounding_box()
    x, y = _cell_centre(box, 1, "batch")
    assert _close(_pixel(page, x, y), YELLOW)       # an input cell of a plan that fits
    x3, y3 = _cell_centre(box, 3, "batch")
    assert _close(_pixel(page, x3, y3), RED)        # the plan that does not fit
    screenshot(page, artifacts_dir, "grid_before")

    # double-click scenario 1's batch, type 8192, Enter
    editor = page.locator(".lm-DataGrid-cellEditorInput, .p-DataGrid-cellEditorInput").first
    for attempt in range(3):
        page.mouse.dblclick(x, y)
        try:
            editor.wait_for(state="visible", timeout=5_000)
            break
        except Exception:
            if attempt == 2:
                raise
    editor.fill("8192")
    editor.press("Enter")
    changed = page.locator("[data-name=grid_changed]")
    changed.wait_for(state="visible", timeout=30_000)
    assert changed.get_attribute("data-row") == "1"
    expected = inference_memory("llama-2-70b", 8192, 768, tp=8, gpu="h100-sxm")
    assert math.isclose(float(changed.get_attribute("data-value")),
                        expected["total"] / 1e9, rel_tol=1e-9)
    assert not expected["fits"]
    wait_change(page, "grid_not_fitting", "1")
    assert value(page, "grid_not_fitting") == "2"
    status = page.locator("[data-name=grid_status]").inner_text()
    assert "scenario 1: batch 8 → 8,192" in status and "scenario 1, scenario 3" in status
    page.wait_for_timeout(500)
    assert _close(_pixel(page, x, y), RED)          # the row turned red
    shot = screenshot(page, artifacts_dir, "grid_after")
    assert shot.stat().st_size > 20_000
    assert not [e for e in page.console_errors if "DataGrid" in e or "ipydatagrid" in e]
