"""Planning workbooks: every formula cell rendered from the core's formula graph.

Layout every workbook shares:

* ``Inputs``: one row per input (label, value, unit, description); each value cell is
  a workbook-level defined name from the glossary, unlocked, with data validation
  (dropdowns for table choices; the glossary's domain as a custom rule otherwise).
* ``Results``: the named outputs in display units, share of GPU memory, fits lines
  (conditional formatting), an input-status line, and a chart of the breakdown.
* ``Worked example`` (templates only): each figure a seed prints beside a live formula.
* ``Calculations``: one named cell per graph node the results need, in dependency
  order, with unit, description and source: a planner can follow every step.
* one sheet per data table (``Models``, ``GPUs``, ``Dtypes`` …) that lookups read with
  INDEX/MATCH, so choosing another model from the dropdown re-prices everything.
* ``About``: what the workbook is, how to use it, every formula's source, version.

Every formula cell is a :class:`Cell`: a Python function over named arguments, rendered
with :mod:`xlcalc.expr` names for the file and called with the core's values for the
cached value the file also carries (numbers show without recalculation).  No Excel
formula text is typed here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import xlcalc
from xlcalc.extras import require

require("openpyxl", face="the planning workbooks")

from xlcalc import expr as X  # noqa: E402
from xlcalc import graph
from xlcalc.errors import XlcalcError, invalid
from xlcalc.estimate import estimate, resolve
from xlcalc.glossary import TERMS, in_domain
from xlcalc.units import display_factor
from xlcalc.worked import (computed_value, example as worked_example, row_status,
                           seed_shown)

from .cached import save_with_values, workbook_bytes
from .spec import WorkbookSpec, title_parts

__all__ = ["build", "write", "to_bytes", "BuiltWorkbook"]

# --------------------------------------------------------------------------- style

_HEAD_FILL = "1F4E78"
_INPUT_FILL = "FFF2CC"
_SECTION_FILL = "DDEBF7"
_GOOD_FILL = "C6EFCE"
_BAD_FILL = "FFC7CE"

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}[0-9]+|[RrCc][0-9]*|[Rr][0-9]*[Cc][0-9]*)$")


def _check_name(name: str) -> str:
    """A defined name Excel and LibreOffice both accept (not a cell reference)."""
    if not _NAME_RE.match(name) or _CELL_LIKE.match(name) or name.lower() in ("true", "false"):
        raise XlcalcError(f"{name!r} cannot be a workbook defined name", name)
    return name


def _number_format(unit: str, value) -> str:
    if isinstance(value, str) or isinstance(value, (bool, np.bool_)):
        return "General"
    if unit in ("bytes", "parameters", "tokens", "elements", "token-layers", "token pairs",
                "heads", "layers", "sequences", "GPUs", "blocks", "nodes"):
        return '#,##0'
    if unit in ("FLOPs", "FLOP"):
        return '0.000E+00'
    return '#,##0.######'


def _display_format(unit: str) -> str:
    label = unit.replace('"', "")
    if unit in ("", "count"):
        return '#,##0.###'
    if unit in ("parameters", "GPUs", "sequences", "nodes", "tokens", "blocks"):
        return f'#,##0" {label}"'
    if unit in ("%",):
        return '0.0%'
    return f'#,##0.000" {label}"'


# ---------------------------------------------------------------------------- cells

@dataclass
class Cell:
    """A formula cell: ``fn(*args)`` where each arg is a defined name.  Rendered over
    the names for the file; called with their values for the cached value."""
    fn: Callable
    args: tuple

    def render(self) -> str:
        return "=" + X.as_expr(self.fn(*[X.Name(a) for a in self.args])).excel()

    def value(self, values: dict):
        return self.fn(*[values[a] for a in self.args])


@dataclass
class BuiltWorkbook:
    workbook: object
    values: dict          # (sheet, coordinate) -> cached value of each formula cell
    names: dict           # defined name -> "Sheet!$C$R"
    node_values: dict     # graph name -> core value


class _Builder:
    def __init__(self, spec: WorkbookSpec, inputs: dict):
        import openpyxl
        self.openpyxl = openpyxl
        self.spec = spec
        self.inputs = dict(inputs)
        self.wb = openpyxl.Workbook()
        self.wb.remove(self.wb.active)
        self.cached: dict = {}
        self.names: dict = {}
        self.values: dict = {}       # name -> value (inputs, nodes, outputs)

    # -- helpers -----------------------------------------------------------------
    def sheet(self, title: str):
        from openpyxl.worksheet.properties import PageSetupProperties
        ws = self.wb.create_sheet(title)
        ws.sheet_view.showGridLines = False
        # print/PDF: landscape, one page wide
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        return ws

    def define(self, name: str, ws, row: int, col: int) -> str:
        from openpyxl.utils import get_column_letter
        from openpyxl.workbook.defined_name import DefinedName
        _check_name(name)
        if name in self.names:
            raise XlcalcError(f"defined name {name!r} used twice in the workbook", name)
        ref = f"{_quote(ws.title)}!${get_column_letter(col)}${row}"
        self.wb.defined_names[name] = DefinedName(name, attr_text=ref)
        self.names[name] = ref
        return ref

    def formula(self, ws, row: int, col: int, cell: Cell, fmt: str | None = None):
        c = ws.cell(row=row, column=col, value=cell.render())
        value = cell.value(self.values)
        if isinstance(value, np.generic):
            value = value.item()
        self.cached[(ws.title, c.coordinate)] = value
        if fmt:
            c.number_format = fmt
        from openpyxl.styles import Alignment
        c.alignment = Alignment(vertical="top")
        return c, value

    def note(self, ws, row, col, text: str, width: float):
        """A wrapped text cell whose row is tall enough to show it (Excel does not grow
        rows of generated files by itself)."""
        self.text(ws, row, col, text, wrap=True)
        lines = max(1, math.ceil(len(text or "") / (width * 1.1)))
        current = ws.row_dimensions[row].height or 15
        ws.row_dimensions[row].height = max(current, 15 * lines)

    def text(self, ws, row, col, value, bold=False, fill=None, color=None, wrap=False):
        from openpyxl.styles import Alignment, Font, PatternFill
        c = ws.cell(row=row, column=col, value=value)
        if isinstance(value, str):
            c.data_type = "s"     # text stays text: never a formula (=HYPERLINK(...) too)
        if bold or color:
            c.font = Font(bold=bold, color=color)
        if fill:
            c.fill = PatternFill("solid", fgColor=fill)
        c.alignment = Alignment(wrap_text=wrap, vertical="top")
        return c

    def header(self, ws, row, labels, widths=None):
        for j, label in enumerate(labels, start=1):
            self.text(ws, row, j, label, bold=True, fill=_HEAD_FILL, color="FFFFFF")
        if widths:
            from openpyxl.utils import get_column_letter
            for j, w in enumerate(widths, start=1):
                ws.column_dimensions[get_column_letter(j)].width = w

    # -- plan ----------------------------------------------------------------------
    def plan(self):
        spec = self.spec
        targets = [o.node for s in spec.sections for o in s.outputs]
        targets += [f.node for f in spec.fits] + list(spec.extra_nodes)
        if spec.capacity_node:
            targets.append(spec.capacity_node)
        self.examples = [worked_example(n) for n in spec.worked_examples]
        bind = dict(spec.bind)
        self.scopes = self._example_scopes()
        self.side_scopes = [self._side_scope(side) for side in spec.sides]
        self.scenario_scopes = self._scenario_scopes()
        for scope in self.scopes + self.side_scopes + self.scenario_scopes:
            scope.plan(bind, self._cone)
            targets += sorted(scope.leaves)      # what a scope reads from the workbook
        self.targets = list(dict.fromkeys(targets))
        # bound inputs (seq_len = total_len) are Calculations cells computed first
        first = graph.dependencies(list(bind.values()), available=self.inputs)
        available = set(self.inputs) | set(bind)
        order = first + list(bind) + graph.dependencies(self.targets, available=available)
        order = list(dict.fromkeys(order))
        missing = [n for n in order if n not in available and n not in graph.NODES]
        if missing:
            raise XlcalcError(f"workbook {spec.name!r} needs input {missing[0]!r}", missing[0])
        # a node that defaults an input (tpot_ms_max) is an input here when one is given
        self.order = [n for n in order if (n in graph.NODES and n not in available) or
                      n in bind]
        used_inputs = [n for n in order if n in self.inputs]
        self.input_names = [n for n in self.inputs if n in used_inputs or n in TERMS]
        # the core's values for every node (validates the inputs once, with its messages)
        bound = estimate(list(bind.values()), **self.inputs) if bind else {}
        self.bound = {name: bound[node] for name, node in bind.items()}
        computed = estimate([n for n in self.order if n not in bind],
                            **self.inputs, **self.bound)
        computed.update(self.bound)
        self.node_values = {n: computed[n] for n in self.order}
        ctx = resolve(self.inputs)
        for name in self.input_names:
            value = ctx[name]
            self.values[name] = value.name if hasattr(value, "fields") else value
        self.values.update(self.node_values)
        for scope in self.scopes + self.side_scopes + self.scenario_scopes:
            scope.evaluate(self.inputs, self.bound, bind)
        for side, scope in zip(spec.sides, self.side_scopes):
            for name, value in scope.values.items():
                self.values[f"{side.name}_{name}"] = value
        self.tables = self._tables()

    def _tables(self) -> dict:
        """Tables the lookups read, plus the tables behind choice inputs (dropdowns);
        a custom model/gpu becomes an extra row."""
        needed = []
        computed = list(self.order) + [
            n for sc in self.scopes + self.side_scopes + self.scenario_scopes
            for n in sc.affected]
        for name in computed:
            n = graph.NODES.get(name)
            if n is not None and n.kind == "lookup" and n.table not in needed:
                needed.append(n.table)
        choices = list(self.input_names) + [n for side in self.spec.sides for n in side.inputs]
        if self.spec.scenarios is not None:
            choices += list(self.spec.scenarios.columns)
        for name in choices:
            t = TERMS.get(name)
            if t is not None and t.kind == "choice" and t.table not in needed:
                needed.append(t.table)
        frames = {}
        ctx = resolve(self.inputs)
        for tname in needed:
            frame = graph.table(tname).frame().copy()
            offered = graph.table(tname).offered()     # dropdown rows first (one range)
            frame = frame.loc[offered + [k for k in frame.index if k not in offered]]
            for key in ("model", "gpu"):
                rec = ctx.get(key)
                if TERMS[key].table == tname and hasattr(rec, "fields") and \
                        rec.name.lower() not in frame.index:
                    row = {c: _record_field(rec, c) for c in frame.columns}
                    frame.loc[rec.name.lower()] = row
            frames[tname] = frame
        return frames

    # -- sheets --------------------------------------------------------------------
    def build(self) -> BuiltWorkbook:
        self.plan()
        inputs_ws = self.sheet("Inputs")
        results_ws = self.sheet("Results")
        scenarios_ws = self.sheet("Scenarios") if self.scenario_scopes else None
        example_sheets = [self.sheet(title) for title in self.example_titles]
        calc_ws = self.sheet("Calculations")
        scope_ws = self.sheet("Example calculations") if self.scopes else None
        side_ws = [self.sheet(f"{side.title[:18]} calculations") for side in self.spec.sides]
        scenario_ws = self.sheet("Scenario calculations") if self.scenario_scopes else None
        table_ws = {t: self.sheet(_table_sheet_title(t)) for t in self.tables}
        about_ws = self.sheet("About")
        self.table_refs = {t: self._write_table(table_ws[t], t) for t in self.tables}
        self._write_inputs(inputs_ws)
        self._write_calculations(calc_ws)
        for ws, side, scope in zip(side_ws, self.spec.sides, self.side_scopes):
            self._write_scopes(ws, [scope], prefix=f"{side.name}_")
        self._write_checks(inputs_ws)
        self._write_results(results_ws)
        if scope_ws is not None:
            self._write_scopes(scope_ws, self.scopes)
        if scenario_ws is not None:
            self._write_scopes(scenario_ws, self.scenario_scopes)
            self._write_scenarios(scenarios_ws)
        for ws, ex, rows in zip(example_sheets, self.examples, self.example_rows):
            self._write_example(ws, ex, rows)
        self._write_about(about_ws)
        if self.spec.extras is not None:
            self.spec.extras(self)              # template-specific cells (serving-sizing)
        for ws in self.wb.worksheets:
            ws.protection.sheet = True          # no password: planners may unprotect
        self.wb.active = self.wb.sheetnames.index("Results")
        return BuiltWorkbook(self.wb, self.cached, self.names, self.node_values)

    def _write_table(self, ws, tname) -> dict:
        from openpyxl.utils import get_column_letter
        frame = self.tables[tname]
        key_label = graph.table(tname).key_label
        columns = list(frame.columns)
        self.header(ws, 1, [key_label] + columns, [18] + [14] * len(columns))
        editable = self.spec.editable.get(tname, ())
        for i, (key, row) in enumerate(frame.iterrows(), start=2):
            self.text(ws, i, 1, str(key))
            for j, col in enumerate(columns, start=2):
                v = row[col]
                if isinstance(v, (float, np.floating)) and not np.isfinite(v):
                    continue                    # unsupported: an empty cell
                c = self.text(ws, i, j, v.item() if isinstance(v, np.generic) else v,
                              fill=_INPUT_FILL if col in editable else None)
                if col in editable:             # data the planner overrides (prices)
                    from openpyxl.styles import Protection
                    c.protection = Protection(locked=False)
        last_row = len(frame) + 1
        last_col = get_column_letter(len(columns) + 1)
        sheet = _quote(ws.title)
        ws.freeze_panes = "B2"
        table = graph.table(tname)
        n_offered = len(frame)
        if "offer" in frame.columns:
            n_offered = sum(1 for k in frame.index if k in set(table.offered()))
            self.note(ws, last_row + 2, 1, "offer 0: a source tutorial's own rule, kept for "
                      "the worked examples; accepted when typed, not in the dropdowns.", 18)
        return {"offered": f"{sheet}!$A$2:$A${n_offered + 1}",
                "keys": f"{sheet}!$A$2:$A${last_row}",
                "body": f"{sheet}!$B$2:${last_col}${last_row}",
                "header": f"{sheet}!$B$1:${last_col}$1"}

    def _input_rows(self):
        """(defined name, glossary name, label) of every input cell: the main inputs,
        then each Side's (``training_batch`` …)."""
        rows = [(name, name, self.spec.labels.get(name, name)) for name in self.input_names]
        for side in self.spec.sides:
            rows.append((None, side.title, None))
            rows += [(f"{side.name}_{name}", name, f"{side.title}: {name}")
                     for name in side.inputs]
        return rows

    def title(self, ws):
        """The workbook's title in A1: a live formula over the inputs it names."""
        from openpyxl.styles import Font
        parts = title_parts(self.spec.title)
        names = tuple(n for _, n in parts if n is not None)
        if not names:
            return self.text(ws, 1, 1, self.spec.title, bold=True)

        def title(*values):
            it = iter(values)
            out = []
            for literal, name in parts:
                if literal:
                    out.append(literal)
                if name is not None:
                    v = next(it)
                    out.append(int(v) if isinstance(v, float) and v.is_integer() else v)
            return X.concat(*out)
        c, _ = self.formula(ws, 1, 1, Cell(title, names))
        c.font = Font(bold=True)
        return c

    def _write_inputs(self, ws):
        from openpyxl.styles import Protection
        self.title(ws)
        self.text(ws, 2, 1, "Change the yellow cells; every other sheet follows. "
                  "Each value cell is a defined name you can use in your own formulas.")
        self.header(ws, 4, ["Input", "Value", "Unit", "Description"], [30, 22, 12, 90])
        self.check_rows = []
        for i, (defined, name, label) in enumerate(self._input_rows(), start=5):
            if defined is None:                         # a Side's heading
                self.text(ws, i, 1, f"{name} inputs", bold=True, fill=_SECTION_FILL)
                continue
            t = TERMS[name]
            self.text(ws, i, 1, label)
            c = self.text(ws, i, 2, self.values[defined], fill=_INPUT_FILL)
            c.protection = Protection(locked=False)
            self.text(ws, i, 3, t.unit)
            self.note(ws, i, 4, f"{t.description} ({t.allowed})", 90)
            self.define(defined, ws, i, 2)
            dv = self._validation(name, c.coordinate)
            ws.add_data_validation(dv)
            dv.add(c.coordinate)
            self.check_rows.append((defined, name, i))
        ws.freeze_panes = "A5"

    def _write_checks(self, ws):
        """Column E of Inputs: each input's own check (written once every input has a
        name, since relations read other inputs)."""
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill
        self.text(ws, 4, 5, "Check", bold=True, fill=_HEAD_FILL, color="FFFFFF")
        ws.column_dimensions["E"].width = 60
        for defined, name, i in self.check_rows:
            _, v = self.formula(ws, i, 5, self._check_cell(defined, name))
            self.define(f"check_{defined}", ws, i, 5)
            self.values[f"check_{defined}"] = v
        last = max(i for _, _, i in self.check_rows)
        ws.conditional_formatting.add(f"E5:E{last}", FormulaRule(
            formula=[X.ne(X.Ref("E5"), "").excel()], fill=PatternFill("solid", bgColor=_BAD_FILL)))

    def _validation(self, name, coordinate):
        from openpyxl.worksheet.datavalidation import DataValidation
        t = TERMS[name]
        if t.kind == "choice":
            dv = DataValidation(type="list", formula1="=" + self.table_refs[t.table]["offered"],
                                allow_blank=False)
        else:
            rule = in_domain(t, X.Ref(coordinate)).excel()
            dv = DataValidation(type="custom", formula1="=" + rule, allow_blank=False)
        dv.promptTitle = name[:32]
        dv.prompt = f"{t.description}; {t.allowed}"[:255]
        dv.errorTitle = f"invalid {name}"[:32]
        dv.error = f"{name} must be {t.allowed}"[:225]
        dv.showInputMessage = True
        dv.showErrorMessage = True
        return dv

    def _write_calculations(self, ws):
        self.text(ws, 1, 1, "Every intermediate quantity, in calculation order. "
                  "Each value is a named cell computed from the names in its formula.")
        self.header(ws, 3, ["Name", "Value", "Unit", "What it is", "Source"],
                    [34, 22, 12, 80, 50])
        for i, name in enumerate(self.order, start=4):
            n = _BoundNode(name, self.spec.bind[name]) if name in self.spec.bind \
                else graph.NODES[name]
            self.text(ws, i, 1, name)
            text = X.Name(n.node).excel() if name in self.spec.bind else \
                graph.render(name, table_refs=self.table_refs).excel()
            c = ws.cell(row=i, column=2, value="=" + text)
            value = self.node_values[name]
            value = value.item() if isinstance(value, np.generic) else value
            self.cached[(ws.title, c.coordinate)] = value
            c.number_format = _number_format(n.unit, value)
            self.text(ws, i, 3, n.unit)
            self.note(ws, i, 4, n.doc, 80)
            self.note(ws, i, 5, n.source, 50)
            self.define(name, ws, i, 2)
        ws.freeze_panes = "B4"

    def _check_cell(self, defined: str, name: str) -> Cell:
        """The checks of one input cell (glossary domain or table membership, and its
        relations) as a text: empty when valid, else what to fix."""
        t = TERMS[name]
        side = next((sd for sd in self.spec.sides if defined == f"{sd.name}_{name}"), None)
        if t.kind == "choice":
            checks = [(f"{defined}: not in the {t.table} table; ",
                       _member_fn(self.table_refs[t.table]["keys"],
                                  set(self.tables[t.table].index)), (defined,))]
        else:
            checks = [(f"{defined} must be {t.allowed}; ", _domain_fn(t), (defined,))]
        for other, predicate, allowed in t.relations:
            partner = f"{side.name}_{other}" if side and other in side.inputs else other
            if partner in self.values and partner in self.names_planned():
                checks.append((_relation_message(defined, other, allowed), predicate,
                               (defined, partner)))
        # a table cell the plan needs must exist (bf16 on a V100 has no peak)
        scope = self.side_scopes[self.spec.sides.index(side)] if side else None
        for node in (scope.affected if scope else self.order):
            n = graph.NODES.get(node)
            if n is not None and n.kind == "lookup" and n.required and n.required[0] == name:
                local = f"{side.name}_{node}" if side else node
                checks.append((f"{defined}: the gpu has no {node.replace('_', ' ')} for it; ",
                               _positive, (defined, local)))

        def check(*values):
            parts, at = [], 0
            for message, fn, args in checks:
                ok = fn(*values[at:at + len(args)])
                text = message(*values[at:at + len(args)]) if callable(message) else message
                at += len(args)
                # a check on a pasted bad value must not itself become an Excel error
                parts.append(X.where(X.iferror(ok, False), "",
                                     X.iferror(text, f"{args[0]} is invalid; ")))
            return X.concat(*parts)
        return Cell(check, tuple(a for _, _, args in checks for a in args))

    def _write_results(self, ws):
        from openpyxl.chart import BarChart, Reference
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill
        spec = self.spec
        self.title(ws)
        self.text(ws, 2, 1, spec.description, wrap=False)
        self.header(ws, 4, ["Result", "Value", "Share of GPU memory", "Note"], [34, 24, 20, 80])
        self.text(ws, 5, 1, "Input check", bold=True)
        # the problems (empty when all is valid) sit beside the verdict a planner reads
        checks = tuple(f"check_{d}" for d, _, _ in self.check_rows)
        _, problems = self.formula(ws, 5, 5, Cell(X.concat, checks))
        self.define("input_problems", ws, 5, 5)
        self.values["input_problems"] = problems
        _, verdict = self.formula(ws, 5, 2, Cell(_input_verdict, ("input_problems",)))
        self.define("input_status", ws, 5, 2)
        self.values["input_status"] = verdict
        self.text(ws, 5, 4, "what to fix when an input is out of range (data validation "
                  "stops typed values; pasted ones can slip through; see Inputs, column E)")
        row = 6
        capacity_name = None
        if spec.capacity_node:
            row += 1
            self.text(ws, row, 1, "GPU memory")
            cell = _display_cell(spec.capacity_node, "GB")
            c, v = self.formula(ws, row, 2, cell, _display_format("GB"))
            self.values["gpu_memory_gb"] = v
            self.define("gpu_memory_gb", ws, row, 2)
            capacity_name = "gpu_memory_gb"
        part_rows = []
        for section in spec.sections:
            row += 2
            self.text(ws, row, 1, section.title, bold=True, fill=_SECTION_FILL)
            for col in (2, 3, 4):
                self.text(ws, row, col, None, fill=_SECTION_FILL)
            for out in section.outputs:
                row += 1
                self.text(ws, row, 1, out.label)
                c, v = self.formula(ws, row, 2, _display_cell(out.node, out.unit),
                                    _display_format(out.unit))
                if out.name not in self.names:   # e2e_s is already the node's own name
                    self.values[out.name] = v
                    self.define(out.name, ws, row, 2)
                if out.part and capacity_name:
                    self.formula(ws, row, 3, Cell(_share, ("input_problems", out.name,
                                                           capacity_name)), "0.0%")
                if out.part or out.chart:
                    part_rows.append(row)
                self.note(ws, row, 4, out.note or _describe(out.node), 80)
        fits = [(fit, fit.node) for fit in spec.fits]
        for side, scope in zip(spec.sides, self.side_scopes):
            def name_of(node, side=side, scope=scope):
                local = node in scope.affected or node in scope.overrides
                return f"{side.name}_{node}" if local else node
            for section in side.sections:
                row += 2
                self.text(ws, row, 1, f"{side.title}: {section.title}", bold=True,
                          fill=_SECTION_FILL)
                for col in (2, 3, 4):
                    self.text(ws, row, col, None, fill=_SECTION_FILL)
                for out in section.outputs:
                    row += 1
                    self.text(ws, row, 1, out.label)
                    c, v = self.formula(ws, row, 2, _display_cell(name_of(out.node), out.unit),
                                        _display_format(out.unit))
                    if f"{side.name}_{out.name}" not in self.names:
                        self.values[f"{side.name}_{out.name}"] = v
                        self.define(f"{side.name}_{out.name}", ws, row, 2)
                    self.note(ws, row, 4, out.note or _describe(out.node), 80)
            fits += [(fit, name_of(fit.node)) for fit in side.fits]
        for fit, fit_name in fits:
            row += 2
            self.text(ws, row, 1, fit.label, bold=True)
            c, _ = self.formula(ws, row, 2, Cell(_verdict(fit.yes, fit.no),
                                                 ("input_problems", fit_name)))
            good = X.eq(X.Ref(c.coordinate), fit.yes).excel()
            bad = X.eq(X.Ref(c.coordinate), fit.no).excel()
            ws.conditional_formatting.add(c.coordinate, FormulaRule(
                formula=[good], fill=PatternFill("solid", bgColor=_GOOD_FILL)))
            ws.conditional_formatting.add(c.coordinate, FormulaRule(
                formula=[bad], fill=PatternFill("solid", bgColor=_BAD_FILL)))
        ws.conditional_formatting.add("B5", FormulaRule(
            formula=[X.ne(X.Ref("E5"), "").excel()], fill=PatternFill("solid", bgColor=_BAD_FILL)))
        ws.conditional_formatting.add("B5", FormulaRule(
            formula=[X.eq(X.Ref("E5"), "").excel()], fill=PatternFill("solid", bgColor=_GOOD_FILL)))
        ws.column_dimensions["E"].hidden = True
        if part_rows:
            chart = BarChart()
            chart.type = "bar"
            chart.grouping = "clustered"
            chart.title = spec.chart_title
            chart.y_axis.title = "GB"
            chart.legend = None
            first, last = min(part_rows), max(part_rows)
            chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last),
                           titles_from_data=False)
            chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
            chart.height, chart.width = 7.5, 16
            ws.add_chart(chart, "F4")
        ws.freeze_panes = "A5"

    def _example_scopes(self) -> list:
        """Each worked example is self-contained: its seed scenario is a block of input
        cells at the top of its sheet, each row adds the inputs of its own; rows with the
        same own inputs share one scope (a column of 'Example calculations').  The main
        Inputs do not move the seed comparison."""
        self.example_titles = [_example_sheet_title(i, len(self.examples))
                               for i in range(len(self.examples))]
        self.example_rows, self.example_blocks, scopes = [], [], []
        for title, ex in zip(self.example_titles, self.examples):
            needed = set()
            for fig in ex.figures:
                needed |= self._cone(fig.node)
            block = {k: v for k, v in ex.inputs.items() if k in needed}
            self.example_blocks.append(block)
            block_refs = {name: X.Ref(f"{_quote(title)}!$B${5 + i}")
                          for i, name in enumerate(block)}
            first_row = 7 + len(block)
            rows, shared = [], {}
            for i, fig in enumerate(ex.figures, start=first_row):
                own = dict(fig.inputs)
                # rows with the same own inputs share one scope: the first such row holds
                # the editable cells, the others show them (one column of calculations)
                key = _inputs_key(own)
                if key not in shared:
                    refs = dict(block_refs)
                    refs.update({name: X.Ref(f"{_quote(title)}!${_col(9 + 2 * j)}${i}")
                                 for j, name in enumerate(own)})
                    label = f"{title} row {i}" if own else f"{title} scenario"
                    shared[key] = _Scope(label, refs, {**block, **own}, [])
                    shared[key].first_row = i
                    scopes.append(shared[key])
                scope = shared[key]
                if fig.node not in scope.targets:
                    scope.targets.append(fig.node)
                rows.append((fig, scope, own))
            self.example_rows.append(rows)
        return scopes

    def names_planned(self) -> set:
        """Names that will have a cell: inputs, Calculations nodes, Side inputs."""
        return set(self.input_names) | set(self.order) | {
            f"{side.name}_{n}" for side in self.spec.sides for n in side.inputs}

    def _scenario_scopes(self) -> list:
        """One scope per scenario row: every scenario column is an input cell of the
        Scenarios sheet, the rest comes from the Inputs sheet."""
        frame = self.spec.scenarios
        if frame is None or not len(frame):
            return []
        unknown = [c for c in frame.columns if c not in TERMS]
        if unknown:
            raise XlcalcError(f"scenario column {unknown[0]!r} is not a glossary input",
                              unknown[0])
        targets = [o.node for o in self.spec.scenario_outputs]
        scopes = []
        for i, (_, row) in enumerate(frame.iterrows()):
            r = 4 + i
            refs = {name: X.Ref(f"Scenarios!${_col(2 + j)}${r}")
                    for j, name in enumerate(frame.columns)}
            values = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            scopes.append(_Scope(f"scenario {i + 1}", refs, values, targets))
        return scopes

    def _write_scenarios(self, ws):
        """One row per scenario: its inputs (editable) and live outputs; a plan that
        does not fit is coloured red."""
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill, Protection
        frame = self.spec.scenarios
        outputs = self.spec.scenario_outputs
        self.text(ws, 1, 1, "Scenarios: one row per plan. Change any yellow cell; the outputs "
                  "are live formulas (their steps are on 'Scenario calculations').")
        labels = ["scenario"] + list(frame.columns) + [
            f"{o.label} ({o.unit})" if o.unit else o.label for o in outputs]
        self.header(ws, 3, labels, [10] + [14] * len(frame.columns) + [18] * len(outputs))
        first_out = 2 + len(frame.columns)
        fit_cols = []
        for i, scope in enumerate(self.scenario_scopes):
            r = 4 + i
            self.text(ws, r, 1, i + 1)
            for j, name in enumerate(frame.columns):
                c = self.text(ws, r, 2 + j, scope.values[name], fill=_INPUT_FILL)
                c.protection = Protection(locked=False)
                dv = self._validation(name, c.coordinate)
                ws.add_data_validation(dv)
                dv.add(c.coordinate)
            for k, out in enumerate(outputs):
                factor = display_factor(out.unit)
                ref, value = (scope.cells[out.node], scope.node_values[out.node]) \
                    if out.node in scope.cells else (X.Name(out.node), self.values[out.node])
                is_flag = isinstance(value, (bool, np.bool_))
                expr_ = ref if factor == 1 or is_flag else ref / factor
                # every row reads the Inputs too: no figure (nor a chart point) from a
                # value the input check rejects (the generator itself writes valid inputs
                # only, so the cached value is the figure)
                c = ws.cell(row=r, column=first_out + k,
                            value="=" + X.as_expr(guard(expr_)).excel())
                shown = value if factor == 1 or is_flag else value / factor
                shown = shown.item() if isinstance(shown, np.generic) else shown
                self.cached[(ws.title, c.coordinate)] = shown
                c.number_format = _display_format(out.unit) if not is_flag else "General"
                if is_flag and k not in fit_cols:
                    fit_cols.append(k)
        last = 3 + len(self.scenario_scopes)
        for k in fit_cols:                          # colour whole rows by their fits column
            col = _col(first_out + k)
            rng = f"A4:{_col(first_out + len(outputs) - 1)}{last}"
            ws.conditional_formatting.add(rng, FormulaRule(
                formula=[X.eq(X.Ref(f"${col}4"), False).excel()],
                fill=PatternFill("solid", bgColor=_BAD_FILL)))
        ws.freeze_panes = "B4"

    def _side_scope(self, side):
        """The scope of a Side: its inputs are the prefixed defined names on Inputs."""
        targets = [o.node for sec in side.sections for o in sec.outputs] + \
            [f.node for f in side.fits]
        refs = {name: X.Name(f"{side.name}_{name}") for name in side.inputs}
        return _Scope(side.title, refs, dict(side.inputs), targets)

    def _cone(self, name: str) -> set:
        cache = self.__dict__.setdefault("_cones", {})
        if name not in cache:
            cache[name] = _cone(name, self.spec.bind)
        return cache[name]

    def _write_scopes(self, ws, scopes, prefix: str | None = None):
        """Scoped calculations: one column per scope, one row per quantity a scope
        recomputes; every cell is its node's own formula over same-column cells, the
        scope's input cells and the workbook's defined names.  With ``prefix`` each cell
        is also a defined name (``training_train_total_bytes``)."""
        from openpyxl.utils import get_column_letter
        self.text(ws, 1, 1, "Quantities recomputed with inputs of their own: "
                  + ("the " + scopes[0].label + " inputs." if prefix else
                     "worked-example rows; each column is one row's calculation."))
        names = list(dict.fromkeys(n for sc in scopes for n in sc.affected))
        row_of = {n: 4 + i for i, n in enumerate(names)}
        self.header(ws, 3, ["Name", "Unit"] + [sc.label for sc in scopes],
                    [34, 12] + [18] * len(scopes))
        for n, r in row_of.items():
            self.text(ws, r, 1, n)
            self.text(ws, r, 2, _BoundNode(n, self.spec.bind[n]).unit if n in self.spec.bind
                      else graph.NODES[n].unit)
        shapes: dict = {}      # node -> its formula with placeholders for the arguments
        for j, sc in enumerate(scopes, start=3):
            col = get_column_letter(j)
            sc.cells = {n: X.Ref(f"${col}${row_of[n]}") for n in sc.affected}
            for n in sc.affected:
                if n in self.spec.bind:
                    text = sc.ref(self.spec.bind[n]).excel()
                else:
                    text = self._scoped_formula(n, sc, shapes)
                c = ws.cell(row=row_of[n], column=j, value="=" + text)
                value = sc.node_values[n]
                value = value.item() if isinstance(value, np.generic) else value
                self.cached[(ws.title, c.coordinate)] = value
                c.number_format = _number_format("", value)
                if prefix:
                    self.define(prefix + n, ws, row_of[n], j)
                    self.values[prefix + n] = value
            # references from other sheets need the sheet name
            sc.cells = {n: X.Ref(f"{_quote(ws.title)}!{r.excel()}") for n, r in sc.cells.items()}
        ws.freeze_panes = "C4"

    def _scoped_formula(self, node: str, scope, shapes: dict) -> str:
        """The node's formula over the scope's cells: rendered once per node with a
        placeholder per argument, then the placeholders replaced by the scope's references
        (cell references and names are atoms, so no parentheses change)."""
        if node not in shapes:
            args = graph.NODES[node].args
            marks = {a: f"\x00{i}\x00" for i, a in enumerate(args)}
            text = graph.render(node, refs={a: X.Name(m) for a, m in marks.items()},
                                table_refs=self.table_refs).excel()
            shapes[node] = (re.compile("\x00(\\d+)\x00"), text, args)
        pattern, text, args = shapes[node]
        refs = [scope.ref(a).excel() for a in args]
        return pattern.sub(lambda m: refs[int(m.group(1))], text)

    def _write_example(self, ws, ex, rows):
        from openpyxl.styles import Alignment, Protection
        block = self.example_blocks[self.examples.index(ex)]
        self.text(ws, 1, 1, f"Worked example from the source tutorials: {ex.title}", bold=True)
        self.text(ws, 2, 1, f"Source tutorial {ex.seed}. Each row: the figure the tutorial "
                  "prints, the same quantity computed live from the tutorial's scenario "
                  "(below) and the row's own inputs (columns I onwards), and why they differ "
                  "when they do. The yellow cells are editable; the Inputs sheet does not "
                  "change this comparison.")
        self.header(ws, 4, ["Tutorial scenario input", "Value"], None)
        for i, (name, value) in enumerate(block.items(), start=5):
            self.text(ws, i, 1, name)
            c = self.text(ws, i, 2, value.name if hasattr(value, "fields") else value,
                          fill=_INPUT_FILL)
            c.protection = Protection(locked=False)
            if name in TERMS:
                dv = self._validation(name, c.coordinate)
                ws.add_data_validation(dv)
                dv.add(c.coordinate)
        head = 6 + len(block)
        self.header(ws, head, ["item", "tutorial section", "tutorial value", "computed value",
                               "unit", "status", "note", "row inputs"],
                    [34, 16, 14, 16, 10, 10, 90, 16])
        for i, (fig, scope, own) in enumerate(rows, start=head + 1):
            self.text(ws, i, 1, fig.item)
            self.text(ws, i, 2, fig.section)
            seed = self.text(ws, i, 3, seed_shown(fig))
            for j, (name, value) in enumerate(own.items()):
                self.text(ws, i, 8 + 2 * j, name)
                if getattr(scope, "first_row", i) != i:       # shown, edited on the first row
                    c = ws.cell(row=i, column=9 + 2 * j,
                                value="=" + scope.overrides[name].excel().split("!", 1)[1])
                    self.cached[(ws.title, c.coordinate)] = \
                        value.name if hasattr(value, "fields") else value
                    continue
                c = self.text(ws, i, 9 + 2 * j, value.name if hasattr(value, "fields") else value,
                              fill=_INPUT_FILL)
                c.protection = Protection(locked=False)
            if fig.node in scope.overrides:
                ref, value = scope.overrides[fig.node], scope.values[fig.node]
            elif fig.node in scope.cells:
                ref, value = scope.cells[fig.node], scope.node_values[fig.node]
            else:
                ref, value = X.Name(fig.node), self.values[fig.node]
            shown = ref if fig.scale == 1 else ref / fig.scale
            c = ws.cell(row=i, column=4, value="=" + X.as_expr(shown).excel())
            computed = computed_value(fig, value)
            self.cached[(ws.title, c.coordinate)] = computed
            c.number_format = '#,##0.####'
            self.text(ws, i, 5, fig.unit)
            st = ws.cell(row=i, column=6, value="=" + X.as_expr(row_status(
                fig, X.Ref(seed.coordinate), X.Ref(c.coordinate))).excel())
            self.cached[(ws.title, st.coordinate)] = row_status(fig, fig.seed_value, computed)
            c.alignment = st.alignment = Alignment(vertical="top")
            self.note(ws, i, 7, fig.note, 90)
        ws.freeze_panes = f"B{head + 1}"

    def _write_about(self, ws):
        self.title(ws)
        lines = [
            self.spec.description,
            "",
            "How to use: change the yellow cells on the Inputs sheet (dropdowns list the "
            "presets); Results, Calculations and the charts follow. Every value cell is a "
            "defined name (Formulas > Name Manager).",
            "The file carries computed values, so previewers show numbers without "
            "recalculating; Excel and LibreOffice recalculate when an input changes.",
            "Sheets are protected without a password (Review > Unprotect Sheet) so that a "
            "formula is not overwritten by accident.",
            "Memory is in GB = 1e9 bytes (GiB = 2^30 bytes where stated); time in s/ms.",
            f"Generated by xlcalc {xlcalc.__version__} (workbook {self.spec.name!r}).",
            "",
            "Formulas used (name, unit, what it is, source):",
        ]
        for i, line in enumerate(lines, start=3):
            self.text(ws, i, 1, line)
        row = 3 + len(lines)
        self.header(ws, row, ["Name", "Unit", "What it is", "Source"], [34, 12, 90, 60])
        for name in self.order:
            n = _BoundNode(name, self.spec.bind[name]) if name in self.spec.bind \
                else graph.NODES[name]
            row += 1
            for j, v in enumerate([name, n.unit, n.doc, n.source], start=1):
                self.text(ws, row, j, v)


