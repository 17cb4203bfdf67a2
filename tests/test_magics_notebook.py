"""examples/spreadsheet.ipynb under nbclient + ipykernel: %xl, %%xlsheet and the scenario
grid in a real kernel; the formula typed in %xl and the same quantity in the workbook the
notebook writes agree once LibreOffice has recalculated that workbook."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
udfs = pytest.importorskip("xlcalc.udfs")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(ROOT / "examples" / "spreadsheet.ipynb", as_version=4)
    cwd = tmp_path_factory.mktemp("spreadsheet-nb")       # the notebook writes nothing here
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _cell(nb, starts: str):
    return next(c for c in _code_cells(nb) if c.source.startswith(starts))


def _plain(cell) -> str:
    return "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "")
                   for o in cell.outputs)


def test_notebook_runs_top_to_bottom(executed):
    errors = [o for c in _code_cells(executed) for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0] if errors else ""


def test_xl_cells_show_the_excel_functions_values(executed):
    assert _plain(_cell(executed, '%xl =KV_CACHE("llama-2-70b", 8, 4096)')) == \
        repr(udfs.KV_CACHE("llama-2-70b", 8.0, 4096.0))
    assert _plain(_cell(executed, "%xl =ROUNDUP(")) == "2.0"
    table = _cell(executed, "%xl =LATENCY_TABLE(")
    assert "text/html" in table.outputs[0]["data"]            # a DataFrame
    first = udfs.LATENCY_TABLE("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0, None, None, 8.0)[1]
    assert first[0] in _plain(table)
    assert _plain(_cell(executed, '%xl =KV_CACHE("llama-2-70b", 8, 4096, "bf16", 3)')) == \
        repr("#VALUE! tp must be a divisor of num_heads=64, got 3")


def test_sheet_cell_and_its_names(executed):
    sheet = _cell(executed, "%%xlsheet")
    html = sheet.outputs[0]["data"]["text/html"]
    assert "<b>memory_gb</b>" in html and "INFER_MEM(model, batch" in html
    total = udfs.INFER_MEM("llama-2-70b", 8.0, 768.0, "bf16", "bf16", 8.0)
    printed = _plain(_cell(executed, "print(f\"{memory_gb"))
    assert printed.strip() == f"{total:.2f} GB per GPU, {total * 8:.1f} GB on all 8 GPUs"


def test_grid_cells(executed):
    grid = _cell(executed, "from xlcalc.widgets import ScenarioGrid")
    assert "application/vnd.jupyter.widget-view+json" in grid.outputs[0]["data"]
    data = _plain(_cell(executed, 'grid.edit(3, "tp", 4)'))
    assert "a100-80gb" in data and "True" in data


def test_xl_formula_equals_the_workbook_after_libreoffice(executed, tmp_path, soffice):
    from xlcalc.workbooks.libreoffice import recalculate
    report = json.loads(_plain(_cell(executed, "import json")))
    expected = {"memory": udfs.INFER_MEM("llama-2-70b", 8.0, 768.0, "bf16", "bf16", 8.0),
                "throughput": udfs.TOKENS_PER_S("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0, None, None,
                                                8.0)}
    assert report["xl"] == expected                 # %xl gave the Excel functions' numbers
    [out] = recalculate([report["workbook"]], tmp_path / "lo")
    # the recalculated copy has no cached value from Python: every formula is LibreOffice's
    got = openpyxl.load_workbook(out, data_only=True)
    formulas = openpyxl.load_workbook(report["workbook"])
    for key, ref in report["cells"].items():
        sheet, cell = ref.split("!")
        assert str(formulas[sheet][cell].value).startswith("=")
        assert got[sheet][cell].value == pytest.approx(report["xl"][key], rel=1e-9), key
