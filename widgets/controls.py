"""Controls named and ranged from the glossary (DESIGN.md principle 8).

A control's ``description`` is the glossary name (``batch``, ``tp``, ``kv_dtype`` …), its
tooltip the glossary's description, unit and allowed values, and its range comes from the
term: the minimum (and maximum) it allows, the sample values it lists (always offered) and
its default.  Counts and lengths move on a log scale of "nice" integers (1, 2, 3, 4, 6, 8,
12, 16, …: powers of two and 1.5 × powers of two), so one slider covers 1 to 1024
sequences or 128 to 131,072 tokens; choices list the rows of the term's table
(``dtypes``, ``gpus``, ``precisions`` …).

Sliders and text boxes use ``continuous_update=False``: the plan is recomputed when the
user lets go of a slider, not on every pixel.
"""

from __future__ import annotations

import ipywidgets as w

from xlcalc.errors import invalid, unknown_choice
from xlcalc.glossary import TERMS, check
from xlcalc.graph import load_all, table

__all__ = ["term", "nice_log_ints", "choices", "int_slider", "int_dropdown", "toggle",
           "choice", "fraction_slider", "log_slider", "real_box", "flag", "set_control",
           "options_of", "allowed_by_relations", "DESCRIPTION_WIDTH"]

DESCRIPTION_WIDTH = "172px"
_STYLE = {"description_width": DESCRIPTION_WIDTH}
_FULL = w.Layout(width="100%")


def term(name: str):
    """The glossary term of control ``name`` (every formula module's terms loaded)."""
    load_all()
    try:
        return TERMS[name]
    except KeyError:
        raise unknown_choice("glossary name", name, TERMS) from None


def _tooltip(name: str) -> str:
    t = term(name)
    unit = f" [{t.unit}]" if t.unit else ""
    return f"{name}: {t.description}{unit}; {t.allowed}"