# --------------------------------------------------------------- cell functions

@dataclass
class _BoundNode:
    """An input the workbook computes from a node (``seq_len`` = ``total_len``)."""
    name: str
    node: str

    @property
    def unit(self):
        return graph.NODES[self.node].unit

    @property
    def doc(self):
        t = TERMS.get(self.name)
        return (t.description if t else self.name) + f" (here: = {self.node})"

    @property
    def source(self):
        return graph.NODES[self.node].source


def _describe(name: str) -> str:
    """What a node or an input is (the Results sheet's note column)."""
    if name in graph.NODES:
        return graph.NODES[name].doc
    t = TERMS.get(name)
    return t.description if t else name


def _input_verdict(problems):
    return X.where(X.eq(problems, ""), "all inputs valid", problems)


def _display_cell(node: str, unit: str) -> Cell:
    factor = display_factor(unit)

    def display(problems, value):
        shown = value if factor == 1 else value / factor
        return X.where(X.eq(problems, ""), X.iferror(shown, "not computable"), CHECK_INPUTS)
    return Cell(display, ("input_problems", node))


#: what every Results cell shows while an input is invalid (the message is on the Input
#: check line): never a verdict or a figure computed from a value the check rejects
CHECK_INPUTS = "check inputs"


def guard(expr, problems=None):
    """``expr`` while every input is valid, "check inputs" otherwise (a cell template code
    adds, e.g. the serving-sizing answer, follows the same rule as the Results cells)."""
    problems = X.Name("input_problems") if problems is None else problems
    return X.where(X.eq(problems, ""), expr, CHECK_INPUTS)


