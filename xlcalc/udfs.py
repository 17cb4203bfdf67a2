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
* a table spills as a dynamic array, header row first;
* optional arguments come in one order in every function (:data:`ARGUMENT_ORDER`): the
  storage types (``dtype``, then ``kv_dtype``), then the parallel split (``tp`` -- ``n_gpus``
  in MAX_BATCH -- then ``pp``), then efficiencies (``mfu``, ``bw_eff``), then ``part``, then
  ``unit``; a test keeps every function to it.

The same functions serve ``%xl`` formulas in Jupyter (:mod:`xlcalc.magics`).
"""

from __future__ import annotations

import functools
import inspect
import math
import re

from .extras import require

require("xlwings", face="the Excel functions (xlcalc.udfs)")
import xlwings as xw  # noqa: E402

# The core is imported here, once: an import statement inside a function costs more
# than a whole compiled KV_CACHE evaluation on every call (about 1.5 µs)
from . import graph
from .analysis import critical_batch, gemm_roofline
from .basics import _kv_cache_bytes, kv_cache_bytes_per_token, params
from .errors import XlcalcError, invalid, unknown_choice
# the unchecked form: every Excel function passes graph names it spells itself
from .estimate import _estimate as estimate
from .glossary import TERMS
from .graph import load_all
from .hardware import GPU_FIELDS, canonical_gpu_name, gpu_names, load_gpu
from .models import MODEL_FIELDS, load_model, preset_name, preset_names
from .serving import (INFER_MEMORY_PARTS, LATENCY_PARTS, SERVING_DEFAULTS, _cell_weights,
                      _inputs, allreduce_bytes, decode_step, gpus_needed, inference_latency,
                      inference_memory, max_batch, prefill_time, serving_capacity,
                      tp_comm_bytes, transfer_time)
from .training import (TRAIN_MEMORY_PARTS, TRAINING_DEFAULTS, mfu_from_iteration,
                       train_gpus_needed, train_memory)
from .training_plan import TRAIN_STEP_UNITS, training_step, training_time
from .units import MEMORY_UNITS, display_factor, unit_factor
from .worked import compare, examples

CATEGORY = "xlcalc"

#: the order of the optional plan arguments wherever a function has them (module docstring)
ARGUMENT_ORDER = ("dtype", "kv_dtype", "tp", "n_gpus", "pp", "mfu", "bw_eff", "part", "unit")

#: every registered Excel function, in catalogue order (name -> function)
CATALOGUE: dict = {}

#: the functions that return a table (they spill as a dynamic array, header row first)
SPILLING: set = set()

#: longest text an argument may be (Excel's own cell limit is 32,767 characters; no name,
#: unit or path comes near this, and a longer one is not worth echoing in an error)
MAX_TEXT = 1024
#: longest error text a function returns
MAX_ERROR = 512

_ARG_DOCS = {
    "model": "model preset name (e.g. \"llama-2-70b\") or a two-column range of config.json "
             "keys and values (a \"preset\" row starts from a preset)",
    "gpu": "accelerator preset name (e.g. \"h100-sxm\", or an alias such as \"H100\") or a "
           "two-column range of its fields",
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
        graph.load_all()
        t = TERMS.get(name)
    if t is not None:
        return f"{t.description} ({t.allowed})"
    raise RuntimeError(f"no documentation for Excel argument {name!r}")


def _with_default(doc: str, default) -> str:
    """The argument help says the default of an optional argument."""
    if default is None or "default" in doc:
        return doc
    shown = _show_default(default)
    return f"{doc}; default {shown}"


def _show_default(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def excel_function(*, docs: dict | None = None, spill: bool = False,
                   rename: dict | None = None):
    """Register ``fn`` as an Excel function: xlwings metadata (category, description,
    argument help with the default of each optional argument) plus the one place where
    errors become ``#`` texts.

    ``spill`` marks a function that returns a table (header row first).  Excel with
    dynamic arrays (and xlwings Lite) spills a returned list of rows by itself; xlwings'
    legacy ``expand="table"`` is deliberately not used (it overwrites cells and is only
    for Excel versions without dynamic arrays).  ``rename`` maps a core input name to the
    Excel argument that supplies it (``{"seq_len": "tokens"}``), so that an error names
    the argument the user typed.
    """
    def decorate(fn):
        params = inspect.signature(fn).parameters
        names = tuple(params)
        required = sum(p.default is inspect.Parameter.empty for p in params.values())
        name = fn.__name__

        @functools.wraps(fn)
        def wrapper(*args):
            if len(args) < required:          # a direct call short of arguments: the
                args = args + (None,) * (required - len(args))   # missing ones are empty
            elif len(args) > len(names):
                return f"#VALUE! {name} takes at most {len(names)} arguments, got {len(args)}"
            try:
                result = fn(*args)
            except XlcalcError as e:
                return _error_text(e, rename)
            except (ZeroDivisionError, OverflowError, FloatingPointError):
                # Python floats raise where numpy gives inf/NaN: sizes so extreme that
                # a quantity overflows or underflows to zero
                return _not_finite(name, names, args)
            except Exception as e:     # a bug must still not raise into Excel
                return _clip(f"#VALUE! {name} failed unexpectedly: {type(e).__name__}: {e}")
            if type(result) is float:              # the common case, kept cheap
                if result - result == 0.0:        # finite (inf - inf and nan are nan)
                    return result
                return _not_finite(name, names, args)
            if isinstance(result, (list, tuple)):
                return _to_excel(result)
            result = _cell(result)
            if result is None:
                return _not_finite(name, names, args)
            return result

        # Excel shows the description on one line and cuts it (and each argument's help)
        # at 255 characters: one line of plain words, checked by the tests
        wrapper.__doc__ = " ".join((fn.__doc__ or "").split())
        f = wrapper
        for arg, p in params.items():
            default = None if p.default is inspect.Parameter.empty else p.default
            doc = (docs or {}).get(arg) or _doc(arg)
            f = xw.arg(arg, doc=_with_default(doc, default))(f)
        f = xw.func(category=CATEGORY)(f)
        CATALOGUE[name] = f
        if spill:
            SPILLING.add(name)
        return f
    return decorate


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"


def _error_text(e: XlcalcError, rename: dict | None) -> str:
    message = str(e)
    if rename and e.argument in rename:
        message = re.sub(rf"\b{re.escape(e.argument)}\b", rename[e.argument], message,
                         count=1)
    return _clip(f"#VALUE! {message}")


def _not_finite(name: str, names: tuple, args: tuple) -> str:
    """A result that overflowed (inf) or is undefined (NaN) is an error naming the
    arguments, never an empty cell."""
    given = ", ".join(f"{n}={_show_arg(a)}" for n, a in zip(names, args) if a is not None)
    return _clip(f"#NUM! {name} has no finite result for {given}; check the sizes")


def _show_arg(value) -> str:
    value = _scalar(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "a range"
    return repr(value)[:40] if isinstance(value, str) else str(value)[:40]


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


def _empty(value) -> bool:
    one = _scalar(value)
    return one is None or (isinstance(one, str) and not one.strip()) or \
        (isinstance(one, (list, tuple)) and not any(_scalar(r) is not None for r in one))


def _spec(name: str, value, loader, what: str):
    """A model or gpu: a preset name, or a two-column range of keys and values.  A text
    is only ever a preset name: a formula never makes the server read a file."""
    if _empty(value):
        raise XlcalcError(f"{name} is required ({what}), got an empty cell", name)
    one = _scalar(value)
    if isinstance(one, str):
        _check_length(name, one)
        if name == "model":
            # a preset name or a Hub repo id (meta-llama/Llama-3.3-70B-Instruct), never a path
            if preset_name(one) is None:
                raise unknown_choice(name, one, preset_names())
            return loader(preset_name(one))
        if canonical_gpu_name(one) is None:
            raise unknown_choice(name, one, gpu_names())
        return loader(one)
    if not isinstance(one, (list, tuple)):
        raise invalid(name, one, what)
    if isinstance(value[0], (list, tuple)):
        rows = [list(row) if isinstance(row, (list, tuple)) else [row] for row in value]
    elif len(value) == 2:                     # one row (or column) arrives 1-D
        rows = [list(value)]
    else:
        raise invalid(name, value, what)
    for row in rows:
        for cell in row:
            if isinstance(cell, str):
                _check_length(name, cell)
    try:
        return loader(rows)
    except XlcalcError as e:
        if e.argument == name or str(e).startswith(name):
            raise
        raise XlcalcError(f"{name} range: {e}", name) from None


_MODEL_WHAT = "a model preset name or a two-column range"
_GPU_WHAT = "an accelerator preset name or a two-column range"
_PRESETS: dict = {}      # text as typed -> loaded preset (recalculations repeat names)


def _record(kind: str, value, loader, what: str, presets):
    """A model or gpu argument, with presets typed as text remembered per spelling."""
    if type(value) is str:
        hit = _PRESETS.get((kind, value))
        if hit is not None:
            return hit
        record = _spec(kind, value, loader, what)
        _remember(kind, value, record, presets())
        return record
    return _spec(kind, value, loader, what)


def _model(value):
    return _record("model", value, load_model, _MODEL_WHAT, preset_names)


def _gpu(value):
    return _record("gpu", value, load_gpu, _GPU_WHAT, gpu_names)


def _remember(kind: str, text: str, record, presets) -> None:
    """Keep a loaded preset under the text as typed (never a config file: it may change)."""
    known = preset_name(text) is not None if kind == "model" else \
        canonical_gpu_name(text) is not None
    if known and len(_PRESETS) < 4096:
        _PRESETS[(kind, text)] = record


def _check_length(name: str, text: str) -> None:
    if len(text) > MAX_TEXT:
        raise XlcalcError(f"{name} must be a short text (at most {MAX_TEXT} characters), "
                          f"got a text of {len(text)} characters", name)


def _optional(name: str, value):
    """A numeric argument whose empty cell (or 0, as an empty cell reads in a formula)
    means "the calibrated / the engine's default": None for the core, which computes it."""
    value = _scalar(value)
    if value is None or value == "" or (isinstance(value, (int, float)) and value == 0):
        return None
    return _number(name, value)


def _engine(value):
    """The serving engine argument (an empty cell: the default engine, vllm)."""
    return _text("engine", value, SERVING_DEFAULTS["engine"])


def _number(name: str, value, default=None):
    """A numeric argument: an empty cell takes the default; the core validates."""
    if type(value) is float or type(value) is int:
        return value
    value = _scalar(value)
    if value is None or value == "":
        if default is None:
            allowed = TERMS[name].allowed if name in TERMS else "a number"
            raise XlcalcError(f"{name} is required ({allowed}), got an empty cell", name)
        return default
    if isinstance(value, (list, tuple)):
        raise _range_error(name)
    if isinstance(value, str):
        _check_length(name, value)
    return value


def _range_error(name: str) -> XlcalcError:
    return XlcalcError(f"{name} must be a single value, got a range of several cells", name)


def _text(name: str, value, default=None) -> str:
    """A text argument, stripped; an empty or blank cell takes the default."""
    if type(value) is str and len(value) <= MAX_TEXT:
        text = value.strip()
        if text:
            return text
    value = _scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise XlcalcError(f"{name} is required (a text), got an empty cell", name)
        return default
    if isinstance(value, (list, tuple)):
        raise _range_error(name)
    if not isinstance(value, str):
        raise invalid(name, value, "a text")
    _check_length(name, value)
    return value.strip()


def _choice(name: str, value, options, default=None) -> str:
    if default is None and _empty(value):
        raise XlcalcError(f"{name} is required ({' or '.join(options)}), got an empty cell",
                          name)
    text = _text(name, value, default).lower()
    if text not in options:
        raise unknown_choice(name, text, options)
    return text


def _memory(value_bytes, unit):
    """Bytes in the unit of a cell (``GB`` when empty; checked after the value): a unit
    spelled as listed is one dictionary read, any other spelling unit_factor's."""
    factor = MEMORY_UNITS.get(unit) if type(unit) is str else None
    if factor is None:
        factor = unit_factor(_text("unit", unit, "GB"))
    return value_bytes / factor


