"""The formula graph: every quantity xlcalc computes is a named node.

Three kinds of name exist, exactly as in a spreadsheet:

* **inputs** -- glossary terms (``batch``, ``tp``, ``dtype``) supplied by the caller;
* **lookups** -- a column of a data table selected by an input key
  (``num_layers`` is the ``num_layers`` column of the ``models`` table at ``model``;
  ``dtype_bytes`` is the ``bytes`` column of the ``dtypes`` table at ``dtype``; a lookup
  may also be keyed by another lookup, or read the column another lookup names);
* **formulas** -- a small Python function whose parameter names are the names of
  its arguments (``kv_cache_bytes(batch, seq_len, kv_cache_bytes_per_token)``).

:func:`evaluate` computes any set of names from a context of inputs, on scalars or
on broadcasting arrays.  :func:`render` turns one node into Excel formula text over
defined names (or cell references); the workbook generator builds a sheet whose
cells are exactly these nodes, so Python and Excel cannot drift (DESIGN.md
principle 1).  A value given in the context always wins over the node that would
compute it (``params_total=7e9`` reproduces a seed that uses the nominal 7 B).
"""

from __future__ import annotations

import importlib
import inspect
import numbers
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from . import expr as X
from .errors import XlcalcError, invalid, unknown_choice
from .glossary import TERMS, check, check_relations

__all__ = ["formula", "derive", "lookup_node", "register_table", "evaluate", "render",
           "NODES", "TABLES", "node", "table", "Formula", "Lookup", "Factor", "dependencies"]

# Modules that define formula nodes and tables; imported on first use so that
# ``import xlcalc`` stays cheap (DESIGN.md principle 4: nothing loaded at import).
FORMULA_MODULES = [
    "xlcalc.formulas.tables",
    "xlcalc.formulas.hardware",
    "xlcalc.formulas.formats",
    "xlcalc.formulas.params",
    "xlcalc.formulas.kv_cache",
    "xlcalc.formulas.flops",
    "xlcalc.formulas.comm",
    "xlcalc.formulas.inference_memory",
    "xlcalc.formulas.fewest_gpus",
    "xlcalc.formulas.capacity",
    "xlcalc.formulas.engines",
    "xlcalc.formulas.efficiency",
    "xlcalc.formulas.latency",
    "xlcalc.formulas.moe_serving",
    "xlcalc.formulas.serving_load",
    "xlcalc.formulas.disagg",
    "xlcalc.formulas.cost",
    "xlcalc.formulas.training_memory",
    "xlcalc.formulas.training_finetune",
    "xlcalc.formulas.activations",
    "xlcalc.formulas.activations_hf",
    "xlcalc.formulas.activations_torchtitan",
    "xlcalc.formulas.training_time",
    "xlcalc.formulas.training_comm",
    "xlcalc.formulas.training_step",
    "xlcalc.formulas.layer_flops",
    "xlcalc.formulas.roofline",
    "xlcalc.formulas.prefix_cache",
    "xlcalc.formulas.collectives",
    "xlcalc.formulas.checkpointing",
]


@dataclass
class Formula:
    """A node computed by ``fn``; ``args`` are graph names in ``fn``'s parameter order."""
    name: str
    fn: Callable
    args: tuple
    unit: str
    source: str
    doc: str
    kind: str = "formula"
    function: Callable | None = None   # the Python function as written

    def __call__(self, *values):
        return self.fn(*values)


@dataclass
class Lookup:
    """A node read from column ``column`` (or the column named by node ``column_key``)
    of table ``table`` at the row named by input ``key``."""
    name: str
    table: str
    key: str
    column: str | None
    column_key: str | None
    unit: str
    source: str
    doc: str
    kind: str = "lookup"
    required: tuple | None = None   # (input to blame, allowed text) when the cell is empty
    empty: float | None = None      # value of an empty cell (NaN in Python, 0 in Excel)
    by_name: bool = False           # its table is keyed by a record's name (Table.by_name)

    @property
    def args(self):
        return (self.key,) + ((self.column_key,) if self.column_key else ())


