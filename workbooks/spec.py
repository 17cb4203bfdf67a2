"""What a planning workbook contains: its inputs, its named outputs, its example rows.

A :class:`WorkbookSpec` is data; :mod:`workbooks.generator` turns it into an .xlsx
whose every formula is rendered from the core's formula graph.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Output:
    """One named result cell.

    ``name`` is the workbook-level defined name (``weights_gb``), ``node`` the graph
    node it shows (``infer_weights_bytes``), ``unit`` the display unit (``GB``,
    ``ms``, ``s``, ``days``, ``TFLOPs``, or a unit shown as computed such as
    ``tokens/s``).  ``part`` marks a memory part of the per-GPU breakdown (chart and
    share-of-GPU column); ``chart`` adds a total to the chart (parts and totals must be
    adjacent rows).
    """
    name: str
    node: str
    label: str
    unit: str = ""
    part: bool = False
    note: str = ""
    chart: bool = False      # also a bar of the breakdown chart (totals, usable memory)


@dataclass(frozen=True)
class Section:
    title: str
    outputs: tuple


@dataclass(frozen=True)
class Fit:
    """A fits / does-not-fit line: ``node`` is a boolean graph node."""
    node: str
    label: str
    yes: str = "fits"
    no: str = "does NOT fit"


@dataclass(frozen=True)
class Side:
    """A second set of inputs in the same workbook (the capacity planner's training side):
    its inputs get defined names ``<name>_<input>`` on the Inputs sheet, its quantities are
    recomputed in a sheet of their own, its sections follow the main ones on Results."""
    name: str
    title: str
    inputs: dict
    sections: tuple
    fits: tuple = ()


def title_parts(title: str) -> list:
    """``"{model} on {gpu}"`` -> ``[("", "model"), (" on ", "gpu")]``: literal text and the
    input whose live value follows it (None at the end)."""
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(title)]


def title_text(title: str, values: dict) -> str:
    """The title with each ``{input}`` replaced by its value (8.0 shows as 8)."""
    out = []
    for literal, name in title_parts(title):
        out.append(literal)
        if name is not None:
            v = values[name]
            v = getattr(v, "name", v)
            out.append(str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    return "".join(out)


@dataclass(frozen=True)
class WorkbookSpec:
    """``title`` names inputs in braces (``"{model} inference on {gpu}"``): the sheets'
    titles are live formulas over those inputs, so they follow any change of them."""
    name: str
    title: str
    description: str
    inputs: dict                       # glossary name -> value, in display order
    sections: tuple                    # Section rows of the Results sheet
    fits: tuple = ()                   # Fit lines
    capacity_node: str | None = None   # bytes of one GPU, for the share column
    chart_title: str = "Memory per GPU"
    worked_examples: tuple = ()        # names registered in xlcalc.worked
    extra_nodes: tuple = ()            # nodes to show in Calculations even if unused
    scenarios: object = None           # optional DataFrame of scenario rows (Scenarios sheet)
    scenario_outputs: tuple = ()       # Output columns of the Scenarios sheet
    labels: dict = field(default_factory=dict)   # input name -> display label
    bind: dict = field(default_factory=dict)     # input -> node computing it (seq_len: total_len)
    sides: tuple = ()                            # Side input sets (see Side)
    extras: object = None        # callable(builder): template-specific cells, after the rest
    editable: dict = field(default_factory=dict)  # table name -> columns the user may edit

    def title_for(self, inputs: dict | None = None) -> str:
        """The title with the template's inputs (or ``inputs``) filled in."""
        values = dict(self.inputs, **(inputs or {}))
        for side in self.sides:
            values.update({f"{side.name}_{k}": v for k, v in side.inputs.items()})
        return title_text(self.title, values)
