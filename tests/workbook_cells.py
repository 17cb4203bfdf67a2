"""Where a generated workbook keeps its inputs (shared by the template tests)."""

from __future__ import annotations


def input_cells(wb) -> dict[str, tuple[str, str]]:
    """Defined input name -> (sheet, coordinate without $) on the Inputs sheet."""
    out = {}
    for name, dn in wb.defined_names.items():
        for sheet, ref in dn.destinations:
            if sheet == "Inputs":
                out[name] = (sheet, ref.replace("$", ""))
    return out