@dataclass
class Table:
    """A data table: ``loader()`` returns a DataFrame indexed by lower-case key;
    ``normalize`` maps another accepted spelling of a key (an alias) to its row key.

    ``by_name`` marks a table about records kept elsewhere (a price list of GPUs): a loaded
    record given as the key is looked up by its ``name``, not read for its own fields."""
    name: str
    loader: Callable
    key_label: str
    doc: str = ""
    normalize: Callable | None = None
    by_name: bool = False
    _frame: object = None
    _rows: dict = field(default_factory=dict)

    def frame(self):
        if self._frame is None:
            self._frame = self.loader()
            self._rows = {k: dict(r) for k, r in self._frame.to_dict("index").items()}
        return self._frame

    def rows(self) -> dict:
        self.frame()
        return self._rows

    def offered(self) -> list:
        """The keys a planner is offered (dropdowns, help texts).  A row with ``"offer": 0``
        is a source tutorial's own rule (``seed-001``): the worked examples use it and it
        is accepted when typed, but it is not a planner's choice."""
        frame = self.frame()
        if "offer" not in frame.columns:
            return list(frame.index)
        return [k for k, v in frame["offer"].items() if not v == 0]


NODES: dict[str, Formula | Lookup] = {}
TABLES: dict[str, Table] = {}
_loaded = False


def _ensure_loaded():
    global _loaded
    if not _loaded:
        _loaded = True
        for module in FORMULA_MODULES:
            importlib.import_module(module)


def load_all() -> None:
    """Import every formula module (registers their nodes, tables and glossary terms)."""
    _ensure_loaded()


def node(name: str):
    _ensure_loaded()
    try:
        return NODES[name]
    except KeyError:
        raise unknown_choice("quantity", name, NODES) from None


def table(name: str) -> Table:
    _ensure_loaded()
    return TABLES[name]


def _register(n, input_default=False):
    if n.name in NODES:
        raise RuntimeError(f"formula node {n.name!r} registered twice")
    if n.kind == "formula" and n.name in TERMS and not input_default:
        raise RuntimeError(f"{n.name!r} is a glossary input and cannot also be a formula "
                           "(unless registered with input_default=True)")
    NODES[n.name] = n


def _first_line(doc: str | None) -> str:
    first = inspect.cleandoc(doc or "").split("\n\n")[0].replace("\n", " ")
    return first.replace("``", "").replace(":func:", "")


def formula(unit: str, source: str, name: str | None = None, input_default: bool = False,
            **bindings):
    """Register the decorated function as a formula node and return it unchanged.

    The node is named after the function unless ``name`` is given; each parameter
    is the graph name of that argument unless ``bindings`` maps it to another name.
    The function stays a plain Python function over numbers.  ``input_default=True``
    lets the node carry the name of a glossary input: it computes that input when the
    caller does not give it (``micro_batch`` defaults to ``batch / dp``); a given value
    wins and is validated like any input.
    """
    def decorate(fn):
        derive(name or fn.__name__, fn, unit=unit, source=source, input_default=input_default,
               **bindings)
        return fn
    return decorate


def derive(name: str, fn: Callable, unit: str, source: str, doc: str | None = None,
           input_default: bool = False, **bindings) -> Formula:
    """Register an extra node that reuses ``fn`` with some arguments bound to other
    names, e.g. ``derive("dp_allreduce_bytes", ring_allreduce_bytes, size_bytes=
    "gradient_bytes", n="dp")``."""
    params = list(inspect.signature(fn).parameters)
    unknown = set(bindings) - set(params)
    if unknown:
        raise RuntimeError(f"{name}: bindings for unknown parameters {sorted(unknown)}")
    names = tuple(bindings.get(p, p) for p in params)
    args = tuple(a for a in names if isinstance(a, str))
    constants = {i: a for i, a in enumerate(names) if not isinstance(a, str)}
    call = fn if not constants else _with_constants(fn, len(names), constants)
    n = Formula(name, call, args, unit, source, doc or _first_line(fn.__doc__))
    n.function = fn
    _register(n, input_default)
    return n


