import os
import shutil
import sys
from pathlib import Path

import pytest

# tests/ helpers (formula_samples) and the repository root (workbooks, widgets)
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

#: .ci/run sets XLCALC_CI=1: there a missing system tool is a failure, never a skip.
IN_CI = os.environ.get("XLCALC_CI") == "1"


def require_tool(name: str, path: str | None = None, why: str = "") -> str:
    """The path of system tool ``name``; skip (dev box) or fail (CI) when it is absent."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed{': ' + why if why else ''} (.ci/run installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def soffice():
    """LibreOffice's soffice (Debian package libreoffice-calc-nogui)."""
    from xlcalc.workbooks.libreoffice import soffice_path
    return require_tool("soffice", soffice_path(), "independent recalculation engine")


@pytest.fixture(scope="session")
def artifacts_dir():
    """tests/artifacts/: screenshots, PDFs and rendered files kept after a run."""
    path = Path(__file__).parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path
