"""serving-sizing.xlsx recalculated by LibreOffice for its own load and 20 random loads
typed into its input cells: every candidate row and the answer equal plan_serving() over
the same candidates (Python ↔ Excel parity), with classic functions only.

(Cell-by-cell parity of every formula for the template's own inputs, and the template
being up to date, are in test_templates.py.)"""

from __future__ import annotations

import math
import shutil

import numpy as np
import openpyxl
import pytest
from workbook_cells import input_cells

import xlcalc
from xlcalc.workbooks.sizing import SIZING_AXES
from xlcalc.workbooks.templates import TEMPLATE_DIR, template

NAME = "serving-sizing"
LOADS = ("request_rate", "prompt_len", "output_len", "ttft_ms_max", "tpot_ms_max")
#: functions LibreOffice 7.4 lacks; the answer must not need them
MODERN = ("XLOOKUP", "FILTER", "LET", "SEQUENCE", "SORT", "UNIQUE", "XMATCH", "LAMBDA")


def _random_load(rng):
    return {"request_rate": float(rng.choice([1, 5, 20, 60, 150])),
            "prompt_len": int(rng.choice([128, 512, 2048, 8192])),
            "output_len": int(rng.choice([64, 256, 1000])),
            "ttft_ms_max": float(rng.choice([150, 500, 1000, 5000])),
            "tpot_ms_max": float(rng.choice([8, 20, 33, 80]))}




@pytest.fixture(scope="module")
def recalculated(tmp_path_factory, soffice):
    from xlcalc.workbooks.libreoffice import recalculate
    src = tmp_path_factory.mktemp("sizing")
    rng = np.random.default_rng(14)
    own = {k: template(NAME).inputs[k] for k in LOADS}
    loads = [own] + [_random_load(rng) for _ in range(20)]
    paths = []
    for k, load in enumerate(loads):
        wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{NAME}.xlsx")
        cells = input_cells(wb)
        for key, value in load.items():
            sheet, coord = cells[key]
            wb[sheet][coord].value = value
        path = src / f"load-{k}.xlsx"
        wb.save(path)
        paths.append(path)
    outs = recalculate(paths, tmp_path_factory.mktemp("lo"))
    return list(zip(loads, outs))


def _plan(load):
    a = SIZING_AXES
    return xlcalc.plan_serving(
        "llama-3.1-70b", load["prompt_len"], load["output_len"],
        request_rate=load["request_rate"], ttft_ms_max=load["ttft_ms_max"],
        tpot_ms_max=load["tpot_ms_max"], gpus=list(a["gpus"]), dtypes=list(a["dtypes"]),
        tps=list(a["tps"]), pps=[1], disaggregated=[False, True],
        prefill_tps=[t for d, t in a["layouts"] if d], concurrencies=list(a["concurrencies"]),
        extra_replicas=list(a["extra_replicas"]), max_gpus=10 ** 9)


def _named(wb, name):
    sheet, ref = list(wb.defined_names[name].destinations)[0]
    return wb[sheet][ref.replace("$", "")].value


def _scenarios(wb):
    """The Scenarios sheet as rows of {header: value}."""
    ws = wb["Scenarios"]
    header = [c.value for c in ws[3]]
    return [dict(zip(header, (c.value for c in row))) for row in ws.iter_rows(min_row=4)
            if row[0].value is not None]


def close(a, b, rel=1e-9):
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def test_twenty_one_loads_agree_with_plan_serving(recalculated):
    assert len(recalculated) == 21
    answers = set()
    for load, out in recalculated:
        got = openpyxl.load_workbook(out, data_only=True)
        for ws in got:                                 # no error value anywhere
            for row in ws.iter_rows():
                for c in row:
                    assert not (isinstance(c.value, str) and c.value.startswith("#")), \
                        (load, ws.title, c.coordinate, c.value)
        plan = _plan(load)
        key = ["gpu", "dtype", "tp", "disaggregated", "concurrency", "extra_replicas"]
        index = {tuple(r[k] if k != "disaggregated" else int(r[k]) for k in key): r
                 for _, r in plan.iterrows()}
        rows = _scenarios(got)
        assert len(rows) == len(plan) == 144
        for r in rows:
            p = index[(r["gpu"], r["dtype"], r["tp"], r["disaggregated"], r["concurrency"],
                       r["extra_replicas"])]
            assert close(r["TTFT (ms)"], p["ttft_ms"]) and close(r["TPOT (ms)"], p["tpot_ms"])
            assert r["GPUs (GPUs)"] == p["gpus"] and r["Replicas (decode workers) (replicas)"] \
                == p["replicas"]
            assert close(r["Cost per M output tokens ($)"], p["cost_per_m_output_tokens"])
            assert bool(r["Meets SLA"]) == bool(p["meets_sla"])
            assert r["Pareto (1/0)"] == int(p["pareto"])
        first = plan.iloc[0]
        if first["meets_sla"]:
            assert close(_named(got, "best_cost_per_m_output_tokens"),
                         first["cost_per_m_output_tokens"])
            assert _named(got, "best_gpus") == first["gpus"]
            ties = plan[plan["meets_sla"] & (plan["cost_per_m_output_tokens"] ==
                                             first["cost_per_m_output_tokens"])]
            if len(ties) == 1:             # a unique cheapest plan: the same plan in full
                for name, column in (("gpu", "gpu"), ("dtype", "dtype"), ("tp", "tp"),
                                     ("concurrency", "concurrency"), ("replicas", "replicas")):
                    assert _named(got, f"best_{name}") == first[column], (load, name)
                assert close(_named(got, "best_ttft_ms"), first["ttft_ms"])
            answers.add((_named(got, "best_gpu"), _named(got, "best_gpus")))
        else:
            assert _named(got, "best_scenario") == 0 and _named(got, "best_gpu") == "—"
    assert len(answers) >= 3                  # the answer moves with the load


def test_the_answer_uses_classic_functions_only():
    wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{NAME}.xlsx")
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    assert not any(f + "(" in c.value.upper() for f in MODERN), c.value
    answer = _named(wb, "best_gpu")
    assert "INDEX(" in answer and "best_scenario" in answer
    assert "MATCH(" in _named(wb, "best_scenario")
    best_cost = _named(wb, "best_cost_per_m_output_tokens")
    # the cheapest cost is a MIN over the candidate rows, guarded by the input check
    assert "MIN(Scenarios!" in best_cost and '"check inputs"' in best_cost, best_cost


def test_prices_are_editable_and_the_chart_is_there(tmp_path):
    wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{NAME}.xlsx")
    prices = wb["GpuPrices"]
    header = [c.value for c in prices[1]]
    col = header.index("price_per_gpu_hour") + 1
    assert not prices.cell(row=2, column=col).protection.locked
    assert prices.cell(row=2, column=1).protection.locked
    assert wb["Pareto"]._charts and wb["Results"]._charts
