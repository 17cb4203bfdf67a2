"""Write cached values next to formulas, so a workbook shows numbers unrecalculated.

openpyxl writes ``<c r="B5"><f>…</f><v /></c>`` for a formula cell: no value, so
Protected View, previewers, ``pandas.read_excel`` and ``openpyxl(data_only=True)``
see blanks.  After saving, each such ``<v />`` is filled with the value the core
computed for that cell (``t="str"`` for text, ``t="b"`` for booleans).  The
workbook keeps ``fullCalcOnLoad`` so Excel still recalculates on open.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f><v\s*/></c>', re.S)
_SHEET = re.compile(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"')
_REL = re.compile(r'<Relationship [^>]*Id="([^"]+)"[^>]*Target="([^"]+)"|'
                  r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="([^"]+)"')


def _value_xml(value):
    """(extra attributes, <v> text) for a cached value, or None to leave it empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ' t="b"', "1" if value else "0"
    if isinstance(value, str):
        return ' t="str"', escape(value)
    if isinstance(value, (int, float)):
        x = float(value)
        if not math.isfinite(x):
            return None
        return "", repr(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    return None


def _sheet_paths(z: zipfile.ZipFile) -> dict:
    """Sheet title -> zip path of its XML."""
    wb = z.read("xl/workbook.xml").decode()
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    targets = {}
    for m in _REL.finditer(rels):
        rid, target = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        targets[rid] = target.lstrip("/")
    out = {}
    for m in _SHEET.finditer(wb):
        title = m.group(1).replace("&amp;", "&").replace("&apos;", "'")
        target = targets[m.group(2)]
        out[title] = target if target.startswith("xl/") else "xl/" + target
    return out


def fill(data: bytes, values: dict) -> bytes:
    """The xlsx ``data`` with ``values[(sheet title, coordinate)]`` cached in place."""
    src = zipfile.ZipFile(io.BytesIO(data))
    paths = _sheet_paths(src)
    by_path = {}
    for (sheet, coord), value in values.items():
        by_path.setdefault(paths[sheet], {})[coord] = value
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            cells = by_path.get(item.filename)
            if cells:
                def put(m):
                    v = _value_xml(cells.get(m.group(1)))
                    if v is None:
                        return m.group(0)
                    attrs = re.sub(r'\s+t="[^"]*"', "", m.group(2)) + v[0]
                    return f'<c r="{m.group(1)}"{attrs}><f>{m.group(3)}</f><v>{v[1]}</v></c>'
                content = _FORMULA_CELL.sub(put, content.decode()).encode()
            dst.writestr(item, content)
    return out.getvalue()


def workbook_bytes(workbook, values: dict) -> bytes:
    """The .xlsx file of an openpyxl workbook with cached formula values, in memory (a
    browser download)."""
    buf = io.BytesIO()
    workbook.save(buf)
    return fill(buf.getvalue(), values)


def save_with_values(workbook, values: dict, path: Path) -> Path:
    """Save an openpyxl workbook with cached formula values."""
    path = Path(path)
    path.write_bytes(workbook_bytes(workbook, values))
    return path
