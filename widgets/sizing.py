"""The serving-sizing form: a load and latency targets in, the cheapest fleet out.

Controls (glossary names): the model, the load (``prompt_len``, ``output_len``,
``request_rate``), the targets (``ttft_ms_max``, ``tpot_ms_max``), the GPUs and weight
dtypes to consider, prefill/decode disaggregation, and a price per GPU-hour for each GPU
(the indicative price table's by default).  Each change runs :func:`xlcalc.plan_serving`
over the form's candidate grid (one vectorised evaluation) and shows the verdict, the
cheapest plan's headline figures, the Pareto chart (tokens/s per GPU against tokens/s per
user) and the best plans.
"""

from __future__ import annotations

import html
import logging
import time
import traceback

import ipywidgets as w

from xlcalc.errors import XlcalcError
from xlcalc.graph import load_all
from xlcalc.hardware import DTYPES, gpu_names
from xlcalc.models import preset_names
from xlcalc.sizing import gpu_prices, plan_serving

from . import controls as C
from .render import CSS, Card, ParetoChart, cards_html, message_html

__all__ = ["SizingForm", "SIZING_DEFAULTS", "SIZING_GRID"]

log = logging.getLogger(__name__)

#: the form opens on the issue's question: Llama-3.3-70B (Llama-3.1-70B's architecture),
#: 200 requests/s of 2k in / 500 out, TTFT under 1 s, 30 tokens/s per user
SIZING_DEFAULTS = dict(model="llama-3.1-70b", prompt_len=2048, output_len=500,
                       request_rate=200.0, ttft_ms_max=1000.0, tpot_ms_max=33.0,
                       gpus=("h100-sxm", "h200", "b200"), dtypes=("bf16", "fp8"),
                       disaggregated=True)

#: the form's search (smaller than plan_serving's default, so that a change redraws in
#: well under 100 ms): every tp, pp 1, 8 concurrencies, 8 replica counts, prefill tp 2 / 8
SIZING_GRID = dict(tps=(1, 2, 4, 8), pps=(1,), concurrencies=(8, 16, 32, 64, 128, 256, 512,
                                                              1024),
                   extra_replicas=tuple(range(8)), prefill_tps=(2, 8), dp_attentions=(1, 8))

#: columns of the best-plans table
_TABLE = (("gpu", "GPU"), ("dtype", "dtype"), ("layout", "layout"), ("tp", "tp"),
          ("concurrency", "concurrency"), ("gpus", "GPUs"), ("ttft_ms", "TTFT ms"),
          ("tpot_ms", "TPOT ms"), ("tokens_per_s_per_user", "tok/s/user"),
          ("output_tokens_per_s_per_gpu", "tok/s/GPU"),
          ("cost_per_m_output_tokens", "$/M out"), ("cost_per_month", "$/month"),
          ("meets_sla", "meets"))


def _price_key(gpu: str) -> str:
    return f"price:{gpu}"


