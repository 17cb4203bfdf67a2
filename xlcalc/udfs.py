"""Excel functions (xlwings UDFs): every estimate one formula away.

List ``xlcalc.udfs`` under xlwings' *UDF Modules* (classic xlwings) or import it in
xlwings Lite's ``main.py``.  Each function is a thin wrapper over the core:

* arguments arrive as Excel sends them — floats for integers (``8.0``), strings,
  ``None`` for empty/omitted cells, 2-D lists for ranges — and optional arguments
  are trailing positional arguments with defaults (classic xlwings rejects
  keyword-only arguments and ``Literal`` hints);
* ``model`` is a preset name or a two-column range of ``config.json`` keys and
  values (a ``preset`` row starts from a preset); ``gpu`` likewise;
* memory is returned in GB (1e9 bytes) unless the trailing ``unit`` says B, KB, MB,
  GB, TB, KiB, MiB, GiB or TiB; latencies in ms; training time in days;
* a function never raises into Excel: invalid input returns a text starting with
  ``#`` that names the argument, its value and what is allowed;
* a table spills as a dynamic array, header row first.

The same functions serve ``%xl`` formulas in Jupyter (:mod:`xlcalc.magics`).
"""

from __future__ import annotations

import functools
import math
import numbers

import xlwings as xw

from .errors import XlcalcError, invalid, unknown_choice
from .estimate import estimate
from .glossary import TERMS
from .hardware import GPU_FIELDS, load_gpu
from .models import MODEL_FIELDS, load_model
from .units import to_unit, unit_factor

CATEGORY = "xlcalc"

#: every registered Excel function, in catalogue order (name -> function)
CATALOGUE: dict = {}

_ARG_DOCS = {
    "model": "model preset name (e.g. \"llama-2-70b\") or a two-column range of config.json "
             "keys and values (a \"preset\" row starts from a preset)",
    "gpu": "accelerator preset name (e.g. \"h100-sxm\") or a two-column range of its fields",
    "unit": "memory unit: B, KB, MB, GB (default, 1e9 bytes), TB, KiB, MiB, GiB, TiB",
    "part": "which part of the breakdown to return",
    "field": "name of the field to return",
    "tokens": "number of tokens",
    "mode": "which count to return",
}


def _doc(name: str) -> str:
    if name in _ARG_DOCS:
        return _ARG_DOCS[name]
    t = TERMS.get(name)
    if t is None:
        from . import graph
        graph.load_all()
        t = TERMS.get(name)
    if t is not None:
        return f"{t.description} ({t.allowed})"
    raise RuntimeError(f"no documentation for Excel argument {name!r}")


