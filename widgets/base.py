"""The machinery every planning form shares.

A form is an ``ipywidgets.VBox``: glossary-named controls on the left (``form.controls``,
name -> widget), the plan on the right in three tabs — *Plan* (headline cards, the memory
chart against the GPU's capacity, the breakdown table), *Sweep* (one input across its
range, one vectorised core call) and *Export* (a planning workbook, the equivalent Excel
formula).

Rendering is **one function of the control values**, wired with
``ipywidgets.interactive_output``: :meth:`PlanForm._render` turns the values into core
inputs, asks the core for the plan (:meth:`compute`, written by each form), and shows it.
``observe`` is used only for dependencies *between* controls (a model limits ``tp`` to
the divisors of its heads; a GPU shows its memory; a pasted config.json selects itself),
and those observers are registered before ``interactive_output`` so the render sees the
updated dependent values.  Bad input — a value the core rejects, a malformed config.json —
shows the core's message above the dimmed last plan; the form keeps working and
``form.error`` holds the message (``form.result`` is ``None`` until the inputs are valid
again).
"""

from __future__ import annotations

import contextlib
import html
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as w

from xlcalc.errors import XlcalcError, unknown_choice
from xlcalc.graph import load_all
from xlcalc.hardware import gpu_names, load_gpu
from xlcalc.models import load_model, preset_names

from . import controls as C
from . import download as D
from . import export as E
from .render import (CSS, MemoryChart, SweepChart, cards_html, fmt, message_html,
                     style_table)

__all__ = ["PlanForm", "Plan", "PASTED"]

log = logging.getLogger(__name__)

#: the model dropdown's entry for a config.json pasted into the text box
PASTED = "(pasted config.json)"

_TAB_PLAN, _TAB_SWEEP, _TAB_EXPORT = 0, 1, 2


@dataclass
class Plan:
    """One computed plan: the breakdown table, the headline figures (display units in the
    key names: ``ttft_ms``, ``headroom_gb``), the cards that show them, the chart's
    numbers and the context the Excel formulas read."""
    table: object
    figures: dict
    cards: list
    chart: dict
    context: dict
    warning: str = ""
    extra: dict = field(default_factory=dict)


