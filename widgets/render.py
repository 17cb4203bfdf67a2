"""What the forms draw: headline cards, the styled breakdown table, the memory chart and
the sweep plot.  Pure presentation: every number arrives computed by the core; this
module only formats it (GB, ms, thousands separators) and draws it with matplotlib's Agg
canvas (no pyplot, no global backend state).
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass

__all__ = ["Card", "cards_html", "fmt", "style_table", "MemoryChart", "SweepChart", "ParetoChart",
           "message_html", "CSS", "PART_COLORS"]

CAPACITY_COLOR = "#b42318"

#: one colour per memory part, shared by the chart and its legend
PART_COLORS = {
    "weights": "#4C72B0", "master_weights": "#64B5CD", "gradients": "#8172B2",
    "optimizer": "#CCB974", "kv_cache": "#DD8452", "activations": "#55A868",
    "reserve": "#9C9C9C",
}

CSS = """
<style>
.xl-form { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
.xl-title { font-size: 18px; font-weight: 600; color: #1f2d3d; }
.xl-sub { font-size: 12px; color: #667; }
.xl-cards { display: grid; grid-template-columns: repeat(4, minmax(130px, 1fr)); gap: 8px; }
.xl-card { border: 1px solid #dde3ea; border-radius: 8px; padding: 8px 12px; background: #fbfcfd; }
.xl-card .xl-label { font-size: 11px; color: #5b6b7b; text-transform: uppercase; letter-spacing: .04em; }
.xl-card .xl-value { font-size: 22px; font-weight: 600; color: #1f2d3d; line-height: 1.25; }
.xl-card .xl-unit { font-size: 12px; font-weight: 400; color: #5b6b7b; margin-left: 3px; }
.xl-card .xl-note { font-size: 11px; color: #7a8794; }
.xl-card.xl-good { border-color: #9fd3a8; background: #f1faf3; }
.xl-card.xl-good .xl-value { color: #1e7b34; }
.xl-card.xl-bad { border-color: #f0a5a5; background: #fdf2f2; }
.xl-card.xl-bad .xl-value { color: #b42318; }
.xl-error { border: 1px solid #f0a5a5; background: #fdf2f2; color: #8a1c1c; border-radius: 6px;
            padding: 8px 12px; font-size: 13px; }
.xl-stale { opacity: .35; }
.xl-info { font-size: 12px; line-height: 1.45; color: #4a5a6a; padding: 0 0 6px 176px; }
.xl-head { font-size: 12px; font-weight: 600; color: #3a4a5a; margin: 8px 0 2px 0;
           border-bottom: 1px solid #e3e8ee; }
.xl-legend { font-size: 12px; color: #3a4a5a; display: flex; flex-wrap: wrap; gap: 4px 14px;
             padding: 0 0 8px 22px; }
.xl-key i { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
            margin-right: 5px; vertical-align: -1px; }
.xl-key .xl-line { display: inline-block; width: 16px; border-top: 2.5px solid #b42318;
                   margin-right: 5px; vertical-align: 3px; }
.xl-key .xl-line.xl-dashed { border-top: 1.5px dashed #b42318; }
.xl-table table { border-collapse: collapse; font-size: 13px; }
.xl-table th, .xl-table td { padding: 3px 10px; border-bottom: 1px solid #eef1f4; text-align: right; }
.xl-table th { background: #f4f6f8; color: #3a4a5a; }
.xl-table td:first-child, .xl-table th:first-child { text-align: left; }
</style>
"""


@dataclass(frozen=True)
class Card:
    """One headline figure: ``key`` (the figure's name in ``form.figures``), a label, the
    value (number, bool or text), its display unit and a short note."""
    key: str
    label: str
    value: object
    unit: str = ""
    note: str = ""
    tone: str = ""          # "", "good", "bad"


def fmt(x, unit: str = "") -> str:
    """A number for people: thousands separators, about three significant digits."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    a = abs(x)
    if a >= 1e15:
        return f"{x:.3g}"
    if a >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:,.1f}"
    if a >= 0.01:
        return f"{x:.2f}" if a >= 1 else f"{x:.3f}".rstrip("0")
    return f"{x:.3g}"


def cards_html(cards) -> str:
    """The headline cards; each value carries ``data-name`` (the figure's key) and
    ``data-value`` (the exact number) so a browser test can read what is shown."""
    out = ['<div class="xl-cards">']
    for c in cards:
        exact = c.value if isinstance(c.value, (str, bool)) else repr(float(c.value))
        tone = f" xl-{c.tone}" if c.tone else ""
        out.append(
            f'<div class="xl-card{tone}"><div class="xl-label">{html.escape(c.label)}</div>'
            f'<div class="xl-value" data-name="{c.key}" data-value="{html.escape(str(exact))}">'
            f'{_with_unit(c.value, c.unit)}</div>'
            f'<div class="xl-note">{html.escape(c.note)}</div></div>')
    out.append("</div>")
    return "".join(out)


def _with_unit(value, unit: str) -> str:
    if unit == "$":
        return "$" + html.escape(fmt(value))
    return f'{html.escape(fmt(value))}<span class="xl-unit">{html.escape(unit)}</span>'


def message_html(text: str) -> str:
    """The core's message for input it rejects, shown above the (dimmed) last plan."""
    if not text:
        return ""
    return f'<div class="xl-error" data-name="error">⚠ {html.escape(text)}</div>'


def style_table(frame, *, gb="GB", share="share of GPU memory", highlight_total=True,
                precision=2):
    """The breakdown table as a pandas Styler: GB with two decimals, the share of the
    GPU's memory as a percentage with a bar, the total row in bold."""
    styler = frame.style.format({gb: f"{{:,.{precision}f}}", share: "{:.1%}"}, na_rep="–")
    styler = styler.hide(axis="index")
    styler = styler.bar(subset=[share], color="#cfe0f3", vmin=0,
                        vmax=max(1.0, float(frame[share].max())))
    if highlight_total:
        def bold(row):
            weight = "font-weight: 600" if row.iloc[0] == "total" else ""
            return [weight] * len(row)
        styler = styler.apply(bold, axis=1)
    return styler


class MemoryChart:
    """A horizontal stacked bar of memory per GPU (one segment per part, labelled when
    wide enough) against the GPU's capacity (solid red line) and, for serving, the
    engine's usable budget (dashed).

    The figure and its artists are made once; :meth:`png` moves the segments and lines
    and re-encodes.  Text is what Agg draws slowest, so the legend is HTML beside the
    image (:meth:`legend_html`) and the axis has few ticks.  An update with the same
    numbers returns the cached image."""

    def __init__(self, parts, labels=None, width=7.4, height=1.55, dpi=100):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
        self.parts = list(parts)
        self.labels = {p: (labels or {}).get(p, p.replace("_", " ")) for p in self.parts}
        self.fig = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.fig)
        self.ax = ax = self.fig.add_axes((0.03, 0.25, 0.95, 0.52))
        self.bars, self.texts = {}, {}
        for p in self.parts:
            self.bars[p] = ax.barh([0], [0.0], left=0.0, height=0.66,
                                   color=PART_COLORS.get(p, "#999"))[0]
            self.texts[p] = ax.text(0, 0, "", color="white", fontsize=8.5, ha="center",
                                    va="center", fontweight="bold")
        self.cap = ax.axvline(1, color=CAPACITY_COLOR, lw=2.2)
        self.budget = ax.axvline(1, color=CAPACITY_COLOR, lw=1.3, ls=(0, (4, 3)))
        self.title = ax.set_title("", loc="left", fontsize=10.5, pad=7)
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.tick_params(axis="x", labelsize=8.5, pad=2)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        self._key = None
        self._png = b""

    def png(self, parts_gb: dict, capacity_gb: float, budget_gb: float | None, title: str,
            capacity_label: str) -> bytes:
        key = (tuple(parts_gb.get(p, 0.0) for p in self.parts), capacity_gb, budget_gb, title)
        if key == self._key:
            return self._png
        total = sum(max(float(parts_gb.get(p, 0.0)), 0.0) for p in self.parts)
        top = max(total, capacity_gb, budget_gb or 0.0) * 1.04
        top = top if top > 0 else 1.0
        left = 0.0
        for p in self.parts:
            v = max(float(parts_gb.get(p, 0.0)), 0.0)
            self.bars[p].set_x(left)
            self.bars[p].set_width(v)
            text = self.texts[p]
            text.set_x(left + v / 2)
            text.set_text(fmt(v) if v >= 0.07 * top else "")
            left += v
        self.ax.set_xlim(0, top)
        self.cap.set_xdata([capacity_gb, capacity_gb])
        self.budget.set_visible(budget_gb is not None)
        if budget_gb is not None:
            self.budget.set_xdata([budget_gb, budget_gb])
        self.title.set_text(title)
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
        self._key, self._png = key, buf.getvalue()
        return self._png

    def legend_html(self, capacity_label: str, capacity_gb: float,
                    budget_gb: float | None) -> str:
        """The chart's legend: a swatch per part, the capacity and budget lines."""
        items = [f'<span class="xl-key"><i style="background:{PART_COLORS.get(p, "#999")}">'
                 f'</i>{html.escape(self.labels[p])}</span>' for p in self.parts]
        items.append(f'<span class="xl-key"><b class="xl-line"></b>{html.escape(capacity_label)} '
                     f'{fmt(capacity_gb)} GB per GPU</span>')
        if budget_gb is not None:
            items.append(f'<span class="xl-key"><b class="xl-line xl-dashed"></b>usable '
                         f'{fmt(budget_gb)} GB (gpu_memory_utilization)</span>')
        return '<div class="xl-legend" data-name="legend">' + "".join(items) + "</div>"


class SweepChart:
    """Small multiples of a sweep, one panel per ``(column, title, unit)``: the figure is
    made once per set of panels; each update moves the lines and markers (plans that do
    not fit are red crosses; memory panels show the GPU's capacity and budget; the
    current value is a dotted line)."""

    def __init__(self, panels, dpi=100):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
        self.panels = tuple(panels)
        self.fig = Figure(figsize=(3.0 * len(self.panels), 2.35), dpi=dpi)
        FigureCanvasAgg(self.fig)
        axes = self.fig.subplots(1, len(self.panels))
        self.axes = list(axes) if len(self.panels) > 1 else [axes]
        self.lines, self.bad, self.cap, self.budget, self.now = [], [], [], [], []
        for ax, (column, title, unit) in zip(self.axes, self.panels):
            self.lines.append(ax.plot([], [], "-o", color="#4C72B0", ms=3.5, lw=1.6)[0])
            self.bad.append(ax.plot([], [], "x", color=CAPACITY_COLOR, ms=7, mew=2)[0])
            self.cap.append(ax.axhline(0, color=CAPACITY_COLOR, lw=1.5, visible=False))
            self.budget.append(ax.axhline(0, color=CAPACITY_COLOR, lw=1, ls=(0, (4, 3)),
                                          visible=False))
            self.now.append(ax.axvline(1, color="#888", lw=1, ls=":"))
            ax.set_title(f"{title} ({unit})" if unit else title, fontsize=9.5, loc="left")
            ax.tick_params(labelsize=8)
            ax.xaxis.set_major_formatter(FuncFormatter(_tick))
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.grid(alpha=.25)
        self._layout_done = False

    def png(self, frame, axis: str, current, capacity_gb=None, budget_gb=None) -> bytes:
        import numpy as np
        from matplotlib.ticker import FuncFormatter, NullLocator
        x = frame[axis].astype(float).to_numpy()
        fits = frame["fits"].astype(bool).to_numpy() if "fits" in frame else \
            np.ones(len(x), bool)
        log_x = len(x) > 1 and (x > 0).all() and x.max() / x.min() >= 8
        for i, (ax, (column, _, _)) in enumerate(zip(self.axes, self.panels)):
            y = frame[column].astype(float).to_numpy()
            self.lines[i].set_data(x, y)
            self.bad[i].set_data(x[~fits], y[~fits])
            memory = column.endswith("_gb") and capacity_gb is not None
            self.cap[i].set_visible(memory)
            self.budget[i].set_visible(memory and budget_gb is not None)
            if memory:
                self.cap[i].set_ydata([capacity_gb, capacity_gb])
                if budget_gb is not None:
                    self.budget[i].set_ydata([budget_gb, budget_gb])
            self.now[i].set_xdata([float(current), float(current)])
            scale = "log" if log_x else "linear"
            if ax.get_xscale() != scale:
                ax.set_xscale(scale, **({"base": 2} if log_x else {}))
                ax.xaxis.set_major_formatter(FuncFormatter(_tick))
                ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(axis, fontsize=8.5)
            ax.relim(visible_only=True)
            ax.autoscale_view()
            ax.set_ylim(bottom=0)
        if not self._layout_done:
            self.fig.tight_layout()
            self._layout_done = True
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
        return buf.getvalue()


def _tick(v, _pos) -> str:
    """Short tick labels: 1, 16, 512, then 1K = 1024 tokens, 128K, 1M (LLM lengths are
    powers of two); other values as they are."""
    if v >= 1024 and float(v).is_integer() and v % 1024 == 0:
        return f"{v / 1024:g}K" if v < 1024 ** 2 else f"{v / 1024 ** 2:g}M"
    return f"{v:g}"


class ParetoChart:
    """Tokens/s per GPU (x) against tokens/s per user (y) as inline SVG: every candidate
    that fits and keeps up (grey), those that also meet the targets (blue), the Pareto
    frontier (green line), the cheapest plan that meets them (red star) and the per-user
    speed the TPOT target asks for (dotted).  Points that fall on the same pixel are drawn
    once (one path of zero-length round-capped strokes per colour), so an update is a few
    milliseconds of numpy and string joining however many candidates there are — a
    matplotlib PNG of the same took ten times longer, mostly in text and encoding."""

    COLORS = {"others": "#c5ccd6", "meets": "#4C72B0", "front": "#1e7b34",
              "best": CAPACITY_COLOR, "axis": "#5b6b7b"}
    W, H = 660, 300                      # the plot area in pixels
    LEFT, BOTTOM, TOP, RIGHT = 56, 34, 10, 14

    def svg(self, frame, min_user_speed: float) -> str:
        import numpy as np
        usable = (frame["fits"] & frame["stable"] & frame["token_budget_ok"]).to_numpy()
        x = frame["output_tokens_per_s_per_gpu"].to_numpy(dtype=float)
        y = frame["tokens_per_s_per_user"].to_numpy(dtype=float)
        meets = frame["meets_sla"].to_numpy(dtype=bool)
        front = frame["pareto"].to_numpy(dtype=bool)
        xmax = _nice_top(float(x[usable].max()) if usable.any() else 1.0)
        ymax = _nice_top(max(float(y[usable].max()) if usable.any() else 1.0, min_user_speed))

        def px(v):
            return self.LEFT + np.clip(v / xmax, 0, 1.02) * self.W

        def py(v):
            return self.TOP + self.H - np.clip(v / ymax, 0, 1.02) * self.H

        c = self.COLORS
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{self._width}" '
                 f'height="{self._height}" data-name="pareto_svg" '
                 f'data-points="{int(usable.sum())}" data-front="{int(front.sum())}" '
                 'style="font: 11px sans-serif">']
        parts += self._axes(xmax, ymax)
        for mask, colour, width in ((usable & ~meets, c["others"], 4), (meets, c["meets"], 5)):
            parts.append(_dots(px(x[mask]), py(y[mask]), colour, width))
        if front.any():
            order = np.argsort(x[front])
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x[front][order]),
                                                              py(y[front][order])))
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{c["front"]}" '
                         'stroke-width="2"/>')
        yt = float(py(np.float64(min_user_speed)))
        parts.append(f'<line x1="{self.LEFT}" x2="{self.LEFT + self.W}" y1="{yt:.1f}" '
                     f'y2="{yt:.1f}" stroke="#888" stroke-dasharray="2,3"/>')
        if len(frame) and meets[0]:
            bx, by = float(px(x[0])), float(py(y[0]))
            parts.append(f'<path d="{_star(bx, by, 9)}" fill="{c["best"]}" '
                         f'data-name="pareto_best" data-x="{x[0]!r}" data-y="{y[0]!r}"/>')
        parts.append("</svg>")
        return "".join(parts)

    @property
    def _width(self):
        return self.LEFT + self.W + self.RIGHT

    @property
    def _height(self):
        return self.TOP + self.H + self.BOTTOM

    def _axes(self, xmax, ymax):
        c, L, T, W, H = self.COLORS["axis"], self.LEFT, self.TOP, self.W, self.H
        out = [f'<path d="M{L},{T} V{T + H} H{L + W}" fill="none" stroke="{c}"/>']
        for k in range(6):
            vx, vy = xmax * k / 5, ymax * k / 5
            gx, gy = L + W * k / 5, T + H - H * k / 5
            out.append(f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="{T + H}" y2="{T + H + 4}" '
                       f'stroke="{c}"/><text x="{gx:.1f}" y="{T + H + 16}" '
                       f'text-anchor="middle" fill="{c}">{fmt(vx)}</text>')
            out.append(f'<line x1="{L - 4}" x2="{L}" y1="{gy:.1f}" y2="{gy:.1f}" '
                       f'stroke="{c}"/><text x="{L - 7}" y="{gy + 4:.1f}" text-anchor="end" '
                       f'fill="{c}">{fmt(vy)}</text>')
        out.append(f'<text x="{L + W / 2}" y="{T + H + 30}" text-anchor="middle" '
                   f'fill="{c}">output tokens/s per GPU</text>')
        out.append(f'<text transform="translate(12,{T + H / 2}) rotate(-90)" '
                   f'text-anchor="middle" fill="{c}">tokens/s per user</text>')
        return out

    def legend_html(self, title: str) -> str:
        c = self.COLORS
        items = [f'<span class="xl-key"><i style="background:{c["others"]}"></i>fits and keeps '
                 'up</span>',
                 f'<span class="xl-key"><i style="background:{c["meets"]}"></i>meets the '
                 'targets</span>',
                 f'<span class="xl-key"><i style="background:{c["front"]}"></i>Pareto '
                 'frontier</span>',
                 f'<span class="xl-key"><i style="background:{c["best"]}"></i>cheapest that '
                 'meets them</span>',
                 '<span class="xl-key">dotted: 1000 / tpot_ms_max</span>']
        return (f'<div class="xl-head" data-name="pareto_title">{html.escape(title)}</div>'
                '<div class="xl-legend" data-name="pareto_legend">' + "".join(items) + "</div>")


def _nice_top(v: float) -> float:
    """The axis end: the next 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k above ``v`` (five
    even ticks)."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v * 1.02:
            return m * exp
    return 10 * exp


def _dots(xs, ys, colour: str, width: int) -> str:
    """Points as one path of zero-length round-capped strokes, one per pixel they fall on."""
    import numpy as np
    if not len(xs):
        return ""
    keys = np.unique(np.rint(xs).astype(np.int64) * 65536 + np.rint(ys).astype(np.int64))
    d = "".join([f"M{k >> 16} {k & 65535}h0" for k in keys.tolist()])
    return (f'<path d="{d}" stroke="{colour}" stroke-width="{width}" '
            'stroke-linecap="round" fill="none"/>')


def _star(x: float, y: float, r: float) -> str:
    pts = []
    for k in range(10):
        a = math.pi / 2 + k * math.pi / 5
        rad = r if k % 2 == 0 else r * 0.45
        pts.append(f"{x + rad * math.cos(a):.1f},{y - rad * math.sin(a):.1f}")
    return "M" + " L".join(pts) + " Z"
