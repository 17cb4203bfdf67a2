"""The workbook generator's machinery on a small spec: names, cached values, validation,
protection, text safety, and LibreOffice agreeing with the cached values."""

import zipfile

import openpyxl
import pytest

import xlcalc
from xlcalc.workbooks.generator import build, write
from xlcalc.workbooks.spec import Output, Section, WorkbookSpec

SPEC = WorkbookSpec(
    name="kv-demo", title="KV-cache planner", description="Parameters and KV cache per GPU.",
    inputs={"model": "llama-2-70b", "gpu": "h100-sxm", "batch": 8, "seq_len": 4096,
            "kv_dtype": "bf16", "tp": 8, "block_size": 1},
    sections=(Section("Model", (Output("params", "params_total", "Parameters", "parameters"),)),
              Section("Memory per GPU", (
                  Output("kv_cache_gb", "kv_cache_bytes", "KV cache", "GB"),
                  Output("kv_per_token_kib", "kv_cache_bytes_per_token", "KV per token", "KiB"),
              ))),
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("wb") / "kv-demo.xlsx"
    write(SPEC, path)
    return path


def test_inputs_and_outputs_are_defined_names(built):
    wb = openpyxl.load_workbook(built)
    names = set(wb.defined_names.keys())
    assert {"model", "gpu", "batch", "seq_len", "kv_dtype", "tp", "block_size"} <= names
    assert {"params", "kv_cache_gb", "kv_per_token_kib", "input_status"} <= names
    assert {"kv_cache_bytes", "num_layers", "kv_heads_per_gpu"} <= names   # Calculations
    sheet, ref = list(wb.defined_names["batch"].destinations)[0]
    assert sheet == "Inputs" and wb[sheet][ref.replace("$", "")].value == 8


def test_numbers_visible_without_recalculation(built):
    values = openpyxl.load_workbook(built, data_only=True)
    formulas = openpyxl.load_workbook(built)
    expected_kv = 8 * 4096 * 80 * 2 * 1 * 128 * 2       # llama-2-70b, tp=8: 1 KV head
    for name, value in [("kv_cache_gb", expected_kv / 1e9), ("params", 68_976_648_192),
                        ("kv_per_token_kib", 80 * 2 * 128 * 2 / 1024)]:
        sheet, ref = list(formulas.defined_names[name].destinations)[0]
        assert str(formulas[sheet][ref.replace("$", "")].value).startswith("=")
        assert values[sheet][ref.replace("$", "")].value == pytest.approx(value, rel=1e-12)
    import pandas as pd
    frame = pd.read_excel(built, sheet_name="Calculations", header=2)
    row = frame[frame["Name"] == "kv_cache_bytes"].iloc[0]
    assert row["Value"] == expected_kv


def test_every_formula_cell_carries_a_cached_value(built):
    formulas = openpyxl.load_workbook(built)
    values = openpyxl.load_workbook(built, data_only=True)
    for ws in formulas:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    v = values[ws.title][c.coordinate].value
                    if (ws.title == "Results" and c.coordinate == "E5") or \
                            (ws.title == "Inputs" and c.column == 5):
                        continue     # input checks are empty text when all is valid
                    assert v is not None, (ws.title, c.coordinate, c.value)


def test_no_formula_text_is_hand_written_and_lookups_use_the_tables(built):
    wb = openpyxl.load_workbook(built)
    calc = {r[0].value: r[1].value for r in wb["Calculations"].iter_rows(min_row=4)}
    assert calc["num_layers"].startswith("=INDEX(Models!")
    assert "MATCH(model,Models!" in calc["num_layers"]
    from xlcalc import graph
    assert calc["kv_cache_bytes"] == "=" + graph.render("kv_cache_bytes").excel()


def test_validation_protection_and_unlocked_inputs(built):
    wb = openpyxl.load_workbook(built)
    ws = wb["Inputs"]
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    cells = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2) for r in range(5, 12)}
    assert rules[cells["model"].coordinate].type == "list"
    assert rules[cells["model"].coordinate].formula1 == "=Models!$A$2:$A$34" or \
        rules[cells["model"].coordinate].formula1.startswith("=Models!$A$2:$A$")
    batch_rule = rules[cells["batch"].coordinate]
    assert batch_rule.type == "custom" and "INT(" in batch_rule.formula1
    assert batch_rule.prompt and batch_rule.error
    for ws_ in wb:
        assert ws_.protection.sheet
    assert cells["batch"].protection.locked is False
    assert wb["Calculations"]["B4"].protection.locked is not False


def test_text_inputs_stay_text(tmp_path):
    evil = dict(xlcalc.load_model("llama-2-7b").config, _name_or_path='=HYPERLINK("http://x")')
    path = tmp_path / "evil.xlsx"
    write(SPEC, path, inputs={"model": evil})
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>HYPERLINK" not in sheet and "HYPERLINK" in sheet
    wb = openpyxl.load_workbook(path)
    cell = [r[1] for r in wb["Inputs"].iter_rows(min_row=5) if r[0].value == "model"][0]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_generator_refuses_bad_input():
    with pytest.raises(xlcalc.XlcalcError, match="batch must be a positive integer, got 0"):
        build(SPEC, inputs={"batch": 0})
    with pytest.raises(xlcalc.XlcalcError, match="unknown model 'llama-2-71b'"):
        build(SPEC, inputs={"model": "llama-2-71b"})
    with pytest.raises(xlcalc.XlcalcError, match="not_an_input"):
        build(SPEC, inputs={"not_an_input": 1})


