"""The serving-decision faces: the `xlcalc plan` command and the Excel functions SERVE,
SERVING_PLAN and COST_PER_M_TOKENS give what the core gives."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import xlcalc
import xlcalc.udfs as u
from xlcalc.cli import main

ARGS = ["plan", "llama-3.1-8b", "--isl", "2048", "--osl", "256", "--rate", "40",
        "--ttft-ms", "1000", "--tpot-ms", "20", "--gpus", "h100-sxm,a100-80gb", "--top", "3"]


def _core(**kw):
    args = dict(request_rate=40.0, ttft_ms_max=1000, tpot_ms_max=20,
                gpus=["h100-sxm", "a100-80gb"])
    args.update(kw)
    return xlcalc.plan_serving("llama-3.1-8b", 2048, 256, **args)


def test_cli_plan_prints_the_verdict_first_then_the_best_plans(capsys):
    assert main(ARGS) == 0
    out = capsys.readouterr().out.splitlines()
    frame = _core()
    assert out[0] == frame.attrs["verdict"] and out[0].startswith("fits: ")
    assert len(out) == 2 + 3                          # verdict, header, three plans
    first = frame.iloc[0]
    assert out[2].split()[1:3] == [first["gpu"], first["dtype"]]


def test_cli_plan_exits_1_when_nothing_fits(capsys):
    args = [a if a != "20" else "0.1" for a in ARGS]
    assert main(args) == 1
    assert capsys.readouterr().out.startswith("does not fit: no plan meets tpot_ms_max = 0.1")


def test_cli_plan_json_and_csv(capsys, tmp_path):
    csv = tmp_path / "all.csv"
    assert main(ARGS + ["--json", "--csv", str(csv)]) == 0
    data = json.loads(capsys.readouterr().out)
    frame = _core()
    assert data["verdict"] == frame.attrs["verdict"] and data["fits"] is True
    assert len(data["plans"]) == 3
    assert data["plans"][0]["$/M out"] == round(frame.iloc[0]["cost_per_m_output_tokens"], 3)
    import pandas as pd
    assert len(pd.read_csv(csv)) == len(frame)


def test_cli_plan_options(capsys):
    assert main(["plan", "llama-3.1-8b", "--isl", "1024", "--osl", "128", "--users", "300",
                 "--ttft-ms", "1000", "--tokens-per-user", "40", "--gpus", "h100-sxm",
                 "--price", "h100-sxm=2", "--no-disagg", "--pareto"]) == 0
    out = capsys.readouterr().out
    frame = xlcalc.plan_serving("llama-3.1-8b", 1024, 128, concurrency=300, ttft_ms_max=1000,
                                tokens_per_s_per_user_min=40, gpus=["h100-sxm"],
                                price_per_gpu_hour={"h100-sxm": 2}, disaggregated=[False])
    assert out.splitlines()[0] == frame.attrs["verdict"]
    assert len(out.splitlines()) == 2 + int(frame["pareto"].sum())
    assert "P(tp" not in out                          # aggregated only
    assert main(["plan", "llama-3.1-8b", "--isl", "1024", "--osl", "128", "--rate", "5",
                 "--ttft-ms", "1000", "--tpot-ms", "40", "--gpus", "h100-sxm",
                 "--dtypes", "bf17"]) == 2
    assert "dtype" in capsys.readouterr().err


def test_cli_plan_in_a_subprocess():
    """As a user types it (the issue's command, a smaller model to keep the test fast)."""
    r = subprocess.run([sys.executable, "-m", "xlcalc", "plan", "llama-3.1-8b", "--isl",
                        "2048", "--osl", "500", "--rate", "20", "--ttft-ms", "1000",
                        "--tpot-ms", "33", "--gpus", "h100-sxm,h200,b200"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("fits: ")


# ------------------------------------------------------------------- Excel

def test_serve_udf_is_the_core_series():
    got = u.SERVE("llama-3.1-8b", "h100-sxm", 2048.0, 256.0, None, None, None, None, None,
                  None, 64.0, 20.0, None, 2.0, 1000.0, 30.0)
    core = xlcalc.serve("llama-3.1-8b", "h100-sxm", 2048, 256, concurrency=64,
                        request_rate=20.0, price_per_gpu_hour=2.0, ttft_ms_max=1000,
                        tpot_ms_max=30)
    assert got[0] == ["quantity", "value"]
    assert {k: v for k, v in got[1:]} == core.to_dict()


def test_serve_and_cost_udfs_take_the_plan_arguments_in_the_catalogue_order():
    # dtype, kv_dtype, then tp, pp (as in INFER_MEM): =SERVE(…, "fp8", "fp8", 2, , , , 64, 20)
    got = u.SERVE("llama-3.1-8b", "h100-sxm", 2048.0, 256.0, "fp8", "fp8", 2.0, None, None,
                  None, 64.0, 20.0)
    core = xlcalc.serve("llama-3.1-8b", "h100-sxm", 2048, 256, dtype="fp8", kv_dtype="fp8",
                        tp=2, concurrency=64, request_rate=20.0)
    assert {k: v for k, v in got[1:]} == core.to_dict()
    assert core["gpus"] == 2                       # one replica of tp 2 (the order took)
    priced = xlcalc.serve("llama-3.1-8b", "h100-sxm", 2048, 256, dtype="fp8", tp=2,
                          concurrency=64, request_rate=20.0, price_per_gpu_hour=2.95)
    assert u.COST_PER_M_TOKENS("llama-3.1-8b", "h100-sxm", 2048.0, 256.0, 2.95, "fp8", 2.0,
                               64.0, 20.0) == priced["cost_per_m_output_tokens"]


def test_serve_udf_errors_name_excel_arguments():
    assert u.SERVE("llama-3.1-8b", "h100-sxm", 0.0, 256.0) == \
        "#VALUE! isl must be a positive integer, got 0"
    assert u.SERVE("llama-3.1-8b", "h100-sxm", 100.0, 256.0, None, None, None, None, None,
                   None, None, None, None, None, None, None, "yes").startswith(
        "#VALUE! disaggregated must be TRUE or FALSE")


def test_serving_plan_udf_spills_the_best_plans_and_the_verdict():
    got = u.SERVING_PLAN("llama-3.1-8b", 2048.0, 256.0, 40.0, 1000.0, 20.0,
                         [["h100-sxm"], ["a100-80gb"]])
    frame = _core()
    assert len(got) == 1 + 5
    header = got[0]
    for row, (_, plan) in zip(got[1:], frame.head(5).iterrows()):
        assert row[header.index("gpu")] == plan["gpu"]
        assert row[header.index("gpus")] == plan["gpus"]
        assert row[header.index("cost_per_m_output_tokens")] == plan["cost_per_m_output_tokens"]
        assert row[header.index("meets_sla")] == bool(plan["meets_sla"])
    verdict = u.SERVING_PLAN("llama-3.1-8b", 2048.0, 256.0, 40.0, 1000.0, 20.0,
                             "h100-sxm, a100-80gb", None, None, None, None, None, "verdict")
    assert verdict == frame.attrs["verdict"]
    pareto = u.SERVING_PLAN("llama-3.1-8b", 2048.0, 256.0, 40.0, 1000.0, 20.0,
                            "h100-sxm,a100-80gb", None, None, None, None, None, "pareto")
    assert len(pareto) == 1 + int(frame["pareto"].sum())
    priced = u.SERVING_PLAN("llama-3.1-8b", 2048.0, 256.0, 40.0, 1000.0, 20.0, "l4", "bf16",
                            2.0, None, False, [["l4", 0.5]])
    assert len(priced) == 3 and priced[1][0] == "l4"


def test_cost_per_m_tokens_udf():
    core = xlcalc.serve("llama-3.1-8b", "h100-sxm", 2048, 256, concurrency=64,
                        request_rate=20.0, price_per_gpu_hour=2.95)
    assert u.COST_PER_M_TOKENS("llama-3.1-8b", "h100-sxm", 2048.0, 256.0, 2.95, None, None,
                               64.0, 20.0) == core["cost_per_m_output_tokens"]
    assert u.COST_PER_M_TOKENS("llama-3.1-8b", "h100-sxm", 2048.0, 256.0, 2.95, None, None,
                               64.0, 20.0, None, "input") == core["cost_per_m_input_tokens"]
    assert u.COST_PER_M_TOKENS("llama-3.1-8b", "l4", 2048.0, 256.0).startswith(
        "#VALUE! price_per_gpu_hour")


def test_readme_shows_what_xlcalc_plan_prints(capsys):
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    lines = readme.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("$ xlcalc plan "))
    args = lines[k][len("$ xlcalc "):].split()
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert lines[k + 1] == out[0]
    assert lines[k + 2] == out[1] and lines[k + 3] == out[2]
