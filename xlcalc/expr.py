"""A small expression type so that one Python function is also an Excel formula.

A formula in xlcalc is an ordinary Python function over numbers.  Called with
Python scalars it returns a scalar; called with numpy arrays or pandas Series it
broadcasts; called with :class:`Expr` objects (a defined name, a cell reference)
it returns an :class:`Expr` whose :meth:`Expr.excel` is the Excel formula text.

Only operators and the helpers below may be used inside a formula body, never
``if`` on a value, ``max()``/``min()`` builtins or ``math``:

===============  ==========================  ===========================
helper           Python / numpy              Excel
===============  ==========================  ===========================
``where``        ``a if c else b``/np.where  ``IF(c,a,b)``
``maximum``      ``max``/np.maximum          ``MAX(a,b)``
``minimum``      ``min``/np.minimum          ``MIN(a,b)``
``ceil``         math.ceil/np.ceil           ``-INT(-x)``
``floor``        math.floor/np.floor         ``INT(x)``
``sqrt``         math.sqrt/np.sqrt           ``SQRT(x)``
``log``          math.log/np.log             ``LN(x)``
``eq``/``ne``    ==, != (elementwise)        ``a=b``, ``a<>b``
``both``         and (elementwise)           ``AND(a,b)``
``either``       or (elementwise)            ``OR(a,b)``
``isnumber``     finite number               ``ISNUMBER(x)``
``iferror``      x                           ``IFERROR(x,alt)``
``concat``       str join                    ``a&b&c``
``not_available``  NaN                       ``NA()``
===============  ==========================  ===========================

No Excel formula text is written anywhere else in the product: workbooks render
formula functions through this module (DESIGN.md principle 1).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "Expr", "Name", "Ref", "Text", "Call", "as_expr", "is_expr",
    "where", "maximum", "minimum", "ceil", "floor", "sqrt", "log",
    "eq", "ne", "both", "either", "isnumber", "iferror", "concat", "not_available",
]

# Excel operator precedence, low to high (comparison < & < +- < */ < ^ < unary -).
_PRECEDENCE = {"=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1,
               "&": 2, "+": 3, "-": 3, "*": 4, "/": 4, "^": 5}
_ATOM = 9


def _number_text(value) -> str:
    """Excel text of a number: integers in full, never exponent notation."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot write the non-finite number {value!r} into a formula")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return np.format_float_positional(value, trim="-")