def _display(value_si, unit: str):
    """An SI value (seconds, FLOPs) in a display unit of :mod:`xlcalc.units` (``ms``)."""
    return value_si / display_factor(unit)


def _table(header, rows):
    return [list(header)] + [list(r) for r in rows]


def _serving(nodes, **given):
    """Graph nodes of a serving plan: the given inputs, every other serving input at its
    documented default (:data:`xlcalc.serving.SERVING_DEFAULTS`, the engine's and the GPU
    family's), as the serving API fills them."""
    return estimate(nodes, **_inputs(given))


def _training(nodes, **given):
    """Graph nodes of a training plan, every other training input at its glossary
    default, as :mod:`xlcalc.training` fills them."""
    load_all()      # the training terms are registered by their formula modules
    ctx = {n: TERMS[n].default for n in TRAINING_DEFAULTS}
    ctx.update((k, v) for k, v in given.items() if v is not None)
    return estimate(nodes, **ctx)


# -------------------------------------------------------------- the catalogue
#
# Names and argument orders are the public interface (issue 5); the functions are
# registered, and listed in CATALOGUE, in the order, the extra ones after them.

_PARAM_PARTS = ("total", "active", "embedding", "attention", "mlp", "norm", "lm_head",
                "non_embedding")


@excel_function(docs={"part": "total (default), active, embedding, attention, mlp, norm, "
                              "lm_head or non_embedding"})
