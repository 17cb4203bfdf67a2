"""Optional dependencies of the faces: which pip extra installs each one.

The core needs numpy and pandas only.  Each face needs more (DESIGN.md principle 2) and
names the extra that installs it when something is missing: one line, e.g.
``the planning workbooks need openpyxl, which is not installed: pip install
'xlcalc[workbooks]'`` -- never a ModuleNotFoundError traceback.  The extras themselves are
declared in ``pyproject.toml``; a test installs the built wheel and checks both agree.
"""

from __future__ import annotations

import importlib

__all__ = ["EXTRA_OF", "MissingDependency", "require", "missing_message"]

#: importable module -> the extra of ``pyproject.toml`` that installs it
EXTRA_OF = {
    "xlwings": "excel",
    "openpyxl": "workbooks",
    "ipywidgets": "notebook",
    "IPython": "notebook",
    "matplotlib": "notebook",
    "jinja2": "notebook",          # pandas' Styler (the forms' breakdown table)
    "ipydatagrid": "notebook",
    "formulas": "notebook",        # the %xl parser
    "voila": "dashboard",
}


class MissingDependency(ImportError):
    """An optional dependency of a face is not installed; the message names the extra."""


def missing_message(module: str, face: str = "these xlcalc functions") -> str:
    """One line: what is missing and the pip command that installs it."""
    top = module.split(".")[0]
    extra = EXTRA_OF.get(top)
    how = f"pip install 'xlcalc[{extra}]'" if extra else f"pip install {top}"
    return f"{face} need {top}, which is not installed: {how}"


def require(*modules: str, face: str) -> None:
    """Import each of ``modules`` or raise :class:`MissingDependency` naming the extra."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and e.name.split(".")[0] != module.split(".")[0]:
                raise                      # a broken install of something else: not ours
            raise MissingDependency(missing_message(module, face)) from None
