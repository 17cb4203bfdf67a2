"""model × hardware × workload → quantities: the bridge from the public API to the graph.

:func:`estimate` loads the model and accelerator specs (preset names, config
dicts, rows, files) and evaluates graph nodes; :func:`breakdown` returns a tidy
pandas Series of named parts; :func:`sweep` evaluates a cartesian grid of inputs in
one vectorised call and returns one row per combination (DESIGN.md principles 5–6).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from . import graph
from .errors import checked_keywords
from .hardware import Accelerator, load_gpu
from .models import Model, load_model

__all__ = ["estimate", "breakdown", "sweep", "resolve", "scalar_function"]


_PRESETS: dict = {}     # (kind, name as typed) -> loaded preset: recalculations repeat names


def _load(kind: str, spec):
    """``load_model``/``load_gpu`` with presets named by text remembered per spelling
    (a preset file does not change while the process runs; a config path is re-read)."""
    if type(spec) is str:
        hit = _PRESETS.get((kind, spec))
        if hit is not None:
            return hit
    from .hardware import gpu_names
    from .models import preset_names
    record = load_model(spec) if kind == "model" else load_gpu(spec)
    if type(spec) is str and len(_PRESETS) < 4096 and spec.strip().lower() in \
            (preset_names() if kind == "model" else gpu_names()):
        _PRESETS[(kind, spec)] = record
    return record


def resolve(inputs: Mapping) -> dict:
    """Replace a ``model``/``gpu`` spec by its loaded record (names stay lookups
    when they are arrays, so that sweeps over presets stay vectorised)."""
    return _resolve_into(dict(inputs))


def _resolve_into(ctx: dict) -> dict:
    """:func:`resolve` in place (``ctx`` is the caller's own dict).  A preset named by
    text that was loaded before is one dictionary read (the scalar hot path)."""
    spec = ctx.get("model")
    if spec is not None and type(spec) is not Model:
        hit = _PRESETS.get(("model", spec)) if type(spec) is str else None
        ctx["model"] = hit if hit is not None else _resolve_one("model", spec)
    spec = ctx.get("gpu")
    if spec is not None and type(spec) is not Accelerator:
        ctx["gpu"] = _resolve_one("gpu", spec)
    return ctx


def _resolve_one(kind: str, spec):
    """One ``model``/``gpu`` value: its loaded record, or itself (an array or factor of
    specs, a record already loaded, a formula)."""
    if type(spec) is str:
        hit = _PRESETS.get((kind, spec))
        return hit if hit is not None else _load(kind, spec)
    return _load(kind, spec) if _is_spec(spec) else spec


def _is_spec(value) -> bool:
    """A single model/gpu spec to load (not an array/factor of them, not a formula)."""
    if type(value) is str:
        return True
    if isinstance(value, (Model, Accelerator)):
        return False       # already loaded (and hasattr on a Model costs an exception)
    return not isinstance(value, (np.ndarray, graph.Factor)) and not hasattr(value, "excel")


@checked_keywords
def estimate(targets: str | Iterable[str], *, bind: Mapping | None = None, **inputs) -> dict:
    """Values of the named quantities for the given inputs (dict name → value).

    ``bind`` maps an input to a node computed from the other inputs first, as in
    :func:`sweep` (``{"seq_len": "total_len"}``: memory at prompt + output tokens)."""
    for v in inputs.values():
        if v is None:
            inputs = {k: v for k, v in inputs.items() if v is not None}
            break
    ctx = _resolve_into(inputs)          # the keyword dict is this call's own
    if bind:
        bound = graph.evaluate(tuple(bind.values()), ctx)
        ctx.update({name: bound[node] for name, node in bind.items()})
    return graph.evaluate(targets if not isinstance(targets, str) else (targets,), ctx)


#: :func:`estimate` without its keyword check, for the library's own public functions:
#: each is wrapped by :func:`~xlcalc.errors.checked_keywords` itself and passes graph
#: names, so the keywords a caller typed are checked once per call, not once per layer
_estimate = estimate.__wrapped__


def _preset_record(kind: str):
    """Value -> the record :func:`resolve` gives it, for a compiled plan: a preset text
    loaded before under that spelling; anything else (a text seen first, a config dict,
    a path, an array of names) takes the general path, which loads and remembers it."""
    def record(value):
        hit = _PRESETS.get((kind, value)) if type(value) is str else None
        if hit is None:
            raise graph._NotScalar
        return hit
    return record


_TEXTS = {"model": (Model, _preset_record("model")), "gpu": (Accelerator, _preset_record("gpu"))}


def scalar_function(targets: str | Iterable[str], names: Iterable[str], general=None):
    """``f(*values)``: :func:`estimate` of ``targets`` with the inputs ``names`` given in
    that order -- the value of a single target, else a dictionary of the targets.

    The same validation, errors and values as ``estimate(targets, **dict(zip(names,
    values)))`` (an argument None is left out), without building the keyword dictionary
    or the dictionary of every node: scalars run a plan compiled for these arguments
    (:func:`graph.scalar_plan`); anything else takes :func:`estimate`.  For a public
    function's hot scalar path (an Excel recalculation calls it once per cell).
    ``general(*values)`` replaces that estimate() call where the function fills its own
    defaults (:func:`xlcalc.serving.weights_memory`)."""
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    names = tuple(names)

    if general is None:
        def general(*values):
            got = _estimate(targets, **dict(zip(names, values)))
            return got[targets[0]] if len(targets) == 1 else {t: got[t] for t in targets}

    def compile_and_run(*values):
        plan[0] = graph.scalar_plan(targets, names, _TEXTS) or general
        return plan[0](*values)

    plan = [compile_and_run]       # the compiled plan once the graph is loaded
    # one parameter per input (no tuple of arguments to build); the general path runs
    # outside the handler, so that an error of its own is not chained to _NotScalar
    args = ", ".join(f"a{i}" for i in range(len(names)))
    env = {"plan": plan, "general": general, "_NotScalar": graph._NotScalar}
    exec(f"def call({args}):\n"
         f"    try:\n        return plan[0]({args})\n"
         f"    except _NotScalar:\n        pass\n"
         f"    return general({args})\n", env)
    return env["call"]


@checked_keywords
def breakdown(parts: Mapping[str, str], name: str = "", **inputs):
    """A pandas Series (label → value) of several quantities computed together.

    ``parts`` maps a display label to a graph name, e.g. ``{"total": "params_total"}``.
    Scalars give a Series of floats; array inputs give a DataFrame (one column per
    label).
    """
    import pandas as pd
    values = _estimate(tuple(parts.values()), **inputs)
    out = {label: values[node] for label, node in parts.items()}
    if not all(type(v) in _PLAIN for v in out.values()) and \
            any(np.ndim(v) for v in out.values()):
        shape = np.broadcast_shapes(*(np.shape(v) for v in out.values()))
        return pd.DataFrame({k: np.broadcast_to(v, shape).ravel() for k, v in out.items()})
    labels = tuple(out)
    index = _INDEXES.get(labels)
    if index is None:
        index = _INDEXES[labels] = pd.Index(labels)
    # a view of the index built once per set of labels (a Series of a dictionary spends
    # most of its 0.1 ms inferring one); its own object, so renaming it changes no other
    return pd.Series([float(v) if not isinstance(v, str) else v for v in out.values()],
                     index=index.view(), name=name or None)


_INDEXES: dict = {}     # the labels of a breakdown -> their pandas Index
_PLAIN = frozenset({float, int, str, bool})   # scalars np.ndim need not be asked about


#: :func:`breakdown` without its keyword check (see :data:`_estimate`)
_breakdown = breakdown.__wrapped__


@checked_keywords
def sweep(targets: str | Iterable[str], *, bind: Mapping | None = None, **axes):
    """Evaluate ``targets`` over every combination of the given input values.

    Each keyword is an input name with one value or a list of values; ``model`` and
    ``gpu`` may list preset names, config dicts or loaded records.  Returns a tidy
    DataFrame: one row per combination (the first axis varies slowest), one column per
    input axis and per target.  The grid is never materialised for the computation:
    axis *i* is shaped to broadcast along dimension *i*, text axes are categorical
    codes, so quantities that depend on few axes are computed once per distinct value.
    ``bind`` maps an input to a node computed from the axes first (``{"seq_len":
    "total_len"}``: the memory of a serving plan at prompt + output tokens).
    """
    import pandas as pd
    targets = [targets] if isinstance(targets, str) else list(targets)
    names = list(axes)
    values = [list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Series, range)) else [v]
              for v in axes.values()]
    shape = tuple(len(v) for v in values)
    ctx, labels = {}, {}
    for i, (name, vals) in enumerate(zip(names, values)):
        dims = [1] * len(shape)
        dims[i] = shape[i]
        codes = np.arange(shape[i]).reshape(dims)
        if name in ("model", "gpu"):
            load = load_model if name == "model" else load_gpu
            records = [load(v) for v in vals]
            ctx[name] = graph.Factor(records, codes)
            labels[name] = [r.name for r in records]
        elif all(isinstance(v, str) for v in vals):
            ctx[name] = graph.Factor(vals, codes)
            labels[name] = list(vals)
        else:
            ctx[name] = np.asarray(vals, dtype=np.float64).reshape(dims)
            labels[name] = np.asarray(vals)
    if bind:
        bound = graph.evaluate(tuple(bind.values()), ctx)
        ctx.update({name: bound[node] for name, node in bind.items()})
    result = graph.evaluate(tuple(targets), ctx)
    n = int(np.prod(shape)) if shape else 1
    grid = np.indices(shape).reshape(len(shape), n) if shape else np.zeros((0, 1), int)
    columns = {}
    for i, name in enumerate(names):
        lab = labels[name]
        if isinstance(lab, list) and len(set(lab)) == len(lab):
            columns[name] = pd.Categorical.from_codes(grid[i], categories=lab)
        else:
            columns[name] = np.asarray(lab, dtype=object)[grid[i]]
    for t in targets:
        v = result[t]
        if isinstance(v, graph.Factor):
            v = np.asarray(v.categories, dtype=object)[v.codes]
        columns[t] = np.broadcast_to(v, shape).reshape(n)
    return pd.DataFrame(columns)
