"""The command line as a planner meets it: the verdict first, exit status 1 when a plan does
not fit, warnings in full, one number format, counts written as 8k / 2T / 1.5e12, quiet
under ``| head``, and no 0-nodes answer for a plan that does not fit."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xlcalc.cli import fmt_number, main, parse_count

ROOT = Path(__file__).resolve().parent.parent
INFER = ["infer", "llama-2-70b", "--gpu", "h100-sxm", "--batch", "8", "--prompt-len", "512",
         "--output-len", "256"]


def _run(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr().out


#: the budget: 90 % of the memory the driver reports for an H100 SXM (its preset's data)
BUDGET_GB = 0.9 * 85_061_827_297 / 1e9


def test_fitting_plan_leads_with_its_verdict(capsys):
    code, out = _run(capsys, INFER + ["--tp", "8"])
    assert code == 0
    first = out.splitlines()[0]
    m = re.fullmatch(r"FITS: ([0-9.]+) of ([0-9.]+) GB usable per GPU \(headroom ([0-9.]+) GB\)",
                     first)
    assert m, first
    total, budget, headroom = map(float, m.groups())
    # vLLM (the default engine) at tp 8: weights 2 × 68,976,648,192 / 8, KV of 8 × 768
    # tokens (one KV head per GPU, 80 layers, 128 × 2 × 2 B), the profile run's peak (its
    # sampler over 1024 × 32,000 logits × 38.4 B) and non-torch memory (0.13 + 0.42 GiB)
    expected = (2 * 68_976_648_192 / 8 + 8 * 768 * 80 * 128 * 2 * 2 + 1024 * 32000 * 38.4
                + 139_586_437 + 450_971_566) / 1e9
    assert total == round(expected, 2) and budget == round(BUDGET_GB, 2)
    assert headroom == pytest.approx(budget - total, abs=0.011)


def test_plan_that_does_not_fit_exits_1(capsys):
    code, out = _run(capsys, INFER)                  # 137.95 GB of bf16 weights on one GPU
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("DOES NOT FIT: short by ")
    short = float(first.split("short by ")[1].split(" GB")[0].replace(",", ""))
    assert short > 2 * 68_976_648_192 / 1e9 - BUDGET_GB - 1e-6


def test_capacity_that_does_not_fit_names_no_node_count(capsys):
    code, out = _run(capsys, ["capacity", "qwen2.5-72b", "--gpu", "a100-80gb", "--seq-len",
                              "4096", "--users", "1000", "--n-gpus", "8"])
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("DOES NOT FIT: not one sequence of 4,096 tokens fits")
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines[1:])
    assert rows["nodes_needed"] == "n/a" and rows["replicas_needed"] == "n/a"
    assert not any("seed" in key for key in rows)      # tutorial methods are worked examples


def test_capacity_that_fits_says_how_many_nodes(capsys):
    # 10,000 users over whole replicas of tp=2: the count the verdict names is the table's
    code, out = _run(capsys, ["capacity", "llama-2-13b", "--gpu", "a100-80gb", "--seq-len",
                              "2Ki", "--users", "10k", "--tp", "2"])
    assert code == 0
    lines = out.splitlines()
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines[1:])
    per_replica = int(rows["max_sequences"].replace(",", ""))
    replicas = -(-10_000 // per_replica)
    assert rows["seq_len"] == "2,048"
    assert f"10,000 users need {replicas:,} replicas on {-(-replicas * 2 // 8):,} nodes" \
        in lines[0]


@pytest.mark.parametrize("text, value", [("8k", 8000), ("32k", 32000), ("2T", 2e12),
                                         ("1.5e12", 1.5e12), ("8Ki", 8192), ("70B", 70e9),
                                         ("4096", 4096), ("1,000", 1000)])
def test_counts_as_planners_write_them(text, value):
    assert parse_count(text) == value


def test_counts_reach_every_command(capsys):
    code, out = _run(capsys, ["train-time", "llama-2-70b", "--tokens", "2T", "--gpu",
                              "h100-sxm", "--n-gpus", "1k"])
    assert code == 0
    code2, out2 = _run(capsys, ["train-time", "llama-2-70b", "--tokens", "2e12", "--gpu",
                                "h100-sxm", "--n-gpus", "1000"])
    assert out == out2
    with pytest.raises(SystemExit) as e:
        main(["kv-cache", "llama-2-7b", "--batch", "8x", "--seq-len", "1k"])
    assert e.value.code == 2
    assert "not a number: '8x'" in capsys.readouterr().err


def test_one_number_format(capsys):
    assert [fmt_number(v) for v in (1100.37, 0.251658, 5.63509e14, 4096.0, 2e12, 1e-5)] == \
        ["1,100", "0.2517", "5.635e+14", "4,096", "2e+12", "1e-05"]
    _, out = _run(capsys, INFER + ["--tp", "8"])
    for line in out.splitlines()[1:]:
        value = re.split(r"\s{2,}", line.strip())[-1]
        if re.fullmatch(r"-?[0-9,]*\.[0-9]+", value):          # a fraction: 4 significant
            assert len(value.replace(",", "").replace(".", "").lstrip("-0")) <= 4, line


def test_warnings_are_printed_in_full(capsys):
    _, out = _run(capsys, ["infer", "llama-2-7b", "--gpu", "h100-sxm", "--batch", "1",
                           "--prompt-len", "8000", "--output-len", "256"])
    warnings = [line for line in out.splitlines() if line.startswith("WARNING")]
    assert warnings and all("..." not in w for w in warnings)
    assert warnings[0].endswith("exceeds the model's max_position_embeddings")


def test_json_carries_the_verdict(capsys):
    code, out = _run(capsys, INFER + ["--json"])
    data = json.loads(out)
    assert code == 1 and data["fits"] is False and data["verdict"].startswith("DOES NOT FIT")


def test_no_broken_pipe_traceback():
    """``xlcalc … | head -1``: the reader closes the pipe before the output is written."""
    proc = subprocess.Popen([sys.executable, "-m", "xlcalc", "models"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_capacity_core_and_excel_function_do_not_claim_zero_nodes():
    import math

    import xlcalc
    udfs = pytest.importorskip("xlcalc.udfs")
    s = xlcalc.serving_capacity("qwen2.5-72b", "a100-80gb", 4096, concurrent_users=1000)
    # bf16 weights alone (2 × 72.7e9 B) exceed 90 % of 80 GB: nothing fits, no node count
    assert s["fits"] is False and s["max_sequences"] == 0
    assert math.isnan(s["nodes_needed"]) and math.isnan(s["replicas_needed"])
    text = udfs.CAPACITY("qwen2.5-72b", "a100-80gb", 4096.0, 1000.0)
    assert text.startswith("#N/A does not fit: not one sequence of 4096 tokens")
    assert udfs.CAPACITY("qwen2.5-72b", "a100-80gb", 4096.0, 1000.0, None, None, None,
                         "max_sequences") == 0
    # at tp = 4 it fits: whole replicas of 4 GPUs, 8 GPUs a node
    s4 = xlcalc.serving_capacity("qwen2.5-72b", "a100-80gb", 4096, tp=4,
                                 concurrent_users=1000)
    replicas = math.ceil(1000 / s4["max_sequences"])
    assert s4["fits"] is True
    assert udfs.CAPACITY("qwen2.5-72b", "a100-80gb", 4096.0, 1000.0, None, None, 4.0) == \
        math.ceil(replicas * 4 / 8)
