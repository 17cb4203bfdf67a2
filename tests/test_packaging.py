"""Packaging: each extra installs what its face needs, and a face whose extra is missing
says so in one line naming the extra.  (Building the wheel and installing it into clean
venvs is tests/install_check.py, which .ci/run runs.)"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from xlcalc.extras import EXTRA_OF

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _extra_modules(extra: str) -> set:
    """Distribution names an extra installs, its nested xlcalc[...] extras included."""
    out = set()
    for req in PYPROJECT["project"]["optional-dependencies"][extra]:
        name = re.split(r"[\[<>=! ]", req, maxsplit=1)[0].lower()
        if name == "xlcalc":
            for nested in re.search(r"\[(.*)\]", req).group(1).split(","):
                out |= _extra_modules(nested.strip())
        else:
            out.add(name)
    return out


def test_every_optional_module_is_in_its_extra():
    for module, extra in EXTRA_OF.items():
        assert module.lower() in _extra_modules(extra), (module, extra)
    everything = _extra_modules("all")
    assert {m.lower() for m in EXTRA_OF} <= everything


def test_faces_install_inside_the_package():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert "widgets" not in setuptools["packages"] and "workbooks" not in setuptools["packages"]
    assert setuptools["package-dir"] == {"xlcalc.workbooks": "workbooks",
                                         "xlcalc.widgets": "widgets"}


def _run_without(module: str, code: str):
    """Run ``code`` in a fresh interpreter where importing ``module`` fails as if it were
    not installed."""
    prelude = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True,
                          text=True, cwd=ROOT)


def test_cli_workbook_without_openpyxl_is_one_line(tmp_path):
    proc = _run_without("openpyxl", "from xlcalc.cli import main\nimport sys\n"
                        f"sys.exit(main(['workbook', 'llama-70b-inference', '-o', "
                        f"{str(tmp_path / 'x.xlsx')!r}]))")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "xlcalc: error: the planning workbooks need openpyxl, which is not installed: "
        "pip install 'xlcalc[workbooks]'"]


def test_forms_without_jinja2_name_the_extra():
    proc = _run_without("jinja2", "from xlcalc.widgets import PlannerForm")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "the Jupyter forms (xlcalc.widgets) need jinja2, which is not installed: "
        "pip install 'xlcalc[notebook]'")
    assert "ModuleNotFoundError" not in proc.stderr


def test_udfs_without_xlwings_name_the_extra():
    proc = _run_without("xlwings", "import xlcalc.udfs")
    assert proc.returncode == 1
    assert "pip install 'xlcalc[excel]'" in proc.stderr.strip().splitlines()[-1]