def nice_log_ints(lo: int, hi: int, extra=()) -> list[int]:
    """Integers from ``lo`` to ``hi`` on a log scale: powers of two and 1.5 × powers of
    two (1, 2, 3, 4, 6, 8, 12, …), plus the ``extra`` values, sorted and distinct."""
    out = set()
    p = 1
    while p <= hi:
        for v in (p, p * 3 // 2 if p >= 2 else None):
            if v is not None and lo <= v <= hi:
                out.add(v)
        p *= 2
    out.update(int(v) for v in extra if v is not None and lo <= v <= hi)
    if not out:
        out.add(int(lo))
    return sorted(out)


def _range(name: str, lo, hi):
    """``[lo, hi]`` within the glossary's bounds of ``name``."""
    t = term(name)
    lo = max(lo, int(t.minimum)) if lo is not None else int(t.minimum)
    if t.maximum is not None:
        hi = min(hi, int(t.maximum)) if hi is not None else int(t.maximum)
    return lo, hi


def _default(name: str, value):
    if value is not None:
        return value
    t = term(name)
    if t.default is not None:
        return t.default
    if t.sample:
        return t.sample[len(t.sample) // 2]
    raise invalid(name, None, "a value (the glossary has no default)")


def choices(name: str) -> list[str]:
    """The names a planner picks from for a choice term: the offered keys of its table (a
    source tutorial's own rule, ``seed-001``, is not offered; the worked examples use it)."""
    t = term(name)
    if t.kind != "choice":
        raise invalid(name, t.kind, "a choice term")
    return [str(k) for k in table(t.table).offered()]


def int_slider(name: str, value=None, lo=None, hi=None) -> w.SelectionSlider:
    """A log-scale slider over the nice integers in the glossary's range (its samples
    included)."""
    lo, hi = _range(name, lo, hi)
    value = int(_default(name, value))
    t = term(name)
    options = nice_log_ints(lo, hi, (*t.sample, value))
    return w.SelectionSlider(options=options, value=value, description=name,
                             tooltip=_tooltip(name), continuous_update=False,
                             style=_STYLE, layout=_FULL)


def int_dropdown(name: str, options, value=None) -> w.Dropdown:
    """A dropdown of allowed integers (``tp``, ``pp``, ``dp``: the divisors that fit)."""
    value = int(_default(name, value))
    options = [int(v) for v in options]
    if value not in options:
        options = sorted({*options, value})
    return w.Dropdown(options=options, value=value, description=name,
                      tooltip=_tooltip(name), style=_STYLE, layout=_FULL)


def toggle(name: str, options=None, value=None) -> w.ToggleButtons:
    """Buttons for a short list: an int term's whole range (``zero`` 0-3) or a choice
    table (``recompute``)."""
    t = term(name)
    if options is None:
        if t.kind == "choice":
            options = choices(name)
        else:
            options = list(range(int(t.minimum), int(t.maximum) + 1))
    value = _default(name, value)
    widget = w.ToggleButtons(options=options, value=value, description=name,
                             tooltip=_tooltip(name), style={**_STYLE, "button_width": "auto"})
    widget.add_class("widget-inline-hbox")      # label beside the buttons, like the others
    return widget


def choice(name: str, value=None, options=None) -> w.Dropdown:
    """A dropdown of a choice term's table keys (or ``options``: ``(label, value)`` pairs
    allowed)."""
    options = list(options) if options is not None else choices(name)
    return w.Dropdown(options=options, value=_default(name, value), description=name,
                      tooltip=_tooltip(name), style=_STYLE, layout=_FULL)


def fraction_slider(name: str, value=None, lo=0.05, step=0.01) -> w.FloatSlider:
    """An efficiency or utilisation in (0, 1] (``lo=0``: 0 stands for "the default", the
    calibrated or the engine's value)."""
    t = term(name)
    if t.kind != "fraction" and not (t.kind == "real" and t.maximum == 1):
        raise invalid(name, t.kind, "a fraction term")
    return w.FloatSlider(value=float(_default(name, value)), min=lo, max=1.0, step=step,
                         readout_format=".2f", description=name,
                         tooltip=_tooltip(name), continuous_update=False,
                         style=_STYLE, layout=_FULL)


def log_slider(name: str, value=None, lo_exp=None, hi_exp=None, step=0.05) -> w.FloatLogSlider:
    """A positive real on a base-10 log scale (``tokens``: 1e9 to 1e13), read out with SI
    prefixes (``140G``)."""
    import math
    t = term(name)
    value = float(_default(name, value))
    samples = [float(s) for s in t.sample if s > 0] or [value]
    lo_exp = math.floor(math.log10(min(samples + [value]))) if lo_exp is None else lo_exp
    hi_exp = math.ceil(math.log10(max(samples + [value]))) + 1 if hi_exp is None else hi_exp
    return w.FloatLogSlider(value=value, base=10, min=lo_exp, max=hi_exp, step=step,
                            readout_format=".3s", description=name,
                            tooltip=_tooltip(name), continuous_update=False,
                            style=_STYLE, layout=_FULL)


def real_box(name: str, value=None, step=0.1, hi=1e6) -> w.BoundedFloatText:
    """A number typed in (``price_per_gpu_hour``), bounded by the glossary's minimum."""
    t = term(name)
    return w.BoundedFloatText(value=float(_default(name, value)), min=float(t.minimum),
                              max=float(t.maximum if t.maximum is not None else hi), step=step,
                              description=name, tooltip=_tooltip(name),
                              continuous_update=False, style=_STYLE, layout=_FULL)


def flag(name: str, value=None) -> w.Checkbox:
    """A 0/1 switch (``flash_attention``)."""
    return w.Checkbox(value=bool(_default(name, value)), description=name,
                      tooltip=_tooltip(name), indent=True, style=_STYLE,
                      layout=_FULL)


# ------------------------------------------------------------------ values

def options_of(widget) -> list:
    """The values a selection control offers (labels dropped)."""
    opts = getattr(widget, "options", None)
    if opts is None:
        return []
    return [o[1] if isinstance(o, tuple) else o for o in opts]


def set_control(name: str, widget, value) -> None:
    """Set ``widget`` to ``value``, checked by the glossary first (the core's message for a
    value it rejects).  A valid count a log slider does not list is added to its options."""
    if isinstance(widget, (w.SelectionSlider, w.Dropdown, w.ToggleButtons)):
        offered = options_of(widget)
        if value in offered:
            widget.value = value
            return
        t = TERMS.get(name)
        if isinstance(widget, w.SelectionSlider) and t is not None and t.kind == "int":
            check(name, value)
            widget.options = sorted({*offered, int(value)})
            widget.value = int(value)
            return
        if t is not None and t.kind == "int":
            check(name, value)
            raise invalid(name, value, "one of " + ", ".join(str(v) for v in offered))
        if t is not None and t.kind == "choice" and isinstance(value, str) and \
                isinstance(widget, w.Dropdown) and \
                value.strip().lower() in table(t.table).frame().index:
            # a valid key the dropdown does not offer (a source tutorial's own rule, set
            # in code to reproduce a worked example) is shown while it is chosen
            widget.options = [*widget.options, value]
            widget.value = value
            return
        raise unknown_choice(name, value, [str(v) for v in offered])
    if isinstance(widget, w.Checkbox):
        widget.value = bool(value)
        return
    if name in TERMS and isinstance(widget, (w.FloatSlider, w.FloatLogSlider,
                                             w.BoundedFloatText)):
        check(name, value)
        if not widget.min <= _slider_value(widget, value) <= widget.max:
            raise invalid(name, value, f"within the control's range {_bounds(widget)}")
    widget.value = value


def _slider_value(widget, value):
    import math
    if isinstance(widget, w.FloatLogSlider):
        return math.log(value, widget.base)
    return value


def _bounds(widget) -> str:
    if isinstance(widget, w.FloatLogSlider):
        return f"[{widget.base ** widget.min:g}, {widget.base ** widget.max:g}]"
    return f"[{widget.min:g}, {widget.max:g}]"


def allowed_by_relations(name: str, candidates, context: dict) -> list:
    """The ``candidates`` for input ``name`` that satisfy its glossary relations against
    ``context`` (``tp`` must divide ``num_heads`` …): the dropdowns follow the model."""
    t = term(name)
    out = []
    for v in candidates:
        ok = True
        for other, predicate, _ in t.relations:
            if other in context and not bool(predicate(float(v), float(context[other]))):
                ok = False
                break
        if ok:
            out.append(v)
    return out