def _with_constants(fn, arity, constants):
    """``fn`` with some positional arguments fixed to numbers (``derive(..., n=2)``)."""
    def call(*values):
        it = iter(values)
        return fn(*[constants[i] if i in constants else next(it) for i in range(arity)])
    call.__name__ = fn.__name__
    call.__doc__ = fn.__doc__
    return call


def lookup_node(name: str, table: str, key: str, column: str | None = None,
                column_key: str | None = None, unit: str = "", source: str = "",
                doc: str = "", required: tuple | None = None,
                empty: float | None = None) -> Lookup:
    """Register a node read from a data table (see :class:`Lookup`).

    ``required=(input, allowed)`` makes an empty table cell (NaN: a dtype the GPU has no
    peak for) an error blaming ``input`` for a scalar evaluation; a sweep keeps NaN
    for the combinations that do not exist.  Workbooks turn it into an input check.
    ``empty=0.0`` reads an empty cell as 0, as Excel's INDEX does, so that a formula can
    test for it (``peak > 0``) the same way in Python and in a workbook."""
    n = Lookup(name, table, key, column if column_key is None else None, column_key, unit,
               source, doc, required=required, empty=empty,
               by_name=table in TABLES and TABLES[table].by_name)
    _register(n)
    return n


def register_table(name: str, loader: Callable, key_label: str, doc: str = "",
                   normalize: Callable | None = None, by_name: bool = False) -> Table:
    """Register a data table; ``normalize(text)`` (optional) returns the row key another
    spelling means (``H100`` -> ``h100-sxm``) or None; ``by_name`` (see :class:`Table`)."""
    if name in TABLES:
        raise RuntimeError(f"table {name!r} registered twice")
    t = Table(name, loader, key_label, doc, normalize, by_name=by_name)
    TABLES[name] = t
    return t


# ----------------------------------------------------------------------------- plans

_PLANS: dict = {}


def dependencies(targets, available=()) -> list:
    """Names needed to compute ``targets`` in evaluation order (inputs first)."""
    _ensure_loaded()
    available = set(available)
    order: list = []
    seen: set = set()

    def visit(name, chain):
        if name in seen:
            return
        if name in chain:
            raise RuntimeError("circular formula graph: " + " -> ".join(chain + (name,)))
        if name not in available and name in NODES:
            for a in NODES[name].args:
                visit(a, chain + (name,))
        seen.add(name)
        order.append(name)

    for t in targets:
        visit(t, ())
    return order


def _plan(targets: tuple, available: frozenset):
    key = (targets, available)
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    order = dependencies(targets, available)
    # Relation partners (tp must divide num_heads) join the plan when they can be
    # computed from what is available, so that validation always sees them.
    extra = []
    for name in order:
        if name in available and name in TERMS:
            for other, _, _ in TERMS[name].relations:
                if other not in order and other not in extra:
                    try:
                        deps = dependencies([other], available)
                    except RuntimeError:
                        continue
                    if all(d in available or d in NODES for d in deps):
                        extra.append(other)
    if extra:
        # one evaluation order for both: a partner may share dependencies with the targets
        order = dependencies(list(extra) + list(targets), available)
    missing = [n for n in order if n not in available and n not in NODES]
    inputs, lookups, formulas = [], [], []
    for n in order:
        if n in available:
            inputs.append(n)
        elif n in NODES:
            (lookups if NODES[n].kind == "lookup" else formulas).append(NODES[n])
    related = tuple(n for n in inputs if n in TERMS and TERMS[n].relations)
    # relations whose partner is a computed formula (micro_batch vs batch/dp) are checked
    # again once the formulas have run
    computed = {f.name for f in formulas}
    late = tuple(n for n in related if any(o in computed for o, _, _ in TERMS[n].relations))
    plan = (tuple(inputs), tuple(lookups), tuple(formulas), related, tuple(missing), late)
    _PLANS[key] = plan
    return plan


