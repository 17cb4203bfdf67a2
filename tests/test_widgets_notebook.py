"""examples/planner.ipynb runs top to bottom under nbclient + ipykernel."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent


def _run(name: str):
    nb = nbformat.read(ROOT / "examples" / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_planner_notebook_runs_and_reproduces_the_worked_examples():
    nb = _run("planner.ipynb")
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    # the forms display as widgets (a view the browser renders)
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json"
             in o.get("data", {})]
    assert len(views) >= 1
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "")
                     for o in outputs)
    assert "seed's assumptions" in text            # worked example 1's table
    assert "000 §七 example 1" in text              # compare("llama-70b-inference")
    assert "nominal 7 B (the seed)" in text         # worked example 2
    assert '=KV_CACHE("llama-2-70b",8,768,"bf16",8)' in text
    assert "('llama-70b-plan.xlsx', True)" in text


def test_dashboard_notebook_runs():
    nb = _run("dashboard.ipynb")
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in outputs)