def LLM_PARAMS(model, part="total"):
    """Parameters of a model (or one part of them), as transformers counts them."""
    part = _choice("part", part, _PARAM_PARTS, "total")
    return float(params(_model(model))[part])


_MODEL_TEXT_FIELDS = ("model_type", "architecture", "name", "source")


@excel_function(docs={"field": "hidden_size, num_layers, num_heads, num_kv_heads, head_dim, "
                               "intermediate_size, vocab_size, max_position_embeddings, "
                               "num_experts, experts_per_token, model_type, architecture …"})
def LLM_MODEL(model, field):
    """An architecture field of a model (normalised config.json)."""
    m = _model(model)
    typed = _text("field", field)
    field = typed.lower()
    if field in _MODEL_TEXT_FIELDS:
        return getattr(m, field)
    if field == "nominal_params":
        if m.nominal_params is None:
            raise XlcalcError(f"model {m.name!r} has no nominal_params (a preset's marketed "
                              "size); use LLM_PARAMS for the exact count", "field")
        return float(m.nominal_params)
    if field not in MODEL_FIELDS:
        raise unknown_choice("field", typed, MODEL_FIELDS + _MODEL_TEXT_FIELDS +
                             ("nominal_params",))
    return m.fields[field]


_MODEL_COLUMNS = ("model_type", "num_layers", "hidden_size", "num_heads", "num_kv_heads",
                  "head_dim", "intermediate_size", "vocab_size", "num_experts",
                  "max_position_embeddings")


@excel_function(spill=True)
def LLM_MODELS():
    """Table of the model presets with their main fields, parameter counts and Hub repo ids."""
    rows = []
    for name in preset_names():
        m = load_model(name)
        p = params(m)
        repos = m.config.get("xlcalc_hub_ids") or [""]
        rows.append([name, m.model_type, m.architecture] +
                    [m.fields[c] for c in _MODEL_COLUMNS[1:]] +
                    [float(p["total"]), float(p["active"]), repos[0]])
    return _table(("model", "model_type", "architecture") + _MODEL_COLUMNS[1:] +
                  ("params", "active_params", "hub_id"), rows)


_GPU_TEXT_FIELDS = ("full_name", "vendor", "source", "notes", "name", "checked", "aliases")


@excel_function(docs={"field": "memory_gb, memory_bytes_reported, memory_bandwidth_gb_per_s, "
                               "peak_tflops_fp32/tf32/fp16/bf16/fp8/fp4, peak_tops_int8, "
                               "scale_up_domain, intra_node_gb_per_s, inter_node_gb_per_s, "
                               "tdp_w; full_name, vendor, source, notes, checked, aliases; "
                               "source:FIELD"})
def GPU_SPEC(gpu, field):
    """A field of an accelerator preset (dense peaks; GB/s are gigabytes per second;
    memory_bytes_reported is the total the driver reports, the planning default)."""
    g = _gpu(gpu)
    typed = _text("field", field)
    field = typed.lower()
    if field.startswith("source:"):
        inner = field.split(":", 1)[1].strip()
        if inner not in GPU_FIELDS:
            raise unknown_choice("field", typed, [f"source:{f}" for f in GPU_FIELDS])
        return g.source_of(inner)
    if field in _GPU_TEXT_FIELDS:
        value = getattr(g, field)
        return ", ".join(value) if isinstance(value, tuple) else value
    if field not in GPU_FIELDS:
        raise unknown_choice("field", typed, GPU_FIELDS + _GPU_TEXT_FIELDS)
    value = g.fields[field]
    if value != value:
        raise XlcalcError(f"gpu {g.name!r} has no {field} (the part does not support it or "
                          "no figure is published)", "field")
    return value


@excel_function(spill=True)
def GPU_LIST():
    """Table of the accelerator presets (memory marketed and as reported, bandwidth, dense
    peaks, scale-up domain and links, TDP)."""
    rows = []
    for name in gpu_names():
        g = load_gpu(name)
        rows.append([name, g.full_name] + [g.fields[f] for f in GPU_FIELDS])
    return _table(("gpu", "full_name") + GPU_FIELDS, rows)


# ------------------------------------------------------------------------ memory

@excel_function()
def WEIGHTS_MEM(model, dtype="bf16", tp=1, pp=1, unit="GB"):
    """Weight memory per GPU (GB by default): the layers at dtype split tp ways, the
    busiest of pp pipeline stages (int4: half a byte plus group scales)."""
    v = _cell_weights(_model(model), _text("dtype", dtype, "bf16"), _number("tp", tp, 1),
                      _number("pp", pp, 1))
    return _memory(v, unit)


@excel_function()
def KV_CACHE(model, batch, seq_len, kv_dtype="bf16", tp=1, unit="GB"):
    """KV-cache memory per GPU for batch sequences of seq_len tokens (GB by default)."""
    v = _kv_cache_bytes(_model(model), _number("batch", batch), _number("seq_len", seq_len),
                        _text("kv_dtype", kv_dtype, "bf16"), _number("tp", tp, 1), 1)
    return _memory(v, unit)


