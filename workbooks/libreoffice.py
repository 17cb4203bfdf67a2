"""Headless LibreOffice: recalculate workbooks with an independent engine, render PDFs.

``soffice --convert-to xlsx`` only recalculates cells without a cached value; to
force every formula to be recalculated the conversion runs with a private profile
whose ``OOXMLRecalcMode`` is 0 ("always") (DESIGN.md, facts about the tools).
One call converts many files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["soffice_path", "recalculate", "to_pdf"]

_PROFILE_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
</oor:items>
"""


def soffice_path() -> str | None:
    """The LibreOffice executable, or None when it is not installed."""
    for name in ("soffice", "libreoffice"):
        path = shutil.which(name)
        if path:
            return path
    for path in ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice"):
        if os.path.exists(path):
            return path
    return None


def _run(args: list, outdir: Path, timeout: int) -> None:
    soffice = soffice_path()
    if soffice is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory(prefix="xlcalc-lo-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(_PROFILE_XCU)
        cmd = [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
               "--nolockcheck", *args, "--outdir", str(outdir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"soffice failed ({proc.returncode}): {proc.stderr[-2000:]}")


def recalculate(paths, outdir, timeout: int = 300) -> list[Path]:
    """Recalculate every formula of each .xlsx in ``paths`` with LibreOffice; the
    recalculated copies (same file names) are written to ``outdir`` and returned."""
    paths = [Path(p) for p in paths]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if any(p.parent.resolve() == outdir.resolve() for p in paths):
        raise ValueError("outdir must differ from the input files' folder")
    _run(["--convert-to", "xlsx:Calc MS Excel 2007 XML", *map(str, paths)], outdir, timeout)
    out = [outdir / p.name for p in paths]
    missing = [str(p) for p in out if not p.exists()]
    if missing:
        raise RuntimeError(f"LibreOffice produced no output for {missing}")
    return out


def to_pdf(paths, outdir, timeout: int = 300) -> list[Path]:
    """Render each workbook to PDF (after a forced recalculation)."""
    paths = [Path(p) for p in paths]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    _run(["--convert-to", "pdf", *map(str, paths)], outdir, timeout)
    return [outdir / (p.stem + ".pdf") for p in paths]
