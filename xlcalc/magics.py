"""Excel formulas in Jupyter: ``%xl`` and ``%%xlsheet`` (``%load_ext xlcalc``).

``%xl =KV_CACHE("llama-2-70b", 8, 4096)`` evaluates one Excel formula with the very
catalogue of :mod:`xlcalc.udfs` — same names, argument order, defaults, units and ``#``
error texts — plus Excel's own operators (``+ - * / ^ & = <> < <= > >=``, ``%``) and
functions (``SUM``, ``MAX``, ``MIN``, ``ROUND``, ``ROUNDUP``, ``IF``, ``AND``, ``OR``,
``INDEX`` …).  A function that spills a table gives a pandas DataFrame (header row first).

``%%xlsheet`` turns a cell into a small sheet: each line ``name = <formula>`` (the
formula's leading ``=`` optional) may use the names defined on the lines above it; the
cell shows a table of name, formula and value and puts the values into the notebook's
namespace.  A value that is an error (a ``#`` text, as Excel shows it) is reported with
its line and name: ``line 3 (kv): #VALUE! tp must be a divisor of num_heads=64, got 3``.

Formulas are parsed by the ``formulas`` package (a real Excel-formula parser) and
evaluated by its Excel function implementations; the catalogue is offered through a
parser of our own (a subclass whose function token looks names up in the catalogue
first), so nothing global in ``formulas`` is changed.  Nothing typed in a formula runs
Python: a function name must be an Excel function or a catalogue function, a name must
be a value defined above (or a number, text or table in the notebook), and the
formula is checked completely before anything in it is evaluated.  A formula that cannot
be evaluated (syntax, unknown function or name, cell references, circular or forward
names) raises :class:`FormulaError`, which the magics show as a one-line message.

:func:`evaluate_formula` and :func:`evaluate_sheet` are the pure functions the magics call.
"""

from __future__ import annotations

import contextvars
import difflib
import html
import keyword
import re
from dataclasses import dataclass, field
from typing import Mapping

from .errors import XlcalcError

__all__ = ["FormulaError", "evaluate_formula", "evaluate_sheet", "SheetResult",
           "load_ipython_extension", "unload_ipython_extension", "functions"]

#: Excel's own limit on the length of a formula
MAX_FORMULA = 8192
#: most lines of one %%xlsheet
MAX_LINES = 500

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FORMULA_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_.]*$")
# names Excel reads as cell references (A1, KV1, XFD1048576, R1C1, R, C)
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc]?[0-9]*|[Cc][0-9]*)$")


class FormulaError(XlcalcError):
    """A formula that cannot be evaluated: it does not parse, uses an unknown function
    or name, a cell reference, or (in a sheet) a circular or forward name.  Nothing of
    the formula has been evaluated."""


# ------------------------------------------------------------------ the parser

def functions() -> dict:
    """The xlcalc functions a formula may call (name -> Excel function), from
    :data:`xlcalc.udfs.CATALOGUE`."""
    try:
        from . import udfs
    except ImportError as e:     # pragma: no cover - xlwings is a declared dependency
        raise FormulaError("the xlcalc Excel functions need xlwings "
                           "(pip install 'xlcalc[notebook]')") from e
    return udfs.CATALOGUE


_BUILTINS: dict | None = None


def _builtins() -> dict:
    """Excel functions implemented by ``formulas`` (name -> implementation), without the
    ones that need a workbook or take LAMBDA arguments (there are no cells or lambdas
    here) and without internal names."""
    global _BUILTINS
    if _BUILTINS is None:
        from formulas.functions import get_functions, not_implemented
        denied = {"INDIRECT", "OFFSET", "ISFORMULA", "ISREF", "AREAS", "CELL", "INFO",
                  "BYCOL", "BYROW", "MAKEARRAY", "MAP", "REDUCE", "SCAN", "LAMBDA", "LET",
                  "DUMMYFUNCTION"}
        found = {}
        for name, fn in get_functions().items():
            bare = name[6:] if name.startswith("_XLFN.") else name
            bare = bare[6:] if bare.startswith("_XLWS.") else bare
            if fn is not_implemented or name.startswith("__") or bare in denied:
                continue
            found[name] = fn
        _BUILTINS = found
    return _BUILTINS