_CHECKED: dict = {}   # input name -> the set of its scalars already validated (kept per
#                       name so that a compiled plan tests a bare float, no tuple to build)
_CHECKED_MAX = 8192   # per name: a recalculation repeats a few values; a scan is let go


def _checked(name) -> set:
    """The validated scalars of input ``name``: one set per name for the process's life
    (emptied, never replaced, so a compiled plan may hold it)."""
    seen = _CHECKED.get(name)
    if seen is None:
        seen = _CHECKED[name] = set()
    return seen


def _input_value(name, value):
    if type(value) is float or type(value) is int:
        seen = _CHECKED.get(name)
        if seen is not None and value in seen:
            return float(value)
        if name in TERMS:
            checked = check(name, value)
            seen = _checked(name)
            if len(seen) > _CHECKED_MAX:
                seen.clear()
            seen.add(value)
            return checked
        return float(value)
    if isinstance(value, X.Expr):
        return value          # symbolic evaluation builds one inlined formula
    if name in TERMS:
        return check(name, value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (np.ndarray, list, tuple)):
        return np.asarray(value, dtype=np.float64)
    return value


class Factor:
    """Categorical inputs without one string per row: row values are
    ``categories[codes]``.  Categories are table keys (preset names, dtype names) or
    loaded records; ``codes`` is an integer array that broadcasts like any input."""

    def __init__(self, categories, codes):
        self.categories = list(categories)
        self.codes = np.asarray(codes)

    @classmethod
    def of(cls, values) -> "Factor":
        """A factor from an array of keys (strings)."""
        arr = np.asarray(values)
        uniq, inverse = np.unique(arr, return_inverse=True)
        return cls([str(u) for u in uniq], inverse.reshape(arr.shape))

    def __repr__(self):
        return f"Factor({self.categories!r}, codes shape {self.codes.shape})"

    def __array__(self, dtype=None, copy=None):
        """The row values as an object array (``where`` over text: a compute dtype)."""
        return np.asarray(self.categories, dtype=object)[self.codes]


_VECTOR_KEYS = (Factor, np.ndarray, list, tuple)


def _lookup_one(n: Lookup, key, column: str):
    """One table value: ``key`` is a table key (str) or a record with its own fields."""
    if not isinstance(key, str) and TABLES[n.table].by_name:
        key = key.name
    if isinstance(key, str):
        row = _ROWS.get((n.table, key)) or _row(n, key)
        try:
            return row[column]
        except KeyError:
            raise XlcalcError(f"table {n.table!r} has no column {column!r}", n.key) from None
    return key[column]


_ROWS: dict = {}   # (table, key as typed) -> row: recalculations repeat the same keys


def _row(n: Lookup, key: str) -> dict:
    """The row of ``n``'s table that ``key`` names (remembered per spelling)."""
    t = TABLES[n.table]
    rows = t.rows()
    row = rows.get(key.strip().lower())
    if row is None and t.normalize is not None:
        row = rows.get(t.normalize(key) or "")
    if row is None:
        raise unknown_choice(n.key, key, rows)
    if len(_ROWS) < 4096:
        _ROWS[(n.table, key)] = row
    return row


def _as_factor(value):
    if isinstance(value, Factor):
        return value
    if isinstance(value, (np.ndarray, list, tuple)):
        return Factor.of(value)
    return None


def _from_categories(values, codes):
    """Looked-up values per category, expanded by ``codes`` (numbers) or kept as a
    factor (text, e.g. the name of the peak column a dtype selects)."""
    if all(isinstance(v, str) for v in values):
        return Factor(values, codes)
    return np.asarray(values, dtype=np.float64)[codes]


