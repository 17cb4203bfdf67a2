"""Export the current plan: as a planning workbook (``xlcalc.workbooks.templates``) and as the
equivalent Excel formula (the catalogue of :mod:`xlcalc.udfs`).

A formula is built from the Excel function's own signature: its arguments are glossary
names, so each one takes the plan's value of that name, in the function's order; trailing
arguments equal to their defaults are left out (Excel fills them in).  The text is
rendered by :mod:`xlcalc.expr` (``Call(...).excel()``) — never by string formatting — so
quoting and number formats are the workbooks'.  Only the functions the catalogue defines
are offered, and only when they express the plan exactly (``requires``: inputs the
function has no argument for must be at the value it assumes).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

from xlcalc import expr as X
from xlcalc.errors import XlcalcError

__all__ = ["FormulaSpec", "catalogue", "formula_args", "formula_text", "evaluate_formula",
           "MODEL_RANGE_NAME"]

#: the defined name a pasted config.json stands for in a formula (a two-column range)
MODEL_RANGE_NAME = "model_config"


@dataclass(frozen=True)
class FormulaSpec:
    """An Excel function that computes one headline figure of a form.

    ``figure`` is the key in ``form.figures`` it equals; ``args`` fixes arguments that are
    not plan inputs (``mode="training"``, ``n_gpus`` = the plan's GPUs);
    ``requires`` lists inputs the function has no argument for, with the value it
    assumes (or a tuple of values it computes the same for): the formula is offered only
    when the plan has those values."""
    function: str
    figure: str
    label: str
    args: dict = field(default_factory=dict)
    requires: dict = field(default_factory=dict)


def catalogue() -> dict:
    """The Excel functions (name -> function) of :mod:`xlcalc.udfs`; empty when xlwings
    is not installed (``pip install xlcalc[excel]``)."""
    try:
        from xlcalc import udfs
    except ImportError:
        return {}
    return dict(udfs.CATALOGUE)


def _signature(fn):
    return inspect.signature(inspect.unwrap(fn))


def formula_args(spec: FormulaSpec, context: dict, functions: dict | None = None):
    """The argument values of ``spec``'s function for a plan (``context``: glossary name
    -> value), in order, trailing defaults dropped; ``None`` when the catalogue lacks the
    function, it needs an argument the plan does not have, or the plan is one it cannot
    express (see ``requires``)."""
    functions = catalogue() if functions is None else functions
    fn = functions.get(spec.function)
    if fn is None:
        return None
    for name, value in spec.requires.items():
        allowed = value if isinstance(value, tuple) else (value,)
        if name in context and not any(_same(context[name], v) for v in allowed):
            return None
    values = {**context, **spec.args}
    args, defaults = [], []
    for p in _signature(fn).parameters.values():
        if p.name in values and values[p.name] is not None:
            args.append(values[p.name])
            defaults.append(p.default)
        elif p.default is inspect.Parameter.empty:
            return None
        else:
            break
    while args and defaults[-1] is not inspect.Parameter.empty and _same(args[-1], defaults[-1]):
        args.pop()
        defaults.pop()
    return args


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a).lower() == str(b).lower()
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0)
    except (TypeError, ValueError):
        return a == b


def _arg_expr(value):
    """A plan value as an Excel argument: text quoted, numbers as Excel writes them, a
    model given as a config.json as the name of the range holding it."""
    if hasattr(value, "fields") and hasattr(value, "config"):      # a Model from a config
        return X.Name(MODEL_RANGE_NAME)
    if isinstance(value, bool):
        return X.Num(int(value))
    if isinstance(value, str):
        return X.Text(value)
    return X.Num(float(value))


def formula_text(function: str, args) -> str:
    """``=FUNCTION(arg, …)`` rendered by :mod:`xlcalc.expr`."""
    return "=" + X.Call(function, *[_arg_expr(a) for a in args]).excel()


def evaluate_formula(function: str, args, functions: dict | None = None):
    """What Excel shows for the formula: the function called the way xlwings calls it
    (a number, or a ``#`` text)."""
    functions = catalogue() if functions is None else functions
    fn = functions[function]
    call = []
    for a in args:
        if hasattr(a, "fields") and hasattr(a, "config"):
            call.append([[k, v] for k, v in a.config.items()
                         if isinstance(v, (int, float, str, bool))])
        else:
            call.append(a)
    try:
        return fn(*call)
    except XlcalcError as e:          # the catalogue never raises; be safe anyway
        return f"#VALUE! {e}"