class PlanForm(w.VBox):
    """Base class of :class:`~widgets.InferenceForm` and :class:`~widgets.TrainingForm`."""

    #: heading and one-line description
    title = ""
    subtitle = ""
    #: workbook template the Export tab writes (``workbooks.templates``)
    template = ""
    #: Excel functions that express the plan (first available is shown first)
    formulas: tuple = ()
    #: sweepable inputs: name -> label
    sweep_axes: dict = {}
    #: memory parts of the chart (graph labels)
    chart_parts: tuple = ()
    #: control groups: heading -> names (layout only)
    groups: tuple = ()

    def __init__(self, **values):
        load_all()
        super().__init__()
        self.result = None          # the latest breakdown DataFrame
        self.figures: dict = {}     # the latest headline figures
        self.plan: Plan | None = None
        self.error = ""             # the core's message while the inputs are invalid
        self.sweep_result = None    # the latest sweep DataFrame
        self.last_render_s = float("nan")
        self.renders = 0
        self._held = 0
        self._last_key = None
        self._sweep_dirty = True
        self._chart = MemoryChart(self.chart_parts)
        self._sweep_chart = None
        self._sweep_key = None

        self.controls: dict = self._make_controls()
        self._order = {name: i for i, name in enumerate(self.controls)}
        self.model_info = w.HTML()
        self.gpu_info = w.HTML()
        # dependencies between controls first: they run before the render's observers
        self._wire_dependencies()
        self._apply(values)
        self._update_model_info()
        self._update_gpu_info()

        self._build_outputs()
        self._plan_out = w.interactive_output(self._render, self.controls)
        self._sweep_out = w.interactive_output(
            self._render_sweep, {**self.controls, "sweep_axis": self.sweep_axis})
        self.children = [self._layout()]
        self.add_class("xl-form")

    # ----------------------------------------------------------- to implement

    def _make_controls(self) -> dict:
        raise NotImplementedError

    def compute(self, inputs: dict) -> Plan:
        """The plan for core ``inputs`` (glossary name -> value), computed by the core."""
        raise NotImplementedError

    def compute_sweep(self, inputs: dict, axis: str):
        """A DataFrame of the headline figures across ``axis`` (one vectorised call)."""
        raise NotImplementedError

    def sweep_values(self, axis: str) -> list:
        raise NotImplementedError

    def workbook_inputs(self) -> dict:
        raise NotImplementedError

    # ------------------------------------------------------------- controls

    def _model_controls(self, model):
        options = [(n, n) for n in preset_names()] + [(PASTED, PASTED)]
        model_dd = C.choice("model", model, options=options)
        config = w.Textarea(
            value="", placeholder='Paste a Hugging Face config.json here, e.g. '
            '{"model_type": "llama", "hidden_size": 4096, …} or {"preset": "llama-2-7b", '
            '"num_hidden_layers": 16}', description="config_json",
            tooltip="config.json text; selects the model '" + PASTED + "'",
            continuous_update=False, style={"description_width": C.DESCRIPTION_WIDTH},
            layout=w.Layout(width="100%", height="90px"))
        return model_dd, config

    def _gpu_control(self, gpu):
        return C.choice("gpu", gpu, options=list(gpu_names()))

    @property
    def values(self) -> dict:
        """The controls' current values (name -> value)."""
        return {name: widget.value for name, widget in self.controls.items()}

    @property
    def inputs(self) -> dict:
        """The core inputs of the current values (the model resolved from a preset name or
        the pasted config.json); raises the core's error when they are invalid."""
        return self.inputs_from(self.values)

    def inputs_from(self, values: dict) -> dict:
        out = {}
        for name, value in values.items():
            if name == "config_json":
                continue
            if name == "model":
                value = self._model_spec(values)
            elif isinstance(value, bool):
                value = int(value)
            out[name] = value
        return out

    def _model_spec(self, values):
        """A preset name, or the Model parsed from the pasted config.json."""
        if values["model"] != PASTED:
            return values["model"]
        text = (values.get("config_json") or "").strip()
        if not text:
            raise XlcalcError("model: paste a config.json into the config_json box, or "
                              "pick a preset", "model")
        if not text.startswith("{"):
            raise XlcalcError("model config.json text must be a JSON object starting with "
                              f"'{{', got {text[:30]!r}", "model")
        return load_model(text)

    def set(self, **values) -> "PlanForm":
        """Set several controls at once (one render).  Values are checked by the glossary
        (the core's message when rejected); a valid count a slider lacks is added."""
        with self.hold():
            self._apply(values)
        return self

    def _apply(self, values: dict) -> None:
        for name in sorted(values, key=lambda n: self._order.get(n, 10 ** 6)):
            if name not in self.controls:
                raise unknown_choice("control", name, self.controls)
            value = values[name]
            if name == "model" and not isinstance(value, str):
                raise XlcalcError("model: give a preset name; paste a config.json as text "
                                  "with config_json=...", "model")
            C.set_control(name, self.controls[name], value)

    @contextlib.contextmanager
    def hold(self):
        """Change several controls, render once at the end."""
        self._held += 1
        try:
            yield self
        finally:
            self._held -= 1
            if not self._held:
                self.refresh()

    def refresh(self) -> None:
        """Render the current values (and the sweep, when it is showing)."""
        if not hasattr(self, "_plan_out"):     # still being built
            return
        self._render(**self.values)
        self._render_sweep(sweep_axis=self.sweep_axis.value, **self.values)

    # --------------------------------------------------------- dependencies

    def _wire_dependencies(self) -> None:
        c = self.controls
        c["config_json"].observe(self._on_config, "value")
        c["model"].observe(self._on_model, "value")
        c["gpu"].observe(lambda change: self._update_gpu_info(), "value")
        self._on_model(None)

    def _on_config(self, change) -> None:
        """Pasting a config.json selects it as the model."""
        if change["new"].strip():
            if self.controls["model"].value != PASTED:
                self.controls["model"].value = PASTED     # _on_model follows
                return
        self._on_model(None)

    def _current_model(self):
        try:
            return load_model(self._model_spec(self.values))
        except XlcalcError:
            return None

    def _on_model(self, change) -> None:
        """A model limits ``tp`` to the divisors of its heads (the glossary's relations)
        and ``pp`` to its layers."""
        m = self._current_model()
        self._update_model_info(m)
        if m is None:
            return
        fields = {k: m[k] for k in ("num_heads", "num_kv_heads", "num_layers")}
        with self.hold():           # one render, with the dependent values updated
            for name, candidates in (("tp", range(1, 129)), ("pp", _PP_CANDIDATES)):
                widget = self.controls.get(name)
                if widget is not None:
                    _restrict(widget, C.allowed_by_relations(name, candidates, fields))

    def _update_model_info(self, m=None) -> None:
        m = m if m is not None else self._current_model()
        if m is None:
            self.model_info.value = ""
            return
        from xlcalc.basics import params
        p = params(m)
        heads = f"{m.num_heads} heads / {m.num_kv_heads} KV"
        extra = f" · {m.num_experts} experts" if m.num_experts else ""
        self.model_info.value = (
            f'<div class="xl-info" data-name="model_info">{fmt(float(p["total"]) / 1e9)} B '
            f'params · {m.num_layers} layers · {heads}{extra} · context '
            f'{m.max_position_embeddings:,} · {m.architecture}</div>')

    def _update_gpu_info(self) -> None:
        try:
            g = load_gpu(self.controls["gpu"].value)
        except XlcalcError as e:
            self.gpu_info.value = message_html(str(e))
            return
        f = g.fields
        self.gpu_info.value = (
            f'<div class="xl-info" data-name="gpu_info"><b>{fmt(f["memory_gb"])} GB</b> · '
            f'{fmt(f["memory_bandwidth_gb_per_s"])} GB/s · {fmt(f["peak_tflops_bf16"])} '
            f'TFLOP/s bf16 · link {fmt(f["intra_node_gb_per_s"])} GB/s</div>')

    # -------------------------------------------------------------- render

    def _render(self, **values) -> None:
        """THE render: control values -> core -> cards, chart, table, formula."""
        if self._held:
            return
        key = tuple(sorted(values.items()))
        if key == self._last_key:
            return
        self._last_key = key
        start = time.perf_counter()
        try:
            plan = self.compute(self.inputs_from(values))
        except XlcalcError as e:
            self._show_error(str(e))
        except Exception as e:          # a bug: say so, keep the form alive
            log.error("xlcalc form failed:\n%s", traceback.format_exc())
            self._show_error(f"unexpected error (please report): {type(e).__name__}: {e}")
        else:
            self._show(plan)
        self.renders += 1
        self.last_render_s = time.perf_counter() - start

    def _show(self, plan: Plan) -> None:
        self.plan, self.result, self.figures, self.error = plan, plan.table, plan.figures, ""
        # the cards go last: a browser that sees new cards has the chart and table too
        self.chart.value = self._chart.png(**plan.chart)
        self.chart_legend.value = self._chart.legend_html(
            plan.chart["capacity_label"], plan.chart["capacity_gb"], plan.chart["budget_gb"])
        self.table.value = '<div class="xl-table" data-name="breakdown">' + \
            style_table(plan.table).to_html() + "</div>"
        self._update_formula()
        self.message.value = message_html(plan.warning) if plan.warning else ""
        self.results_box.remove_class("xl-stale")
        self.cards.value = cards_html(plan.cards)

    def _show_error(self, message: str) -> None:
        self.plan, self.result, self.figures, self.error = None, None, {}, message
        self.message.value = message_html(message)
        self.results_box.add_class("xl-stale")
        self._update_formula()

    # --------------------------------------------------------------- sweep

    def sweep(self, axis: str | None = None):
        """The headline figures across ``axis`` (one of :attr:`sweep_axes`) for the current
        values, as a DataFrame (one vectorised core call)."""
        axis = axis or self.sweep_axis.value
        if axis not in self.sweep_axes:
            raise unknown_choice("sweep axis", axis, self.sweep_axes)
        return self.compute_sweep(self.inputs, axis)

    def _render_sweep(self, sweep_axis, **values) -> None:
        if self._held:
            return
        if getattr(self, "tabs", None) is None or self.tabs.selected_index != _TAB_SWEEP:
            self._sweep_dirty = True        # drawn when the tab is opened
            return
        key = (sweep_axis, self.error, tuple(sorted(values.items())))
        if key == self._sweep_key and not self._sweep_dirty:
            return                          # already showing these values
        self._sweep_key = key
        self._sweep_dirty = False
        try:
            if self.error:
                raise XlcalcError(self.error)
            frame = self.compute_sweep(self.inputs_from(values), sweep_axis)
        except XlcalcError as e:
            self.sweep_message.value = message_html(str(e))
            self.sweep_box.add_class("xl-stale")
            return
        except Exception as e:
            log.error("xlcalc sweep failed:\n%s", traceback.format_exc())
            self.sweep_message.value = message_html(f"unexpected error (please report): "
                                                    f"{type(e).__name__}: {e}")
            return
        self.sweep_result = frame
        self.sweep_message.value = ""
        self.sweep_box.remove_class("xl-stale")
        current = values[sweep_axis]
        if self._sweep_chart is None:
            self._sweep_chart = SweepChart(self.sweep_panels())
        self.sweep_chart.value = self._sweep_chart.png(frame, sweep_axis, current,
                                                       **self.sweep_capacity())
        self.sweep_table.value = '<div class="xl-table" data-name="sweep">' + \
            self.style_sweep(frame, sweep_axis, current).to_html() + "</div>"

    def _on_tab(self, change) -> None:
        if change["new"] == _TAB_SWEEP and self._sweep_dirty:
            self._render_sweep(sweep_axis=self.sweep_axis.value, **self.values)

    def sweep_panels(self):
        raise NotImplementedError

    def sweep_capacity(self) -> dict:
        if not self.plan:
            return {}
        return {"capacity_gb": self.plan.chart["capacity_gb"],
                "budget_gb": self.plan.chart.get("budget_gb")}

    def style_sweep(self, frame, axis, current):
        formats = {c: "{:,.2f}" for c in frame.columns if c.endswith(("_gb", "_ms", "_s"))}
        formats.update({c: "{:,.0f}" for c in frame.columns
                        if c in ("tokens_per_s", "max_batch", "gpus_needed", "n_gpus",
                                 "cost", axis)})
        formats.update({"train_days": "{:,.1f}"} if "train_days" in frame else {})

        def row_style(row):
            style = ""
            if "fits" in row and not bool(row["fits"]):
                style = "color: #b42318"
            if row[axis] == current:
                style += "; font-weight: 600; background: #eef4fb"
            return [style] * len(row)
        if "fits" in frame:
            formats["fits"] = lambda v: "yes" if v else "no"
        return frame.style.format(formats).hide(axis="index").apply(row_style, axis=1)

    # -------------------------------------------------------------- export

    def _offered(self) -> dict:
        """function -> (spec, arguments) of the Excel functions that express the plan."""
        if self.plan is None:
            return {}
        functions = E.catalogue()
        out = {}
        for spec in self.formulas:
            if spec.function not in out:
                args = E.formula_args(spec, self.plan.context, functions)
                if args is not None:
                    out[spec.function] = (spec, args)
        return out

    def excel_formulas(self) -> dict:
        """The Excel formulas (function -> ``=FUNCTION(...)``) that compute this plan's
        figures, for the functions the catalogue defines."""
        return {f: E.formula_text(f, args) for f, (spec, args) in self._offered().items()}

    def excel_formula(self, function: str | None = None) -> str:
        """The equivalent Excel formula of the current plan (``function``: one of
        :meth:`excel_formulas`; default the first)."""
        formulas = self.excel_formulas()
        if not formulas:
            raise XlcalcError(self.error or "no Excel function of the catalogue expresses "
                              "this plan (install xlwings for the catalogue)")
        if function is None:
            return next(iter(formulas.values()))
        if function not in formulas:
            raise unknown_choice("Excel function", function, formulas)
        return formulas[function]

    def _update_formula(self) -> None:
        offered = self._offered()
        options = [(f"{f} — {spec.label}", f) for f, (spec, _) in offered.items()]
        if list(self.formula_function.options) != options:
            keep = self.formula_function.value
            self._offered_cache = offered
            self.formula_function.options = options
            self.formula_function.value = keep if keep in offered else \
                (options[0][1] if options else None)
        self._offered_cache = offered
        self._show_formula()

    def _show_formula(self, change=None) -> None:
        function = self.formula_function.value
        offered = getattr(self, "_offered_cache", {})
        if function not in offered:
            self.formula.value = ""
            why = "fix the inputs first" if self.error else \
                "no Excel function of the catalogue expresses this plan"
            self.formula_value.value = f'<span class="xl-sub">{why}</span>'
            return
        spec, args = offered[function]
        self.formula.value = E.formula_text(function, args)
        shown = E.evaluate_formula(function, args)
        mine = self.figures.get(spec.figure)
        self.formula_value.value = (
            f'<span class="xl-sub">Excel shows <b data-name="formula_value" '
            f'data-value="{html.escape(str(shown))}">{html.escape(fmt(shown))}</b> · the '
            f'plan\'s {html.escape(spec.label)}: {fmt(mine)}</span>')

    def _copy_formula(self, button=None) -> None:
        import json
        from IPython.display import Javascript, display
        text = self.formula.value
        self.copy_out.clear_output()
        with self.copy_out:
            display(Javascript(f"navigator.clipboard && navigator.clipboard.writeText("
                               f"{json.dumps(text)});"))
        self.copy_status.value = '<span class="xl-sub">copied</span>' if text else ""

    def workbook_bytes(self) -> bytes:
        """The current plan as a planning workbook (the ``template`` of this form, its
        Inputs set to the form's values), as the bytes of an .xlsx file."""
        from xlcalc.workbooks.templates import template_bytes
        if self.error:
            raise XlcalcError(self.error)
        return template_bytes(self.template, self.workbook_inputs())

    def write_workbook(self, path=None, overwrite: bool = False) -> Path:
        """Write the current plan as a planning workbook; returns the path.  ``path``
        (Python) may be anywhere but must end in .xlsx; without it, the file name typed
        in the Export tab, in the working folder.  An existing file is replaced only
        with ``overwrite`` (the tab's 'replace' box)."""
        target = D.check_target(path, overwrite) if path is not None else \
            D.local_file(self.workbook_path.value, overwrite or self.workbook_replace.value)
        target.write_bytes(self.workbook_bytes())
        return target.resolve()

    def _on_write(self, button=None) -> None:
        self.workbook_status.value = '<span class="xl-sub">writing…</span>'
        try:
            if D.served():               # the browser's user gets the bytes, not a path
                self.workbook_status.value = D.download_html(
                    self.workbook_bytes(), f"{self.template}-plan.xlsx")
                return
            path = self.write_workbook()
        except XlcalcError as e:
            self.workbook_status.value = message_html(str(e))
        except Exception as e:
            log.error("workbook export failed:\n%s", traceback.format_exc())
            self.workbook_status.value = message_html(f"{type(e).__name__}: {e}")
        else:
            self.workbook_status.value = (
                f'<span class="xl-sub" data-name="workbook_path" data-value="{html.escape(path.name)}">'
                f'wrote <code>{html.escape(path.name)}</code> in the working folder — open it '
                f'in Excel or LibreOffice: the Inputs sheet holds this plan, every result is '
                f'a live formula</span>')

    # -------------------------------------------------------------- layout

    def _build_outputs(self) -> None:
        self.message = w.HTML()
        self.cards = w.HTML()
        self.chart = w.Image(format="png", layout=w.Layout(width="100%", max_width="740px"))
        self.chart_legend = w.HTML()
        self.table = w.HTML()
        self.results_box = w.VBox([self.cards, self.chart, self.chart_legend, self.table])

        self.sweep_axis = w.ToggleButtons(
            options=[(label, name) for name, label in self.sweep_axes.items()],
            description="sweep", style={"description_width": "50px", "button_width": "auto"})
        self.sweep_message = w.HTML()
        self.sweep_chart = w.Image(format="png", layout=w.Layout(width="100%", max_width="900px"))
        self.sweep_table = w.HTML()
        self.sweep_box = w.VBox([self.sweep_chart, self.sweep_table])

        served = D.served()
        self.workbook_path = w.Text(value=f"{self.template}-plan.xlsx", description="file",
                                    style={"description_width": "40px"},
                                    layout=w.Layout(width="300px",
                                                    display="none" if served else None))
        self.workbook_replace = w.Checkbox(value=False, description="replace",
                                           indent=False, layout=w.Layout(
                                               width="90px", display="none" if served else None))
        self.workbook_button = w.Button(
            description="Download planning workbook" if served else "Write planning workbook",
            icon="download", button_style="primary", layout=w.Layout(width="240px"))
        self.workbook_button.on_click(self._on_write)
        self.workbook_status = w.HTML()
        self.formula_function = w.Dropdown(options=[], description="function",
                                           style={"description_width": "70px"},
                                           layout=w.Layout(width="480px"))
        self.formula_function.observe(self._show_formula, "value")
        self.formula = w.Text(value="", description="formula", style={"description_width": "70px"},
                              layout=w.Layout(width="100%"))
        self.formula_value = w.HTML()
        self.copy_button = w.Button(description="Copy Excel formula", icon="copy",
                                    layout=w.Layout(width="220px"))
        self.copy_button.on_click(self._copy_formula)
        self.copy_status = w.HTML()
        self.copy_out = w.Output(layout=w.Layout(display="none"))

    def _layout(self):
        header = w.HTML(CSS + f'<div class="xl-title">{self.title}</div>'
                        f'<div class="xl-sub">{self.subtitle}</div>')
        left = []
        for heading, names in self.groups:
            left.append(w.HTML(f'<div class="xl-head">{heading}</div>'))
            for name in names:
                left.append(self.controls[name])
                if name == "model":
                    left.append(self.model_info)
                if name == "gpu":
                    left.append(self.gpu_info)
        paste = w.Accordion(children=[self.controls["config_json"]], titles=("Paste a config.json",),
                            selected_index=None)
        left.insert(3, paste)
        left_box = w.VBox(left, layout=w.Layout(width="420px", min_width="400px",
                                                padding="0 14px 0 0"))
        plan_tab = w.VBox([self.results_box, self._plan_out])
        sweep_tab = w.VBox([self.sweep_axis, self.sweep_message, self.sweep_box,
                            self._sweep_out])
        export_tab = w.VBox([
            w.HTML('<div class="xl-head">Planning workbook</div><div class="xl-sub">The '
                   f'“{self.template}” template with this plan on its Inputs sheet.</div>'),
            w.HBox([self.workbook_path, self.workbook_replace, self.workbook_button]),
            self.workbook_status,
            w.HTML('<div class="xl-head">Excel formula</div><div class="xl-sub">The same '
                   'figure from the xlcalc Excel functions (xlwings).</div>'),
            self.formula_function, self.formula, self.formula_value,
            w.HBox([self.copy_button, self.copy_status]), self.copy_out])
        self.tabs = w.Tab(children=[plan_tab, sweep_tab, export_tab],
                          titles=("Plan", "Sweep", "Export"))
        self.tabs.observe(self._on_tab, "selected_index")
        right = w.VBox([self.message, self.tabs], layout=w.Layout(flex="1 1 auto",
                                                                   min_width="560px"))
        return w.VBox([header, w.HBox([left_box, right])])


_PP_CANDIDATES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64)


def _restrict(widget, allowed) -> None:
    """Offer ``allowed`` values; keep the current one if it is still allowed, else the
    largest allowed value below it."""
    allowed = list(allowed)
    if not allowed or C.options_of(widget) == allowed:
        return
    current = widget.value
    keep = current if current in allowed else max([v for v in allowed if v <= current] or
                                                  [allowed[0]])
    widget.options = allowed
    widget.value = keep
