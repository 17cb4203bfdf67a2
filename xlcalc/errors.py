"""The one library error type (DESIGN.md principle 9).

Invalid input raises :class:`XlcalcError`, a ``ValueError`` whose message names
the argument, the value it got and what is allowed.  A plan that does not fit
is *not* an error: it is a result with ``fits = False``.
"""

from __future__ import annotations

import difflib


class XlcalcError(ValueError):
    """Invalid input to an xlcalc estimate.

    ``argument`` is the glossary name of the offending argument (``None`` when the
    problem is not tied to one), so that each face can point at it.
    """

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))   # Excel sends 8.0 for 8: show what the user typed
    if isinstance(value, str):
        return repr(value)
    return str(value) if not isinstance(value, (list, tuple, dict)) else repr(value)[:80]


def invalid(argument: str, value, allowed: str) -> XlcalcError:
    """``batch must be a positive integer, got -1`` as an :class:`XlcalcError`."""
    return XlcalcError(f"{argument} must be {allowed}, got {_show(value)}", argument)


def unknown_choice(argument: str, value, choices) -> XlcalcError:
    """Error for an unknown name that suggests the closest valid names."""
    choices = sorted(choices)
    close = difflib.get_close_matches(str(value).lower(), choices, n=3, cutoff=0.5)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        shown = ", ".join(choices[:12]) + (", …" if len(choices) > 12 else "")
        hint = f"valid: {shown}"
    return XlcalcError(f"unknown {argument} {_show(value)}; {hint}", argument)


_REGISTRIES: tuple = ()


def _registries() -> tuple:
    """The glossary's and the graph's name registries (imported late: the graph imports
    this module); both are dicts ``load_all`` fills in place, so they are kept after the
    first call (this runs for every keyword of every public call)."""
    global _REGISTRIES
    if not _REGISTRIES:
        from . import graph
        from .glossary import TERMS
        graph.load_all()
        _REGISTRIES = (TERMS, graph.NODES)
    return _REGISTRIES


def _graph_names() -> set:
    """Every input and quantity name of the formula graph."""
    terms, nodes = _registries()
    return set(terms) | set(nodes)


def _is_graph_name(key) -> bool:
    """Whether ``key`` is an input or quantity of the graph, without building their union."""
    terms, nodes = _registries()
    return key in terms or key in nodes


def _check_keywords(kwargs, named: frozenset, open_kw: bool) -> None:
    """Raise for the first keyword that is neither a parameter nor (``open_kw``) a graph
    name, suggesting the closest parameter names."""
    for key in kwargs:
        if key not in named and not (open_kw and _is_graph_name(key)):
            allowed = set(named) | (_graph_names() if open_kw else set())
            close = difflib.get_close_matches(key, sorted(named), n=3, cutoff=0.6)
            raise unknown_choice("argument", key, close or sorted(allowed))


def checked_keywords(fn):
    """Decorate a public function so that an unknown keyword argument is an
    :class:`XlcalcError` naming it and suggesting the closest names, never silently
    ignored (``train_memory(..., ep2=2)`` → ``unknown argument 'ep2'; did you mean
    'ep'?``).  A function with ``**overrides`` also accepts any graph name (an input
    or a quantity of :mod:`xlcalc.graph`), which is what its overrides set."""
    import functools
    import inspect
    params = inspect.signature(fn).parameters
    named = frozenset(n for n, p in params.items()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    open_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # the common call: positional arguments or keywords the function names (one C-level
        # set test, no Python loop); anything else is checked key by key below
        if kwargs and not named.issuperset(kwargs):
            _check_keywords(kwargs, named, open_kw)
        return fn(*args, **kwargs)

    wrapper.__wrapped__ = fn
    return wrapper