_PARSER_CLASS = None


def _parser():
    """``formulas.Parser`` whose function token knows the catalogue; LAMBDA/LET syntax
    is not offered (it would introduce names of its own)."""
    global _PARSER_CLASS
    if _PARSER_CLASS is None:
        import math

        import regex
        from formulas.parser import Parser
        from formulas.tokens.function import Function, Lambda
        from formulas.tokens.operand import Number

        class XlFunction(Function):
            def compile(self):
                name = self.name.upper()
                catalogue = functions()
                if name in catalogue:
                    return _excel_call(name, catalogue[name])
                if name in _builtins():
                    return super().compile()
                raise _unknown_function(self.name)

        class XlNumber(Number):
            """A number as Excel reads it (``2E12`` too), converted without ``eval``."""
            _re = regex.compile(
                r'^\s*(?P<name>(?>[0-9]+(?>\.[0-9]+)?|\.[0-9]+)(?>E[+-]?[0-9]+)?|'
                r'TRUE(?!\(\))|FALSE(?!\(\)))(?!([a-z]|[0-9]|\.|\s*\:))\s*',
                regex.IGNORECASE)

            def compile(self):
                text = self.name.upper()
                if text in ("TRUE", "FALSE"):
                    return text == "TRUE"
                if text.isdigit() and len(text) < 16:
                    return int(text)
                value = float(text)
                if not math.isfinite(value):
                    raise FormulaError(f"the number {self.name} is too large for Excel",
                                       "formula")
                return value

        swap = {Function: XlFunction, Number: XlNumber}

        class XlParser(Parser):
            filters = [swap.get(f, f) for f in Parser.filters if f is not Lambda]

        _PARSER_CLASS = XlParser
    return _PARSER_CLASS()


def _unknown_function(name: str) -> FormulaError:
    known = list(functions()) + [n for n in _builtins() if not n.startswith("_")]
    close = difflib.get_close_matches(name.upper(), known, n=3, cutoff=0.6)
    hint = ("did you mean " + " or ".join(close) + "?") if close else \
        "xlcalc functions: " + ", ".join(functions())
    return FormulaError(f"unknown function {name}; {hint}", "formula")


# ------------------------------------------------- values between formulas and Excel

# the '#' texts the catalogue returned during one evaluation (the cause of an error)
_ERRORS: contextvars.ContextVar = contextvars.ContextVar("xlcalc_formula_errors")


def _excel_call(name: str, fn):
    """A catalogue function called the way Excel calls it through xlwings: numbers as
    floats, texts, booleans, ``None`` for an empty or omitted argument, 2-D lists for
    ranges.  An argument that is an Excel error propagates (the function is not
    called)."""
    def call(*args):
        from formulas.tokens.operand import XlError
        values = []
        for a in args:
            v = _to_excel(a)
            if isinstance(v, XlError):
                return v
            values.append(v)
        result = fn(*values)
        if isinstance(result, str) and result.startswith("#"):
            errors = _ERRORS.get(None)
            if errors is not None:
                errors.append(result)
        if isinstance(result, list):
            return _array(result)
        return result
    call.__name__ = name
    return call


def _array(rows):
    import numpy as np
    from formulas.functions import Array
    return np.asarray(rows, dtype=object).view(Array)


def _empty_array():
    import numpy as np
    import schedula as sh
    from formulas.functions import Array
    return np.asarray([[sh.EMPTY]], dtype=object).view(Array)


