"""The templates with hostile inputs, recalculated by LibreOffice: while the input check
fails, every verdict, chart bar and headline figure on Results shows "check inputs" (the
Input check line shows the message), never a green "fits" nor an Excel error; a value
beyond a planner's bound (batch = 1e300) fails the check instead of overflowing.  The
serving-sizing workbook's candidate grid and Pareto frontier (its chart's data) follow the
same rule."""

from __future__ import annotations

import shutil

import openpyxl
import pytest
from workbook_cells import input_cells

from xlcalc.workbooks.sizing import MEETS, MISSES
from xlcalc.workbooks.spec import title_parts
from xlcalc.workbooks.templates import TEMPLATE_DIR, TEMPLATES, template

#: (defined input name, hostile value); each is written alone into every template that has it
HOSTILE = [("batch", 0), ("batch", -8), ("batch", 8.5), ("batch", "8"), ("batch", 1e300),
           ("mfu", 50), ("tp", 3), ("prompt_len", 1e300), ("seq_len", 0),
           ("training_batch", 0), ("training_tp", 3), ("training_mfu", 50),
           ("request_rate", -4), ("request_rate", 1e300), ("ttft_ms_max", 0),
           ("tpot_ms_max", "33"), ("concurrency", 0)]
#: valid changes a title must follow (it is a live formula over the inputs it names)
RETITLE = [("model", "llama-3-70b"), ("gpu", "h200"), ("request_rate", 37.5)]
#: the verdict lines of a valid template
VERDICTS = ("fits", "does NOT fit", MEETS, MISSES)
#: sheets besides Results whose every formula cell follows the input check
GUARDED = ("Scenarios", "Pareto")


def _titled(name):
    """The inputs template ``name``'s title names (each sheet's A1 follows them)."""
    return {n for _, n in title_parts(template(name).title) if n is not None}




@pytest.fixture(scope="module")
def hostile(tmp_path_factory, soffice):
    from xlcalc.workbooks.libreoffice import recalculate
    src = tmp_path_factory.mktemp("hostile")
    cases = []
    for name in TEMPLATES:
        wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{name}.xlsx")
        cells = input_cells(wb)
        for k, (key, value) in enumerate(HOSTILE + RETITLE):
            if key not in cells or ((key, value) in RETITLE and key not in _titled(name)):
                continue
            wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{name}.xlsx")
            cell = wb["Inputs"][cells[key][1]]
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"           # the text "8", as pasted
            path = src / f"{name}-{k}.xlsx"
            wb.save(path)
            cases.append((name, key, value, path))
        shutil.copy(TEMPLATE_DIR / f"{name}.xlsx", src / f"{name}-valid.xlsx")
        cases.append((name, None, None, src / f"{name}-valid.xlsx"))
    outs = recalculate([c[3] for c in cases], tmp_path_factory.mktemp("hostile-lo"))
    return [(*c[:3], out) for c, out in zip(cases, outs)]


def test_titles_follow_the_inputs(hostile):
    assert all("model" in _titled(name) for name in TEMPLATES)
    checked = 0
    for name, key, value, out in hostile:
        if (key, value) not in RETITLE or key not in _titled(name):
            continue
        wb = openpyxl.load_workbook(out, data_only=True)
        for sheet in ("Inputs", "Results", "About"):
            title = wb[sheet]["A1"].value
            assert str(value) in title, (name, sheet, title)
        assert "§" not in wb["Results"]["A2"].value and "seed" not in title.lower()
        checked += 1
    assert checked == sum(len(_titled(n) & {k for k, _ in RETITLE}) for n in TEMPLATES)


def _results(name, sheet="Results"):
    """Coordinates of the formula cells of a sheet (the template as written)."""
    wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{name}.xlsx")
    if sheet not in wb.sheetnames:
        return []
    return [c.coordinate for row in wb[sheet].iter_rows() for c in row
            if isinstance(c.value, str) and c.value.startswith("=")]


def test_hostile_inputs_never_show_a_verdict_or_a_figure(hostile):
    assert len(hostile) >= 3 * 7
    for name, key, value, out in hostile:
        if (key, value) in RETITLE:
            continue
        ws = openpyxl.load_workbook(out, data_only=True)["Results"]
        status = ws["B5"].value
        for coord in _results(name):
            if coord == "A1":
                continue                    # the title: it shows the inputs as typed
            got = ws[coord].value
            assert not (isinstance(got, str) and got.startswith("#")), (name, key, coord, got)
            if key is None or coord in ("B5", "E5"):
                continue
            assert got == "check inputs", (name, key, value, coord, got)
        if key is None:
            assert status == "all inputs valid", (name, status)
            verdicts = [ws[c].value for c in _results(name) if ws[c].value in VERDICTS]
            assert verdicts, name
        else:
            assert key.split("_")[-1] in status and status != "all inputs valid", \
                (name, key, status)


def test_hostile_inputs_leave_no_figure_in_the_candidate_grid(hostile):
    """serving-sizing: each candidate row reads the Inputs (model, load, targets,
    efficiencies), so its figures, the Pareto flags and the frontier the chart draws show
    "check inputs" too."""
    checked = 0
    for name, key, value, out in hostile:
        if (key, value) in RETITLE:
            continue
        wb = openpyxl.load_workbook(out, data_only=True)
        for sheet in GUARDED:
            for coord in _results(name, sheet):
                got = wb[sheet][coord].value
                assert not (isinstance(got, str) and got.startswith("#")), \
                    (name, key, sheet, coord, got)
                if key is not None:
                    assert got == "check inputs", (name, key, value, sheet, coord, got)
                checked += 1
    assert checked, "no template has a candidate grid any more"


def test_upper_bound_is_in_the_message(hostile):
    for name, key, value, out in hostile:
        if value == 1e300:
            status = openpyxl.load_workbook(out, data_only=True)["Results"]["B5"].value
            # "a positive integer up to 10,000,000" / "a number >= 0 and <= 10,000,000"
            assert any(f"{word} {bound}" in status for word in ("up to", "<=")
                       for bound in ("10,000,000", "100,000,000")), status


def test_pdfs_embed_a_font_for_the_tutorials_chinese(tmp_path, soffice):
    """The worked examples quote the tutorials' sections (§七): the PDF must carry a font
    that has those glyphs, or they print as boxes (.ci/run installs fonts-wqy-microhei)."""
    import subprocess

    from conftest import require_tool
    from xlcalc.workbooks.libreoffice import to_pdf
    pdffonts = require_tool("pdffonts", why="lists the fonts a PDF embeds")
    pdftotext = require_tool("pdftotext", why="reads a PDF's text")
    pdfs = to_pdf([TEMPLATE_DIR / f"{n}.xlsx" for n in TEMPLATES], tmp_path)
    checked = 0
    for pdf in pdfs:
        text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True,
                              text=True).stdout
        if "七" not in text:
            continue
        fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True).stdout
        assert any(name in fonts for name in ("WenQuanYi", "WQY", "NotoSansCJK", "NotoSerifCJK",
                                              "DroidSansFallback", "SourceHan")), \
            (pdf.name, fonts)
        checked += 1
    assert checked, "no template quotes a tutorial section in Chinese any more"
