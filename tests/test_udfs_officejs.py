"""The Excel functions through xlwings' Office.js machinery, as the add-in calls them.

xlwings Lite and xlwings Server register ``xlcalc.udfs`` with
``xlwings.server.custom_functions_meta`` and call a function with
``xlwings.server.custom_functions_call``: every argument a 2-D list, omitted ones None.
That flavour of xlwings must be chosen before xlwings is first imported
(``XLWINGS_ON_SERVER=true``; the machinery is PolyForm Noncommercial, fine for tests,
never a runtime dependency), so it runs in a child process of its own.
"""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import xlcalc.udfs as u

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import asyncio, json, sys
import xlwings
import xlwings.server
import xlcalc.udfs as udfs

calls = json.loads(sys.stdin.read())
meta = xlwings.server.custom_functions_meta(udfs)
results = []
for name, args in calls:
    data = {"func_name": name, "args": args, "caller_address": "Sheet1!B2",
            "version": xlwings.__version__, "runtime": "1.4",
            "culture_info_name": "en-US", "date_format": "M/d/yyyy", "client": "Office.js"}
    try:
        results.append({"value": asyncio.run(xlwings.server.custom_functions_call(data, udfs))})
    except Exception as e:      # the test reports it; a UDF must never get here
        results.append({"exception": repr(e)})
# xlwings Lite: main.py holds `from xlcalc.udfs import *`
import types
main = types.ModuleType("main")
exec("from xlcalc.udfs import *", main.__dict__)
lite = [f["name"] for f in xlwings.server.custom_functions_meta(main)["functions"]]
data = {"func_name": "KV_CACHE", "args": [[["llama-2-70b"]], [[8]], [[4096]], None, None, None],
        "caller_address": "Sheet1!A1", "version": xlwings.__version__, "runtime": "1.4",
        "culture_info_name": "en-US", "date_format": "M/d/yyyy", "client": "Office.js"}
lite_call = asyncio.run(xlwings.server.custom_functions_call(data, main))
print(json.dumps({"meta": meta, "results": results, "server": udfs.xw.func.__module__,
                  "lite": lite, "lite_call": lite_call,
                  "star": sorted(n for n in vars(main) if not n.startswith("__"))}))
