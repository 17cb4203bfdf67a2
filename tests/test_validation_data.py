"""The published measurements xlcalc is validated against (presets/validation/measurements.json):
every row has its provenance and the conditions to recompute it, and the held-out half
follows the rule stated in the file (so that nobody moves a row between halves later)."""

import json
from collections import defaultdict
from pathlib import Path

import xlcalc

FILE = Path(xlcalc.__file__).parent / "presets" / "validation" / "measurements.json"
REQUIRED = ("id", "kind", "model_name", "hardware", "gpu", "n_gpus", "engine", "engine_version",
            "parallelism", "precision", "metric", "value", "unit", "conditions", "source", "date",
            "held_out")


def _data():
    return json.loads(FILE.read_text(encoding="utf-8"))


def test_at_least_40_candidate_rows_of_every_kind():
    data = _data()
    rows = data["rows"]
    assert len(rows) >= 40
    assert {r["kind"] for r in rows} == set(data["kinds"])
    assert len({r["id"] for r in rows}) == len(rows)


def test_every_row_states_what_on_what_and_where_from():
    for r in _data()["rows"]:
        missing = [k for k in REQUIRED if k not in r]
        assert not missing, (r["id"], missing)
        assert isinstance(r["value"], (int, float)) and r["value"] > 0, r["id"]
        src = r["source"]
        assert src.get("url") or (src.get("repo") and src.get("path")), r["id"]
        assert "model" in r or "model_config" in r or "unnamed" in r["model_name"], r["id"]
        if r["kind"].startswith("serving"):
            assert r["isl"] > 0 and r["osl"] > 0, r["id"]
        if r["kind"].startswith("training"):
            assert r["seq_len"] > 0, r["id"]


def test_held_out_half_follows_the_stated_rule():
    groups = defaultdict(list)
    for r in _data()["rows"]:
        groups[r["kind"]].append(r)
    for kind, rows in groups.items():
        i = 0
        for r in sorted(rows, key=lambda r: r["id"]):
            if r.get("used_for"):
                assert r["held_out"] is False, r["id"]
                continue
            assert r["held_out"] is bool(i % 2), r["id"]
            i += 1
        held = sum(r["held_out"] for r in rows)
        assert held >= (len(rows) - 2) // 2, kind