class SizingForm(w.VBox):
    """Load and targets → the cheapest fleet, the Pareto chart and the best plans.

    ``SizingForm(model="llama-3.1-8b", request_rate=20)`` opens on those values;
    ``form.set(ttft_ms_max=500)`` changes several at once; ``form.controls`` maps names to
    widgets (GPU prices as ``"price:<gpu>"``); ``form.result`` is the DataFrame of every
    candidate (:func:`xlcalc.plan_serving`), ``form.verdict`` its one-line answer and
    ``form.figures`` the cheapest plan's figures."""

    title = "xlcalc · serving sizing"
    subtitle = ("From a load and latency targets to the cheapest fleet: every candidate "
                "(GPU × dtype × tp × concurrency × replicas, aggregated or disaggregated) "
                "in one vectorised core call.")

    def __init__(self, **values):
        load_all()
        super().__init__()
        self.result = None
        self.verdict = ""
        self.figures: dict = {}
        self.error = ""
        self.renders = 0
        self.last_render_s = float("nan")
        self._held = 0
        self._last_key = None
        self._chart = ParetoChart()
        self.controls = self._make_controls()
        self.set(**values) if values else None
        self.message = w.HTML()
        self.verdict_box = w.HTML()
        self.cards = w.HTML()
        self.chart = w.HTML()
        self.chart_legend = w.HTML()
        self.table = w.HTML()
        self.results_box = w.VBox([self.verdict_box, self.cards, self.chart_legend, self.chart,
                                   self.table])
        self._out = w.interactive_output(self._render, self.controls)
        self.children = [self._layout()]
        self.add_class("xl-form")

    # ------------------------------------------------------------- controls

    def _make_controls(self) -> dict:
        d = SIZING_DEFAULTS
        prices = gpu_prices()["price_per_gpu_hour"].to_dict()
        out = {
            "model": C.choice("model", d["model"], options=list(preset_names())),
            "prompt_len": C.int_slider("prompt_len", d["prompt_len"], 16, 131072),
            "output_len": C.int_slider("output_len", d["output_len"], 1, 32768),
            "request_rate": w.FloatLogSlider(
                value=d["request_rate"], base=10, min=-1, max=4, step=0.05,
                readout_format=".3g", description="request_rate",
                tooltip="requests arriving per second", continuous_update=False,
                style=C._STYLE, layout=C._FULL),
            "ttft_ms_max": w.FloatLogSlider(
                value=d["ttft_ms_max"], base=10, min=1, max=5, step=0.05, readout_format=",.0f",
                description="ttft_ms_max", tooltip="time-to-first-token target (ms)",
                continuous_update=False, style=C._STYLE, layout=C._FULL),
            "tpot_ms_max": w.FloatLogSlider(
                value=d["tpot_ms_max"], base=10, min=0, max=3, step=0.05, readout_format=".3g",
                description="tpot_ms_max", tooltip="time-per-output-token target (ms)",
                continuous_update=False, style=C._STYLE, layout=C._FULL),
            "gpus": w.SelectMultiple(options=list(gpu_names()), value=tuple(d["gpus"]),
                                     rows=6, description="gpus", style=C._STYLE,
                                     layout=C._FULL),
            "dtypes": w.SelectMultiple(options=list(DTYPES()), value=tuple(d["dtypes"]),
                                       rows=4, description="dtypes", style=C._STYLE,
                                       layout=C._FULL),
            "disaggregated": w.Checkbox(value=d["disaggregated"], description="disaggregated",
                                        tooltip="also search prefill/decode disaggregation",
                                        indent=True, style=C._STYLE, layout=C._FULL),
        }
        for gpu in gpu_names():
            out[_price_key(gpu)] = w.BoundedFloatText(
                value=float(prices.get(gpu, 0.0)), min=0.0, max=1000.0, step=0.05,
                description=gpu, tooltip=f"$ per GPU-hour for {gpu} (0: no price, give one)",
                continuous_update=False, style={"description_width": "90px"},
                layout=w.Layout(width="210px"))
        return out

    @property
    def values(self) -> dict:
        return {name: widget.value for name, widget in self.controls.items()}

    def set(self, **values) -> "SizingForm":
        """Set several controls with one render (``price:<gpu>`` for a price)."""
        with self.hold():
            for name, value in values.items():
                if name not in self.controls:
                    from xlcalc.errors import unknown_choice
                    raise unknown_choice("control", name, self.controls)
                widget = self.controls[name]
                if isinstance(widget, w.SelectMultiple):
                    value = tuple([value] if isinstance(value, str) else value)
                widget.value = value
        return self

    def hold(self):
        import contextlib

        @contextlib.contextmanager
        def held():
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
                if not self._held and hasattr(self, "_out"):
                    self._render(**self.values)
        return held()

    # --------------------------------------------------------------- plan

    def compute(self, v: dict):
        gpus = list(v["gpus"])
        if not gpus:
            raise XlcalcError("gpus: choose at least one GPU", "gpus")
        if not v["dtypes"]:
            raise XlcalcError("dtypes: choose at least one weight dtype", "dtypes")
        prices = {}
        for gpu in gpus:
            price = v[_price_key(gpu)]
            if not price > 0:
                raise XlcalcError(f"price_per_gpu_hour: give a price for {gpu} (no indicative "
                                  "price in the table)", "price_per_gpu_hour")
            prices[gpu] = price
        return plan_serving(v["model"], v["prompt_len"], v["output_len"],
                            request_rate=v["request_rate"], ttft_ms_max=v["ttft_ms_max"],
                            tpot_ms_max=v["tpot_ms_max"], gpus=gpus, dtypes=list(v["dtypes"]),
                            price_per_gpu_hour=prices,
                            disaggregated=(False, True) if v["disaggregated"] else (False,),
                            **SIZING_GRID)

    def _render(self, **values) -> None:
        if self._held:
            return
        key = tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v)
                           for k, v in values.items()))
        if key == self._last_key:
            return
        self._last_key = key
        start = time.perf_counter()
        try:
            frame = self.compute(values)
        except XlcalcError as e:
            self._show_error(str(e))
        except Exception as e:          # a bug: say so, keep the form alive
            log.error("xlcalc sizing form failed:\n%s", traceback.format_exc())
            self._show_error(f"unexpected error (please report): {type(e).__name__}: {e}")
        else:
            self._show(frame, values)
        self.renders += 1
        self.last_render_s = time.perf_counter() - start

    def _show(self, frame, values) -> None:
        self.result, self.error = frame, ""
        self.verdict = frame.attrs["verdict"]
        best = frame.iloc[0].to_dict()
        meets = bool(best["meets_sla"])
        self.figures = {k: (float(best[k]) if k not in ("gpu", "dtype") else best[k])
                        for k in ("gpu", "dtype", "gpus", "ttft_ms", "tpot_ms",
                                  "tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                                  "cost_per_m_output_tokens", "cost_per_m_input_tokens",
                                  "cost_per_month")} if meets else {}
        self.figures["meets_sla"] = meets
        self.figures["candidates"] = len(frame)
        title = (f"{len(frame):,} candidates · the cheapest meeting the targets: "
                 f"{int(best['gpus'])} × {best['gpu']}" if meets else
                 f"{len(frame):,} candidates · none meets every target")
        self.chart.value = self._chart.svg(frame, 1000 / values["tpot_ms_max"])
        self.chart_legend.value = self._chart.legend_html(title)
        self.table.value = _table_html(frame.head(10))
        self.message.value = ""
        self.results_box.remove_class("xl-stale")
        self.verdict_box.value = (
            f'<div class="xl-card xl-{"good" if meets else "bad"}" data-name="verdict" '
            f'data-value="{html.escape(self.verdict)}" style="font-size:13px">'
            f'{html.escape(self.verdict)}</div>')
        self.cards.value = cards_html(_cards(best, meets, len(frame)))

    def _show_error(self, message: str) -> None:
        self.result, self.verdict, self.figures, self.error = None, "", {}, message
        self.message.value = message_html(message)
        self.results_box.add_class("xl-stale")

    # --------------------------------------------------------------- layout

    def _layout(self):
        header = w.HTML(CSS + f'<div class="xl-title">{self.title}</div>'
                        f'<div class="xl-sub">{self.subtitle}</div>')
        c = self.controls

        def head(text):
            return w.HTML(f'<div class="xl-head">{text}</div>')
        prices = w.VBox([c[_price_key(g)] for g in gpu_names()])
        prices_box = w.Accordion(children=[prices], titles=("Prices ($ per GPU-hour)",),
                                 selected_index=None)
        left = w.VBox([head("Model"), c["model"],
                       head("Load"), c["prompt_len"], c["output_len"], c["request_rate"],
                       head("Targets"), c["ttft_ms_max"], c["tpot_ms_max"],
                       head("Candidates"), c["gpus"], c["dtypes"], c["disaggregated"],
                       prices_box],
                      layout=w.Layout(width="420px", min_width="400px",
                                      padding="0 14px 0 0"))
        right = w.VBox([self.message, self.results_box, self._out],
                       layout=w.Layout(flex="1 1 auto", min_width="560px"))
        return w.VBox([header, w.HBox([left, right])])