@excel_function(docs={"part": "weights, kv_cache, activations, reserve or total (default)"})
def INFER_MEM(model, batch, seq_len, dtype="bf16", kv_dtype="bf16", tp=1, pp=1, part="total",
              unit="GB", gpu=None, engine="vllm"):
    """Inference memory per GPU (GB by default) for batch sequences of seq_len tokens as the
    engine (vllm by default) holds it: weights + KV cache (its pages) + activation peak +
    its reserve, or one of those parts (the engine's defaults for gpu, or its largest)."""
    parts = INFER_MEMORY_PARTS
    node = parts[_choice("part", part, parts, "total")]
    v = _serving((node,), model=_model(model), batch=_number("batch", batch),
                 seq_len=_number("seq_len", seq_len), dtype=_text("dtype", dtype, "bf16"),
                 kv_dtype=_text("kv_dtype", kv_dtype, "bf16"), tp=_number("tp", tp, 1),
                 pp=_number("pp", pp, 1), engine=_engine(engine),
                 gpu=None if _empty(gpu) else _gpu(gpu))[node]
    return _memory(v, unit)


_TRAIN_PLAN_DOCS = {
    "micro_batch": "sequences per micro-batch on one data-parallel rank (default: the "
                   "replica's whole share, no gradient accumulation)",
    "stack": "megatron (Megatron-LM / Transformer Engine, default) or hf (transformers' "
             "modules: Trainer, TRL, axolotl)",
    "attention": "flash (default), sdpa or eager",
    "cp": "context-parallel degree (default 1)",
    "ep": "expert-parallel degree (default 1)",
    "finetune": "full (default), lora or qlora",
    "lora_rank": "LoRA rank (default 16)",
    "offload": "none (default), optimizer (ZeRO-Offload) or optimizer+params",
}


def _train_plan(micro_batch=None, stack=None, attention=None, cp=None, ep=None, finetune=None,
                lora_rank=None, offload=None) -> dict:
    """The trailing plan arguments of the training functions, None where empty."""
    return dict(
        micro_batch=None if _empty(micro_batch) else _number("micro_batch", micro_batch),
        stack=None if _empty(stack) else _text("stack", stack),
        attention=None if _empty(attention) else _text("attention", attention),
        cp=None if _empty(cp) else _number("cp", cp),
        ep=None if _empty(ep) else _number("ep", ep),
        finetune=None if _empty(finetune) else _text("finetune", finetune),
        lora_rank=None if _empty(lora_rank) else _number("lora_rank", lora_rank),
        offload=None if _empty(offload) else _text("offload", offload))


@excel_function(docs={"part": "weights, adapters, master_weights, gradients, optimizer, "
                              "activations, reserve or total (default)",
                      "batch": "global batch: sequences per optimizer step, split over dp "
                               "replicas (a positive integer)", **_TRAIN_PLAN_DOCS})
def TRAIN_MEM(model, batch, seq_len, precision="bf16-mixed", optimizer="adamw", zero=0, dp=1,
              tp=1, pp=1, recompute="none", part="total", unit="GB", micro_batch=None,
              stack="megatron", attention="flash", cp=1, ep=1, finetune="full", lora_rank=16,
              offload="none"):
    """Training memory per GPU (GB by default) on the busiest GPU: weights, adapters, master
    weights, gradients, optimizer states, activations and reserve, or one of those parts."""
    parts = TRAIN_MEMORY_PARTS
    node = parts[_choice("part", part, parts, "total")]
    v = _training((node,), model=_model(model), batch=_number("batch", batch),
                  seq_len=_number("seq_len", seq_len),
                  precision=_text("precision", precision, "bf16-mixed"),
                  optimizer=_text("optimizer", optimizer, "adamw"),
                  zero=_number("zero", zero, 0), dp=_number("dp", dp, 1),
                  tp=_number("tp", tp, 1), pp=_number("pp", pp, 1),
                  recompute=_text("recompute", recompute, "none"),
                  **_train_plan(micro_batch, stack, attention, cp, ep, finetune, lora_rank,
                                offload))[node]
    return _memory(v, unit)


_MEM_MODES = ("inference", "training")
_MEM_TABLE_DEFAULTS = {"dtype": "bf16", "kv_dtype": "bf16", "engine": SERVING_DEFAULTS["engine"],
                       "precision": "bf16-mixed", "optimizer": "adamw", "zero": 0.0, "dp": 1.0,
                       "recompute": "none"}


@excel_function(spill=True, docs={
    "mode": "inference (weights, KV cache, activations, reserve) or training (weights, "
            "master weights, gradients, optimizer, activations, reserve)",
    "batch": "sequences (the global batch when training; a positive integer)",
    "gpu": "optional accelerator preset name or two-column range: fills the share-of-GPU "
           "column",
    "dtype": "inference: storage type of the weights (default bf16)",
    "kv_dtype": "inference: storage type of the KV cache (default bf16)",
    "precision": "training: precision recipe (default bf16-mixed)",
    "optimizer": "training: optimizer (default adamw)",
    "zero": "training: ZeRO stage 0-3 (default 0)",
    "dp": "training: data-parallel degree (default 1)",
    "recompute": "training: none (default), selective or full",
    "engine": "inference: serving engine whose memory rules apply (default vllm)"})
def MEM_TABLE(model, mode, batch, seq_len, gpu=None, dtype="bf16", kv_dtype="bf16", tp=1,
              pp=1, precision="bf16-mixed", optimizer="adamw", zero=0, dp=1,
              recompute="none", engine="vllm"):
    """Memory breakdown per GPU as a table to spill: part, GB, share of the total and,
    with a gpu, share of its memory; the plan arguments are INFER_MEM's (inference, engine
    vllm unless named) and TRAIN_MEM's (training)."""
    mode = _choice("mode", mode, _MEM_MODES)
    m, g = _model(model), (None if _empty(gpu) else _gpu(gpu))
    b, s = _number("batch", batch), _number("seq_len", seq_len)
    tp, pp = _number("tp", tp, 1), _number("pp", pp, 1)
    infer = {"dtype": _text("dtype", dtype, "bf16"),
             "kv_dtype": _text("kv_dtype", kv_dtype, "bf16"), "engine": _engine(engine)}
    train = {"precision": _text("precision", precision, "bf16-mixed"),
             "optimizer": _text("optimizer", optimizer, "adamw"),
             "zero": _number("zero", zero, 0), "dp": _number("dp", dp, 1),
             "recompute": _text("recompute", recompute, "none")}
    other, other_mode = (train, "training") if mode == "inference" else (infer, "inference")
    for name, value in other.items():      # an argument of the other mode is never ignored
        if value != _MEM_TABLE_DEFAULTS[name]:
            raise XlcalcError(f"{name} applies to mode {other_mode} only; leave it empty in "
                              f"mode {mode}, got {_show_arg(value)}", name)
    if mode == "inference":
        parts = INFER_MEMORY_PARTS
        values = inference_memory(m, b, s, infer["dtype"], infer["kv_dtype"], tp, pp, gpu=g,
                                  engine=infer["engine"])
    else:
        parts = TRAIN_MEMORY_PARTS
        values = train_memory(m, b, s, train["precision"], train["optimizer"], train["zero"],
                              train["dp"], tp, pp, train["recompute"])
    gpu_bytes = None if g is None else estimate(("gpu_memory_bytes",), gpu=g)["gpu_memory_bytes"]
    total = float(values["total"])
    rows = []
    for label in parts:
        v = float(values[label])
        rows.append([label, _memory(v, "GB"), v / total if total > 0 else None,
                     None if gpu_bytes is None else v / gpu_bytes])
    return _table(("part", "GB", "share of total", "share of GPU"), rows)