'''

M70 = [["llama-2-70b"]]
H100 = [["h100-sxm"]]
RANGE_MODEL = [["preset", "llama-2-70b"], ["num_layers", 40], [None, None]]

# (function, arguments exactly as the add-in sends them, the same call in Python)
CALLS = [
    ("KV_CACHE", [M70, [[8]], [[4096]], None, [[8]], None],
     lambda: u.KV_CACHE("llama-2-70b", 8.0, 4096.0, None, 8.0)),
    ("KV_CACHE", [RANGE_MODEL, [[8]], [[4096.0]], [["fp8"]], None, [["GiB"]]],
     lambda: u.KV_CACHE(RANGE_MODEL, 8.0, 4096.0, "fp8", None, "GiB")),
    ("KV_CACHE", [M70, [[-1]], [[4096]], None, None, None],
     lambda: u.KV_CACHE("llama-2-70b", -1.0, 4096.0)),
    ("INFER_MEM", [M70, [[8]], [[4096]], None, None, [[8]], None, [["kv_cache"]], None],
     lambda: u.INFER_MEM("llama-2-70b", 8.0, 4096.0, None, None, 8.0, None, "kv_cache")),
    ("MEM_TABLE", [M70, [["inference"]], [[8]], [[4096]], H100],
     lambda: u.MEM_TABLE("llama-2-70b", "inference", 8.0, 4096.0, "h100-sxm")),
    ("MEM_TABLE", [M70, [["training"]], [[8]], [[4096]], None],
     lambda: u.MEM_TABLE("llama-2-70b", "training", 8.0, 4096.0)),
    ("PREFILL_MS", [M70, H100, [[8]], [[512]], None, [[8]], None],
     lambda: u.PREFILL_MS("llama-2-70b", "h100-sxm", 8.0, 512.0, None, 8.0)),
    ("GEN_SECONDS", [M70, H100, [[8]], [[512]], [[256]], None, None, [[8]], None, None],
     lambda: u.GEN_SECONDS("llama-2-70b", "h100-sxm", 8.0, 512.0, 256.0, None, None, 8.0)),
    ("MAX_BATCH", [M70, H100, [[4096]], None, None, [[3]]],
     lambda: u.MAX_BATCH("llama-2-70b", "h100-sxm", 4096.0, None, None, 3.0)),
    ("INFER_FITS", [M70, H100, [[8]], [[4096]], None, None, [[8]], None],
     lambda: u.INFER_FITS("llama-2-70b", "h100-sxm", 8.0, 4096.0, None, None, 8.0)),
    ("GPU_LIST", [], lambda: u.GPU_LIST()),
    ("SEED_CHECK", [[["llama-70b-inference"]]], lambda: u.SEED_CHECK("llama-70b-inference")),
    ("COMM_MS", [[[1e9]], [[450]], None], lambda: u.COMM_MS(1e9, 450.0)),
    ("TRAIN_DAYS", [M70, [[2e12]], H100, [[1024]], None, None, None],
     lambda: u.TRAIN_DAYS("llama-2-70b", 2e12, "h100-sxm", 1024.0)),
    ("LLM_MODEL", [M70, [["=HYPERLINK(\"http://x\")"]]],
     lambda: u.LLM_MODEL("llama-2-70b", "=HYPERLINK(\"http://x\")")),
]


def _as_excel(value):
    """What Office.js writes for a Python result: a 2-D list, None as an empty text."""
    rows = value if isinstance(value, list) else [[value]]
    return [["" if v is None else v for v in row] for row in rows]


@pytest.fixture(scope="module")
def officejs():
    env = dict(os.environ, XLWINGS_ON_SERVER="true", XLWINGS_LICENSE_KEY="noncommercial",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    calls = [[name, args] for name, args, _ in CALLS]
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(calls), env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_child_used_the_officejs_flavour(officejs):
    assert officejs["server"] == "xlwings.pro.udfs_officejs"


def test_every_catalogue_function_is_registered_with_its_docs(officejs):
    functions = {f["name"]: f for f in officejs["meta"]["functions"]}
    assert set(functions) == set(u.CATALOGUE)
    issue_5 = ["LLM_PARAMS", "LLM_MODEL", "LLM_MODELS", "GPU_SPEC", "GPU_LIST", "WEIGHTS_MEM",
               "KV_CACHE", "INFER_MEM", "TRAIN_MEM", "MEM_TABLE", "LLM_FLOPS", "PREFILL_MS",
               "DECODE_MS", "GEN_SECONDS", "TOKENS_PER_S", "MAX_BATCH", "GPUS_NEEDED",
               "TRAIN_DAYS", "ALLREDUCE_BYTES", "COMM_MS", "TP_COMM"]
    assert set(issue_5) <= set(functions)
    for name, fn in u.CATALOGUE.items():
        meta = functions[name]
        assert meta["description"] == fn.__doc__ and len(meta["description"]) > 20, name
        params = inspect.signature(fn).parameters
        assert [p["name"] for p in meta["parameters"]] == list(params), name
        for p in meta["parameters"]:
            doc = p["description"]
            assert doc and not doc.startswith("Positional argument"), (name, p["name"])
            assert len(doc) <= 255, (name, p["name"])
            optional = params[p["name"]].default is not inspect.Parameter.empty
            assert p.get("optional", False) == optional, (name, p["name"])
            if optional and params[p["name"]].default is not None:
                assert "default" in doc, (name, p["name"], doc)
    kv = {p["name"]: p["description"] for p in functions["KV_CACHE"]["parameters"]}
    assert "two-column range" in kv["model"]
    assert kv["kv_dtype"].endswith("default bf16")
    assert "GiB" in kv["unit"]


@pytest.mark.parametrize("i", range(len(CALLS)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_calls_as_the_add_in_makes_them(officejs, i):
    name, _, python = CALLS[i]
    result = officejs["results"][i]
    assert "exception" not in result, result
    got = result["value"]
    expected = _as_excel(python())
    assert len(got) == len(expected) and all(len(r) == len(e) for r, e in zip(got, expected))
    for row, erow in zip(got, expected):
        for g, e in zip(row, erow):
            if isinstance(e, float):
                assert g == pytest.approx(e, rel=1e-12)
            else:
                assert g == e


def test_spills_and_errors_through_the_add_in(officejs):
    by_call = {i: officejs["results"][i]["value"] for i in range(len(CALLS))}
    assert by_call[0] == [[pytest.approx(2 * 8 * 4096 * 80 * 1 * 128 * 2 / 1e9)]]
    # the range model (40 layers, fp8 KV) in GiB
    assert by_call[1] == [[pytest.approx(2 * 8 * 4096 * 40 * 8 * 128 * 1 / 2 ** 30)]]
    assert by_call[2] == [["#VALUE! batch must be a positive integer, got -1"]]
    table = by_call[4]
    assert table[0] == ["part", "GB", "share of total", "share of GPU"]
    assert [r[0] for r in table[1:]] == ["weights", "kv_cache", "activations", "reserve", "total"]
    assert all(r[3] == "" for r in by_call[5][1:])          # no gpu: an empty column
    assert by_call[8][0][0].startswith("#VALUE! n_gpus must be a divisor of num_heads=64")
    assert by_call[9] == [[True]]
    assert by_call[14][0][0].startswith("#VALUE! unknown field '=HYPERLINK")


def test_xlwings_lite_main_py_star_import(officejs):
    """`from xlcalc.udfs import *` in main.py registers exactly the catalogue."""
    assert sorted(officejs["lite"]) == sorted(u.CATALOGUE)
    assert officejs["star"] == sorted(u.CATALOGUE)
    assert officejs["lite_call"] == [[pytest.approx(2 * 8 * 4096 * 80 * 8 * 128 * 2 / 1e9)]]
