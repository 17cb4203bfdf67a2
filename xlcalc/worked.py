"""Worked examples of the seeds: each printed figure beside the value xlcalc computes.

The seeds are tutorials with arithmetic slips.  A worked example lists every figure a
seed prints for one scenario (:class:`SeedFigure`): the seed's value, the graph node
that computes the same quantity, the inputs the seed used (e.g. the nominal 70 B
instead of the exact 68.98 B), the display unit, and a note that says why the two
differ when they do, starting with the kind of difference (:data:`REASONS`: nominal vs
exact count, a different rule, an arithmetic slip, rounding, a unit confusion such as GB
for GiB, multiply-adds counted as FLOPs, elements counted as bytes, a term counted
twice, a rule of thumb).  A rule of thumb that states a range (``seed_range``) is
``within range`` or ``outside range``; a verdict (``"memory"``-bound) matches or not.
:func:`compare` evaluates every row with the core; the workbooks render the same rows as
live formulas; the notebook shows the table.

Examples are registered by modules listed in :data:`EXAMPLE_MODULES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .expr import both, eq, maximum, where

__all__ = ["SeedFigure", "WorkedExample", "register_example", "examples", "example",
           "compare", "row_status", "seed_shown", "MATCH_TOLERANCE", "REASONS"]

#: relative difference under which a seed figure "matches" the computed one
MATCH_TOLERANCE = 0.02

#: the kinds of difference a note names (a differing row's note contains one of them)
REASONS = ("nominal vs exact count", "a different rule", "arithmetic slip in the seed",
           "rounding in the seed", "unit confusion", "multiply-adds counted as FLOPs",
           "elements counted as bytes", "counted twice", "rule of thumb")

EXAMPLE_MODULES: list[str] = ["xlcalc.worked_training", "xlcalc.worked_inference",
                              "xlcalc.worked_seed_001", "xlcalc.worked_seed_002",
                              "xlcalc.worked_seed_004", "xlcalc.worked_seed_000",
                              "xlcalc.worked_seed_003"]


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
    seed_range: tuple = ()          # (low, high) of a rule of thumb that states a range;
                                    # high None: "at least low"


#: The engine the tutorials compute with, and the serving layout they assume: the seeds'
#: plain rules (no profiled peak, no overheads) on one attention rank, no draft model.
#: Each scenario adds it so that its inputs are complete serving inputs.
SEED_ENGINE = dict(engine="seed", dp_attention=1, draft_params=0.0, draft_layers=0)


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


def status_range(low, high, computed):
    """``within range`` when ``low ≤ computed ≤ high`` (no upper bound when ``high`` is
    None), else ``outside range`` (a formula)."""
    inside = computed >= low if high is None else both(computed >= low, computed <= high)
    return where(inside, "within range", "outside range")


def status_text(seed_value, computed):
    """``matches`` when a verdict (text) equals the seed's, else ``differs`` (a formula)."""
    return where(eq(computed, seed_value), "matches", "differs")


def row_status(fig: SeedFigure, seed, computed):
    """The status of row ``fig`` given its seed value and computed value (numbers, or
    cell references when a workbook renders the formula)."""
    if fig.seed_range:
        return status_range(fig.seed_range[0], fig.seed_range[1], computed)
    if isinstance(fig.seed_value, str):
        return status_text(seed, computed)
    return status(seed, computed)


def seed_shown(fig: SeedFigure):
    """What the seed-value column shows: the figure, or ``low–high`` for a range."""
    if fig.seed_range:
        low, high = fig.seed_range
        return f"≥ {low:g}" if high is None else f"{low:g}–{high:g}"
    return fig.seed_value


def computed_value(fig: SeedFigure, value):
    """A row's computed value in its display unit (a verdict stays text)."""
    return value if isinstance(value, str) else float(value) / fig.scale


def compare(name: str):
    """The example as a DataFrame: item, seed section, seed value, computed value,
    unit, status, note (computed by the core for each row's inputs)."""
    import pandas as pd
    from .estimate import estimate
    ex = example(name)
    rows = []
    for f in ex.figures:
        value = computed_value(f, estimate([f.node], **{**ex.inputs, **f.inputs})[f.node])
        rows.append({"item": f.item, "seed section": f.section, "seed value": seed_shown(f),
                     "computed value": value, "unit": f.unit,
                     "status": row_status(f, f.seed_value, value), "note": f.note})
    return pd.DataFrame(rows)