# ------------------------------------------------------------------------- FLOPs

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
    if _empty(seq_len):
        return estimate((rule,), model=m, tokens=tokens)[rule]
    return estimate((exact,), model=m, tokens=tokens,
                    seq_len=_number("seq_len", seq_len))[exact]


# ----------------------------------------------------------------------- latency

_MFU = SERVING_DEFAULTS["mfu"]      # 0: the calibrated efficiencies
_BW_EFF = SERVING_DEFAULTS["bw_eff"]   # 0: the GPU family's, times the engine's share


@excel_function()
def PREFILL_MS(model, gpu, batch, prompt_len, dtype="bf16", tp=1, mfu=_MFU,
               compute_dtype="auto", engine="vllm"):
    """Time to first token in ms: the prefill of batch prompts of prompt_len tokens on tp
    GPUs, max(compute, memory) plus tensor-parallel traffic and the engine's overheads;
    compute on the GPU family's calibrated curve unless mfu > 0 (engine vllm unless named)."""
    v = prefill_time(_model(model), _gpu(gpu), _number("batch", batch),
                     _number("prompt_len", prompt_len), tp=_number("tp", tp, 1),
                     dtype=_text("dtype", dtype, "bf16"), mfu=_number("mfu", mfu, _MFU),
                     compute_dtype=_text("compute_dtype", compute_dtype, "auto"),
                     engine=_engine(engine))
    return _display(v, "ms")


@excel_function()
def DECODE_MS(model, gpu, batch, context_len, dtype="bf16", kv_dtype="bf16", tp=1,
              bw_eff=_BW_EFF, compute_dtype="auto", engine="vllm"):
    """Time per output token in ms: one decode step of batch sequences attending to
    context_len tokens, max(compute, weights + KV read at bw_eff of HBM; 0 or empty:
    calibrated) plus traffic and the engine's step overhead (vllm unless named)."""
    v = decode_step(_model(model), _gpu(gpu), _number("batch", batch),
                    _number("context_len", context_len), tp=_number("tp", tp, 1),
                    dtype=_text("dtype", dtype, "bf16"),
                    kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                    bw_eff=_optional("bw_eff", bw_eff),
                    compute_dtype=_text("compute_dtype", compute_dtype, "auto"),
                    engine=_engine(engine))["step_s"]
    return _display(v, "ms")


def _latency(model, gpu, batch, prompt_len, output_len, dtype, kv_dtype, tp, mfu, bw_eff,
             compute_dtype, engine):
    return inference_latency(_model(model), _gpu(gpu), _number("batch", batch),
                             _number("prompt_len", prompt_len),
                             _number("output_len", output_len), tp=_number("tp", tp, 1),
                             dtype=_text("dtype", dtype, "bf16"),
                             kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                             mfu=_number("mfu", mfu, _MFU),
                             bw_eff=_optional("bw_eff", bw_eff),
                             compute_dtype=_text("compute_dtype", compute_dtype, "auto"),
                             engine=_engine(engine))


@excel_function()
def GEN_SECONDS(model, gpu, batch, prompt_len, output_len, dtype="bf16", kv_dtype="bf16", tp=1,
                mfu=_MFU, bw_eff=_BW_EFF, compute_dtype="auto", engine="vllm"):
    """End-to-end latency in seconds: prefill plus every decode step as the context grows
    from prompt_len to prompt_len + output_len."""
    return float(_latency(model, gpu, batch, prompt_len, output_len, dtype, kv_dtype, tp, mfu,
                          bw_eff, compute_dtype, engine)["e2e_s"])


@excel_function()
def TOKENS_PER_S(model, gpu, batch, prompt_len, output_len, dtype="bf16",
                 kv_dtype="bf16", tp=1, mfu=_MFU, bw_eff=_BW_EFF, compute_dtype="auto",
                 engine="vllm"):
    """Generated tokens per second for the batch: batch × output_len / GEN_SECONDS."""
    return float(_latency(model, gpu, batch, prompt_len, output_len, dtype, kv_dtype, tp, mfu,
                          bw_eff, compute_dtype, engine)["tokens_per_s"])


# ---------------------------------------------------------------------- capacity

@excel_function(docs={"n_gpus": "GPUs serving one model replica with tensor parallelism "
                                "tp = n_gpus (a divisor of the attention heads)"},
                rename={"tp": "n_gpus"})
def MAX_BATCH(model, gpu, seq_len, dtype="bf16", kv_dtype="bf16", n_gpus=1, engine="vllm"):
    """Most concurrent sequences of seq_len tokens (prompt + output) that fit on n_gpus
    GPUs: their KV cache in what the engine leaves (vllm by default: 90 % of the reported
    memory less weights, profiled activations and reserve; 16-token blocks)."""
    return float(max_batch(_model(model), _gpu(gpu), _number("seq_len", seq_len),
                           n_gpus=_number("n_gpus", n_gpus, 1),
                           dtype=_text("dtype", dtype, "bf16"),
                           kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                           engine=_engine(engine)))


_GPUS_MODES = ("inference", "training")
#: GPUS_NEEDED's part: the GPU count or the split chosen (serving plans)
_GPUS_PARTS = {"gpus": "gpus_needed", "tp": "tp", "pp": "pp"}
#: GPUS_NEEDED in training mode: a storage dtype names its mixed-precision recipe
_TRAIN_RECIPE = {"bf16": "bf16-mixed", "fp16": "fp16-mixed", "fp32": "fp32"}


