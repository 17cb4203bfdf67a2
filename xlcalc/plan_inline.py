"""Formulas written into a compiled scalar plan as expressions (:func:`graph._compile`).

A compiled plan runs one formula per line.  Calling each formula costs a Python call,
and so does each helper the formula calls (``where``, ``minimum``, ``ceil``, a module's
own ``_capped_tokens``): on an Excel recalculation those calls are most of the time.
So a formula whose body is one expression (after single-assignment lines) is written
into the plan as that expression over the plan's variables, and so, recursively, is a
module helper of the same shape; the dispatching helpers of :mod:`xlcalc.expr` are
written as what they compute on scalars (a plan holds nothing else).

What it keeps exact, and how:

* **the same operations on the same values, in the same order.**  Every argument is
  evaluated once, before the body, as a call would (``(w1 := A, body)[-1]``; a plain
  variable or constant needs no binding); a local assignment stays a binding, in order.
* **the same result for every scalar.**  A helper's form is the expression its scalar
  paths compute, for floats, ints, bools, NaN, infinities and numpy scalars alike.
* **the formula is still written once**, in its module: the plan reads its source.

Anything else (loops, comprehensions, keyword or default arguments, a closure) is
called as before.  ``tests/test_scalar_plans.py`` holds every plan equal to the general
loop, and each scalar form equal to its helper on edge values.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import math
import textwrap
import types

from . import expr as X

__all__ = ["inline_formula", "SCALAR_FORMS"]

#: expression kinds never inlined (their own scopes or control flow)
_NO_INLINE = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
              ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)
_MAX_DEPTH = 4           # helpers inlined inside helpers, at most this deep
_BODIES: dict = {}       # function -> (parameters, [(local, expression)], result) or None


def _body(fn):
    """``(parameters, assignments, result expression)`` of a function made of single-name
    assignments and one ``return``, over its parameters, its locals and its module's
    names; None for anything else."""
    if fn in _BODIES:
        return _BODIES[fn]
    found = None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        tree = None
    # (a wrapper's source is the function it wraps: inspect unwraps; it is called)
    if isinstance(tree, ast.FunctionDef) and not fn.__closure__ and \
            not hasattr(fn, "__wrapped__"):
        found = _straight_body(tree)
    _BODIES[fn] = found
    return found


def _straight_body(tree: ast.FunctionDef):
    a = tree.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.kw_defaults:
        return None
    params = tuple(p.arg for p in a.posonlyargs + a.args)
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]                                   # the docstring
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return None
    assigned: list = []
    for stmt in body[:-1]:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and
                isinstance(stmt.targets[0], ast.Name)):
            return None
        name = stmt.targets[0].id
        if name in params or name in assigned:           # one binding per name
            return None
        assigned.append(name)
    exprs = [s.value for s in body[:-1]] + [body[-1].value]
    for e in exprs:
        for x in ast.walk(e):
            if isinstance(x, _NO_INLINE) or \
                    (isinstance(x, ast.Name) and not isinstance(x.ctx, ast.Load)):
                return None
    return params, list(zip(assigned, exprs[:-1])), exprs[-1]


# ------------------------------------------------------------------ scalar forms
#
# A compiled plan holds scalars only (an array, a factor or an expression sends the call
# to the general loop), and on scalars of every type -- float, int, bool, numpy scalars --
# each helper below returns what its form computes (its fast path and its scalar path are
# that one expression; ``test_scalar_plans`` checks each form against its helper on edge
# values).  An operand is given twice: as it is first evaluated (``(w1 := v3 / v4)``, or
# a plain variable) and as it is read afterwards (``w1``); each is evaluated once, in the
# helper's argument order, before the helper's result is chosen.

def _ceil_form(x):
    (x1, x) = x
    return f"(float(_mceil({x})) if _finite({x1}) else {x})"


def _floor_form(x):
    (x1, x) = x
    return f"(float(_mfloor({x})) if _finite({x1}) else {x})"


def _minimum_form(a, b):
    (a1, a), (b1, b) = a, b
    return f"({a} if {a1} <= {b1} or {a} != {a} else {b})"


def _maximum_form(a, b):
    (a1, a), (b1, b) = a, b
    return f"({a} if {a1} >= {b1} or {a} != {a} else {b})"


def _where_form(c, a, b):
    (c1, c), (a1, a), (b1, b) = c, a, b
    if a1 == a and b1 == b:       # both choices plain values: nothing else to evaluate
        return f"({a} if {c1} else {b})"
    return f"({a} if ({c1}, {a1}, {b1})[0] else {b})"     # where evaluates all three


#: helper -> (number of arguments, scalar form): exactly the helper's fast path
SCALAR_FORMS = {X.ceil: (1, _ceil_form), X.floor: (1, _floor_form),
                X.minimum: (2, _minimum_form), X.maximum: (2, _maximum_form),
                X.where: (3, _where_form)}
_FORM_NAMES = {"_mceil": math.ceil, "_mfloor": math.floor, "_finite": math.isfinite}


class _Writer:
    """Writes expressions for one plan: names of module objects bound in ``env`` (one
    plan variable per object, renamed when two modules use one name for different
    objects) and fresh temporaries ``w1, w2 ...``."""

    def __init__(self, env: dict):
        self.env = env
        for name, obj in _FORM_NAMES.items():
            env[name] = obj
        self.count = env.setdefault("_inline_temps", [0])

    def temp(self) -> str:
        self.count[0] += 1
        return f"w{self.count[0]}"

    def bind(self, obj, name: str) -> str:
        """The plan variable holding module object ``obj`` (named after ``name``)."""
        plan_name, k = f"{name}_", 0
        while self.env.get(plan_name, obj) is not obj:     # another object of that name
            k += 1
            plan_name = f"{name}_{k}"
        self.env[plan_name] = obj
        return plan_name

    def function(self, fn, args: list[str], depth: int) -> str | None:
        """Source of ``fn(*args)`` (argument sources, evaluated in order) written out,
        or None when ``fn`` must be called."""
        body = _body(fn)
        if body is None or len(body[0]) != len(args) or depth > _MAX_DEPTH:
            return None
        params, assignments, result = body
        bound, names = [], {}
        for p, a in zip(params, args):
            if _is_atom(a):
                names[p] = a
            else:                       # evaluated once, first, as a call evaluates it
                names[p] = self.temp()
                bound.append(f"({names[p]} := {a})")
        for local, e in assignments:
            src = self.expression(e, fn, names, depth)
            if src is None:
                return None
            names[local] = self.temp()
            bound.append(f"({names[local]} := {src})")
        out = self.expression(result, fn, names, depth)
        if out is None:
            return None
        return f"({', '.join(bound)}, {out})[-1]" if bound else f"({out})"

    def expression(self, e: ast.expr, fn, names: dict, depth: int) -> str | None:
        """Source of expression ``e`` of function ``fn``'s body, its parameters and
        locals named by ``names``."""
        writer = self
        failed = []

        class Rewrite(ast.NodeTransformer):
            def visit_Name(self, x):
                if x.id in names:
                    return ast.copy_location(ast.Name(names[x.id], ast.Load()), x)
                obj = writer.resolve(fn, x.id)
                if obj is _MISSING:
                    failed.append(x.id)
                    return x
                return ast.copy_location(ast.Name(writer.bind(obj, x.id), ast.Load()), x)

            def visit_Call(self, x):
                if isinstance(x.func, ast.Name) and x.func.id not in names and \
                        not x.keywords and not any(isinstance(a, ast.Starred) for a in x.args):
                    obj = writer.resolve(fn, x.func.id)
                    args = [writer.expression(a, fn, names, depth) for a in x.args]
                    if obj is not _MISSING and None not in args:
                        src = writer.call(obj, x.func.id, args, depth)
                        if src is not None:
                            return ast.copy_location(ast.Name(src, ast.Load()), x)   # written as is
                return self.generic_visit(x)

        tree = Rewrite().visit(copy.deepcopy(e))
        if failed:
            return None
        return ast.unparse(tree)

    def call(self, obj, name: str, args: list[str], depth: int) -> str | None:
        """Source of ``obj(*args)`` written out (a scalar form, a helper's body), or None
        to leave the call as it is."""
        form = SCALAR_FORMS.get(obj) if _hashable(obj) else None
        if form is not None and form[0] == len(args):
            operands = []
            for a in args:              # each operand once, in order, as the call would
                if _is_atom(a):
                    operands.append((a, a))
                else:
                    w = self.temp()
                    operands.append((f"({w} := {a})", w))
            return form[1](*operands)
        if isinstance(obj, types.FunctionType) and obj.__module__.startswith("xlcalc"):
            return self.function(obj, args, depth + 1)
        return None

    @staticmethod
    def resolve(fn, name: str):
        if name in fn.__globals__:
            return fn.__globals__[name]
        if hasattr(builtins, name) and name not in ("locals", "vars", "globals"):
            return getattr(builtins, name)
        return _MISSING


_MISSING = object()


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def _is_atom(src: str) -> bool:
    """A plan variable or a literal number: nothing to evaluate, nothing to raise."""
    return src.isidentifier() or _is_number(src)


def _is_number(src: str) -> bool:
    try:
        float(src)
    except ValueError:
        return False
    return True


def inline_formula(fn, args: list[str], env: dict) -> str | None:
    """Source of formula function ``fn`` over the plan variables ``args`` (its arguments
    in order), the objects it names bound in ``env``; None when it must be called."""
    return _Writer(env).function(fn, args, 0)
