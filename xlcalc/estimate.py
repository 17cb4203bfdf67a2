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
from .hardware import load_gpu
from .models import load_model

__all__ = ["estimate", "breakdown", "sweep", "resolve"]


def resolve(inputs: Mapping) -> dict:
    """Replace a ``model``/``gpu`` spec by its loaded record (names stay lookups
    when they are arrays, so that sweeps over presets stay vectorised)."""
    ctx = dict(inputs)
    if "model" in ctx and _is_spec(ctx["model"]):
        ctx["model"] = load_model(ctx["model"])
    if "gpu" in ctx and _is_spec(ctx["gpu"]):
        ctx["gpu"] = load_gpu(ctx["gpu"])
    return ctx


def _is_spec(value) -> bool:
    return not isinstance(value, np.ndarray) and not hasattr(value, "excel")


def estimate(targets: str | Iterable[str], **inputs) -> dict:
    """Values of the named quantities for the given inputs (dict name → value)."""
    ctx = resolve({k: v for k, v in inputs.items() if v is not None})
    return graph.evaluate(targets if not isinstance(targets, str) else (targets,), ctx)


def breakdown(parts: Mapping[str, str], name: str = "", **inputs):
    """A pandas Series (label → value) of several quantities computed together.

    ``parts`` maps a display label to a graph name, e.g. ``{"total": "params_total"}``.
    Scalars give a Series of floats; array inputs give a DataFrame (one column per
    label).
    """
    import pandas as pd
    values = estimate(tuple(parts.values()), **inputs)
    out = {label: values[node] for label, node in parts.items()}
    if any(np.ndim(v) for v in out.values()):
        shape = np.broadcast_shapes(*(np.shape(v) for v in out.values()))
        return pd.DataFrame({k: np.broadcast_to(v, shape).ravel() for k, v in out.items()})
    return pd.Series({k: float(v) if not isinstance(v, str) else v for k, v in out.items()},
                     name=name or None)


def sweep(targets: str | Iterable[str], **axes):
    """Evaluate ``targets`` over every combination of the given input values.

    Each keyword is an input name with one value or a list of values; ``model`` and
    ``gpu`` may list preset names, config dicts or loaded records.  Returns a tidy
    DataFrame: one row per combination, one column per input axis and per target.
    The whole grid is evaluated in one vectorised call (no Python loop over rows).
    """
    import pandas as pd
    if isinstance(targets, str):
        targets = [targets]
    names = list(axes)
    values = [list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Series, range)) else [v]
              for v in axes.values()]
    sizes = [len(v) for v in values]
    grids = np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij") if names else []
    index = {n: g.ravel() for n, g in zip(names, grids)}
    ctx, columns = {}, {}
    for name, vals in zip(names, values):
        idx = index[name]
        if name in ("model", "gpu"):
            load = load_model if name == "model" else load_gpu
            records = [load(v) for v in vals]
            ctx[name] = _Rows(records, idx)
            columns[name] = np.array([r.name for r in records], dtype=object)[idx]
            continue
        arr = np.asarray(vals)
        ctx[name] = arr[idx]
        columns[name] = arr[idx]
    result = graph.evaluate(tuple(targets), ctx)
    n = int(np.prod(sizes)) if sizes else 1
    for t in targets:
        columns[t] = np.broadcast_to(result[t], (n,)) if np.ndim(result[t]) == 0 else result[t]
    return pd.DataFrame(columns)


class _Rows:
    """Model or accelerator records, one per grid row: ``rows[field]`` is the field's
    value on every row (what a lookup node reads from a record)."""

    def __init__(self, records, idx):
        self.records = records
        self.idx = idx

    def __getitem__(self, field):
        return np.array([r[field] for r in self.records], dtype=np.float64)[self.idx]
