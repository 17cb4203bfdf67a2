"""Getting a planning workbook to the person who asked for it.

In a dashboard served by Voilà the person at the browser is not on the server: the
workbook is a **browser download** (a link carrying the file's bytes), never a file the
server writes wherever the browser's user typed (``../../x.xlsx``, an absolute path).  In a
local notebook the file goes into the **working folder** under a bare file name (no
folders), ending in ``.xlsx``, and an existing file is replaced only when asked.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

from xlcalc.errors import XlcalcError

__all__ = ["XLSX_MIME", "served", "download_html", "local_file", "check_target"]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_BARE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,150}$")


def served() -> bool:
    """Whether this kernel serves a dashboard (Voilà sets ``VOILA_*`` variables and
    ``SERVER_SOFTWARE=voila/…`` in the kernels it starts)."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("voila") or \
        any(k.startswith("VOILA_") for k in os.environ)


def download_html(data: bytes, filename: str, name: str = "workbook_download") -> str:
    """A link that hands ``data`` to the browser as the download ``filename``."""
    href = f"data:{XLSX_MIME};base64," + base64.b64encode(data).decode("ascii")
    shown = html.escape(filename)
    return (f'<a class="xl-download" data-name="{name}" data-value="{shown}" '
            f'download="{shown}" href="{href}">⬇ Download {shown}</a> '
            f'<span class="xl-sub">({len(data) / 1e3:,.0f} kB; your browser saves it)</span>')


def local_file(name: str, overwrite: bool = False) -> Path:
    """The file a local notebook writes for the name typed in the form: a bare file name
    ending in ``.xlsx``, in the working folder; an existing file only with
    ``overwrite``."""
    name = (name or "").strip()
    if not name or Path(name).name != name or name in (".", "..") or \
            not _BARE_NAME.match(name):
        raise XlcalcError(f"file must be a file name without folders (letters, digits, "
                          f"spaces, . _ - + ( )), got {name!r}; the workbook is written in "
                          f"the notebook's working folder", "file")
    return check_target(Path.cwd() / name, overwrite)


def check_target(path, overwrite: bool = False) -> Path:
    """``path`` if a workbook may be written there: an ``.xlsx`` name (the bytes are an
    xlsx file whatever the name says) and no existing file unless ``overwrite``."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise XlcalcError(f"file must end in .xlsx (a planning workbook is an xlsx file), "
                          f"got {path.name!r}", "file")
    if path.exists() and not overwrite:
        raise XlcalcError(f"{path.name} already exists in {path.parent}; tick 'replace' "
                          f"(overwrite=True) to write over it, or choose another name", "file")
    return path