def _lookup_value(n: Lookup, values):
    key = values[n.key]
    column = n.column if n.column_key is None else values[n.column_key]
    if type(column) is str and not isinstance(key, _VECTOR_KEYS):
        return _lookup_one(n, key, column)          # the scalar fast path
    key_f, col_f = _as_factor(key), _as_factor(column)
    if key_f is None and col_f is None:
        return _lookup_one(n, key, column)
    if col_f is None:
        return _from_categories([_lookup_one(n, k, column) for k in key_f.categories],
                                key_f.codes)
    if key_f is None:
        return _from_categories([_lookup_one(n, key, c) for c in col_f.categories], col_f.codes)
    table_ = np.array([[_lookup_one(n, k, c) for c in col_f.categories]
                       for k in key_f.categories], dtype=np.float64)
    return table_[key_f.codes, col_f.codes]


def _fill_empty(value, empty):
    """``value`` with NaN (an empty table cell) replaced by ``empty``."""
    if type(value) is float:
        return empty if value != value else value
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.where(np.isnan(value), empty, value)
    return value


_RELATED: dict = {}   # scalar relation checks already passed (name, value, partner values)


def _check_related(name, values) -> None:
    """check_relations, remembered for scalars: a recalculation repeats the same checks."""
    value = values[name]
    if type(value) is float:
        key = (name, value, *[values.get(o) for o, _, _ in TERMS[name].relations])
        if all(type(k) is float or k is None for k in key[2:]):
            if key not in _RELATED:
                check_relations(name, value, values)
                if len(_RELATED) > 65536:
                    _RELATED.clear()
                _RELATED[key] = True
            return
    check_relations(name, value, values)


def _missing_required(n: Lookup, values) -> None:
    """Raise for an empty required table cell, listing the choices that do exist:
    ``compute_dtype must be a compute dtype v100-32gb supports (auto, fp32, fp16), got
    'bf16'``."""
    blame, allowed = n.required
    key = values[n.key]
    supported = []
    if n.column_key is not None:
        chooser = NODES[n.column_key]          # e.g. dtype -> its peak column
        for choice, row in table(chooser.table).rows().items():
            x = _lookup_one(n, key, row[chooser.column])
            if isinstance(x, float) and x == x:
                supported.append(choice)
    raise invalid(blame, values.get(blame), allowed.format(
        key=getattr(key, "name", key), supported=", ".join(supported)))


def evaluate(targets, context: Mapping | None = None, **inputs) -> dict:
    """Compute the named quantities from the inputs in ``context`` / ``inputs``.

    Inputs are validated against the glossary (the only place that does it), so a
    bad value raises :class:`XlcalcError` naming the argument.  Values may be
    scalars or broadcastable arrays; numbers come back as floats.
    """
    ctx = (dict(context, **inputs) if inputs else context) if context else inputs
    if type(targets) is not tuple:
        targets = (targets,) if type(targets) is str else tuple(targets)
    key = (targets, tuple(ctx))           # a call site names its inputs in one order
    run = _COMPILED.get(key)
    if run is None:                       # (a compiled plan: the graph is loaded)
        if not _loaded:
            _ensure_loaded()
        plan = _plan(targets, frozenset(ctx))
        if plan[4]:                                  # missing inputs: the general message
            return _evaluate(plan, targets, ctx)
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        run = _COMPILED[key] = _compile(plan)
    try:
        return run(ctx)
    except _NotScalar:
        return _evaluate(_plan(targets, frozenset(ctx)), targets, ctx)


def evaluate_targets(targets, context: Mapping) -> dict:
    """:func:`evaluate` for large grids, keeping less memory alive: the same values of the
    inputs, the lookups and ``targets``, but each intermediate formula result is let go
    after the last formula that reads it (a grid of a million candidates then holds an
    array per live node, not one per node: fewer fresh pages for the allocator to map)."""
    if not _loaded:
        _ensure_loaded()
    targets = tuple(targets)
    return _evaluate(_plan(targets, frozenset(context)), targets, context, keep=targets)


