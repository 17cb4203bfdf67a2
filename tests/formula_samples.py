"""Random valid input contexts for the whole formula graph (used by parity tests).

Every input any formula needs is drawn from its glossary term: a ``choice`` from
its table's keys, a number from the term's ``sample`` values.  Inputs with
relations (``tp`` must divide ``num_heads`` …) are drawn among the samples that
satisfy them, so every context is valid by construction.
"""

from __future__ import annotations

import numpy as np

from xlcalc import graph
from xlcalc.glossary import TERMS
from xlcalc.hardware import gpu_names, load_gpu
from xlcalc.models import load_model, preset_names


def formula_inputs() -> list[str]:
    """Every input name that some formula node needs."""
    graph.load_all()
    names = [n.name for n in graph.formulas()]
    order = graph.dependencies(names)
    return [n for n in order if n not in graph.NODES]


def _record_values(ctx) -> dict:
    """Model and GPU fields of the context, for relation checks."""
    values = {}
    model = load_model(ctx["model"])
    values.update({k: model[k] for k in model.fields})
    gpu = load_gpu(ctx["gpu"])
    values.update(gpu.fields)
    return values


def _choices(name: str, rng) -> list:
    t = TERMS[name]
    if t.kind == "choice":
        return list(graph.table(t.table).frame().index)
    if t.kind == "flag":
        return [0, 1]
    if t.sample:
        return list(t.sample)
    if t.default is not None:
        return [t.default]
    raise AssertionError(f"glossary term {name!r} has no sample values to test with")


def random_context(rng: np.random.Generator, models=None, gpus=None, tries: int = 50) -> dict:
    """One valid context covering every formula input (combinations the core refuses,
    e.g. a dtype the accelerator has no peak for, are drawn again)."""
    from xlcalc.errors import XlcalcError
    for _ in range(tries):
        ctx = _draw_context(rng, models, gpus)
        try:
            evaluate_all(ctx)
        except XlcalcError:
            continue
        return ctx
    raise AssertionError("no valid random context in %d tries" % tries)


def _draw_context(rng, models, gpus) -> dict:
    models = models or preset_names()
    gpus = gpus or gpu_names()
    ctx = {"model": str(rng.choice(models)), "gpu": str(rng.choice(gpus))}
    known = _record_values(ctx)
    for name in formula_inputs():
        if name in ctx or name in ("model", "gpu"):
            continue
        if name not in TERMS:
            raise AssertionError(f"formula input {name!r} is not a glossary term")
        options = _choices(name, rng)
        rng.shuffle(options)
        chosen = None
        for option in options:
            trial = {**known, **ctx, name: float(option) if not isinstance(option, str)
                     else option}
            if all(other not in trial or bool(predicate(trial[name], trial[other]))
                   for other, predicate, _ in TERMS[name].relations):
                chosen = option
                break
        if chosen is None:
            chosen = TERMS[name].default if TERMS[name].default is not None else 1
        ctx[name] = chosen
        known[name] = chosen
    return ctx


def evaluate_all(ctx: dict) -> dict:
    """Every formula node evaluated in ``ctx`` (skipping nodes the context cannot
    support, e.g. a dtype the accelerator lacks)."""
    from xlcalc.estimate import estimate
    names = tuple(n.name for n in graph.formulas())
    return estimate(names, **ctx)
