"""Tutorial jargon stays in the worked examples: a planner's tables, dropdowns, titles and
command-line output use planner words (the tutorials' own rules stay valid when typed)."""

import re

import openpyxl

import xlcalc
from xlcalc import graph
from xlcalc.workbooks.templates import TEMPLATE_DIR, TEMPLATES, template

graph.load_all()


def _labels(obj):
    return [str(k) for k in obj.index]


def test_planner_tables_have_no_tutorial_rows():
    lat = xlcalc.inference_latency("llama-2-70b", "h100-sxm", 8, 512, 256, tp=8)
    cap = xlcalc.serving_capacity("llama-2-13b", "a100-80gb", 2048, tp=2, n_gpus=8,
                                  concurrent_users=1000)
    for label in _labels(lat) + _labels(cap):
        assert "seed" not in label, label


def test_dropdowns_offer_planner_choices_only():
    # the tutorials' own rules are still accepted when typed (the worked examples use them)
    assert "seed-001" in graph.table("precisions").frame().index
    assert "seed-001" not in graph.table("precisions").offered()
    assert not [k for k in graph.table("activation_rules").offered() if k.startswith("seed")]
    # the tutorials' engine rule: the worked examples use it, no dropdown offers it
    assert "seed" in graph.table("engines").frame().index
    assert graph.table("engines").offered() == ["sglang", "trt-llm", "vllm"]
    wb = openpyxl.load_workbook(TEMPLATE_DIR / "llama-7b-training.xlsx")
    lists = [dv.formula1 for dv in wb["Inputs"].data_validations.dataValidation
             if dv.type == "list"]
    assert lists
    for formula in lists:
        sheet, rng = formula.lstrip("=").split("!")
        first, last = (int(re.sub(r"\D", "", part)) for part in rng.split(":"))
        keys = [wb[sheet.strip("'")].cell(row=r, column=1).value for r in range(first, last + 1)]
        assert keys and not [k for k in keys if str(k).startswith("seed")], (formula, keys)


def test_widget_dropdowns_offer_planner_choices_only():
    import pytest
    pytest.importorskip("ipywidgets")
    from xlcalc.widgets import controls
    for name in ("precision", "activation_rule", "optimizer", "recompute", "dtype", "engine"):
        assert not [c for c in controls.choices(name) if c.startswith("seed")], name


def test_titles_and_help_use_planner_words(capsys):
    from xlcalc.cli import main
    for name in TEMPLATES:
        spec = template(name)
        for text in (spec.title_for(), spec.description):
            assert "§" not in text and "seed" not in text.lower(), (name, text)
    for command in ("train-mem", "capacity", "infer"):
        try:
            main([command, "--help"])
        except SystemExit:
            pass
        assert "seed" not in capsys.readouterr().out