def _named(wb_values, wb_formulas, name):
    sheet, ref = list(wb_formulas.defined_names[name].destinations)[0]
    return wb_values[sheet][ref.replace("$", "")].value


def test_libreoffice_recalculation_matches_and_reacts(built, tmp_path, soffice):
    from xlcalc.workbooks.libreoffice import recalculate
    # change inputs in the file (no cached values then) and let LibreOffice recalculate
    wb = openpyxl.load_workbook(built)
    ws = wb["Inputs"]
    rows = {ws.cell(row=r, column=1).value: r for r in range(5, 12)}
    ws.cell(row=rows["model"], column=2).value = "mixtral-8x7b"
    ws.cell(row=rows["batch"], column=2).value = 3
    ws.cell(row=rows["tp"], column=2).value = 2
    src = tmp_path / "src"
    src.mkdir()
    wb.save(src / "changed.xlsx")
    bad = openpyxl.load_workbook(built)
    bad["Inputs"].cell(row=rows["batch"], column=2).value = -1
    bad.save(src / "bad.xlsx")
    changed, bad_out = recalculate([src / "changed.xlsx", src / "bad.xlsx"], tmp_path / "out")
    v = openpyxl.load_workbook(changed, data_only=True)
    f = openpyxl.load_workbook(changed)
    expected = xlcalc.kv_cache_bytes("mixtral-8x7b", 3, 4096, "bf16", 2)
    assert _named(v, f, "kv_cache_gb") == pytest.approx(expected / 1e9, rel=1e-9)
    assert _named(v, f, "params") == xlcalc.params("mixtral-8x7b")["total"]
    for ws_ in v:
        for row in ws_.iter_rows():
            for c in row:
                assert not (isinstance(c.value, str) and c.value.startswith("#")), \
                    (ws_.title, c.coordinate, c.value)
    vb = openpyxl.load_workbook(bad_out, data_only=True)
    fb = openpyxl.load_workbook(bad_out)
    assert "batch must be a positive integer" in _named(vb, fb, "input_status")
    assert _named(v, f, "input_status") == "all inputs valid"
    assert _named(vb, fb, "kv_cache_gb") == "check inputs"


def test_scenarios_sheet_rows_are_live(tmp_path, soffice):
    import dataclasses

    import pandas as pd

    from xlcalc.workbooks.libreoffice import recalculate
    from xlcalc.workbooks.templates import template
    from xlcalc import serving
    frame = pd.DataFrame({"model": ["llama-2-70b", "llama-3-8b"], "batch": [8, 64],
                          "tp": [8, 1]})
    spec = dataclasses.replace(
        template("llama-70b-inference"), name="scenarios", worked_examples=(),
        scenarios=frame, scenario_outputs=(
            Output("total_gb", "infer_total_bytes", "Memory per GPU", "GB"),
            Output("fits", "infer_fits", "Fits"),
            Output("e2e_s", "e2e_s", "End-to-end", "s")))
    src = tmp_path / "src"
    src.mkdir()
    write(spec, src / "scenarios.xlsx")
    wb = openpyxl.load_workbook(src / "scenarios.xlsx")
    ws = wb["Scenarios"]
    assert [c.value for c in ws[3]][:4] == ["scenario", "model", "batch", "tp"]
    ws["C5"].value = 128                       # scenario 2: batch 64 -> 128
    wb.save(src / "edited.xlsx")
    [out] = recalculate([src / "edited.xlsx"], tmp_path / "out")
    got = openpyxl.load_workbook(out, data_only=True)["Scenarios"]
    ctx = spec.inputs
    for row, (model, batch, tp) in ((4, ("llama-2-70b", 8, 8)), (5, ("llama-3-8b", 128, 1))):
        seq = ctx["prompt_len"] + ctx["output_len"]
        # the template's engine (the worked example's: the tutorials' rules) and efficiencies
        engine = {k: ctx[k] for k in ("engine", "block_size", "gpu_memory_utilization",
                                      "infer_reserve_bytes", "max_num_batched_tokens")}
        mem = serving.inference_memory(model, batch, seq, tp=tp, gpu=ctx["gpu"], **engine)
        lat = serving.inference_latency(model, ctx["gpu"], batch, ctx["prompt_len"],
                                        ctx["output_len"], tp=tp, mfu=ctx["mfu"],
                                        bw_eff=ctx["bw_eff"], link_eff=ctx["link_eff"],
                                        link_latency_us=ctx["link_latency_us"],
                                        engine=ctx["engine"])
        assert got.cell(row=row, column=5).value == pytest.approx(mem["total"] / 1e9, rel=1e-9)
        assert got.cell(row=row, column=6).value == bool(mem["fits"])
        assert got.cell(row=row, column=7).value == pytest.approx(lat["e2e_s"], rel=1e-9)