def _from_engine(value, as_arguments: bool):
    """A value of the ``formulas`` engine as a number, text, boolean, error code or a 2-D
    list (a range).  ``as_arguments``: as Excel hands it to a function (every number a
    float, an empty cell None); otherwise as Excel shows a result (integers stay ints)."""
    import numpy as np
    import schedula as sh
    from formulas.ranges import Ranges
    from formulas.tokens.operand import XlError
    if isinstance(value, Ranges):
        value = value.value
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return _from_engine(value.reshape(-1)[0], as_arguments)
        rows = value if value.ndim == 2 else value.reshape(1, -1)
        return [[_from_engine(v, as_arguments) for v in row] for row in rows.tolist()]
    if value is sh.EMPTY or (as_arguments and value is None):
        return None
    if isinstance(value, XlError):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if as_arguments and isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _to_excel(value):
    """A value of the ``formulas`` engine as Excel hands it to a function."""
    return _from_engine(value, as_arguments=True)


def _result(value):
    """The engine's result as Excel shows it: a number, text, boolean, an error code,
    or a 2-D list (a spilled range)."""
    return _from_engine(value, as_arguments=False)


def _name_value(name: str, value):
    """A notebook value a formula may read: a number, text, boolean, empty, a table
    (DataFrame, header row first) or a 2-D list.  Anything else (a module, a function,
    an object) is refused: a formula reads data, never code."""
    import numpy as np
    import pandas as pd
    if value is None:
        return _empty_array()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, pd.DataFrame):
        return _array(table_rows(value))
    if isinstance(value, pd.Series):
        return _array([[v] for v in value.tolist()])
    if isinstance(value, (list, tuple, np.ndarray)):
        rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [r] for r in value]
        width = {len(r) for r in rows}
        cells = [c for r in rows for c in r]
        if rows and len(width) == 1 and all(
                c is None or isinstance(c, (bool, int, float, str, np.generic)) for c in cells):
            return _array([[_plain(c) for c in r] for r in rows])
    kind = type(value).__name__
    raise FormulaError(f"{name} is a {kind}, not a number, text or table a formula can "
                       f"read", name)


def _plain(v):
    import numpy as np
    return v.item() if isinstance(v, np.generic) else v


def table_rows(frame) -> list:
    """A DataFrame as a spilled range: header row first."""
    return [list(map(str, frame.columns))] + [[_plain(v) for v in row]
                                              for row in frame.itertuples(index=False)]


def as_frame(rows):
    """A spilled range (2-D list, header row first) as a DataFrame."""
    import pandas as pd
    header = rows[0] if rows else []
    if rows and all(isinstance(h, str) for h in header) and len(set(header)) == len(header) \
            and len(rows) > 1:
        return pd.DataFrame(rows[1:], columns=header)
    return pd.DataFrame(rows)


def _error_text(value) -> str | None:
    """The error an evaluated value is (``#`` text or Excel error code), else None."""
    from formulas.tokens.operand import XlError
    if isinstance(value, XlError):
        return str(value)
    if isinstance(value, str) and value.startswith("#"):
        return value
    return None


# ------------------------------------------------------------------- compiling

@dataclass
class _Compiled:
    text: str
    builder: object
    names: tuple           # upper-case names the formula reads
    spelled: dict = field(default_factory=dict)   # upper-case name -> as typed


def _formula_text(text) -> str:
    if not isinstance(text, str):
        raise FormulaError(f"a formula is a text, got {type(text).__name__}", "formula")
    text = text.strip()
    if not text:
        raise FormulaError("empty formula: write one like =KV_CACHE(\"llama-2-70b\", 8, "
                           "4096)", "formula")
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"formula too long ({len(text)} characters; Excel allows "
                           f"{MAX_FORMULA})", "formula")
    if text.startswith("{"):
        raise FormulaError("array formulas ({=…}) are not supported; write =…", "formula")
    return text if text.startswith("=") else "=" + text