def _share(problems, part, capacity):
    return X.where(X.eq(problems, ""), X.iferror(part / capacity, CHECK_INPUTS), CHECK_INPUTS)


def _verdict(yes, no):
    """The fits line: yes/no only when every input is valid (a green "fits" for batch 0
    would be a lie), "check inputs" otherwise."""
    def verdict(problems, flag):
        return X.where(X.eq(problems, ""), X.iferror(X.where(flag, yes, no), CHECK_INPUTS),
                       CHECK_INPUTS)
    return verdict


def _domain_fn(t):
    def ok(x):
        return in_domain(t, x)
    return ok


def _relation_message(name, other, allowed):
    """``tp must be a divisor of num_heads=64; `` with the other value live."""
    before, _, after = allowed.format(other=other, other_value="\0").partition("\0")

    def message(value, other_value):
        if isinstance(other_value, X.Expr):
            return X.concat(f"{name} must be {before}", other_value, f"{after}; ")
        return f"{name} must be {before}{other_value:g}{after}; "
    return message


def _positive(_input, value):
    """The looked-up value exists: an empty cell reads as 0 in Excel, NaN in Python."""
    return value > 0


def _member_fn(keys_range: str, keys: set):
    """The key is a row of the table (MATCH is case-insensitive, as the lookups)."""
    def ok(key):
        if isinstance(key, X.Expr):
            return X.Call("ISNUMBER", X.Call("MATCH", key, X.Ref(keys_range), 0))
        return str(key).lower() in keys
    return ok