def excel_function(*, docs: dict | None = None, spill: bool = False):
    """Register ``fn`` as an Excel function: xlwings metadata (category, description,
    argument help) plus the one place where errors become ``#`` texts."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            try:
                result = fn(*args)
            except XlcalcError as e:
                return f"#VALUE! {e}"
            except Exception as e:     # a bug must still not raise into Excel
                return f"#VALUE! {fn.__name__} failed unexpectedly: {type(e).__name__}: {e}"
            return _to_excel(result)
        import inspect
        f = wrapper
        for name in inspect.signature(fn).parameters:
            f = xw.arg(name, doc=(docs or {}).get(name) or _doc(name))(f)
        if spill:
            f = xw.ret(expand="table")(f)
        f = xw.func(category=CATEGORY)(f)
        CATALOGUE[fn.__name__] = f
        return f
    return decorate


def _to_excel(value):
    """Python result -> what Excel shows: floats, text, booleans, 2-D lists."""
    if isinstance(value, (list, tuple)):
        return [[_cell(v) for v in row] for row in value]
    return _cell(value)


def _cell(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# ------------------------------------------------------------------ arguments

def _scalar(value):
    """A single-cell range ([[x]] or [x]) is its value."""
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value


def _model(value):
    if value is None or value == [] or value == [[]]:
        raise invalid("model", value, "a model preset name or a two-column range")
    one = _scalar(value)
    if isinstance(one, str):
        return load_model(one)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return load_model([list(row) for row in value])
    if isinstance(value, (list, tuple)) and len(value) == 2:      # one row, 1-D
        return load_model([list(value)])
    raise invalid("model", one, "a model preset name or a two-column range")


def _gpu(value):
    if value is None or value == [] or value == [[]]:
        raise invalid("gpu", value, "an accelerator preset name or a two-column range")
    one = _scalar(value)
    if isinstance(one, str):
        return load_gpu(one)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return load_gpu([list(row) for row in value])
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return load_gpu([list(value)])
    raise invalid("gpu", one, "an accelerator preset name or a two-column range")


def _number(name: str, value, default=None):
    """A numeric argument: an empty cell takes the default; the core validates."""
    value = _scalar(value)
    if value is None or value == "":
        if default is None:
            allowed = TERMS[name].allowed if name in TERMS else "a number"
            raise XlcalcError(f"{name} is required ({allowed}), got an empty cell", name)
        return default
    if isinstance(value, (list, tuple)):
        raise invalid(name, "a range", "a single value")
    return value


def _text(name: str, value, default=None) -> str:
    value = _scalar(value)
    if value is None or value == "":
        if default is None:
            raise XlcalcError(f"{name} is required (a text), got an empty cell", name)
        return default
    if not isinstance(value, str):
        raise invalid(name, value, "a text")
    return value.strip()


def _choice(name: str, value, options, default=None) -> str:
    text = _text(name, value, default).lower()
    if text not in options:
        raise unknown_choice(name, text, options)
    return text


def _unit(value) -> str:
    unit = _text("unit", value, "GB")
    unit_factor(unit)
    return unit


def _memory(value_bytes, unit):
    return to_unit(value_bytes, unit)


def _table(header, rows):
    return [list(header)] + [list(r) for r in rows]


# -------------------------------------------------------------- the catalogue

_PARAM_PARTS = ("total", "active", "embedding", "attention", "mlp", "norm", "lm_head",
                "non_embedding")


@excel_function(docs={"part": "total (default), active, embedding, attention, mlp, norm, "
                              "lm_head or non_embedding"})
def LLM_PARAMS(model, part="total"):
    """Parameters of a model (or one part of them), as transformers counts them."""
    from .basics import params
    part = _choice("part", part, _PARAM_PARTS, "total")
    return float(params(_model(model))[part])


@excel_function(docs={"field": "hidden_size, num_layers, num_heads, num_kv_heads, head_dim, "
                               "intermediate_size, vocab_size, max_position_embeddings, "
                               "num_experts, experts_per_token, model_type, architecture …"})
def LLM_MODEL(model, field):
    """An architecture field of a model (normalised config.json)."""
    m = _model(model)
    field = _text("field", field)
    if field in ("model_type", "architecture", "name", "source"):
        return getattr(m, field)
    if field == "nominal_params":
        return m.nominal_params
    if field not in MODEL_FIELDS:
        raise unknown_choice("field", field, MODEL_FIELDS + ("model_type", "architecture",
                                                              "nominal_params"))
    return m.fields[field]


_MODEL_COLUMNS = ("model_type", "num_layers", "hidden_size", "num_heads", "num_kv_heads",
                  "head_dim", "intermediate_size", "vocab_size", "num_experts",
                  "max_position_embeddings")


@excel_function()
def LLM_MODELS():
    """Table of the model presets with their main fields and parameter counts."""
    from .basics import params
    from .models import preset_names
    rows = []
    for name in preset_names():
        m = load_model(name)
        p = params(m)
        rows.append([name, m.model_type, m.architecture] +
                    [m.fields[c] for c in _MODEL_COLUMNS[1:]] +
                    [float(p["total"]), float(p["active"])])
    return _table(("model", "model_type", "architecture") + _MODEL_COLUMNS[1:] +
                  ("params", "active_params"), rows)


@excel_function(docs={"field": "memory_gb, memory_bandwidth_gb_per_s, peak_tflops_fp32, "
                               "peak_tflops_tf32, peak_tflops_fp16, peak_tflops_bf16, "
                               "peak_tflops_fp8, peak_tops_int8, intra_node_gb_per_s, "
                               "inter_node_gb_per_s, full_name, vendor, source"})
def GPU_SPEC(gpu, field):
    """A field of an accelerator preset (dense peaks; GB/s are gigabytes per second)."""
    g = _gpu(gpu)
    field = _text("field", field)
    if field in ("full_name", "vendor", "source", "notes", "name"):
        return getattr(g, field)
    if field not in GPU_FIELDS:
        raise unknown_choice("field", field, GPU_FIELDS + ("full_name", "vendor", "source"))
    value = g.fields[field]
    if value != value:
        raise XlcalcError(f"gpu {g.name!r} does not support {field} (no spec-sheet figure)",
                          "field")
    return value


@excel_function()
def GPU_LIST():
    """Table of the accelerator presets (memory, bandwidth, dense peaks, links)."""
    from .hardware import gpu_names
    rows = []
    for name in gpu_names():
        g = load_gpu(name)
        rows.append([name, g.full_name] + [g.fields[f] for f in GPU_FIELDS])
    return _table(("gpu", "full_name") + GPU_FIELDS, rows)


@excel_function()
def KV_CACHE(model, batch, seq_len, kv_dtype="bf16", tp=1, unit="GB"):
    """KV-cache memory per GPU for batch sequences of seq_len tokens (GB by default)."""
    v = estimate(("kv_cache_bytes",), model=_model(model), batch=_number("batch", batch),
                 seq_len=_number("seq_len", seq_len), kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                 tp=_number("tp", tp, 1), block_size=1)
    return _memory(v["kv_cache_bytes"], _unit(unit))


_FLOPS_MODES = {
    # mode: (node with seq_len, rule without seq_len)
    "forward": ("forward_flops", "forward_flops_2nd"),
    "training": ("training_flops", "training_flops_6nd"),
    "training-recompute": ("training_flops_recompute", "training_flops_8nd"),
}


@excel_function(docs={"mode": "forward (default), training (forward + backward) or "
                              "training-recompute (with full activation recomputation)",
                      "seq_len": "tokens per sequence; when given, attention FLOPs are "
                                 "counted exactly, else the 2N / 6N / 8N rules are used"})
def LLM_FLOPS(model, tokens, mode="forward", seq_len=None):
    """FLOPs for a number of tokens: forward, training or training with recomputation."""
    mode = _choice("mode", mode, _FLOPS_MODES, "forward")
    exact, rule = _FLOPS_MODES[mode]
    m = _model(model)
    tokens = _number("tokens", tokens)
    if _scalar(seq_len) in (None, ""):
        return estimate((rule,), model=m, tokens=tokens)[rule]
    return estimate((exact,), model=m, tokens=tokens,
                    seq_len=_number("seq_len", seq_len))[exact]