def _compile(text: str) -> _Compiled:
    """Parse ``text`` and check every function and name in it.  Evaluates nothing."""
    from formulas.errors import BaseError, ParenthesesError
    from formulas.tokens.operand import Empty, Range
    text = _formula_text(text)
    try:
        tokens, builder = _parser().ast(text)
    except FormulaError:
        raise
    except ParenthesesError:
        raise FormulaError(f"cannot parse {text}: mismatched parentheses", "formula") \
            from None
    except (BaseError, RecursionError, ValueError, TypeError, IndexError) as e:
        why = "not a valid Excel formula" if not isinstance(e, RecursionError) else \
            "nested too deeply"
        if text.count('"') % 2:
            why = "a text is not closed (\")"
        raise FormulaError(f"cannot parse {text}: {why}", "formula") from None
    names, spelled = [], {}
    for tok in tokens:
        if isinstance(tok, Empty):          # an omitted argument is an empty cell
            node = builder.get_node_id(tok)
            builder.dsp.default_values[node]["value"] = _empty_array()
        if not isinstance(tok, Range):
            continue
        attr = tok.attr
        name = tok.name
        typed = attr.get("ref", name) if isinstance(attr.get("ref"), str) else name
        if any(k in attr for k in ("c1", "r1", "sheet", "filename", "indirect")) or \
                not _FORMULA_NAME_RE.match(name):
            raise FormulaError(f"{name} is a cell or sheet reference; formulas here have "
                               f"no cells: name the value in a %%xlsheet line", "formula")
        names.append(name)
        spelled.setdefault(name, typed)
    return _Compiled(text, builder, tuple(dict.fromkeys(names)), spelled)


def _run(compiled: _Compiled, values: dict):
    """Evaluate a compiled formula with the values of its names (upper-case keys)."""
    errors: list = []
    token = _ERRORS.set(errors)
    try:
        fn = compiled.builder.compile()
        args = [values[n] for n in fn.inputs]
        raw = fn(*args)
    except FormulaError:
        raise
    except RecursionError:
        raise FormulaError(f"{compiled.text} is nested too deeply", "formula") from None
    except Exception as e:          # the engine failed on a well-formed formula
        raise FormulaError(f"cannot evaluate {compiled.text}: {type(e).__name__}: {e}",
                           "formula") from None
    finally:
        _ERRORS.reset(token)
    value = _result(raw)
    from formulas.tokens.operand import XlError
    if isinstance(value, XlError):
        # Excel shows the code; the catalogue's message, when one of its functions
        # failed on the way, says why
        return errors[0] if errors else str(value)
    return value


def _lookup(names: Mapping | None, wanted: tuple, spelled: dict) -> dict:
    """Values of the upper-case ``wanted`` names from ``names`` (case-insensitive, like
    Excel's names)."""
    values = {}
    for upper in wanted:
        typed = spelled.get(upper, upper.lower())
        matches = [k for k in (names or {}) if isinstance(k, str) and k.upper() == upper]
        if not matches and (upper in functions() or upper in _builtins()):
            raise FormulaError(f"{typed} is a function: call it as {upper}(…)", typed)
        if not matches:
            raise FormulaError(f"unknown name {typed}: define it on a line above "
                               f"(%%xlsheet) or in the notebook", typed)
        if len(matches) > 1:
            raise FormulaError(f"name {typed} is ambiguous: "
                               f"{' and '.join(sorted(matches))} differ only in case "
                               f"(Excel names ignore case)", typed)
        values[upper] = _name_value(matches[0], names[matches[0]])
    return values


def evaluate_formula(text: str, names: Mapping | None = None):
    """The value of one Excel formula, as Excel shows it.

    ``text`` is a formula (``=KV_CACHE("llama-2-70b", 8, 4096)``; the ``=`` is
    optional).  ``names`` maps names the formula may use (case-insensitive) to numbers,
    texts, booleans, 2-D lists or DataFrames.  Returns a number, a text, a boolean, or a
    2-D list (header row first) for a spilled table.  An error is a text starting with
    ``#``: the catalogue function's own text (``#VALUE! tp must be a divisor of
    num_heads=64, got 3``) when one of them failed, else Excel's code (``#DIV/0!``).

    Raises :class:`FormulaError` for a formula that cannot be evaluated (syntax, unknown
    function or name, a cell reference); then nothing of it has been evaluated.
    """
    compiled = _compile(text)
    values = _lookup(names, compiled.names, compiled.spelled)
    return _run(compiled, values)


