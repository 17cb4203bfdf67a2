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