def _record_field(record, column):
    try:
        return record[column]
    except Exception:
        return getattr(record, column, record.name if column == "full_name" else None)


def _cone(name: str, bind: dict) -> set:
    """Every name ``name`` depends on, a bound input counting as its node's cone."""
    seen, todo = set(), [name]
    while todo:
        for d in graph.dependencies([todo.pop()]):
            if d not in seen:
                seen.add(d)
                if d in bind:
                    todo.append(bind[d])
    return seen


class _Scope:
    """A row-local context: some inputs take the values of cells (``overrides``); the
    quantities that depend on them are recomputed in the scope's own cells, everything
    else is read from the workbook's defined names."""

    def __init__(self, label: str, overrides: dict, values: dict, targets: list):
        self.label = label
        self.overrides = overrides     # input -> Expr of the cell holding it
        self.values = values           # input -> its value
        self.targets = targets
        self.affected: list = []       # recomputed here, in dependency order
        self.leaves: set = set()       # unaffected names read from the workbook
        self.cells: dict = {}
        self.node_values: dict = {}

    def plan(self, bind: dict, cone) -> None:
        seen = set()

        def visit(name):
            if name in seen or name in self.overrides:
                return
            seen.add(name)
            if not cone(name) & set(self.overrides):
                self.leaves.add(name)
                return
            for arg in ([bind[name]] if name in bind else graph.NODES[name].args):
                visit(arg)
            self.affected.append(name)

        for t in self.targets:
            visit(t)
        self.leaves -= set(self.overrides)

    def evaluate(self, inputs: dict, bound: dict, bind: dict) -> None:
        ctx = {**inputs, **self.values}
        for name, node in bind.items():
            if name not in self.values:
                ctx[name] = estimate([node], **ctx)[node] if name in self.affected \
                    else bound[name]
        nodes = [n for n in self.affected if n in graph.NODES]
        computed = estimate(nodes, **ctx) if nodes else {}
        self.node_values = {n: (ctx[n] if n in bind else computed[n]) for n in self.affected}

    def ref(self, name: str):
        if name in self.overrides:
            return self.overrides[name]
        if name in self.cells:
            return self.cells[name]
        return X.Name(name)