# --------------------------------------------------------------------- sheets

_LINE_RE = re.compile(r"^\s*([^=\s]+)\s*=(?!=)\s*(.*?)\s*$", re.S)


@dataclass
class SheetResult:
    """What ``%%xlsheet`` computed: ``table`` (line, name, formula, value), ``values``
    (name -> value: a number, text, boolean or DataFrame) and ``errors`` (one message
    per line whose value is an error, naming the line and the name)."""
    table: object
    values: dict
    errors: list = field(default_factory=list)

    def _repr_html_(self) -> str:
        rows = []
        for _, r in self.table.iterrows():
            value = r["value"]
            bad = _error_text(value) is not None if not hasattr(value, "shape") else False
            style = ' style="background:#FFC7CE"' if bad else ""
            shown = (f"table {value.shape[0]}×{value.shape[1]}" if hasattr(value, "shape")
                     else _show(value))
            rows.append(f"<tr{style}><td>{r['line']}</td><td><b>{html.escape(r['name'])}</b>"
                        f"</td><td><code>{html.escape(r['formula'])}</code></td>"
                        f"<td style='text-align:right'>{html.escape(shown)}</td></tr>")
        head = "<tr><th>line</th><th>name</th><th>formula</th><th>value</th></tr>"
        errors = "".join(f"<div style='color:#9C0006'>{html.escape(e)}</div>"
                         for e in self.errors)
        return (f"<table class='xl-sheet'>{head}{''.join(rows)}</table>{errors}")

    def __repr__(self) -> str:
        frame = self.table.copy()
        frame["value"] = [f"table {v.shape[0]}×{v.shape[1]}" if hasattr(v, "shape")
                          else _show(v) for v in frame["value"]]
        text = frame.to_string(index=False)
        return text + "".join("\n" + e for e in self.errors)


def _show(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.6g}"
    if value is None:
        return ""
    return str(value)