def _cards(best, meets: bool, n: int):
    if not meets:
        return [Card("candidates", "Candidates", n, "", "none meets every target", "bad")]
    layout = (f"{int(best['prefill_workers'])} prefill (tp {int(best['prefill_tp'])}) + "
              f"{int(best['replicas'])} decode" if best["disaggregated"]
              else f"{int(best['replicas'])} × tp {int(best['tp'])}")
    return [
        Card("gpus", "GPUs", float(best["gpus"]), "", f"{best['gpu']} {best['dtype']}, {layout}",
             "good"),
        Card("cost_per_m_output_tokens", "Cost per M output tokens",
             float(best["cost_per_m_output_tokens"]), "$",
             f"input ${best['cost_per_m_input_tokens']:.3g}/M (split rule)"),
        Card("cost_per_month", "Per month", float(best["cost_per_month"]), "$",
             f"at ${best['price_per_gpu_hour']:.3g}/GPU-h"),
        Card("ttft_ms", "Time to first token", float(best["ttft_ms"]), "ms",
             f"concurrency {int(best['concurrency'])} per replica"),
        Card("tpot_ms", "Time per output token", float(best["tpot_ms"]), "ms",
             f"{best['tokens_per_s_per_user']:.3g} tokens/s per user"),
        Card("output_tokens_per_s_per_gpu", "Tokens/s per GPU",
             float(best["output_tokens_per_s_per_gpu"]), "", ""),
        Card("candidates", "Candidates", float(n), "", "in one vectorised evaluation"),
    ]


def _table_html(rows) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in _TABLE)
    body = []
    for r in rows.to_dict("records"):
        cells = []
        for key, _ in _TABLE:
            if key == "layout":
                v = (f"{int(r['prefill_workers'])}P+{int(r['replicas'])}D" if r["disaggregated"]
                     else f"{int(r['replicas'])} agg")
            elif key == "meets_sla":
                v = "yes" if r[key] else "no"
            elif key in ("gpu", "dtype"):
                v = str(r[key])
            else:
                v = f"{r[key]:,.3g}" if abs(r[key]) < 1000 else f"{r[key]:,.0f}"
            cells.append(f"<td>{html.escape(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="xl-table" data-name="plans"><table><thead><tr>' + head +
            "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")



