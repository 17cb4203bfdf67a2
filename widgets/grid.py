"""A scenario grid: one editable row per plan, every row recomputed in one core call.

``ScenarioGrid()`` is a spreadsheet-like ipydatagrid in an ipywidgets box: the columns
are glossary inputs (``model``, ``gpu``, ``batch``, ``prompt_len``, ``output_len``,
``tp`` …, the yellow cells) followed by chosen outputs (memory per GPU, headroom, fits,
TTFT, TPOT, tokens/s …, computed).  Editing an input cell — double-click, type, Enter in
the browser, or :meth:`ScenarioGrid.edit` in Python — recomputes the outputs of **every
row in one vectorised evaluation of the core**: numeric columns go in as arrays, text
columns (model, gpu, dtypes) as :class:`xlcalc.graph.Factor` codes, never a Python loop
over rows.  Plans that do not fit are coloured red, like the workbook's Scenarios
sheet.  Rows are added, duplicated and deleted with the toolbar (or :meth:`add_row`,
:meth:`duplicate_row`, :meth:`delete_row`); ``grid.data`` is the table as a DataFrame.

The grid is built on a planning-workbook template (``workbooks.templates``): the inputs
that are not columns take the template's values — on a serving template the planner's
defaults instead of the worked example's tutorial settings (engine vllm, calibrated
efficiencies; :func:`_planner_inputs`) — the bound inputs (``seq_len`` =
``prompt_len + output_len``) are the template's, and :meth:`ScenarioGrid.to_workbook`
writes that template with a live ``Scenarios`` sheet, one row per scenario (the
workbooks generator writes every formula; nothing here writes formula text).

A value the core rejects (a ``tp`` that does not divide the heads, an unknown model) is
not accepted: the cell goes back to its previous value and the core's message is shown
above the grid (``grid.error``), as Excel's data validation would refuse it.  A row that
is valid input by input but cannot be computed as a whole (bf16 on a V100, which has no
bf16 peak) is never a silent row of NaN: its ``problem`` column holds the core's message,
the row is red, and :meth:`ScenarioGrid.to_workbook` names it instead of writing.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import time
from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd

from xlcalc import estimate as core
from xlcalc.errors import XlcalcError, invalid
from xlcalc.glossary import TERMS, check
from xlcalc.graph import Factor, load_all
from xlcalc.serving import SERVING_DEFAULTS
from xlcalc.units import display_factor

from .download import check_target, download_html, local_file, served
from .render import CSS, fmt

__all__ = ["ScenarioGrid", "INFERENCE_OUTPUTS", "TRAINING_OUTPUTS"]

#: the grid's geometry in pixels (a browser test finds cells with it)
ROW, COLUMN_HEADER, ROW_HEADER = 26, 30, 86

log = logging.getLogger(__name__)

_INPUT_FILL = "#FFF2CC"        # the workbooks' input yellow
_BAD_FILL = "#FFC7CE"          # the workbooks' "does not fit" red
_BAD_TEXT = "#9C0006"


def _output(*args, **kwargs):
    from xlcalc.workbooks.spec import Output
    return Output(*args, **kwargs)


def _inference_outputs():
    return (
        _output("total_gb", "infer_total_bytes", "Memory per GPU", "GB"),
        _output("headroom_gb", "infer_headroom_bytes", "Headroom", "GB"),
        _output("fits", "infer_fits", "Fits"),
        _output("ttft_ms", "ttft_s", "Time to first token", "ms"),
        _output("tpot_ms", "tpot_s", "Time per output token", "ms"),
        _output("tokens_per_s", "tokens_per_s", "Generated tokens/s", "tokens/s"),
        _output("e2e_s", "e2e_s", "End-to-end", "s"),
    )


def _training_outputs():
    return (
        _output("total_gb", "train_total_bytes", "Memory per GPU", "GB"),
        _output("headroom_gb", "train_headroom_bytes", "Headroom", "GB"),
        _output("fits", "train_fits", "Fits"),
        _output("train_days", "train_wall_s", "Wall-clock time (÷ goodput)", "days"),
        _output("gpu_hours", "train_wall_gpu_hours", "GPU-hours", "GPU-h"),
        _output("train_cost", "train_wall_cost", "Cost", "$"),
    )


INFERENCE_OUTPUTS = ("total_gb", "headroom_gb", "fits", "ttft_ms", "tpot_ms", "tokens_per_s",
                     "e2e_s")
TRAINING_OUTPUTS = ("total_gb", "headroom_gb", "fits", "train_days", "gpu_hours",
                    "train_cost")

#: default scenarios of each template: the template's own plan first, then neighbours
#: a planner compares it with (the third does not fit: 70B on two 80 GB GPUs)
_DEFAULT_SCENARIOS = {
    "llama-70b-inference": [
        dict(model="llama-2-70b", gpu="h100-sxm", batch=8, prompt_len=512, output_len=256,
             tp=8, dtype="bf16", kv_dtype="bf16"),
        dict(model="llama-3.1-8b", gpu="h100-sxm", batch=64, prompt_len=1024,
             output_len=512, tp=1, dtype="bf16", kv_dtype="bf16"),
        dict(model="llama-2-70b", gpu="a100-80gb", batch=32, prompt_len=2048,
             output_len=512, tp=2, dtype="bf16", kv_dtype="bf16"),
        dict(model="mixtral-8x7b", gpu="h200", batch=32, prompt_len=1024, output_len=256,
             tp=2, dtype="fp8", kv_dtype="fp8"),
    ],
    "llama-7b-training": [
        dict(model="llama-2-7b", gpu="a100-80gb", batch=32, seq_len=2048, dp=1, tp=1,
             recompute="full", n_gpus=8),
        dict(model="llama-2-7b", gpu="h100-sxm", batch=32, seq_len=2048, dp=1, tp=1,
             recompute="none", n_gpus=8),
        dict(model="llama-2-13b", gpu="h100-sxm", batch=32, seq_len=4096, dp=1, tp=2,
             recompute="selective", n_gpus=16),
    ],
}

#: inputs the grid sets on a template by default: the training template reproduces a
#: seed's rule of thumb for activations, which ignores ``recompute``; the grid compares
#: recompute modes, so it uses xlcalc's own activation model
_DEFAULT_INPUTS = {"llama-7b-training": {"activation_rule": "korthikanti"}}


def _planner_inputs(inputs: dict) -> dict:
    """A serving template's other inputs as a planner's grid starts: the serving defaults
    (engine vllm, calibrated efficiencies, the engine's memory fraction — as the Excel
    functions and the inference form default) instead of a worked example's tutorial
    settings, and the inputs whose default the engine or the GPU family computes
    (``block_size``, ``infer_reserve_bytes``, ``link_eff`` …) left to the core, which
    computes them per row (the exported workbook computes them as formulas)."""
    from xlcalc.graph import NODES
    if "engine" not in inputs:
        return dict(inputs)
    out = {}
    for name, value in inputs.items():
        if name in SERVING_DEFAULTS:
            out[name] = SERVING_DEFAULTS[name]
        elif TERMS[name].default is None and getattr(NODES.get(name), "kind", "") == "formula":
            continue                      # the engine's or the GPU family's, row by row
        else:
            out[name] = value
    return out

#: d3 number formats of the output columns by unit; large values lose their decimals
_FORMATS = {"GB": ",.1f", "ms": ",.1f", "s": ",.2f", "tokens/s": ",.0f", "days": ",.1f",
            "GPU-h": ",.0f", "$": "$,.0f", "sequences": ",.0f", "GPUs": ",.0f"}
_LARGE = 10_000


class ScenarioGrid(w.VBox):
    """An editable grid of plans (rows) over glossary inputs and chosen outputs.

    ``scenarios``: a DataFrame (or a list of dicts) whose columns are glossary inputs,
    one row per plan (default: a few plans around the template's own).  ``outputs``:
    :class:`workbooks.spec.Output` columns, or the names of the default ones
    (:data:`INFERENCE_OUTPUTS`, :data:`TRAINING_OUTPUTS`).  ``template``: the planning
    workbook template the grid computes and exports with.  ``inputs`` override the
    template's other inputs (``{"gpu_memory_utilization": 0.95}``).
    """

    def __init__(self, scenarios=None, outputs=None, template: str = "llama-70b-inference",
                 inputs: dict | None = None):
        from xlcalc.workbooks.templates import template as load_template
        load_all()
        super().__init__()
        self.template = template
        self.spec = load_template(template)
        self.inputs = _planner_inputs(self.spec.inputs)
        given = dict(_DEFAULT_INPUTS.get(template, {}), **(inputs or {}))
        for name, value in given.items():
            if name not in self.spec.inputs:
                raise invalid(name, value, f"an input of template {template!r}: "
                              + ", ".join(self.inputs))
            self.inputs[name] = value
        self.outputs = self._resolve_outputs(outputs)
        self.fit_output = self._fit_output()
        self.error = ""            # the core's message for the last rejected edit
        self.last_compute_s = float("nan")
        self.core_calls = 0        # vectorised core evaluations so far (one per recompute)
        self._results = None
        if scenarios is None:
            scenarios = _DEFAULT_SCENARIOS.get(template, [{}])
        frame = pd.DataFrame(scenarios) if not isinstance(scenarios, pd.DataFrame) \
            else scenarios.copy()
        self.columns = self._check_columns(frame)
        self._inputs = self._typed(frame.reset_index(drop=True))
        self._results = self._compute(self._inputs, name_rows=True)
        self._build()
        self._refresh(message=self._summary())

    # ------------------------------------------------------------------ public API

    @property
    def scenarios(self) -> pd.DataFrame:
        """The input columns, one row per scenario (index 1, 2, …)."""
        frame = self._inputs.copy()
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="scenario")
        return frame

    @property
    def results(self) -> pd.DataFrame:
        """The output columns in display units (GB, ms, s …), one row per scenario."""
        frame = self._results.copy()
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="scenario")
        return frame

    @property
    def data(self) -> pd.DataFrame:
        """The grid as a DataFrame: inputs then outputs, one row per scenario."""
        return pd.concat([self.scenarios, self.results], axis=1)

    def edit(self, row: int, column: str, value):
        """Set one cell (``row`` counts from 1, like the scenario numbers) through the
        grid widget, as a browser edit does; raises :class:`XlcalcError` with the core's
        message when the value is refused (the cell keeps its old value)."""
        index = self._row_index(row)
        if column not in self.columns:
            if column in self._results.columns:
                raise XlcalcError(f"{column} is computed; change an input: "
                                  + ", ".join(self.columns), column)
            raise invalid("column", column, "a column of the grid: " + ", ".join(self.columns))
        try:
            value = self._coerce(column, value)
        except XlcalcError as e:          # refused as the browser's edit would be
            self.error = f"scenario {index + 1}, {column}: {e}"
            self._refresh(error=self.error)
            raise XlcalcError(self.error, column) from None
        self.error = ""
        self.datagrid.set_cell_value_by_index(column, index, value)
        if self.error:
            raise XlcalcError(self.error, column)
        return self

    def add_row(self, **values):
        """Append a scenario: ``values`` for some columns, the others copied from the
        last row.  Returns the new scenario's number."""
        unknown = [k for k in values if k not in self.columns]
        if unknown:
            raise invalid("column", unknown[0], "a column of the grid: " + ", ".join(self.columns))
        base = self._inputs.iloc[-1].to_dict() if len(self._inputs) else \
            {c: self.inputs.get(c, TERMS[c].default) for c in self.columns}
        base.update({k: self._coerce(k, v) for k, v in values.items()})
        frame = pd.concat([self._inputs, pd.DataFrame([base])], ignore_index=True)
        self._replace(frame, f"added scenario {len(frame)}")
        return len(self._inputs)

    def duplicate_row(self, row: int | None = None):
        """Copy scenario ``row`` (default: the selected one, else the last) to a new last
        row; returns its number."""
        row = row if row is not None else (self.selected_rows() or [len(self._inputs)])[-1]
        index = self._row_index(row)
        frame = pd.concat([self._inputs, self._inputs.iloc[[index]]], ignore_index=True)
        self._replace(frame, f"duplicated scenario {row} as {len(frame)}")
        return len(self._inputs)

    def delete_row(self, row: int | None = None):
        """Delete scenario ``row`` (default: the selected ones); the last one stays."""
        rows = [row] if row is not None else self.selected_rows()
        if not rows:
            raise XlcalcError("select a row of the grid to delete (or name its number)")
        indices = sorted({self._row_index(r) for r in rows})
        if len(indices) >= len(self._inputs):
            raise XlcalcError("a grid keeps at least one scenario")
        frame = self._inputs.drop(index=indices).reset_index(drop=True)
        self._replace(frame, "deleted scenario " + ", ".join(str(i + 1) for i in indices))
        return self

    def selected_rows(self) -> list:
        """Scenario numbers (from 1) of the rows with a selected cell."""
        rows = set()
        for rect in self.datagrid.selections or []:
            lo, hi = sorted((rect["r1"], rect["r2"]))
            rows.update(range(lo + 1, hi + 2))
        return sorted(r for r in rows if 1 <= r <= len(self._inputs))

    def recompute(self):
        """Recompute every row (one vectorised core call) and redraw."""
        self._results = self._compute(self._inputs)
        self._refresh(message=self._summary())
        return self

    def workbook_spec(self):
        """The planning-workbook spec of this grid: the template with the grid's other
        inputs, its rows as the ``Scenarios`` sheet and its outputs as that sheet's
        columns (worked-example sheets left out)."""
        return dataclasses.replace(
            self.spec, name=f"{self.template}-scenarios",
            title=f"{self.spec.title}: scenarios",
            description="One row per scenario on the Scenarios sheet; change a yellow cell "
                        "and its row recalculates. " + self.spec.description,
            inputs=dict(self.inputs), worked_examples=(),
            scenarios=self._inputs.copy(), scenario_outputs=tuple(self.outputs))

    def workbook_bytes(self) -> bytes:
        """The grid as a planning workbook (``Scenarios`` sheet: one row per scenario,
        live formulas written by the workbooks generator), as the bytes of an .xlsx file.
        A row that cannot be computed is named, and nothing is built."""
        from xlcalc.workbooks.generator import to_bytes
        self._check_computable()
        return to_bytes(self.workbook_spec())

    def to_workbook(self, path=None, overwrite: bool = False) -> Path:
        """Write the grid as a planning workbook; returns the path.  ``path`` (Python) may
        be anywhere but must end in .xlsx; without it, the file name typed above the grid,
        in the working folder.  An existing file is replaced only with ``overwrite``."""
        target = check_target(path, overwrite) if path is not None else \
            local_file(self.workbook_path.value, overwrite or self.workbook_replace.value)
        target.write_bytes(self.workbook_bytes())
        return target.resolve()

    def _check_computable(self) -> None:
        problems = [(i + 1, p) for i, p in enumerate(self._results["problem"]) if p]
        if problems:
            row, problem = problems[0]
            raise XlcalcError(f"scenario {row} cannot be computed: {problem}; change it or "
                              "delete the row before exporting", "scenario")

    # ------------------------------------------------------------------ computing

    def _resolve_outputs(self, outputs) -> tuple:
        defaults = {o.name: o for o in (_training_outputs() if "train" in self.template
                                        else _inference_outputs())}
        if outputs is None:
            return tuple(defaults.values())
        resolved = []
        for o in outputs:
            if isinstance(o, str):
                if o not in defaults:
                    raise invalid("outputs", o, "an Output or one of " + ", ".join(defaults))
                o = defaults[o]
            resolved.append(o)
        names = [o.name for o in resolved]
        if len(set(names)) != len(names):
            raise invalid("outputs", names, "outputs with different names")
        return tuple(resolved)

    def _fit_output(self):
        fits = [f.node for f in self.spec.fits]
        for o in self.outputs:
            if o.node in fits:
                return o
        if fits:     # the colour needs the fit flag: add it as a column
            o = _output("fits", fits[0], "Fits")
            if "fits" in [x.name for x in self.outputs]:
                o = dataclasses.replace(o, name="fits_")
            self.outputs = self.outputs + (o,)
            return o
        return None

    def _check_columns(self, frame) -> list:
        columns = [str(c) for c in frame.columns]
        if not columns:
            raise XlcalcError("a scenario grid needs at least one input column")
        for c in columns:
            if c not in TERMS:
                raise invalid("column", c, "a glossary input (model, gpu, batch, prompt_len, "
                              "output_len, tp, dtype …)")
            if c in [o.name for o in self.outputs]:
                raise invalid("column", c, "an input name that is not an output's")
        return columns

    def _coerce(self, column: str, value):
        """A cell value as the core wants it: text for a choice, a number otherwise
        (``"8"`` is 8; an integer input keeps whole numbers as ``int``)."""
        term = TERMS[column]
        if isinstance(value, np.generic):
            value = value.item()
        if term.kind == "choice":
            if value is None or (isinstance(value, float) and math.isnan(value)) or \
                    not str(value).strip():
                raise invalid(column, value, term.rejection(value))
            return str(value).strip()
        if isinstance(value, bool) or value is None:
            raise invalid(column, value, term.rejection(value))
        if isinstance(value, str):
            try:
                value = float(value.replace(",", "").strip())
            except ValueError:
                raise invalid(column, value, term.rejection(value)) from None
        value = float(value)
        check(column, value)          # the glossary's domain (1e300 is refused, not stored)
        if term.kind in ("int", "flag") and value.is_integer():
            return int(value)
        if term.kind in ("int", "flag"):
            raise invalid(column, value, term.rejection(value))
        return value

    def _typed(self, frame) -> pd.DataFrame:
        """Columns as the grid keeps them: text for choices, int64 for integer inputs,
        float64 for the others (each value checked by :meth:`_coerce`)."""
        out = {}
        for c in self.columns:
            values = [self._coerce(c, v) for v in frame[c].tolist()]
            kind = TERMS[c].kind
            dtype = object if kind == "choice" else \
                ("int64" if all(isinstance(v, int) for v in values) else "float64")
            out[c] = pd.Series(values, dtype=dtype)
        return pd.DataFrame(out, columns=self.columns)

    def _context(self, frame) -> dict:
        """The core's inputs for all rows at once: numbers as arrays, texts as factors."""
        ctx = dict(self.inputs)
        for c in self.columns:
            values = frame[c].tolist()
            if TERMS[c].kind == "choice":
                ctx[c] = Factor.of(values)
            else:
                ctx[c] = np.asarray(values, dtype=np.float64)
        return ctx

    def _evaluate(self, frame) -> dict:
        """One vectorised core call over every row, with the template's bound inputs
        (``seq_len`` = ``total_len`` …) computed from each row, as the workbook does."""
        return core.estimate([o.node for o in self.outputs], bind=dict(self.spec.bind),
                             **self._context(frame))

    def _compute(self, frame, name_rows: bool = False) -> pd.DataFrame:
        """Outputs of every row in display units; an invalid row raises the core's
        message (with ``name_rows``, prefixed by the scenario it is in)."""
        start = time.perf_counter()
        try:
            values = self._evaluate(frame)
        except XlcalcError as e:
            if name_rows:
                raise self._blame(frame, e) from None
            raise
        self.core_calls += 1
        self.last_compute_s = time.perf_counter() - start
        n = len(frame)
        out = {}
        numeric = np.zeros(n, dtype=bool)     # rows with a value that is not a number
        for o in self.outputs:
            v = values[o.node]
            if isinstance(v, Factor):
                v = np.asarray(v.categories, dtype=object)[v.codes]
            v = np.broadcast_to(np.asarray(v), (n,)) if np.ndim(v) <= 1 else np.ravel(v)
            if v.dtype == bool:
                out[o.name] = v.astype(bool)
            elif v.dtype.kind in "fiu":
                out[o.name] = v.astype(np.float64) / display_factor(o.unit)
                numeric |= ~np.isfinite(out[o.name])
            else:
                out[o.name] = v.astype(object)
        out["problem"] = [self._row_problem(frame, i) if numeric[i] else "" for i in range(n)]
        return pd.DataFrame(out, index=frame.index)

    def _row_problem(self, frame, i: int) -> str:
        """Why row ``i`` has no number: the core's message for the row alone, computed with
        scalar inputs (where a combination the tables lack is an error, not NaN)."""
        row = frame.iloc[i]
        ctx = dict(self.inputs, **{c: (row[c].item() if isinstance(row[c], np.generic)
                                       else row[c]) for c in self.columns})
        try:
            for o in self.outputs:
                core.estimate([o.node], bind=dict(self.spec.bind), **ctx)
        except XlcalcError as e:
            return str(e)
        return "not computable for these inputs (a result is not a finite number)"

    def _blame(self, frame, error: XlcalcError) -> XlcalcError:
        """The scenario a core error comes from (an error path only: each row alone)."""
        for i in range(len(frame)):
            try:
                self._evaluate(frame.iloc[[i]])
            except XlcalcError as e:
                return XlcalcError(f"scenario {i + 1}: {e}", e.argument)
        return error

    def _replace(self, frame, what: str):
        frame = self._typed(frame.reset_index(drop=True))
        results = self._compute(frame, name_rows=True)
        self._inputs, self._results = frame, results
        self.error = ""
        self._refresh(message=f"{html.escape(what)} · " + self._summary())

    def _row_index(self, row) -> int:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or \
                not 1 <= row <= len(self._inputs):
            raise invalid("row", row, f"a scenario number from 1 to {len(self._inputs)}")
        return int(row) - 1

    # ------------------------------------------------------------------ editing

    def _on_cell_change(self, cell) -> None:
        """A cell edited in the grid (browser or :meth:`edit`): recompute every row, or
        refuse the value and put the old one back."""
        index, column, value = cell["row"], cell["column"], cell["value"]
        try:
            if column not in self.columns:
                raise XlcalcError(f"{column} is computed; change an input instead", column)
            value = self._coerce(column, value)
            old = self._inputs.at[index, column]
            frame = self._inputs.copy()
            if TERMS[column].kind != "choice" and isinstance(value, float) and \
                    frame[column].dtype.kind == "i":
                frame[column] = frame[column].astype("float64")
            frame.at[index, column] = value
            results = self._compute(frame)
        except XlcalcError as e:
            self.error = f"scenario {index + 1}, {column}: {e}"
            self._refresh(error=self.error)
            return
        except Exception as e:        # a bug: say so in the grid, keep the old values
            self.error = f"scenario {index + 1}, {column}: {type(e).__name__}: {e}"
            log.exception("scenario grid edit failed")
            self._refresh(error=self.error)
            return
        before = self._results.iloc[index]
        self._inputs, self._results = frame, results
        self.error = ""
        self._refresh(message=self._edit_summary(index, column, old, value, before))

    # ------------------------------------------------------------------ drawing

    def _build(self) -> None:
        import ipydatagrid as g
        self.datagrid = g.DataGrid(
            self._display_frame(), editable=True, selection_mode="cell",
            base_row_size=ROW, base_column_header_size=COLUMN_HEADER,
            base_row_header_size=ROW_HEADER, base_column_size=96,
            column_widths=self._column_widths(),
            renderers=self._renderers(), header_renderer=g.TextRenderer(
                font="600 11px sans-serif", background_color="#1F4E78",
                text_color="white", horizontal_alignment="left"),
            layout=w.Layout(height=self._height(), width="100%"))
        self.datagrid.on_cell_change(self._on_cell_change)
        self.add_button = w.Button(description="Add scenario", icon="plus",
                                   layout=w.Layout(width="150px"))
        self.duplicate_button = w.Button(description="Duplicate", icon="copy",
                                         layout=w.Layout(width="130px"))
        self.delete_button = w.Button(description="Delete", icon="trash",
                                      layout=w.Layout(width="120px"))
        self.add_button.on_click(lambda b: self._guarded(self.add_row))
        self.duplicate_button.on_click(lambda b: self._guarded(self.duplicate_row))
        self.delete_button.on_click(lambda b: self._guarded(self.delete_row))
        hidden = "none" if served() else None     # a served dashboard: a download only
        self.workbook_path = w.Text(value=f"{self.template}-scenarios.xlsx",
                                    layout=w.Layout(width="260px", display=hidden))
        self.workbook_replace = w.Checkbox(value=False, description="replace", indent=False,
                                           layout=w.Layout(width="90px", display=hidden))
        self.workbook_button = w.Button(description="Download workbook" if hidden else
                                        "Export workbook", icon="download",
                                        button_style="primary",
                                        layout=w.Layout(width="180px"))
        self.workbook_button.on_click(self._on_export)
        self.status = w.HTML()
        self.workbook_status = w.HTML()
        inputs = ", ".join(self.columns)
        header = w.HTML(
            CSS + '<div class="xl-title">Scenario grid</div>'
            '<div class="xl-sub">One row per plan. Double-click a yellow cell '
            f'({html.escape(inputs)}), type, Enter: every row is recomputed in one '
            'vectorised core call. Red rows do not fit on the GPU.</div>')
        toolbar = w.HBox([self.add_button, self.duplicate_button, self.delete_button,
                          w.HTML(layout=w.Layout(flex="1 1 auto")),
                          self.workbook_path, self.workbook_replace, self.workbook_button],
                         layout=w.Layout(align_items="center"))
        self.children = [header, toolbar, self.status, self.datagrid, self.workbook_status]
        self.add_class("xl-form")
        self.add_class("xl-grid")

    def _guarded(self, action) -> None:
        try:
            action()
        except XlcalcError as e:
            self.error = str(e)
            self._refresh(error=self.error)

    def _on_export(self, button=None) -> None:
        try:
            if served():                  # the browser's user gets the bytes, not a path
                self.workbook_status.value = download_html(
                    self.workbook_bytes(), f"{self.template}-scenarios.xlsx", "grid_download")
                return
            path = self.to_workbook()
        except XlcalcError as e:
            self.workbook_status.value = _message(str(e))
            return
        except Exception as e:
            log.exception("scenario grid export failed")
            self.workbook_status.value = _message(f"{type(e).__name__}: {e}")
            return
        self.workbook_status.value = (
            f'<span class="xl-sub" data-name="grid_workbook" data-value="{html.escape(path.name)}">'
            f'wrote <code>{html.escape(path.name)}</code> in the working folder: its Scenarios '
            f'sheet has these {len(self._inputs)} rows with live formulas</span>')

    def _display_frame(self) -> pd.DataFrame:
        frame = self.data
        for c in self.columns:          # the grid's text cells are plain strings
            if TERMS[c].kind == "choice":
                frame[c] = frame[c].astype(object)
        return frame

    def _column_widths(self) -> dict:
        """Pixels per column: the header's name fits (bold 12 px, filter icon); text
        inputs fit a preset name; the fits column fits "does NOT fit"."""
        def width(name, least=58):
            return max(least, min(150, int(7.4 * len(name)) + 28 + (len(name) > 10) * 4))
        least = {"model": 104, "gpu": 86}
        widths = {c: width(c, least.get(c, 58)) for c in self.columns}
        widths.update({o.name: width(o.name, 66) for o in self.outputs})
        widths["problem"] = 240
        if self.fit_output is not None:
            widths[self.fit_output.name] = 100
        widths["scenario"] = ROW_HEADER
        return widths

    def _height(self) -> str:
        rows = len(self._inputs)
        return f"{COLUMN_HEADER + ROW * rows + 22}px"

    def _renderers(self) -> dict:
        from ipydatagrid import TextRenderer, VegaExpr
        fit = self.fit_output.name if self.fit_output is not None else None

        def fill(ok_colour):
            ok = "cell.metadata.data['problem'] == ''"
            if fit is not None:
                ok += f" && cell.metadata.data['{fit}']"
            return VegaExpr(f"{ok} ? '{ok_colour}' : '{_BAD_FILL}'")

        renderers = {c: TextRenderer(background_color=fill(_INPUT_FILL),
                                     horizontal_alignment="left" if TERMS[c].kind == "choice"
                                     else "right")
                     for c in self.columns}
        for o in self.outputs:
            if self.fit_output is not None and o.name == fit:
                renderers[o.name] = TextRenderer(
                    background_color=fill("#FFFFFF"), horizontal_alignment="center",
                    text_value=VegaExpr("cell.value ? 'fits' : 'does NOT fit'"),
                    text_color=VegaExpr(f"cell.value ? '#1e7b34' : '{_BAD_TEXT}'"),
                    font="bold 12px sans-serif")
            else:
                fmt_ = _FORMATS.get(o.unit, ",.3~f")
                renderers[o.name] = TextRenderer(
                    background_color=fill("#FFFFFF"), horizontal_alignment="right",
                    format=VegaExpr(f"abs(cell.value) >= {_LARGE} ? ',.0f' : '{fmt_}'"))
        renderers["problem"] = TextRenderer(background_color=fill("#FFFFFF"),
                                            text_color=_BAD_TEXT, horizontal_alignment="left")
        return renderers

    def _refresh(self, message: str = "", error: str = "") -> None:
        """Redraw: the grid's data (the old values back after a refused edit) and the
        status line."""
        self.datagrid.data = self._display_frame()
        self.datagrid.layout.height = self._height()
        if error:
            self.status.value = _message(error)
        else:
            self.status.value = f'<div class="xl-sub" data-name="grid_status">{message}</div>'

    def _not_fitting(self) -> list:
        if self.fit_output is None:
            return []
        flags = self._results[self.fit_output.name].to_numpy()
        return [i + 1 for i, ok in enumerate(flags) if not ok]

    def _summary(self) -> str:
        bad = self._not_fitting()
        n = len(self._inputs)
        problems = [(i + 1, p) for i, p in enumerate(self._results["problem"]) if p]
        if problems:
            listed = "; ".join(f"scenario {r}: {html.escape(p)}" for r, p in problems)
            return (f'{n} scenarios recomputed in one core call · <b data-name='
                    f'"grid_problems" data-value="{len(problems)}">{len(problems)} cannot be '
                    f'computed</b> ({listed})')
        fits = (f'<b data-name="grid_not_fitting" data-value="{len(bad)}">{len(bad)}</b> '
                f'do not fit ({", ".join(f"scenario {r}" for r in bad)})' if bad else
                '<b data-name="grid_not_fitting" data-value="0">all fit</b>')
        return (f'{n} scenarios recomputed in one core call '
                f'({self.last_compute_s * 1000:.0f} ms) · {fits}')

    def _edit_summary(self, index, column, old, new, before) -> str:
        first = self.outputs[0]
        after = self._results.iloc[index]
        change = (f'{html.escape(first.label)} {fmt(float(before[first.name]))} → '
                  f'<b data-name="grid_changed" data-row="{index + 1}" '
                  f'data-value="{float(after[first.name])!r}">'
                  f'{fmt(float(after[first.name]))}</b> {html.escape(first.unit)}'
                  if isinstance(after[first.name], (float, np.floating)) else "")
        return (f'scenario {index + 1}: {html.escape(column)} {html.escape(fmt(old))} → '
                f'{html.escape(fmt(new))}; {change} · ' + self._summary())


def _message(text: str) -> str:
    return (f'<div class="xl-error" data-name="grid_error" style="color:{_BAD_TEXT}">'
            f'⚠ {html.escape(text)}</div>')