def _parse_sheet(text: str) -> list:
    """(line number, name, formula) of each non-empty line of a sheet."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue                  # blank lines and comments
        m = _LINE_RE.match(line)
        if not m:
            raise FormulaError(f"line {number}: expected name = formula, got "
                               f"{stripped[:60]!r}", "formula")
        name, formula = m.group(1), m.group(2)
        _check_sheet_name(number, name)
        if not formula:
            raise FormulaError(f"line {number} ({name}): the formula is missing", name)
        lines.append((number, name, formula))
    if len(lines) > MAX_LINES:
        raise FormulaError(f"a sheet has at most {MAX_LINES} lines, got {len(lines)}",
                           "formula")
    return lines


def _check_sheet_name(number: int, name: str) -> None:
    where = f"line {number}"
    if not _NAME_RE.match(name) or keyword.iskeyword(name):
        raise FormulaError(f"{where}: {name!r} cannot be a name (a letter, then letters, "
                           f"digits or _)", name)
    if _CELL_LIKE.match(name) or name.upper() in ("TRUE", "FALSE"):
        raise FormulaError(f"{where}: {name!r} cannot be a name: Excel reads it as a cell "
                           f"reference or a constant (try {name}_)", name)


def _check_not_shadowing(number: int, name: str, protected: Mapping | None,
                         owned: frozenset) -> None:
    """A sheet line must not silently replace a Python builtin (``max = MAX_BATCH(…)``
    would break ``max()`` in the notebook) nor a notebook variable that no sheet made."""
    import builtins
    if name in vars(builtins):
        raise FormulaError(f"line {number} ({name}): {name} is a Python builtin; a sheet "
                           f"would replace it in the notebook: choose another name (e.g. "
                           f"{name}_) or run %%xlsheet --replace", name)
    if protected is not None and name in protected and name not in owned:
        raise FormulaError(f"line {number} ({name}): {name} is already a variable in the "
                           f"notebook; choose another name or run %%xlsheet --replace to "
                           f"replace it", name)


def evaluate_sheet(text: str, names: Mapping | None = None,
                   protected: Mapping | None = None, replace: bool = True,
                   owned=()) -> SheetResult:
    """Evaluate a ``%%xlsheet`` cell: one ``name = formula`` per line, each line may use
    the names of the lines above it (and, for a name no line defines, ``names``).

    Every line is parsed and checked first — syntax, functions, names, circular and
    forward references (:class:`FormulaError` naming the line) — then the lines are
    evaluated in order.  A line whose value is an error keeps it (like a cell showing
    ``#VALUE!``) and is listed in ``errors``.  ``protected`` is the namespace the values
    will go to: a line may not replace something in it that is not data (a module, a
    function), nor a name starting with ``_``; with ``replace=False`` (the magic's default)
    neither a Python builtin nor a variable of ``protected`` that no sheet made (``owned``:
    the names earlier sheets wrote).
    """
    if not isinstance(text, str):
        raise FormulaError("a sheet is a text", "formula")
    lines = _parse_sheet(text)
    line_of: dict = {}
    for number, name, _ in lines:
        upper = name.upper()
        if upper in line_of:
            first = line_of[upper]
            raise FormulaError(f"line {number} ({name}): {name} is already defined on line "
                               f"{first[0]} (names ignore case)", name)
        line_of[upper] = (number, name)
        if not replace:
            _check_not_shadowing(number, name, protected, frozenset(owned))
        if protected is not None and name in protected:
            _check_replaceable(number, name, protected[name])
    compiled = []
    for number, name, formula in lines:
        try:
            c = _compile(formula)
        except FormulaError as e:
            raise FormulaError(f"line {number} ({name}): {e}", name) from None
        compiled.append(c)
    # references: a line may use the names of lines above it
    order = {name.upper(): i for i, (_, name, _) in enumerate(lines)}
    for i, ((number, name, _), c) in enumerate(zip(lines, compiled)):
        for ref in c.names:
            j = order.get(ref)
            if j is None:
                continue
            if j == i:
                raise FormulaError(f"line {number} ({name}): circular reference: {name} "
                                   f"uses itself", name)
            if j > i:
                cycle = _cycle(i, lines, compiled, order)
                if cycle:
                    raise FormulaError(f"line {number} ({name}): circular reference: "
                                       + " → ".join(cycle), name)
                raise FormulaError(f"line {number} ({name}): {lines[j][1]} is defined below "
                                   f"(line {lines[j][0]}); a line may only use names "
                                   f"defined above it", name)
    # outside names (notebook values) are checked before anything is evaluated
    outside = {}
    for (number, name, _), c in zip(lines, compiled):
        wanted = tuple(n for n in c.names if n not in order)
        try:
            outside.update(_lookup(names, wanted, c.spelled))
        except FormulaError as e:
            raise FormulaError(f"line {number} ({name}): {e}", name) from None
    values, defined, errors, rows = {}, {}, [], []
    error_lines: dict = {}          # upper-case name -> line of a value that is an error
    for (number, name, formula), c in zip(lines, compiled):
        args = {n: defined[n] if n in defined else outside[n] for n in c.names}
        value = _run(c, args)
        err = _error_text(value) if not isinstance(value, list) else None
        if err is not None:
            upstream = [n for n in c.names if n in error_lines]
            if upstream:            # the cause is a line above: point there
                src_number, src_name = error_lines[upstream[0]]
                message = f"{err.split(' ')[0]} because {src_name} (line {src_number}) " \
                          f"is an error"
            else:
                message = err
            errors.append(f"line {number} ({name}): {message}")
            error_lines[name.upper()] = (number, name)
        defined[name.upper()] = _array(value) if isinstance(value, list) else value
        shown = as_frame(value) if isinstance(value, list) else value
        values[name] = shown
        rows.append((number, name, c.text, shown))
    import pandas as pd
    table = pd.DataFrame(rows, columns=["line", "name", "formula", "value"])
    return SheetResult(table, values, errors)


def _cycle(start: int, lines, compiled, order) -> list:
    """Names of a cycle through line ``start`` (empty when there is none)."""
    path, seen = [start], set()

    def visit(i):
        for ref in compiled[i].names:
            j = order.get(ref)
            if j is None:
                continue
            if j == start:
                return True
            if j in seen:
                continue
            seen.add(j)
            path.append(j)
            if visit(j):
                return True
            path.pop()
        return False

    if visit(start):
        return [lines[i][1] for i in path] + [lines[start][1]]
    return []


def _check_replaceable(number: int, name: str, current) -> None:
    import numpy as np
    import pandas as pd
    data = (type(None), bool, int, float, str, list, tuple, np.generic, np.ndarray,
            pd.DataFrame, pd.Series)
    if name.startswith("_") or not isinstance(current, data):
        raise FormulaError(f"line {number} ({name}): {name} is a {type(current).__name__} "
                           f"in the notebook; choose another name", name)


# --------------------------------------------------------------------- magics

_MAGICS_CLASS = None


def _magics_class():
    global _MAGICS_CLASS
    if _MAGICS_CLASS is not None:
        return _MAGICS_CLASS
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

    @magics_class
    class XlMagics(Magics):
        """``%xl =FORMULA`` and ``%%xlsheet`` (see :mod:`xlcalc.magics`)."""

        @line_magic
        def xl(self, line: str):
            """Evaluate one Excel formula with the xlcalc functions:

                %xl =KV_CACHE("llama-2-70b", 8, 4096)
                %xl =ROUNDUP(INFER_MEM("llama-2-70b", 8, 4096, , , 8) / 80, 0)
                kv = %xl =KV_CACHE("llama-2-70b", 8, 4096, "bf16", 8)

            Names are read from the notebook (numbers, texts, tables).  A spilled table
            is a DataFrame; an error is Excel's ``#`` text."""
            if not line.strip():
                raise UsageError('usage: %xl =KV_CACHE("llama-2-70b", 8, 4096)')
            try:
                value = evaluate_formula(line, self.shell.user_ns if self.shell else None)
            except FormulaError as e:
                raise UsageError(str(e)) from None
            return as_frame(value) if isinstance(value, list) else value

        @cell_magic
        def xlsheet(self, line: str, cell: str):
            """A small sheet: one ``name = formula`` per line; a line may use the names
            above it.  Shows name, formula and value; the values go into the notebook.

            A line may not replace a Python builtin (``max``) or a notebook variable that
            no sheet made, unless the cell starts with ``%%xlsheet --replace``."""
            options = line.split()
            if any(o not in ("--replace", "-r") for o in options):
                raise UsageError(f"%%xlsheet takes only --replace, got {line.strip()!r}")
            ns = self.shell.user_ns if self.shell else {}
            owned = self.__dict__.setdefault("_sheet_names", set())
            try:
                result = evaluate_sheet(cell, ns, protected=ns, replace=bool(options),
                                        owned=owned)
            except FormulaError as e:
                raise UsageError(str(e)) from None
            ns.update(result.values)
            owned.update(result.values)
            return result

    _MAGICS_CLASS = XlMagics
    return XlMagics


def __getattr__(name):
    if name == "XlMagics":
        return _magics_class()
    raise AttributeError(f"module 'xlcalc.magics' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext xlcalc``: register ``%xl`` and ``%%xlsheet``."""
    from .extras import require
    require("formulas", "xlwings", face="the %xl magics")    # one line naming the extra
    functions()
    ipython.register_magics(_magics_class())


def unload_ipython_extension(ipython) -> None:
    ipython.magics_manager.magics["line"].pop("xl", None)
    ipython.magics_manager.magics["cell"].pop("xlsheet", None)
