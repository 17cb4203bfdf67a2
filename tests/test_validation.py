"""The validation table (docs/validation.md) is recomputed from today's formulas and must
equal the committed one: an estimate that drifts fails here (regenerate with
``xlcalc validate --markdown > docs/validation.md`` and say why in the commit)."""

import subprocess
import sys
from pathlib import Path

from xlcalc.validation import GOALS, estimate_row, load_measurements, markdown, validate

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "validation.md"


def test_committed_table_matches_todays_estimates():
    assert DOC.read_text(encoding="utf-8") == markdown(), \
        "docs/validation.md drifted: run `xlcalc validate --markdown > docs/validation.md`"


def test_at_least_25_rows_are_estimated_in_every_half():
    table = validate()
    estimated = table.dropna(subset=["error"])
    assert len(estimated) >= 25
    assert set(table["kind"]) == set(GOALS)
    for half in ("calibration", "held-out"):
        assert (estimated["half"] == half).sum() >= 12
    # every row that is not estimated says why
    missing = table[table["error"].isna()]
    assert all(missing["note"].str.len() > 0)


def test_kv_row_estimate_is_the_engine_node():
    """The vLLM Llama-3.1-8B row is the engine test's log line: same figure, same node."""
    row = next(r for r in load_measurements()["rows"]
               if r["id"] == "vllm-v1-llama-3.1-8b-h100-tp1-kv")
    value, why = estimate_row(row)
    by_hand = (0.9 * 79.18 * 2 ** 30 - 8.030261248e9 * 2 - 1024 * 128256 * 38.4
               - 0.13 * 2 ** 30) / 2 ** 30
    assert not why and abs(value - by_hand) < 0.01


def test_cli_validate_summary_and_markdown():
    env = {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "xlcalc", "validate", "--summary"],
                         capture_output=True, text=True, cwd=ROOT, env=env, check=True).stdout
    assert "kv_capacity" in out and "held-out" in out
    out = subprocess.run([sys.executable, "-m", "xlcalc", "engines"], capture_output=True,
                         text=True, cwd=ROOT, env=env, check=True).stdout
    assert "sglang" in out and "trt-llm" in out


def test_readme_shows_todays_summary_line():
    from xlcalc.validation import headline
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert headline() in readme and "docs/validation.md" in readme
    assert f"{len(load_measurements()['rows'])} published measurements" in readme


def test_cli_validate_leads_with_both_halves_per_kind(capsys):
    """`xlcalc validate` prints the headline, then for every kind the calibration and the
    held-out half with their median and worst absolute error, before the rows."""
    import re
    from xlcalc.cli import main
    from xlcalc.validation import load_measurements
    assert main(["validate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("median absolute error: ")
    kinds = {r["kind"] for r in load_measurements()["rows"]}
    for kind in kinds:
        for half in ("calibration", "held-out"):
            line = next(x for x in lines[:20] if re.match(rf"\s*{kind}\s+{half}\s", x))
            assert len(re.findall(r"\d+\.\d %", line)) == 2, line     # median, worst
    assert any(line.lstrip().startswith("id ") for line in lines)   # then every row
