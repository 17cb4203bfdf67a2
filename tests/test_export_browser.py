"""End to end: exporting from a dashboard served by Voilà, in chromium.  The person at the
browser gets the workbook as a browser download of its bytes; the server writes nothing,
and there is no file-name box where a server path could be typed."""

from __future__ import annotations

import nbformat
import openpyxl

from browser import browser, chromium, open_notebook, page, tab, voila  # noqa: F401


def _notebook(folder):
    cells = ["from xlcalc.widgets import InferenceForm\n\nform = InferenceForm()\nform",
             "from xlcalc.widgets import ScenarioGrid\n\ngrid = ScenarioGrid()\ngrid"]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(nb, folder / "export.ipynb")


def _download(page, button: str, link: str, into):
    page.locator("button", has_text=button).filter(visible=True).first.click()
    anchor = page.locator(f"a[data-name={link}]").first
    anchor.wait_for(state="visible", timeout=60_000)
    with page.expect_download() as info:
        anchor.click()
    download = info.value
    path = into / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, path


def test_served_export_is_a_browser_download(page, voila, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    _notebook(served)
    open_notebook(page, voila("export.ipynb", root=served), "[data-name=ttft_ms]")
    tab(page, "Export")
    # no box for a file name or a path: only the download button
    assert page.locator("label.widget-label", has_text="file").filter(visible=True).count() == 0
    got = tmp_path / "downloads"
    got.mkdir()
    name, path = _download(page, "Download planning workbook", "workbook_download", got)
    assert name == "llama-70b-inference-plan.xlsx"
    wb = openpyxl.load_workbook(path, data_only=True)
    (sheet, cell), = wb.defined_names["model"].destinations
    assert wb[sheet][cell.replace("$", "")].value == "llama-2-70b"
    name, path = _download(page, "Download workbook", "grid_download", got)
    assert name.endswith("-scenarios.xlsx")
    assert "Scenarios" in openpyxl.load_workbook(path).sheetnames
    # the server's folder holds the notebook only: nothing was written there
    assert sorted(p.name for p in served.iterdir() if not p.name.startswith(".")) == \
        ["export.ipynb"]
