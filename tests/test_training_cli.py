"""The training subcommands: train-mem, train-fit, train-time, train-comm (tables and JSON,
bad input exits 2 with the library's message)."""

import json

import pytest

import xlcalc
from xlcalc.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_mem_json_matches_the_api(capsys):
    code, out, _ = run(capsys, "train-mem", "llama-7b", "--batch", "32", "--seq-len", "2048",
                       "--precision", "bf16-mixed", "--zero", "2", "--dp", "8", "--gpu",
                       "h100-sxm", "--json")
    assert code == 0
    data = json.loads(out)
    s = xlcalc.train_memory("llama-7b", 32, 2048, zero=2, dp=8, gpu="h100-sxm")
    for part in ("weights", "master_weights", "gradients", "optimizer", "activations",
                 "reserve", "total", "headroom"):
        assert data[f"{part}_GB"] == pytest.approx(s[part] / 1e9)
    assert data["fits"] is True and data["zero"] == 2 and data["optimizer"] == "adamw"


def test_train_mem_table_in_gib(capsys):
    code, out, _ = run(capsys, "train-mem", "llama-7b", "--batch", "8", "--seq-len", "1024",
                       "--recompute", "full", "--unit", "GiB", "--sequence-parallel",
                       "--tp", "2", "--reserve-gb", "0")
    assert code == 0 and "total_GiB" in out and "reserve_GiB" in out


@pytest.mark.parametrize("argv, message", [
    (["--dp", "3"], "dp must be a divisor of batch=32"),
    (["--precision", "bf16"], "unknown precision 'bf16'"),
    (["--zero", "4"], "zero must be an integer >= 0 and <= 3"),
    (["--micro-batch", "64"], "micro_batch must be a divisor of the per-replica batch"),
    (["--unit", "parsecs"], "unknown unit"),
])
def test_train_mem_bad_input_exits_2(capsys, argv, message):
    code, _, err = run(capsys, "train-mem", "llama-7b", "--batch", "32", "--seq-len", "2048",
                       *argv)
    assert code == 2 and message in err


def test_train_fit_first_row_is_the_smallest_fitting_plan(capsys):
    code, out, _ = run(capsys, "train-fit", "llama-7b", "--batch", "32", "--seq-len", "2048",
                       "--gpu", "h100-sxm", "--json")
    data = json.loads(out)           # a table of plans: {"verdict", "fits", "plans"}
    rows = data["plans"]
    # at the H100's reported 79.22 GiB, ZeRO-2 over two GPUs (82.7e9 bytes each, see
    # test_fit_search_finds_the_smallest_plan_and_lists_every_option) is the smallest plan
    assert code == 0 and rows[0]["fits"] and rows[0]["gpus"] == 2 and rows[0]["zero"] == 2
    assert data["fits"] is True and data["verdict"].startswith("FITS")


def test_train_time(capsys):
    code, out, _ = run(capsys, "train-time", "llama-2-70b", "--tokens", "1e12", "--gpu",
                       "h100-sxm", "--n-gpus", "1000", "--mfu", "0.3", "--price", "2", "--json")
    data = json.loads(out)
    seconds = 6 * 68_976_648_192 * 1e12 / (1000 * 989.4e12 * 0.3)
    assert code == 0 and data["days"] == pytest.approx(seconds / 86400)
    assert data["cost"] == pytest.approx(2 * 1000 * seconds / 3600)


def test_train_comm(capsys):
    code, out, _ = run(capsys, "train-comm", "llama-2-70b", "--batch", "16", "--seq-len",
                       "2048", "--gpu", "h100-sxm", "--tp", "8", "--pp", "4", "--micro-batch",
                       "1", "--json")
    data = json.loads(out)
    assert code == 0 and data["pp_bytes"] == 2 * 16 * 2048 * 8192 * 2
