"""Compiled scalar plans: the hot path of every Excel cell (:func:`graph.evaluate`).

Excel recalculates one cell at a time: a scalar evaluation is the hot path of every UDF.
A plan (targets × the names given) is compiled once into straight-line Python -- one local
variable per node, each formula written out or called with its arguments in place -- which
does exactly what the general loop of :func:`graph.evaluate` does for scalars: validate
each input (remembered per value), look each table cell up (a missing required cell is the
same error), check the relations, run the formulas.  Arrays, factors and formulas (Expr)
take the general loop.  Formulas are written out by :mod:`xlcalc.plan_inline`.

This module reads :mod:`xlcalc.graph`'s registry and caches (it is imported at the end of
that module, which re-exports the names its evaluation uses).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from . import expr as X
from .glossary import TERMS, check_relations
from .graph import (_RELATED, _ROWS, _VECTOR_KEYS, Factor, Formula, Lookup, _check_related,
                    _checked, _input_value, _missing_required, _plan, _row)
from . import graph as _graph
from .plan_inline import inline_formula


class _NotScalar(Exception):
    """An input the compiled scalar plan does not take (array, factor, Excel expression)."""


def _scalar_input(name, value):
    if value is None:            # an argument left out: the general path drops it
        raise _NotScalar
    t = type(value)
    if t is not str and t is not int and t is not float and (
            isinstance(value, (np.ndarray, list, tuple, Factor, X.Expr)) or
            t.__module__.startswith("pandas")):
        raise _NotScalar
    term = TERMS.get(name)
    if term is not None and term.kind == "choice":
        if t is not str:
            _RECORDS.add(t)      # a loaded record type: later calls take it directly
        return value             # a key (or loaded record): its lookups check it
    return _input_value(name, value)


_RECORDS: set = set()   # loaded record types (Model, Accelerator) seen as keys


def _scalar_row(n: Lookup, key):
    """The mapping a scalar lookup reads: the table row a key names (:func:`_row`, aliases
    and remembered spellings included), or a loaded record's values (a Model keeps its
    floats in ``_values``, an Accelerator its fields and family in ``lookup_row()``)."""
    if type(key) is str:
        return _ROWS.get((n.table, key)) or _row(n, key)
    if isinstance(key, _VECTOR_KEYS):
        raise _NotScalar
    own = vars(key)
    return own["_values"] if "_values" in own else key.lookup_row()


_COMPILED: dict = {}


def _inline(n: Formula, args: list, env: dict):
    """Source of formula ``n``'s value over the plan variables ``args`` (its arguments in
    order), the objects it names bound in ``env``; None when it must be called
    (:mod:`xlcalc.plan_inline`)."""
    fn = n.function
    if fn is not n.fn:              # derive(n=2): a wrapper
        return None
    return inline_formula(fn, args, env)


def _static_nodes(inputs_, lookups, formulas):
    """The lookups and formulas of a plan whose value depends on its table keys alone
    (the model, the GPU, a dtype ... and nothing numeric): a model's layer counts, a
    format's bytes per element.  Presets do not change while the process runs, so these
    are computed once per combination of keys (:func:`_compile`).  Returns the static
    lookups, the static formulas and the key inputs they depend on."""
    keys = {name for name in inputs_ if name in TERMS and TERMS[name].kind == "choice"}
    static, roots = set(), []
    s_lookups, s_formulas = [], []
    for n in lookups:
        if all(a in keys or a in static for a in n.args):
            static.add(n.name)
            s_lookups.append(n)
            roots += [a for a in n.args if a in keys and a not in roots]
    for n in formulas:
        if s_lookups and n.args and all(a in static for a in n.args):
            static.add(n.name)
            s_formulas.append(n)
    return s_lookups, s_formulas, roots


def _compile(plan, params: tuple | None = None, only: tuple | None = None,
             texts: Mapping | None = None):
    """Straight-line Python for a plan's scalar evaluation (see the module docstring).

    The lookups and formulas that depend on table keys alone (:func:`_static_nodes`) run
    once per combination of keys and are remembered in ``_KEYED``: the lookups, and in a
    slot of the same entry the formulas, in the order the general loop runs them (the
    relation checks between); a key given as text is remembered by its spelling, a loaded
    record by its identity.

    ``run(ctx)`` returns the general loop's dictionary.  With ``params`` (the input names
    in the order of a caller's arguments) it is ``run(*values)`` instead, and with
    ``only`` (some of the plan's names) it returns just their values: the one value of a
    single name, else a dictionary of them, and ``texts`` maps an input name to its
    record type and the function that turns anything else given for it into a record of
    that type (:func:`scalar_plan`)."""
    inputs_, lookups, formulas, related, missing, late = plan
    whole = only is None          # the whole dictionary, as the general loop gives it
    var = {}
    keyed = {}
    env = {"_scalar_input": _scalar_input, "_row": _scalar_row,
           "_RECORDS": _RECORDS, "_RELATED": _RELATED,
           "_missing_required": _missing_required, "_check_related": _check_related,
           "check_relations": check_relations, "_NotScalar": _NotScalar,
           "_KEYED": keyed}
    if params is None:
        lines = ["def run(ctx):"]
        given = {name: f"ctx[{name!r}]" for name in inputs_}
    else:
        lines = [f"def run({', '.join(f'a{i}' for i in range(len(params)))}):"]
        given = {name: f"a{params.index(name)}" for name in inputs_}
    rows = {}                   # key variable -> variable of the mapping it selects
    s_lookups, s_formulas, roots = _static_nodes(inputs_, lookups, formulas)
    s_names = {n.name for n in s_lookups}
    d_lookups = [n for n in lookups if n.name not in s_names]
    d_formulas = [n for n in formulas if n not in s_formulas]
    result = list(inputs_) + [n.name for n in lookups] + [n.name for n in formulas]

    def known():
        return "{" + ", ".join(f"{n!r}: {v}" for n, v in var.items()) + "}"

    def lookup_lines(nodes, indent):
        out = []
        for n in nodes:
            v = var[n.name] = f"v{len(var)}"
            key = var[n.key]        # an input or a looked-up text: a key or a loaded record
            if key not in rows:
                rows[key] = f"m{len(rows)}"
                env[f"N{rows[key]}"] = n
                out.append(f"{rows[key]} = _row(N{rows[key]}, {key})")
            column = repr(n.column) if n.column_key is None else var[n.column_key]
            out.append(f"{v} = {rows[key]}[{column}]")
            if n.required is not None:
                env[f"N{v}"] = n
                out.append(f"if {v} != {v}: _missing_required(N{v}, {known()})")
            if n.empty is not None:       # an empty cell reads as Excel reads it
                out.append(f"if {v} != {v}: {v} = {float(n.empty)!r}")
        return [indent + line for line in out]

    def formula_lines(nodes, indent):
        out = []
        for n in nodes:
            args = [var[a] for a in n.args]
            v = var[n.name] = f"v{len(var)}"
            inlined = _inline(n, args, env)
            if inlined is not None:
                out.append(f"{indent}{v} = {inlined}")
                continue
            env[f"F{v}"] = n.fn
            out.append(f"{indent}{v} = F{v}({', '.join(args)})")
        return out

    # a text for a record input (a model's preset name) that only selects the rows of
    # lookups memoised per key stays a text here: the memo is kept under its spelling and
    # the text becomes its record once, in _fill
    late_texts = {name for name in texts or () if name in roots and name not in only and
                  not any(n.key == name for n in d_lookups) and
                  not any(name in n.args for n in formulas)} if params else set()
    for name in inputs_:
        v = var[name] = f"v{len(var)}"
        x = given[name]
        if params is None:
            lines.append(f"    x = {x}")
            x = "x"
        if name in late_texts:
            env[f"R{v}"], env[f"T{v}"] = texts[name]
            lines.append(f"    {v} = {x} if type({x}) is str or type({x}) is R{v} else T{v}({x})")
            continue
        if texts and name in texts:
            env[f"R{v}"], env[f"T{v}"] = texts[name]
            lines.append(f"    if type({x}) is not R{v}: {x} = T{v}({x})")
        if name in TERMS and TERMS[name].kind == "choice":
            lines.append(f"    {v} = {x} if type({x}) is str or type({x}) in _RECORDS "
                         f"else _scalar_input({name!r}, {x})")
        else:        # a number validated before (an int equals its float in the set)
            env[f"C{v}"] = _checked(name)
            lines.append(f"    {v} = {x} if type({x}) is float and {x} in C{v} "
                         f"else float({x}) if type({x}) is int and {x} in C{v} "
                         f"else _scalar_input({name!r}, {x})")
    fill, fill_args = [], ", ".join(var.values())
    if s_lookups:
        # the rows of the keys, read once per combination of keys (the same lines as
        # below, in a function that takes every input so that an error words the same)
        r = [var[a] for a in roots]
        lines.append(f"    k = ({''.join(f'{x} if type({x}) is str else id({x}), ' for x in r)})")
        lines.append("    c = _KEYED.get(k)")
        ident = " or ".join(f"(c[{i}] is not {x} and type({x}) is not str)"
                            for i, x in enumerate(r))
        lines.append(f"    if c is None or {ident}:")
        lines.append(f"        c = _fill({fill_args})")
        lines.append("        if len(_KEYED) > 512: _KEYED.clear()")
        lines.append("        _KEYED[k] = c")
        fill = [f"def _fill({fill_args}):"]
        fill += [f"    if type({var[name]}) is str: {var[name]} = T{var[name]}({var[name]})"
                 for name in inputs_ if name in late_texts]
        fill.append("    try:")
        fill += lookup_lines(s_lookups, "        ")
        fill.append("    except KeyError:\n        raise _NotScalar from None")
        got = [var[n.name] for n in s_lookups]
        # the result dictionary's template (whole plans): every name in the general loop's
        # order, the values read here filled in (a copy and a few stores beat building it
        # anew) ...
        template = "{" + ", ".join(f"{n!r}: {var[n] if n in s_names else None}"
                                   for n in result) + "}" if whole else "None"
        # ... an empty slot for the values of the static formulas (filled after the
        # relation checks, as the general loop orders them) and, for a relation whose
        # partners are all read here (tp divides the model's heads), the set of values
        # that passed its check with this key
        keyed_checks = [name for name in related if name not in s_names and all(
            o in s_names for o, _, _ in TERMS[name].relations if o in var)]
        passed = [f"p{i}" for i in range(len(keyed_checks))]
        fill.append(f"    return ({', '.join(r + got)}, {template}, []"
                    f"{', set()' * len(passed)})")
        lines.append(f"    {', '.join(['_'] * len(r) + got + ['t', 'd'] + passed)} = c")
    else:
        keyed_checks = passed = []
    if d_lookups:
        lines.append("    try:")
        lines += lookup_lines(d_lookups, "        ")
        # a column the row lacks: the general path words the error
        lines.append("    except KeyError:\n        raise _NotScalar from None")
    for name in related:
        order = [o for o, _, _ in TERMS[name].relations]
        partners = [o for o in order if o in var]
        args = "{" + ", ".join(f"{o!r}: {var[o]}" for o in [name, *partners]) + "}"
        if name in keyed_checks:       # partners fixed by the key: the value alone
            p = passed[keyed_checks.index(name)]
            lines.append(f"    if {var[name]} not in {p}:")
            lines.append(f"        _check_related({name!r}, {args})")
            lines.append(f"        if len({p}) > 4096: {p}.clear()")
            lines.append(f"        {p}.add({var[name]})")
            continue
        key = ", ".join([repr(name), var[name]] + [var.get(o, "None") for o in order])
        # the key _check_related remembers a passed check under (scalars only)
        lines.append(f"    if ({key}) not in _RELATED: _check_related({name!r}, {args})")
    if s_formulas:
        compute = formula_lines(s_formulas, "        ")
        got = [var[n.name] for n in s_formulas]
        lines.append("    if d:")
        lines.append(f"        {', '.join(got)}, t = d[0]")
        lines.append("    else:")
        lines += compute
        if whole:
            lines.append("        t = t.copy()")
            lines += [f"        t[{n.name!r}] = {var[n.name]}" for n in s_formulas]
        lines.append(f"        d.append(({', '.join(got)}, t))")
    lines += formula_lines(d_formulas, "    ")
    for name in late:
        lines.append(f"    check_relations({name!r}, {var[name]}, {known()})")
    if not whole:
        lines.append(f"    return {var[only[0]]}" if len(only) == 1 else
                     "    return {" + ", ".join(f"{n!r}: {var[n]}" for n in only) + "}")
    # the dictionary in the order of the general loop: inputs, lookups, formulas
    elif s_lookups:
        done = s_names | {n.name for n in s_formulas}
        lines.append("    r = t.copy()")
        lines += [f"    r[{n!r}] = {var[n]}" for n in result if n not in done]
        lines.append("    return r")
    else:
        lines.append("    return {" + ", ".join(f"{n!r}: {var[n]}" for n in result) + "}")
    exec(compile("\n".join(fill + lines), "<xlcalc plan>", "exec"), env)
    return env["run"]


def scalar_plan(targets: tuple, params: tuple, texts: Mapping | None = None):
    """A compiled plan that takes the inputs ``params`` as positional arguments and
    returns the value of the one target (several: a dictionary of them), or None when the
    targets need inputs ``params`` does not name (the general path words that error).
    It raises :class:`_NotScalar` for what only the general loop takes (an array, a
    factor, an expression, a None argument, a value ``texts`` cannot turn into a
    record): the caller then evaluates the general way.  ``texts`` maps an input to its
    record type and the function giving the record for any other value (a model or gpu
    preset name), or raising :class:`_NotScalar`."""
    if not _graph._loaded:
        _graph._ensure_loaded()
    plan = _plan(tuple(targets), frozenset(params))
    if plan[4]:
        return None
    return _compile(plan, params=tuple(params), only=tuple(targets), texts=texts)