@excel_function(docs={
    "mode": "inference (default: tp × pp GPUs serving batch sequences of seq_len tokens) "
            "or training (model states fully sharded, batch = global batch)",
    "dtype": "weights' storage type (bf16 default); in training mode bf16, fp16 or fp32 "
             "(their mixed-precision recipes) or a precision recipe name",
    "part": "gpus (default: the fewest GPUs), or the split chosen for serving: tp "
            "(tensor-parallel degree) or pp (pipeline stages)"})
def GPUS_NEEDED(model, gpu, batch, seq_len, mode="inference", dtype="bf16", part="gpus",
                engine="vllm"):
    """Fewest GPUs whose memory holds the plan (0 when no split fits): serving searched
    over tensor × pipeline parallelism (part tp / pp: the split chosen), or training with
    ZeRO-3 sharding."""
    mode = _choice("mode", mode, _GPUS_MODES, "inference")
    part = _choice("part", part, tuple(_GPUS_PARTS), "gpus")
    m, g = _model(model), _gpu(gpu)
    b, s = _number("batch", batch), _number("seq_len", seq_len)
    dtype = _text("dtype", dtype, "bf16")
    if mode == "inference":
        return float(gpus_needed(m, g, b, s, dtype=dtype,
                                 engine=_engine(engine))[_GPUS_PARTS[part]])
    if part != "gpus":
        raise XlcalcError(f"part {part!r} needs mode inference (a training plan's GPUs are "
                          "data-parallel replicas)", "part")
    precision = _TRAIN_RECIPE.get(dtype.lower(), dtype)
    try:
        return float(train_gpus_needed(m, g, b, s, precision=precision))
    except XlcalcError as e:
        if e.argument != "precision":
            raise
        raise XlcalcError(f"dtype {dtype!r} in training mode must be bf16, fp16, fp32 or a "
                          f"precision recipe ({str(e).split(';')[-1].strip()})", "dtype") \
            from None


# ---------------------------------------------------------------------- training

_TRAIN_MFU = 0.0     # calibrated, as training.training_time's None (a test holds them equal)


def _training_time(model, tokens, gpu, n_gpus, mfu, recompute, precision, price=None,
                   goodput=None):
    return training_time(_model(model), _number("tokens", tokens), _gpu(gpu),
                         _number("n_gpus", n_gpus), mfu=_number("mfu", mfu, _TRAIN_MFU),
                         recompute=_text("recompute", recompute, "none"),
                         precision=_text("precision", precision, "bf16-mixed"),
                         price_per_gpu_hour=price,
                         goodput=None if _empty(goodput) else _number("goodput", goodput))


_TRAIN_TIME_DOCS = {
    "tokens": "training tokens (a positive number)",
    "mfu": "model FLOPs utilisation: achieved / the GPU's dense peak for the precision (a "
           "number in [0, 1]); 0 or empty (default): calibrated, the GPU family's GEMM "
           "plateau × the training step's share fitted on published runs",
    "precision": "training precision recipe: bf16-mixed (default), fp16-mixed, fp32, "
                 "megatron-distopt, fp8-delayed, fp8-current, fp8-block or mxfp8; it "
                 "picks the GPU's peak",
    "goodput": "share of the wall clock spent training (restarts, evaluation); default 0.9"}


@excel_function(docs=_TRAIN_TIME_DOCS)
def TRAIN_DAYS(model, tokens, gpu, n_gpus, mfu=_TRAIN_MFU, recompute="none",
               precision="bf16-mixed", goodput=0.9):
    """Training wall-clock days: 6·N·D FLOPs (8·N·D with full recomputation) over n_gpus
    GPUs at mfu of their dense peak (bf16 unless precision says otherwise), ÷ goodput.
    TRAIN_STEP with tokens gives the days of a parallel plan from its step time."""
    return float(_training_time(model, tokens, gpu, n_gpus, mfu, recompute, precision, None,
                                goodput)["days"])


# ------------------------------------------------------------------ communication

@excel_function(docs={"size_bytes": "bytes of the tensor being all-reduced (a positive "
                                    "number)",
                      "n": "ranks taking part (a positive integer)"},
                rename={"message_bytes": "size_bytes", "n_gpus": "n"})
def ALLREDUCE_BYTES(size_bytes, n):
    """Bytes each of n ranks sends in a ring all-reduce of size_bytes: 2(n − 1)/n × size."""
    return float(allreduce_bytes(_number("size_bytes", size_bytes), _number("n", n)))


@excel_function(docs={"bytes": "bytes to move (a positive number)",
                      "gbytes_per_s": "link bandwidth in GB/s (1e9 bytes per second; NVLink 4: "
                                      "450, 400 Gb/s InfiniBand: 50)",
                      "latency_us": "fixed start-up time in microseconds (a number >= 0); "
                                    "default 8 (the seeds' figure for a bare link)"},
                rename={"message_bytes": "bytes", "link_gb_per_s": "gbytes_per_s",
                        "link_latency_us": "latency_us"})
def COMM_MS(bytes, gbytes_per_s, latency_us=8.0):
    """Transfer time in ms: bytes / link bandwidth + start-up latency."""
    v = transfer_time(_number("bytes", bytes), _number("gbytes_per_s", gbytes_per_s),
                      link_latency_us=_number("latency_us", latency_us, 8.0))
    return _display(v, "ms")


@excel_function(docs={"tokens": "tokens per sequence in the pass: the prompt length for a "
                                "prefill, 1 for a decode step (a positive integer)",
                      "dtype": "weights' storage type (activations travel in 16 bits unless "
                               "fp32)"},
                rename={"seq_len": "tokens"})
def TP_COMM(model, batch, tokens, tp, dtype="bf16", unit="GB"):
    """Tensor-parallel all-reduce traffic each GPU sends for one pass through all layers
    (GB by default): two ring all-reduces of batch × tokens × hidden activations a layer."""
    v = tp_comm_bytes(_model(model), _number("batch", batch), _number("tokens", tokens),
                      _number("tp", tp), dtype=_text("dtype", dtype, "bf16"))
    return _memory(v, unit)


# ============================================================ beyond the catalogue

