"""widgets.ScenarioGrid headlessly: a cell edited in Python (and as the browser sends it)
recomputes every row in one vectorised core call, equal to the Excel functions; refused
values; add/duplicate/delete rows; plans that do not fit coloured; workbook export whose
Scenarios sheet LibreOffice recalculates to the grid's numbers."""

from __future__ import annotations

import html
import math

import numpy as np
import openpyxl
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("ipydatagrid")
udfs = pytest.importorskip("xlcalc.udfs")

import xlcalc  # noqa: E402
from xlcalc import estimate as core  # noqa: E402
from xlcalc import graph  # noqa: E402
from xlcalc.widgets import ScenarioGrid  # noqa: E402

OUTPUTS = ["total_gb", "headroom_gb", "fits", "ttft_ms", "tpot_ms", "tokens_per_s", "e2e_s"]


@pytest.fixture
def grid():
    return ScenarioGrid()


def excel_row(row) -> dict:
    """The grid's outputs for one scenario, from the Excel functions (as Excel calls them:
    floats, texts); memory at prompt + output tokens, as the template binds seq_len."""
    m, g = row["model"], row["gpu"]
    b, p, o, tp = (float(row[k]) for k in ("batch", "prompt_len", "output_len", "tp"))
    d, kv = row["dtype"], row["kv_dtype"]
    return {
        "total_gb": udfs.INFER_MEM(m, b, p + o, d, kv, tp),
        "headroom_gb": udfs.INFER_HEADROOM(m, g, b, p + o, d, kv, tp),
        "fits": udfs.INFER_FITS(m, g, b, p + o, d, kv, tp),
        "ttft_ms": udfs.PREFILL_MS(m, g, b, p, d, tp),
        "tpot_ms": udfs.TPOT_MS(m, g, b, p, o, d, kv, tp),
        "tokens_per_s": udfs.TOKENS_PER_S(m, g, b, p, o, d, kv, tp),
        "e2e_s": udfs.GEN_SECONDS(m, g, b, p, o, d, kv, tp),
    }


def assert_rows_equal_excel(grid):
    data = grid.data
    assert list(data.columns) == grid.columns + OUTPUTS + ["problem"]
    for number, row in data.iterrows():
        expected = excel_row(row)
        for name, value in expected.items():
            assert not isinstance(value, str), (number, name, value)      # no # text
            if isinstance(value, bool):
                assert bool(row[name]) is value, (number, name)
            else:
                assert row[name] == pytest.approx(value, rel=1e-9), (number, name)


@pytest.fixture
def core_calls(monkeypatch):
    """Counts calls of the core's estimate and of the graph's evaluate."""
    counts = {"estimate": 0, "evaluate": 0}
    real_estimate, real_evaluate = core.estimate, graph.evaluate

    def estimate(*args, **kwargs):
        counts["estimate"] += 1
        return real_estimate(*args, **kwargs)

    def evaluate(*args, **kwargs):
        counts["evaluate"] += 1
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(core, "estimate", estimate)
    monkeypatch.setattr(graph, "evaluate", evaluate)
    return counts


def test_default_grid_equals_the_excel_functions(grid):
    assert grid.columns == ["model", "gpu", "batch", "prompt_len", "output_len", "tp",
                            "dtype", "kv_dtype"]
    assert len(grid.data) == 4 and list(grid.data.index) == [1, 2, 3, 4]
    assert_rows_equal_excel(grid)
    # scenario 1 is the template's own plan (seed 000 §七 example 1)
    assert grid.data.loc[1, "total_gb"] == pytest.approx(
        xlcalc.inference_memory("llama-2-70b", 8, 768, tp=8)["total"] / 1e9, rel=1e-12)


def test_edit_a_cell_recomputes_every_row_in_one_core_call(grid, core_calls):
    before = grid.data
    grid.edit(1, "batch", 64)
    assert core_calls["estimate"] == 1         # one vectorised call for all four rows
    assert core_calls["evaluate"] == 2         # the bound seq_len, then the outputs
    after = grid.data
    assert after.loc[1, "batch"] == 64
    assert after.loc[1, "total_gb"] > before.loc[1, "total_gb"]
    pd.testing.assert_frame_equal(after.iloc[1:], before.iloc[1:])     # others unchanged
    assert_rows_equal_excel(grid)
    # by hand: KV cache of llama-2-70b at tp=8 is 1 head × 128 × 2 (K, V) × 2 bytes per
    # token-layer (768 tokens, whole 16-token vLLM blocks); the activations are vLLM's
    # profile-run peak, which does not depend on the batch: the total grows by the KV only
    kv = lambda b: 80 * 1 * 128 * 2 * 2 * b * 768 / 1e9      # noqa: E731
    growth = after.loc[1, "total_gb"] - before.loc[1, "total_gb"]
    assert growth == pytest.approx(kv(64) - kv(8), rel=1e-9)
    # headroom is the usable 90 % of the 79.22 GiB an H100 reports, minus the total
    usable = 0.9 * 79.22 * 2 ** 30 / 1e9
    assert after.loc[1, "headroom_gb"] == pytest.approx(usable - after.loc[1, "total_gb"],
                                                        rel=1e-9)     # the grid shows 10 places
    assert after.loc[1, "tokens_per_s"] == pytest.approx(64 * 256 / after.loc[1, "e2e_s"],
                                                         rel=1e-12)
    assert "scenario 1: batch 8 → 64" in grid.status.value


