"""The committed templates: up to date, recalculated by LibreOffice for their own inputs
and for random valid input sets written into their input cells, equal to the Python
core cell by cell, never an error value; named outputs equal the core API."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import openpyxl
import pytest
from workbook_cells import input_cells

import xlcalc
from xlcalc.workbooks.generator import build
from xlcalc.workbooks.templates import TEMPLATE_DIR, TEMPLATES, template
from xlcalc import serving, training
from xlcalc.errors import XlcalcError
from xlcalc.glossary import TERMS
from xlcalc.graph import load_all, table

load_all()

#: inputs drawn at random per template (the rest keep the template's values)
RANDOM_INPUTS = {
    "llama-70b-inference": ("model", "gpu", "batch", "prompt_len", "output_len", "tp",
                            "dtype", "kv_dtype", "mfu", "bw_eff"),
    "llama-7b-training": ("model", "gpu", "batch", "seq_len", "precision", "optimizer",
                          "zero", "dp", "tp", "pp", "recompute"),
    "capacity-planner": ("model", "gpu", "batch", "prompt_len", "output_len", "tp", "dtype",
                         "kv_dtype", "mfu"),
}
RANDOM_INPUTS["serving-sizing"] = ("request_rate", "prompt_len", "output_len",
                                   "ttft_ms_max", "tpot_ms_max")
#: serving-sizing: its own inputs cell by cell here; 20 random loads against plan_serving
#: in test_sizing_workbook.py (building its 144 candidate columns per load is slow)
RANDOM_SETS = {"llama-70b-inference": 20, "llama-7b-training": 15, "capacity-planner": 15,
               "serving-sizing": 0}
assert sum(RANDOM_SETS.values()) >= 50


def _draw(name, rng):
    t = TERMS[name]
    if t.kind == "choice":
        return str(rng.choice(list(table(t.table).frame().index)))
    if name in ("batch",):
        return int(rng.choice([1, 2, 4, 8, 16, 32, 64]))
    if name in ("prompt_len", "output_len", "seq_len"):
        return int(rng.choice([128, 256, 512, 1024, 2048]))
    if name in ("tp", "dp", "pp"):
        return int(rng.choice([1, 2, 4, 8]))
    if name == "zero":
        return int(rng.integers(0, 4))
    return rng.choice(t.sample).item()


def random_inputs(name, rng, tries=400):
    """A valid random input set for template ``name`` (the core validates it)."""
    spec = template(name)
    for _ in range(tries):
        inputs = {k: _draw(k, rng) for k in RANDOM_INPUTS[name]}
        try:
            return inputs, build(spec, inputs)
        except XlcalcError:
            continue
    raise AssertionError(f"no valid random inputs for {name}")




@pytest.fixture(scope="module")
def recalculated(tmp_path_factory, soffice):
    """Every template with its own inputs and random input sets, recalculated by
    LibreOffice in one call; yields (file, expected cached values per cell)."""
    from xlcalc.workbooks.libreoffice import recalculate
    src = tmp_path_factory.mktemp("src")
    rng = np.random.default_rng(7)
    cases = []
    for name in TEMPLATES:
        own = src / f"{name}-own.xlsx"
        shutil.copy(TEMPLATE_DIR / f"{name}.xlsx", own)
        cases.append((name, {}, own, build(template(name)).values))
        for k in range(RANDOM_SETS[name]):
            inputs, built = random_inputs(name, rng)
            wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{name}.xlsx")
            cells = input_cells(wb)
            for key, value in inputs.items():
                sheet, coord = cells[key]
                wb[sheet][coord].value = value
            path = src / f"{name}-{k}.xlsx"
            wb.save(path)
            cases.append((name, inputs, path, built.values))
    outs = recalculate([c[2] for c in cases], tmp_path_factory.mktemp("lo"))
    return [(name, inputs, out, expected) for (name, inputs, _, expected), out
            in zip(cases, outs)]


def _close(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return (a or "") == (b or "")
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def test_templates_are_up_to_date(tmp_path):
    """Regenerating gives the same sheets, cells, formulas, cached values and names."""
    from xlcalc.workbooks.templates import regenerate
    fresh = regenerate(tmp_path)
    for path in fresh:
        committed = TEMPLATE_DIR / path.name
        assert committed.exists(), f"{path.name} is not committed: xlcalc workbook --all"
        for data_only in (False, True):
            a = openpyxl.load_workbook(committed, data_only=data_only)
            b = openpyxl.load_workbook(path, data_only=data_only)
            assert a.sheetnames == b.sheetnames
            assert sorted(a.defined_names.keys()) == sorted(b.defined_names.keys())
            for ws in a:
                wb_rows = list(b[ws.title].iter_rows(values_only=True))
                assert list(ws.iter_rows(values_only=True)) == wb_rows, \
                    f"{path.name}/{ws.title} differs: run `xlcalc workbook --all`"


def test_libreoffice_agrees_cell_by_cell(recalculated):
    assert len(recalculated) >= 50 + len(TEMPLATES)
    for name, inputs, out, expected in recalculated:
        got = openpyxl.load_workbook(out, data_only=True)
        for ws in got:
            for row in ws.iter_rows():
                for c in row:
                    assert not (isinstance(c.value, str) and c.value.startswith("#")), \
                        (name, inputs, ws.title, c.coordinate, c.value)
        bad = [(sheet, coord, value, got[sheet][coord].value)
               for (sheet, coord), value in expected.items()
               if not _close(value, got[sheet][coord].value)]
        assert not bad, (name, inputs, bad[:5])


def _named(wb, name):
    sheet, ref = list(wb.defined_names[name].destinations)[0]
    return wb[sheet][ref.replace("$", "")].value


def test_inference_outputs_equal_the_core(recalculated):
    checked = 0
    for name, inputs, out, _ in recalculated:
        if name != "llama-70b-inference":
            continue
        ctx = {**template(name).inputs, **inputs}
        got = openpyxl.load_workbook(out, data_only=True)
        seq_len = ctx["prompt_len"] + ctx["output_len"]
        # the template's engine and its engine-defaulted inputs, as the workbook has them
        engine = {k: ctx[k] for k in ("engine", "block_size", "gpu_memory_utilization",
                                      "infer_reserve_bytes", "max_num_batched_tokens")}
        mem = serving.inference_memory(ctx["model"], ctx["batch"], seq_len, ctx["dtype"],
                                       ctx["kv_dtype"], ctx["tp"], ctx["pp"], gpu=ctx["gpu"],
                                       **engine)
        lat = serving.inference_latency(ctx["model"], ctx["gpu"], ctx["batch"],
                                        ctx["prompt_len"], ctx["output_len"], ctx["tp"],
                                        ctx["pp"], ctx["dtype"], ctx["kv_dtype"], ctx["mfu"],
                                        ctx["bw_eff"], link_eff=ctx["link_eff"],
                                        link_latency_us=ctx["link_latency_us"],
                                        comm_overlap=ctx["comm_overlap"],
                                        engine=ctx["engine"])
        assert _close(_named(got, "params"), xlcalc.params(ctx["model"])["total"])
        assert _close(_named(got, "weights_gb"), mem["weights"] / 1e9)
        # the KV part: per-token KV plus the linear layers' state (docs/models.md §4)
        assert _close(_named(got, "kv_cache_gb"), mem["kv_cache"] / 1e9)
        if ctx["pp"] == 1:
            state = xlcalc.compute("state_cache_bytes", model=ctx["model"],
                                    batch=ctx["batch"], tp=ctx["tp"],
                                    dtype=ctx["dtype"])["state_cache_bytes"]
            assert _close(_named(got, "kv_cache_gb"),
                          (xlcalc.kv_cache_bytes(ctx["model"], ctx["batch"], seq_len,
                                                 ctx["kv_dtype"], ctx["tp"]) + state) / 1e9)
        assert _close(_named(got, "prefill_ms"), lat["ttft_s"] * 1e3)
        assert _close(_named(got, "e2e_s"), lat["e2e_s"])
        assert _close(_named(got, "tokens_per_s"), lat["tokens_per_s"])
        checked += 1
    assert checked >= 20


def test_training_outputs_equal_the_core(recalculated):
    checked = 0
    for name, inputs, out, _ in recalculated:
        if name != "llama-7b-training":
            continue
        ctx = {**template(name).inputs, **inputs}
        got = openpyxl.load_workbook(out, data_only=True)
        keys = ("precision", "optimizer", "zero", "dp", "tp", "pp", "recompute",
                "activation_rule", "train_reserve_bytes", "stack", "attention", "cp", "ep",
                "finetune", "lora_rank", "lora_targets", "offload", "sequence_parallel",
                "dropout", "vp", "trainable_fraction")
        mem = training.train_memory(ctx["model"], ctx["batch"], ctx["seq_len"],
                                    **{k: ctx[k] for k in keys}, gpu=ctx["gpu"])
        for part in ("weights", "master_weights", "gradients", "optimizer", "activations",
                     "total"):
            assert _close(_named(got, f"{part}_gb"), mem[part] / 1e9), part
        assert _close(_named(got, "gpus_needed"), mem["gpus_needed"])
        from xlcalc.training_plan import STEP_DEFAULTS, training_step
        plan = {k: ctx[k] for k in keys if k not in ("precision", "zero", "dp", "tp", "pp",
                                                    "recompute", "stack", "attention", "cp",
                                                    "ep", "vp")}
        step = training_step(ctx["model"], ctx["gpu"], ctx["batch"], ctx["seq_len"],
                             dp=ctx["dp"], tp=ctx["tp"], pp=ctx["pp"], vp=ctx["vp"],
                             cp=ctx["cp"], ep=ctx["ep"], zero=ctx["zero"],
                             precision=ctx["precision"], recompute=ctx["recompute"],
                             stack=ctx["stack"], attention=ctx["attention"],
                             # link_eff/link_latency_us: the GPU family's calibrated
                             # figures in both when the template has no such input
                             **{k: ctx[k] for k in STEP_DEFAULTS
                                if k != "goodput" and k in ctx}, **plan)
        assert _close(_named(got, "step_s"), step["step_s"])
        assert _close(_named(got, "step_tokens_per_s_per_gpu"), step["tokens_per_s_per_gpu"])
        checked += 1
    assert checked >= 15


def test_templates_render_to_pdf(tmp_path, soffice):
    from xlcalc.workbooks.libreoffice import to_pdf
    pdfs = to_pdf([TEMPLATE_DIR / f"{n}.xlsx" for n in TEMPLATES], tmp_path)
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 3