@excel_function()
def TPOT_MS(model, gpu, batch, prompt_len, output_len, dtype="bf16", kv_dtype="bf16", tp=1,
            mfu=_MFU, bw_eff=_BW_EFF, compute_dtype="auto", engine="vllm"):
    """Mean time per output token in ms after the first: (GEN_SECONDS − TTFT) /
    (output_len − 1), the decode steps averaged as the context grows."""
    v = _latency(model, gpu, batch, prompt_len, output_len, dtype, kv_dtype, tp, mfu,
                 bw_eff, compute_dtype, engine)["tpot_s"]
    return _display(float(v), "ms")


@excel_function(spill=True)
def LATENCY_TABLE(model, gpu, batch, prompt_len, output_len, dtype="bf16",
                  kv_dtype="bf16", tp=1, mfu=_MFU, bw_eff=_BW_EFF, compute_dtype="auto",
                  engine="vllm"):
    """Latency breakdown as a table to spill, times in ms: TTFT, TPOT, end-to-end,
    throughput, the prefill and decode parts, arithmetic intensities against the ridge
    point and the compute/memory verdicts."""
    values = _latency(model, gpu, batch, prompt_len, output_len, dtype, kv_dtype, tp, mfu,
                      bw_eff, compute_dtype, engine)
    rows = []
    for label, node in LATENCY_PARTS.items():
        value, unit = values[label], graph.node(node).unit
        if unit == "s":
            label, value, unit = label[:-2] + "_ms" if label.endswith("_s") else label, \
                _display(float(value), "ms"), "ms"
        rows.append([label, value, unit])
    return _table(("quantity", "value", "unit"), rows)


def _infer_fit(node, model, gpu, batch, seq_len, dtype, kv_dtype, tp, pp, engine):
    return _serving((node,), model=_model(model), gpu=_gpu(gpu), batch=_number("batch", batch),
                    seq_len=_number("seq_len", seq_len), dtype=_text("dtype", dtype, "bf16"),
                    kv_dtype=_text("kv_dtype", kv_dtype, "bf16"), tp=_number("tp", tp, 1),
                    pp=_number("pp", pp, 1), engine=_engine(engine))[node]


@excel_function()
def INFER_FITS(model, gpu, batch, seq_len, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
               engine="vllm"):
    """TRUE when INFER_MEM fits the engine's budget on the GPU (vllm by default: 90 % of
    the memory the driver reports)."""
    return bool(_infer_fit("infer_fits", model, gpu, batch, seq_len, dtype, kv_dtype, tp, pp,
                           engine))


@excel_function()
def INFER_HEADROOM(model, gpu, batch, seq_len, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
                   unit="GB", engine="vllm"):
    """Memory left per GPU (GB by default) within the engine's budget (vllm by default: 90 %
    of its memory) after INFER_MEM: negative when the plan does not fit."""
    v = _infer_fit("infer_headroom_bytes", model, gpu, batch, seq_len, dtype, kv_dtype, tp, pp,
                   engine)
    return _memory(v, unit)


_CAPACITY_PARTS = ("nodes_needed", "replicas_needed", "max_sequences", "num_blocks",
                   "kv_tokens", "max_concurrency_vllm")


@excel_function(docs={"seq_len": "tokens per sequence: prompt + output (a positive integer)",
                      "part": "nodes_needed (default), replicas_needed, max_sequences (per "
                              "replica), num_blocks, kv_tokens or max_concurrency_vllm"})
def CAPACITY(model, gpu, seq_len, concurrent_users, dtype="bf16", kv_dtype="bf16", tp=1,
             part="nodes_needed", engine="vllm"):
    """Serving capacity for concurrent users in the engine's KV budget (vllm by default):
    nodes (of 8 GPUs) or replicas of tp GPUs needed, or the sequences, KV blocks and tokens
    one replica holds."""
    part = _choice("part", part, _CAPACITY_PARTS, "nodes_needed")
    tp = _number("tp", tp, 1)
    values = serving_capacity(_model(model), _gpu(gpu), _number("seq_len", seq_len),
                              tp=tp, dtype=_text("dtype", dtype, "bf16"),
                              kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                              concurrent_users=_number("concurrent_users", concurrent_users),
                              engine=_engine(engine))
    if not values["fits"] and part in ("nodes_needed", "replicas_needed"):
        # no number of nodes serves a plan whose replica holds no sequence: say so
        return _clip(f"#N/A does not fit: not one sequence of {_show_arg(seq_len)} tokens "
                     f"fits on tp={_show_arg(tp)} GPU(s) beside the weights (KV budget "
                     f"{values['kv_budget'] / 1e9:.4g} GB per GPU); raise tp or use a larger "
                     "GPU")
    return float(values[part])


@excel_function()
def KV_PER_TOKEN(model, kv_dtype="bf16", tp=1, unit="GB"):
    """KV-cache memory one token adds on one GPU across all layers (GB by default; try
    "MB")."""
    v = kv_cache_bytes_per_token(_model(model), kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                                 tp=_number("tp", tp, 1))
    return _memory(v, unit)


@excel_function()
def CHINCHILLA_TOKENS(model):
    """Compute-optimal training tokens (Hoffmann et al. 2022): about 20 per parameter."""
    return estimate(("chinchilla_tokens",), model=_model(model))["chinchilla_tokens"]


@excel_function(docs=_TRAIN_TIME_DOCS)
def TRAIN_GPU_HOURS(model, tokens, gpu, n_gpus, mfu=_TRAIN_MFU, recompute="none",
                    precision="bf16-mixed", goodput=0.9):
    """GPU-hours of a training run: n_gpus × the hours of TRAIN_DAYS."""
    return float(_training_time(model, tokens, gpu, n_gpus, mfu, recompute, precision, None,
                                goodput)["gpu_hours"])


@excel_function(docs=_TRAIN_TIME_DOCS)
def TRAIN_COST(model, tokens, gpu, n_gpus, price_per_gpu_hour, mfu=_TRAIN_MFU,
               recompute="none", precision="bf16-mixed", goodput=0.9):
    """Cost of a training run: TRAIN_GPU_HOURS × price per GPU-hour."""
    price = _number("price_per_gpu_hour", price_per_gpu_hour)
    return float(_training_time(model, tokens, gpu, n_gpus, mfu, recompute, precision,
                                price, goodput)["cost"])