def test_the_call_count_does_not_depend_on_the_number_of_rows(core_calls):
    rows = [dict(model=m, gpu=g, batch=b, tp=tp)
            for m, tp in (("llama-2-70b", 8), ("llama-3.1-8b", 1), ("mistral-7b", 2))
            for g in ("h100-sxm", "a100-80gb", "h200", "l40s")
            for b in (1, 16, 128)]
    big = ScenarioGrid(pd.DataFrame(rows))
    assert len(big.data) == 36
    core_calls.update(estimate=0, evaluate=0)
    big.edit(36, "batch", 2)
    assert core_calls == {"estimate": 1, "evaluate": 2}
    data = big.data
    for i in (1, 17, 36):
        row = data.loc[i]
        assert row["total_gb"] == pytest.approx(
            udfs.INFER_MEM(row["model"], float(row["batch"]), 768.0, "bf16", "bf16",
                           float(row["tp"]), None, None, None, row["gpu"]), rel=1e-9)
    # the glossary inputs went in as arrays and factors, never one row at a time
    seen = {}
    real = core.estimate

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    core.estimate = spy
    try:
        big.recompute()
    finally:
        core.estimate = real
    assert isinstance(seen["model"], graph.Factor) and seen["model"].codes.shape == (36,)
    assert isinstance(seen["batch"], np.ndarray) and seen["batch"].shape == (36,)


def test_browser_edit_message_takes_the_same_path(grid):
    """The frontend sends a custom 'cell-changed' message; ipydatagrid stores the value
    and calls the grid's handler, which recomputes."""
    handle = grid.datagrid._DataGrid__handle_custom_msg
    column = grid.datagrid._column_name_to_index("tp")
    handle(None, {"event_type": "cell-changed", "row": 1, "column_index": column,
                  "value": 2}, [])
    assert grid.data.loc[2, "tp"] == 2
    assert grid.error == ""
    assert_rows_equal_excel(grid)
    # a text cell typed in the browser arrives as a string
    column = grid.datagrid._column_name_to_index("model")
    handle(None, {"event_type": "cell-changed", "row": 1, "column_index": column,
                  "value": "qwen2.5-7b"}, [])
    assert grid.data.loc[2, "model"] == "qwen2.5-7b"
    assert_rows_equal_excel(grid)


@pytest.mark.parametrize("column,value,message", [
    ("tp", 3, "scenario 1, tp: tp must be a divisor of num_heads=64, got 3"),
    ("model", "llama-2-71b", "scenario 1, model: unknown model 'llama-2-71b'; did you mean"),
    ("batch", 0, "scenario 1, batch: batch must be a positive integer, got 0"),
    ("dtype", "bf15", "scenario 1, dtype: unknown dtype 'bf15'"),
])
def test_a_refused_value_goes_back_with_the_core_message(grid, column, value, message):
    before = grid.data
    with pytest.raises(xlcalc.XlcalcError, match=message.replace("(", r"\(")):
        grid.edit(1, column, value)
    assert message in grid.error
    assert html.escape(message) in grid.status.value
    pd.testing.assert_frame_equal(grid.data, before)
    shown = grid.datagrid.data          # the widget shows the old value again
    assert shown.iloc[0][column] == before.iloc[0][column]
    grid.edit(1, "batch", 16)           # and the grid keeps working
    assert grid.error == "" and grid.data.loc[1, "batch"] == 16


def test_texts_and_computed_columns(grid):
    with pytest.raises(xlcalc.XlcalcError, match="batch must be a positive integer, got 'eight'"):
        grid.edit(1, "batch", "eight")
    grid.edit(1, "batch", "32")                 # a number typed as text is a number
    assert grid.data.loc[1, "batch"] == 32
    with pytest.raises(xlcalc.XlcalcError, match="total_gb is computed"):
        grid.edit(1, "total_gb", 1.0)
    with pytest.raises(xlcalc.XlcalcError, match="row must be a scenario number from 1 to 4"):
        grid.edit(9, "batch", 1)