def _drops(formulas, keep, late) -> dict:
    """Formula position -> the formula results no later formula reads (not in ``keep``,
    nor a partner of a relation checked after the formulas)."""
    keep = set(keep) | set(late)
    keep |= {o for name in late for o, _, _ in TERMS[name].relations}
    computed = {n.name for n in formulas}
    last = {}
    for i, n in enumerate(formulas):
        for a in n.args:
            last[a] = i
    drops: dict = {}
    for name, i in last.items():
        if name in computed and name not in keep:
            drops.setdefault(i, []).append(name)
    return drops


def _evaluate(plan, targets, ctx, keep=None) -> dict:
    """The general evaluation: scalars or broadcasting arrays, factors, expressions
    (``keep``: see :func:`evaluate_targets`)."""
    inputs_, lookups, formulas, related, missing, late = plan
    if missing:
        raise XlcalcError(f"missing input {missing[0]!r} (needed for {', '.join(targets)})",
                          missing[0])
    values = {name: _input_value(name, ctx[name]) for name in inputs_}
    for n in lookups:
        key = values[n.key]
        if type(key) is str:
            row = _ROWS.get((n.table, key))          # a table key as typed: its row, cached
            if row is None:
                row = _row(n, key)
            column = n.column if n.column_key is None else values[n.column_key]
            if type(column) is str and column in row:
                v = values[n.name] = row[column]
            else:
                v = values[n.name] = _lookup_value(n, values)
        elif n.column_key is None and not isinstance(key, _VECTOR_KEYS) and \
                not n.by_name:
            v = values[n.name] = key[n.column]       # a loaded model/gpu record: as _lookup_one
        else:
            v = values[n.name] = _lookup_value(n, values)
        if n.required is not None and type(v) is float and v != v:
            _missing_required(n, values)
        if n.empty is not None:
            values[n.name] = _fill_empty(v, n.empty)
    for name in related:
        _check_related(name, values)
    if keep is None:
        for n in formulas:
            values[n.name] = n.fn(*[values[a] for a in n.args])
    else:
        drops = _drops(formulas, keep, late)
        for i, n in enumerate(formulas):
            values[n.name] = n.fn(*[values[a] for a in n.args])
            for name in drops.get(i, ()):
                del values[name]
    for name in late:
        check_relations(name, values[name], values)
    return values


# ---------------------------------------------------------------------------- render

def render(name: str, refs: Mapping[str, X.Expr] | None = None,
           table_refs: Mapping[str, Mapping[str, str]] | None = None) -> X.Expr:
    """The Excel expression of node ``name`` over its arguments.

    Each argument is written as ``refs[arg]`` if given, else as the defined name
    ``arg``.  A lookup needs ``table_refs[table]`` with the ranges ``keys`` (the key
    column), ``body`` (the data block) and ``header`` (the column names over the
    body); it renders as INDEX/MATCH.
    """
    n = node(name)
    refs = refs or {}

    def arg(a):
        return refs[a] if a in refs else X.Name(a)

    if n.kind == "formula":
        out = n.fn(*[arg(a) for a in n.args])
        return X.as_expr(out)
    if table_refs is None or n.table not in table_refs:
        raise XlcalcError(f"no sheet range given for table {n.table!r} (node {name})")
    t = table_refs[n.table]
    column = X.as_expr(n.column) if n.column_key is None else arg(n.column_key)
    return X.Call("INDEX", X.Ref(t["body"]), X.Call("MATCH", arg(n.key), X.Ref(t["keys"]), 0),
                  X.Call("MATCH", column, X.Ref(t["header"]), 0))


def formulas() -> list[Formula]:
    """Every registered formula node (for documentation and the parity test)."""
    _ensure_loaded()
    return [n for n in NODES.values() if n.kind == "formula"]


# The compiled scalar plans (xlcalc.plan_compile) read this module's names: imported last.
from .plan_compile import _COMPILED, _NotScalar, _compile, scalar_plan  # noqa: E402,F401