@excel_function(docs={"batch": "global batch of the measured iteration (a positive integer)"})
def TRAIN_MFU(model, batch, seq_len, iteration_time_s, gpu, n_gpus, precision="bf16-mixed"):
    """Model FLOPs utilisation of a measured training iteration: Megatron's model FLOPs /
    (seconds × GPUs × dense peak)."""
    return float(mfu_from_iteration(_model(model), _number("batch", batch),
                                    _number("seq_len", seq_len),
                                    _number("iteration_time_s", iteration_time_s), _gpu(gpu),
                                    _number("n_gpus", n_gpus),
                                    precision=_text("precision", precision, "bf16-mixed")))


@excel_function(spill=True, docs={
    "batch": "global batch: sequences per optimizer step (a positive integer)",
    "precision": _TRAIN_TIME_DOCS["precision"], "zero": "ZeRO stage 0-3 (default 0)",
    "dp": "data-parallel degree (default 1)", **_TRAIN_PLAN_DOCS,
    "vp": "model chunks per GPU of the interleaved pipeline (default 1)",
    "tokens": "optional training tokens: adds the whole run's steps, days and GPU-hours on "
              "dp·tp·pp·cp GPUs",
    "goodput": _TRAIN_TIME_DOCS["goodput"]})
def TRAIN_STEP(model, gpu, batch, seq_len, precision="bf16-mixed", zero=0, dp=1, tp=1, pp=1,
               recompute="none", micro_batch=None, stack="megatron", attention="flash", cp=1,
               ep=1, vp=1, tokens=None, goodput=0.9):
    """One optimizer step as it runs, as a table to spill (quantity, value, unit): compute,
    bubble, communication by kind and exposed, step time, tokens/s per GPU, MFU; with
    tokens also the run's steps, days and GPU-hours."""
    # the arguments TRAIN_MEM also has come in TRAIN_MEM's order (one row of plan cells)
    extra = _train_plan(micro_batch, stack, attention, cp, ep)
    plan = dict(micro_batch=extra["micro_batch"], dp=_number("dp", dp, 1),
                tp=_number("tp", tp, 1), pp=_number("pp", pp, 1), vp=_number("vp", vp, 1),
                cp=extra["cp"] or 1, ep=extra["ep"] or 1, zero=_number("zero", zero, 0),
                precision=_text("precision", precision, "bf16-mixed"),
                recompute=_text("recompute", recompute, "none"),
                stack=extra["stack"] or "megatron", attention=extra["attention"] or "flash")
    model, gpu = _model(model), _gpu(gpu)
    batch, seq_len = _number("batch", batch), _number("seq_len", seq_len)
    s = training_step(model, gpu, batch, seq_len, **plan)
    rows = [[k, float(v), TRAIN_STEP_UNITS.get(k, "s")] for k, v in s.items()]
    if not _empty(tokens):
        n_gpus = plan["dp"] * plan["tp"] * plan["pp"] * plan["cp"]
        run = training_time(model, _number("tokens", tokens), gpu, n_gpus, batch=batch,
                            seq_len=seq_len,
                            goodput=None if _empty(goodput) else _number("goodput", goodput),
                            **plan)
        rows += [["steps", float(run["steps"]), ""], ["days", float(run["days"]), "days"],
                 ["gpu_hours", float(run["gpu_hours"]), "GPU-hours"]]
    return _table(("quantity", "value", "unit"), rows)


# ------------------------------------------------------------------------ roofline

@excel_function(docs={"gemm_m": "rows of the left matrix [M, K]: tokens (the decode batch, or "
                                "batch × sequence)",
                      "gemm_n": "columns of the right matrix [K, N]: the output width",
                      "gemm_k": "the inner dimension: the input width (hidden / tp)"})
def GEMM_MS(gemm_m, gemm_n, gemm_k, gpu, dtype="bf16", mfu=_MFU, bw_eff=_BW_EFF,
            engine="vllm"):
    """Roofline time in ms of one GEMM [M,K]·[K,N]: max(2MNK FLOPs on the GPU family's
    calibrated curve by size (at mfu when > 0), (MK + KN + MN) × dtype bytes at bw_eff of
    HBM (empty: calibrated))."""
    v = gemm_roofline(_number("gemm_m", gemm_m), _number("gemm_n", gemm_n),
                      _number("gemm_k", gemm_k), _gpu(gpu), dtype=_text("dtype", dtype, "bf16"),
                      mfu=_number("mfu", mfu, _MFU), bw_eff=_optional("bw_eff", bw_eff),
                      engine=_engine(engine))
    return _display(v["time_s"], "ms")


@excel_function()
def CRITICAL_BATCH(model, gpu, context_len, dtype="bf16", kv_dtype="bf16", tp=1, mfu=_MFU,
                   bw_eff=_BW_EFF, engine="vllm"):
    """Sequences per decode step at which decode turns compute-bound at context_len
    tokens (0 when the KV reads keep it memory-bound at any batch); calibrated
    efficiencies unless mfu/bw_eff are given."""
    v = critical_batch(_model(model), _gpu(gpu), _number("context_len", context_len),
                       tp=_number("tp", tp, 1), dtype=_text("dtype", dtype, "bf16"),
                       kv_dtype=_text("kv_dtype", kv_dtype, "bf16"),
                       mfu=_number("mfu", mfu, _MFU), bw_eff=_optional("bw_eff", bw_eff),
                       engine=_engine(engine))
    return float(v["critical_batch"])


@excel_function(spill=True, docs={"example": "name of a worked example (omit it for the list "
                                             "of examples)"})
def SEED_CHECK(example=None):
    """A worked example of the source tutorials as a table to spill: each figure the
    tutorial prints beside the value xlcalc computes, the status and why they differ."""
    if _empty(example):
        return _table(("example", "title", "seed", "figures"),
                      [[name, ex.title, ex.seed, len(ex.figures)]
                       for name, ex in examples().items()])
    frame = compare(_text("example", example))
    return _table(frame.columns, frame.itertuples(index=False))


# serving decisions (SERVE, SERVING_PLAN, COST_PER_M_TOKENS) register themselves here
from .udfs_sizing import *  # noqa: E402,F401,F403

#: ``from xlcalc.udfs import *`` (xlwings Lite's main.py) brings exactly the Excel functions
__all__ = list(CATALOGUE)
