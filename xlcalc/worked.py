"""Worked examples of the seeds: each printed figure beside the value xlcalc computes.

The seeds are tutorials with arithmetic slips.  A worked example lists every figure a
seed prints for one scenario (:class:`SeedFigure`): the seed's value, the graph node
that computes the same quantity, the inputs the seed used (e.g. the nominal 70 B
instead of the exact 68.98 B), the display unit, and a note that says why the two
differ when they do (nominal vs exact count, a different rule, or an arithmetic slip
in the seed — which one).  :func:`compare` evaluates every row with the core; the
workbooks render the same rows as live formulas; the notebook shows the table.

Examples are registered by modules listed in :data:`EXAMPLE_MODULES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .expr import maximum, where

__all__ = ["SeedFigure", "WorkedExample", "register_example", "examples", "example",
           "compare", "MATCH_TOLERANCE"]

#: relative difference under which a seed figure "matches" the computed one
MATCH_TOLERANCE = 0.02

EXAMPLE_MODULES: list[str] = ["xlcalc.worked_training", "xlcalc.worked_inference"]


@dataclass(frozen=True)
class SeedFigure:
    """One figure a seed prints.

    ``node`` is the graph name computing it; ``inputs`` override/extend the example's
    inputs for this row only; the computed value is shown as ``value / scale`` in
    ``unit`` (``scale=1e9`` with ``unit="GB"``).
    """
    item: str
    section: str
    seed_value: float
    node: str
    unit: str
    scale: float = 1.0
    inputs: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class WorkedExample:
    name: str
    title: str
    seed: str                       # seed file + section, e.g. "000 §七 example 1"
    inputs: dict                    # the scenario's inputs (model, gpu, batch, …)
    figures: tuple                  # SeedFigure rows, in the seed's order


_EXAMPLES: dict[str, WorkedExample] = {}


def register_example(example: WorkedExample) -> WorkedExample:
    if example.name in _EXAMPLES:
        raise RuntimeError(f"worked example {example.name!r} registered twice")
    example = _with_defaults(example)
    _EXAMPLES[example.name] = example
    return example


def _with_defaults(example: WorkedExample) -> WorkedExample:
    """The example with every input its figures read and it does not give set to the
    glossary default (a scenario stays complete when a formula gains an input with a
    default, e.g. the training stack)."""
    import dataclasses
    from .glossary import TERMS
    from .graph import dependencies
    given = set(example.inputs)
    missing = {}
    for f in example.figures:
        for name in dependencies([f.node], given | set(f.inputs)):
            term = TERMS.get(name)
            if name not in given and name not in f.inputs and term is not None and \
                    term.default is not None:
                missing[name] = term.default
    if not missing:
        return example
    return dataclasses.replace(example, inputs={**example.inputs, **missing})


def _load():
    for module in EXAMPLE_MODULES:
        importlib.import_module(module)


def examples() -> dict:
    _load()
    return dict(_EXAMPLES)


def example(name: str) -> WorkedExample:
    from .errors import unknown_choice
    _load()
    if name not in _EXAMPLES:
        raise unknown_choice("example", name, _EXAMPLES)
    return _EXAMPLES[name]


def status(seed_value, computed):
    """``matches`` when within :data:`MATCH_TOLERANCE` (relative to the larger of the two),
    else ``differs``.  A formula: evaluates on numbers and renders to Excel (the
    workbooks' status column)."""
    return where(abs(computed - seed_value) <= MATCH_TOLERANCE *
                 maximum(abs(seed_value), abs(computed)), "matches", "differs")


def compare(name: str):
    """The example as a DataFrame: item, seed section, seed value, computed value,
    unit, status, note (computed by the core for each row's inputs)."""
    import pandas as pd
    from .estimate import estimate
    ex = example(name)
    rows = []
    for f in ex.figures:
        value = estimate([f.node], **{**ex.inputs, **f.inputs})[f.node] / f.scale
        rows.append({"item": f.item, "seed section": f.section, "seed value": f.seed_value,
                     "computed value": float(value), "unit": f.unit,
                     "status": status(f.seed_value, float(value)), "note": f.note})
    return pd.DataFrame(rows)