class Expr:
    """A node of an Excel expression tree; operators build bigger trees."""

    precedence = _ATOM

    def excel(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __str__(self) -> str:
        return self.excel()

    def __repr__(self) -> str:
        return f"Expr({self.excel()!r})"

    def __bool__(self):
        raise TypeError(
            "a formula branched on a symbolic value; use xlcalc.expr.where() instead of 'if'")

    # arithmetic -----------------------------------------------------------
    def __add__(self, other): return BinOp("+", self, other)
    def __radd__(self, other): return BinOp("+", other, self)
    def __sub__(self, other): return BinOp("-", self, other)
    def __rsub__(self, other): return BinOp("-", other, self)
    def __mul__(self, other): return BinOp("*", self, other)
    def __rmul__(self, other): return BinOp("*", other, self)
    def __truediv__(self, other): return BinOp("/", self, other)
    def __rtruediv__(self, other): return BinOp("/", other, self)
    def __pow__(self, other): return BinOp("^", self, other)
    def __rpow__(self, other): return BinOp("^", other, self)
    def __floordiv__(self, other): return floor(self / other)
    def __rfloordiv__(self, other): return floor(as_expr(other) / self)
    def __mod__(self, other): return Call("MOD", self, other)
    def __rmod__(self, other): return Call("MOD", other, self)
    def __neg__(self): return Neg(self)
    def __pos__(self): return self
    def __abs__(self): return Call("ABS", self)

    # comparisons (== and != stay identity so that Expr can be hashed; use eq/ne)
    def __lt__(self, other): return BinOp("<", self, other)
    def __le__(self, other): return BinOp("<=", self, other)
    def __gt__(self, other): return BinOp(">", self, other)
    def __ge__(self, other): return BinOp(">=", self, other)
    __hash__ = object.__hash__


class Num(Expr):
    """A numeric (or boolean) constant."""

    def __init__(self, value):
        self.value = value

    @property
    def precedence(self):
        # A negative literal behaves like a unary minus for precedence purposes.
        return _ATOM if float(self.value) >= 0 else 6

    def excel(self) -> str:
        return _number_text(self.value)


class Text(Expr):
    """A string constant, quoted the Excel way (a quote is doubled)."""

    def __init__(self, value: str):
        self.value = str(value)

    def excel(self) -> str:
        return '"' + self.value.replace('"', '""') + '"'


class Name(Expr):
    """A workbook-level defined name (``batch``) or any reference text."""

    def __init__(self, name: str):
        self.name = name

    def excel(self) -> str:
        return self.name


class Ref(Name):
    """A cell or range reference such as ``Inputs!$B$3`` (rendered verbatim)."""


class Neg(Expr):
    precedence = 6

    def __init__(self, operand):
        self.operand = as_expr(operand)

    def excel(self) -> str:
        return "-" + _wrap(self.operand, self.precedence, strict=True)


class BinOp(Expr):
    def __init__(self, op: str, left, right):
        self.op = op
        self.left = as_expr(left)
        self.right = as_expr(right)
        self.precedence = _PRECEDENCE[op]

    def excel(self) -> str:
        # All Excel binary operators are left-associative: the right operand of
        # equal precedence needs parentheses (a-(b-c), a/(b*c), 2^(3^2)).
        left = _wrap(self.left, self.precedence, strict=False)
        right = _wrap(self.right, self.precedence, strict=True)
        return f"{left}{self.op}{right}"


class Call(Expr):
    """An Excel function call, e.g. ``MAX(a,b)``."""

    def __init__(self, function: str, *args):
        self.function = function
        self.args = [as_expr(a) for a in args]

    def excel(self) -> str:
        return f"{self.function}(" + ",".join(a.excel() for a in self.args) + ")"


def _wrap(node: Expr, parent_precedence: int, strict: bool) -> str:
    text = node.excel()
    inner = node.precedence
    if inner < parent_precedence or (strict and inner == parent_precedence):
        return f"({text})"
    # Excel's unary minus binds tighter than ^ (-2^2 = 4): keep -x in parentheses
    # whenever it is an operand of a binary operator.
    if inner == 6 and parent_precedence < _ATOM:
        return f"({text})"
    return text


def as_expr(value) -> Expr:
    """Wrap a Python constant as an :class:`Expr` (Exprs pass through)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, (numbers.Number, np.bool_, np.number)):
        return Num(value)
    raise TypeError(f"cannot use {type(value).__name__} {value!r} in an Excel formula")


_FAST_SCALARS = frozenset({float, int, bool, str, np.float64, np.int64, np.bool_})


def is_expr(*values) -> bool:
    """True when any argument is symbolic (the call must build a formula)."""
    for v in values:
        if type(v) in _FAST_SCALARS:
            continue
        if isinstance(v, Expr):
            return True
    return False


def _is_scalar(*values) -> bool:
    for v in values:
        if type(v) in _FAST_SCALARS:
            continue
        if not isinstance(v, (numbers.Number, str, np.generic)):
            return False
    return True


# helpers that dispatch on their arguments --------------------------------------

def where(condition, if_true, if_false):
    """Elementwise choice: ``if_true`` where ``condition`` holds, else ``if_false``."""
    if type(condition) is bool and type(if_true) in _FAST_SCALARS and \
            type(if_false) in _FAST_SCALARS:        # the scalar fast path (recalculations)
        return if_true if condition else if_false
    if is_expr(condition, if_true, if_false):
        return Call("IF", condition, if_true, if_false)
    if _is_scalar(condition):
        return if_true if condition else if_false
    result = np.where(condition, if_true, if_false)
    return result


def maximum(a, b):
    """Elementwise maximum of two values."""
    if type(a) is float and type(b) is float:
        return a if a >= b or a != a else b
    if is_expr(a, b):
        return Call("MAX", a, b)
    if _is_scalar(a, b):
        return a if a >= b or a != a else b     # a NaN wins, as in numpy
    return np.maximum(a, b)


def minimum(a, b):
    """Elementwise minimum of two values."""
    if type(a) is float and type(b) is float:
        return a if a <= b or a != a else b
    if is_expr(a, b):
        return Call("MIN", a, b)
    if _is_scalar(a, b):
        return a if a <= b or a != a else b     # a NaN wins, as in numpy
    return np.minimum(a, b)


def ceil(x):
    """Round up to the next integer (Excel ``-INT(-x)``: exact for every sign)."""
    if type(x) is float:
        return float(math.ceil(x)) if x - x == 0.0 else x   # NaN/inf as numpy
    if is_expr(x):
        return Neg(Call("INT", Neg(x)))
    if _is_scalar(x):
        return float(math.ceil(x)) if math.isfinite(x) else float(x)   # NaN/inf as numpy
    return np.ceil(x)


def floor(x):
    """Round down to the integer below (Excel ``INT``)."""
    if type(x) is float:
        return float(math.floor(x)) if x - x == 0.0 else x
    if is_expr(x):
        return Call("INT", x)
    if _is_scalar(x):
        return float(math.floor(x)) if math.isfinite(x) else float(x)  # NaN/inf as numpy
    return np.floor(x)


def sqrt(x):
    """Square root."""
    if is_expr(x):
        return Call("SQRT", x)
    if _is_scalar(x):
        return math.sqrt(x)
    return np.sqrt(x)


def log(x):
    """Natural logarithm."""
    if is_expr(x):
        return Call("LN", x)
    if _is_scalar(x):
        return math.log(x)
    return np.log(x)


def eq(a, b):
    """Elementwise equality (``a=b`` in Excel)."""
    if is_expr(a, b):
        return BinOp("=", a, b)
    if _is_scalar(a, b):
        return a == b
    return np.equal(a, b)


def ne(a, b):
    """Elementwise inequality (``a<>b`` in Excel)."""
    if is_expr(a, b):
        return BinOp("<>", a, b)
    if _is_scalar(a, b):
        return a != b
    return np.not_equal(a, b)


def _flatten(function, *args):
    """AND(AND(a,b),c) -> AND(a,b,c): same value, easier to read."""
    out = []
    for a in args:
        if isinstance(a, Call) and a.function == function:
            out.extend(a.args)
        else:
            out.append(a)
    return out


def both(a, b):
    """Elementwise logical and (``AND(a,b)``; on scalar cells only in Excel)."""
    if is_expr(a, b):
        return Call("AND", *_flatten("AND", a, b))
    if _is_scalar(a, b):
        return bool(a) and bool(b)
    return np.logical_and(a, b)


def either(a, b):
    """Elementwise logical or (``OR(a,b)``)."""
    if is_expr(a, b):
        return Call("OR", *_flatten("OR", a, b))
    if _is_scalar(a, b):
        return bool(a) or bool(b)
    return np.logical_or(a, b)


def isnumber(x):
    """True for a finite number (``ISNUMBER(x)`` in Excel, where text is not a number)."""
    if type(x) is float:
        return math.isfinite(x)
    if is_expr(x):
        return Call("ISNUMBER", x)
    if isinstance(x, (numbers.Real, np.number)) and not isinstance(x, (bool, np.bool_)):
        return math.isfinite(x)
    if isinstance(x, np.ndarray) and x.dtype.kind in "iuf":
        return np.isfinite(x)
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=bool)
    return False


def iferror(x, fallback):
    """``x``, or ``fallback`` where Excel would show an error (``IFERROR``); Python
    values are already valid, so it returns ``x``."""
    if is_expr(x, fallback):
        return Call("IFERROR", x, fallback)
    return x


def not_available(like):
    """A quantity that has no value here (nodes needed when not one sequence fits): NaN in
    Python, ``NA()`` in Excel (so that a sheet shows ``#N/A``, never a made-up 0).  ``like``
    is any argument of the formula: it only decides which of the two is built."""
    if is_expr(like):
        return Call("NA")
    return float("nan")


def concat(*parts):
    """Text concatenation (``a&b&c`` in Excel)."""
    if is_expr(*parts):
        out = as_expr(parts[0])
        for p in parts[1:]:
            out = BinOp("&", out, p)
        return out
    return "".join(str(p) for p in parts)