def test_add_duplicate_delete_rows(grid):
    n = grid.add_row(model="qwen2.5-7b", tp=1)
    assert n == 5
    row = grid.data.loc[5]
    assert row["model"] == "qwen2.5-7b" and row["gpu"] == "h200"    # others from the last row
    assert grid.duplicate_row(1) == 6
    pd.testing.assert_series_equal(grid.data.loc[6], grid.data.loc[1], check_names=False)
    grid.delete_row(2)
    assert len(grid.data) == 5
    assert list(grid.data["model"]) == ["llama-2-70b", "llama-2-70b", "mixtral-8x7b",
                                        "qwen2.5-7b", "llama-2-70b"]
    assert_rows_equal_excel(grid)
    assert len(grid.datagrid.data) == 5        # the widget shows the rows
    # the toolbar acts on the selected rows
    grid.datagrid.select(1, 0)
    assert grid.selected_rows() == [2]
    grid.duplicate_button.click()
    assert len(grid.data) == 6 and grid.data.loc[6, "gpu"] == "a100-80gb"
    grid.datagrid.clear_selection()
    grid.datagrid.select(3, 0, 4, 2)
    grid.delete_button.click()
    assert len(grid.data) == 4
    grid.datagrid.clear_selection()
    grid.delete_button.click()                 # nothing selected: a message, no change
    assert "select a row" in grid.status.value and len(grid.data) == 4
    with pytest.raises(xlcalc.XlcalcError, match="model must be a preset name|unknown model"):
        grid.add_row(model="no-such-model")
    assert len(grid.data) == 4
    for _ in range(3):
        grid.delete_row(1)
    with pytest.raises(xlcalc.XlcalcError, match="at least one scenario"):
        grid.delete_row(1)


def test_plans_that_do_not_fit_are_red(grid):
    data = grid.data
    # scenario 3: llama-2-70b on two A100-80GB: 69 GB of weights per GPU alone
    assert not data.loc[3, "fits"] and data.loc[3, "headroom_gb"] < 0
    assert bool(data.loc[1, "fits"]) and data.loc[1, "headroom_gb"] > 0
    assert 'data-name="grid_not_fitting" data-value="1"' in grid.status.value
    assert "scenario 3" in grid.status.value
    # every cell's background reads the row's fits flag (the workbook's red)
    for column, renderer in grid.datagrid.renderers.items():
        expr = renderer.background_color.value
        assert "cell.metadata.data['fits']" in expr and "#FFC7CE" in expr, column
    assert "#FFF2CC" in grid.datagrid.renderers["batch"].background_color.value
    # an edit that makes a plan too big turns its row red
    grid.edit(1, "batch", 2048)
    assert not grid.data.loc[1, "fits"]
    assert 'data-value="2"' in grid.status.value
    assert not grid.datagrid.data.iloc[0]["fits"]


def test_training_template():
    grid = ScenarioGrid(template="llama-7b-training")
    data = grid.data
    assert list(data.columns[-7:]) == ["total_gb", "headroom_gb", "fits", "train_days",
                                       "gpu_hours", "train_cost", "problem"]
    for number, row in data.iterrows():
        ctx = dict(grid.inputs, **{c: row[c] for c in grid.columns})
        ctx = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in ctx.items()}
        one = core.estimate(["train_total_bytes", "train_fits", "train_wall_s"], **ctx)
        assert row["total_gb"] == pytest.approx(one["train_total_bytes"] / 1e9, rel=1e-12)
        assert bool(row["fits"]) is bool(one["train_fits"])
        assert row["train_days"] == pytest.approx(one["train_wall_s"] / 86400, rel=1e-12)
    grid.edit(1, "recompute", "none")
    assert grid.data.loc[1, "total_gb"] > data.loc[1, "total_gb"]


def test_bad_construction():
    with pytest.raises(xlcalc.XlcalcError, match="column must be a glossary input"):
        ScenarioGrid(pd.DataFrame({"modle": ["llama-2-7b"]}))
    with pytest.raises(xlcalc.XlcalcError, match="scenario 2: tp must be a divisor"):
        ScenarioGrid([dict(model="llama-2-70b", tp=8), dict(model="llama-2-70b", tp=3)])
    with pytest.raises(xlcalc.XlcalcError, match="outputs must be"):
        ScenarioGrid(outputs=["total_gb", "nonsense"])
    with pytest.raises(xlcalc.XlcalcError, match="an input of template"):
        ScenarioGrid(inputs={"no_such_input": 1})
    # outputs without the fits flag still colour by it (added as a column)
    grid = ScenarioGrid(outputs=["total_gb", "ttft_ms"])
    assert list(grid.results.columns) == ["total_gb", "ttft_ms", "fits", "problem"]


# ------------------------------------------------------------------ workbook export

