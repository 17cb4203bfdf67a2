"""Install xlcalc as a planner would, from the built wheel into clean virtual environments.

``.ci/run`` runs this after the test suite (``python tests/install_check.py``):

1. ``python -m build --wheel``: the wheel the README tells a planner to install;
2. the wheel holds ``xlcalc`` only: no top-level ``widgets``/``workbooks`` package that
   would collide with other projects in site-packages (they are ``xlcalc.widgets`` and
   ``xlcalc.workbooks``);
3. a clean venv with ``xlcalc[excel,workbooks]`` from the wheel, run outside the checkout:
   the CLI (a verdict and its exit status), an Excel function, a workbook written and
   read back;
4. a clean venv with the bare wheel: a face whose extra is missing says so in one line
   naming the extra (never a ModuleNotFoundError traceback).

Exits non-zero with a message on the first failure.  Needs the network (PyPI) for the
venvs' dependencies.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, cwd=None, ok=(0,), env=None):
    print("$", " ".join(map(str, cmd)), flush=True)
    proc = subprocess.run(list(map(str, cmd)), cwd=cwd, capture_output=True, text=True,
                          env=env)
    if proc.returncode not in ok:
        sys.exit(f"install check failed: {cmd} exited {proc.returncode}\n"
                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def build_wheel(out: Path) -> Path:
    run([sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT])
    wheels = sorted(out.glob("xlcalc-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"install check failed: expected one wheel in {out}, got {wheels}")
    return wheels[0]


def check_layout(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    if tops != {"xlcalc"}:
        sys.exit(f"install check failed: the wheel installs top-level {sorted(tops)}, "
                 "not only xlcalc")
    for needed in ("xlcalc/widgets/__init__.py", "xlcalc/workbooks/generator.py",
                   "xlcalc/presets/models/llama-2-70b.json"):
        if needed not in names:
            sys.exit(f"install check failed: {needed} is not in the wheel")


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def check_full(wheel: Path, work: Path) -> None:
    py = make_venv(work / "venv-excel")
    run([py, "-m", "pip", "install", "-q", f"{wheel}[excel,workbooks]"])
    bindir = py.parent
    out = work / "out"
    out.mkdir()
    # the CLI, outside the checkout: the headline verdict first; exit 0 when the plan fits
    fits = run([bindir / "xlcalc", "infer", "llama-2-70b", "--gpu", "h100-sxm", "--tp", "8",
                "--batch", "8", "--prompt-len", "512", "--output-len", "256"], cwd=out)
    if not fits.stdout.startswith("FITS"):
        sys.exit(f"install check failed: xlcalc infer does not start with its verdict:\n"
                 f"{fits.stdout[:500]}")
    # ... and exit 1 when it does not
    run([bindir / "xlcalc", "infer", "llama-2-70b", "--gpu", "h100-sxm", "--batch", "8",
         "--prompt-len", "512", "--output-len", "256"], cwd=out, ok=(1,))
    # an Excel function: 8 × 4096 tokens × 80 layers × 8 KV heads × 128 × 2 (K, V) × 2 bytes
    expected = 8 * 4096 * 80 * 8 * 128 * 2 * 2 / 1e9
    code = ("from xlcalc.udfs import KV_CACHE\n"
            f"v = KV_CACHE('llama-2-70b', 8.0, 4096.0)\nassert abs(v - {expected!r}) < 1e-9, v\n"
            "import importlib.util as u\n"
            "assert u.find_spec('widgets') is None and u.find_spec('workbooks') is None\n"
            "print('udf ok', v)")
    run([py, "-c", code], cwd=out)
    # a workbook written from the installed package and read back
    run([bindir / "xlcalc", "workbook", "llama-70b-inference", "-o", "plan.xlsx", "--set",
         "batch=16"], cwd=out)
    code = ("import openpyxl\nwb = openpyxl.load_workbook('plan.xlsx', data_only=True)\n"
            "assert 'Results' in wb.sheetnames and 'Inputs' in wb.sheetnames\n"
            "print('workbook ok')")
    run([py, "-c", code], cwd=out)


def check_bare(wheel: Path, work: Path) -> None:
    py = make_venv(work / "venv-bare")
    run([py, "-m", "pip", "install", "-q", str(wheel)])
    out = work / "bare"
    out.mkdir()
    proc = run([py.parent / "xlcalc", "workbook", "llama-70b-inference", "-o", "x.xlsx"],
               cwd=out, ok=(2,))
    lines = proc.stderr.strip().splitlines()
    if len(lines) != 1 or "xlcalc[workbooks]" not in lines[0] or "Traceback" in proc.stderr:
        sys.exit(f"install check failed: a missing extra is not one line naming it:\n"
                 f"{proc.stderr}")
    proc = run([py, "-c", "import xlcalc.udfs"], cwd=out, ok=(1,))
    if "xlcalc[excel]" not in proc.stderr.strip().splitlines()[-1]:
        sys.exit(f"install check failed: xlcalc.udfs without xlwings:\n{proc.stderr}")
    run([py.parent / "xlcalc", "params", "llama-2-70b"], cwd=out)   # the core alone works


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="xlcalc-install-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        check_layout(wheel)
        check_full(wheel, work)
        check_bare(wheel, work)
    print("install check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