def _col(index: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(index)


def _quote(title: str) -> str:
    return title if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", title) else "'" + \
        title.replace("'", "''") + "'"


def _table_sheet_title(table: str) -> str:
    return {"gpus": "GPUs", "dtypes": "Dtypes", "models": "Models", "kv_dtypes": "KV dtypes",
            "compute_dtypes": "Compute dtypes"}.get(
        table, table.replace("_", " ").title().replace(" ", ""))


def _inputs_key(own: dict):
    """Rows whose own inputs are equal (names and values) share a scope; rows without
    own inputs share the scenario's."""
    if not own:
        return None
    return tuple((k, getattr(v, "name", v) if not isinstance(v, float) else v)
                 for k, v in own.items())


def _example_sheet_title(i: int, n: int) -> str:
    return "Worked example" if n == 1 else f"Worked example {i + 1}"


# ----------------------------------------------------------------------------- api

def build(spec: WorkbookSpec, inputs: dict | None = None) -> BuiltWorkbook:
    """Build the workbook for ``spec`` with its inputs (``inputs`` override them)."""
    merged = dict(spec.inputs)
    for k, v in (inputs or {}).items():
        if k not in merged:
            raise invalid(k, v, "an input of workbook " + repr(spec.name) + ": " +
                          ", ".join(merged))
        merged[k] = v
    return _Builder(spec, merged).build()


def to_bytes(spec: WorkbookSpec, inputs: dict | None = None) -> bytes:
    """The .xlsx file (with cached values) in memory: what a browser download hands over."""
    built = build(spec, inputs)
    return workbook_bytes(built.workbook, built.values)


def write(spec: WorkbookSpec, path, inputs: dict | None = None) -> BuiltWorkbook:
    """Build and save with cached values (numbers visible without recalculation)."""
    built = build(spec, inputs)
    save_with_values(built.workbook, built.values, Path(path))
    return built