def test_export_writes_a_live_scenarios_sheet(grid, tmp_path, monkeypatch):
    grid.edit(2, "batch", 128)
    grid.add_row(model="llama-3.1-8b", gpu="l40s", tp=1, dtype="bf16", kv_dtype="bf16")
    path = grid.to_workbook(tmp_path / "grid.xlsx")
    formulas = openpyxl.load_workbook(path)["Scenarios"]
    values = openpyxl.load_workbook(path, data_only=True)["Scenarios"]
    header = [c.value for c in formulas[3]]
    assert header[:9] == ["scenario"] + grid.columns
    data = grid.data
    assert formulas.max_row == 3 + len(data)               # one row per scenario
    for i, (number, row) in enumerate(data.iterrows()):
        r = 4 + i
        assert formulas.cell(row=r, column=1).value == number
        for j, c in enumerate(grid.columns):
            assert formulas.cell(row=r, column=2 + j).value == row[c]
        for k, o in enumerate(grid.outputs):
            cell = formulas.cell(row=r, column=2 + len(grid.columns) + k)
            assert str(cell.value).startswith("="), (r, o.name)          # a live formula
            cached = values.cell(row=r, column=2 + len(grid.columns) + k).value
            if isinstance(row[o.name], (bool, np.bool_)):
                assert cached == bool(row[o.name])
            else:
                assert cached == pytest.approx(row[o.name], rel=1e-9), (r, o.name)
    # the export button writes the same file
    monkeypatch.chdir(tmp_path)              # a local notebook writes in its working folder
    grid.workbook_path.value = "button.xlsx"
    grid.workbook_button.click()
    assert (tmp_path / "button.xlsx").exists()
    assert 'data-name="grid_workbook"' in grid.workbook_status.value


def test_libreoffice_recalculates_the_exported_grid(grid, tmp_path, soffice):
    """Edit the same input in the exported file and in the grid: LibreOffice's
    recalculation of the Scenarios sheet equals the grid, row by row."""
    from xlcalc.workbooks.libreoffice import recalculate
    src = tmp_path / "src"
    src.mkdir()
    path = grid.to_workbook(src / "scenarios.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["Scenarios"]
    col = {c.value: c.column for c in ws[3]}
    ws.cell(row=4 + 2, column=col["batch"]).value = 4        # scenario 3: batch 32 -> 4
    ws.cell(row=4 + 0, column=col["tp"]).value = 4           # scenario 1: tp 8 -> 4
    wb.save(src / "edited.xlsx")
    grid.edit(3, "batch", 4)
    grid.edit(1, "tp", 4)
    [out] = recalculate([src / "edited.xlsx"], tmp_path / "out")
    got = openpyxl.load_workbook(out, data_only=True)["Scenarios"]
    for i, (number, row) in enumerate(grid.data.iterrows()):
        for k, o in enumerate(grid.outputs):
            value = got.cell(row=4 + i, column=2 + len(grid.columns) + k).value
            if isinstance(row[o.name], (bool, np.bool_)):
                assert value == bool(row[o.name]), (number, o.name)
            else:
                assert value == pytest.approx(row[o.name], rel=1e-9), (number, o.name)
    assert not math.isnan(grid.data.loc[3, "total_gb"])


def test_rows_compute_or_show_their_problem(tmp_path):
    """A row the core cannot price as a whole (bf16 compute on a V100, fp8 compute on an
    A100: no peak for it) shows the core's message, never a silent row of NaN; exporting
    names it; a value beyond the glossary's bound is refused with the message."""
    plan = dict(model="llama-2-7b", batch=8, prompt_len=512, output_len=256, tp=1,
                dtype="bf16", kv_dtype="bf16")
    grid = ScenarioGrid([dict(plan, gpu="h100-sxm", compute_dtype="bf16"),
                         dict(plan, gpu="v100-32gb", compute_dtype="bf16"),
                         dict(plan, gpu="a100-80gb", compute_dtype="fp8")])
    data = grid.data
    for number in (2, 3):
        row = data.loc[number]
        assert row["problem"].startswith("compute_dtype must be a compute dtype"), \
            row["problem"]
        assert np.isnan(row["ttft_ms"])
    assert "v100-32gb" in data.loc[2, "problem"] and "a100-80gb" in data.loc[3, "problem"]
    assert data.loc[1, "problem"] == "" and np.isfinite(data.loc[1, "ttft_ms"])
    assert "2 cannot be computed" in grid.status.value
    with pytest.raises(xlcalc.XlcalcError, match="scenario 2 cannot be computed: compute"):
        grid.to_workbook(tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
    with pytest.raises(xlcalc.XlcalcError, match="batch must be at most 10,000,000, got 1e"):
        grid.edit(1, "batch", 1e300)
    grid.edit(2, "compute_dtype", "fp16")
    grid.edit(3, "compute_dtype", "bf16")
    assert (grid.data["problem"] == "").all()
