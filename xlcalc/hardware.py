"""Accelerators as data: one JSON file per part in ``xlcalc/presets/gpus/``.

Every field states its unit in its name: GB/s is gigabytes per second (network links
sold in Gb/s are converted in the file's ``sources``), ``tdp_w`` watts,
``memory_bytes_reported`` bytes.  Peaks are *dense* (vendors often print the 2:4-sparsity
figure, twice as high).  A peak the part does not have is ``null`` in the file and NaN in
:attr:`Accelerator.fields`: not supported for that compute dtype, an error only when a
plan computes in it, never a value that poisons an override.

Memory comes in two fields.  ``memory_gb`` is the marketed size ("80 GB"; the HBM behind
it is 80 GiB); ``memory_bytes_reported`` is the total the driver reports
(``cudaMemGetInfo``/``torch.cuda.mem_get_info``, ``hipMemGetInfo``, torch_npu, JAX
``bytes_limit``) — what engines budget from, so it is the planning default
(:func:`xlcalc.formulas.hardware.gpu_memory_bytes`).  Changing ``memory_gb`` in an override
without a reported figure plans with the marketed size.

Besides the numbers each file carries its ``family`` (the architecture: ``hopper``,
``cdna3`` …, which keys the calibrated efficiencies of ``presets/efficiency``),
``aliases`` (the names people type: ``H100``, ``MI300X``), ``sources`` (one per field
where it differs from the main ``source``) and a ``confidence`` note with the range
wherever sources disagree.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import XlcalcError, checked_keywords, invalid, unknown_choice
from .formats import DTYPES, dtype_bytes, dtypes_table

__all__ = ["Accelerator", "load_gpu", "gpu_names", "gpu_aliases", "canonical_gpu_name",
           "GPU_FIELDS", "DERIVED_GPU_FIELDS", "GPU_UNITS", "gpus_table", "DTYPES",
           "GPU_TEXT_LOOKUPS", "GENERIC_FAMILY",
           "dtypes_table", "dtype_bytes"]

PRESET_DIR = Path(__file__).parent / "presets" / "gpus"

#: Numeric accelerator fields (units in the names), in display order.
GPU_FIELDS = (
    "memory_gb", "memory_bytes_reported", "memory_bandwidth_gb_per_s",
    "peak_tflops_fp32", "peak_tflops_tf32", "peak_tflops_fp16", "peak_tflops_bf16",
    "peak_tflops_fp8", "peak_tops_int8", "peak_tflops_fp4",
    "scale_up_domain", "intra_node_gb_per_s", "inter_node_gb_per_s", "tdp_w",
)

#: Fields computed from the others (never given): the best 16-bit dense peak, which the
#: ``auto`` compute dtype falls back to (bf16, or fp16 on parts without bf16).
DERIVED_GPU_FIELDS = ("peak_tflops_16bit",)

#: Unit of each field (lookup nodes and tables show it).
GPU_UNITS = {"memory_gb": "GB", "memory_bytes_reported": "bytes",
             "memory_bandwidth_gb_per_s": "GB/s", "peak_tops_int8": "TOP/s",
             "scale_up_domain": "GPUs", "intra_node_gb_per_s": "GB/s",
             "inter_node_gb_per_s": "GB/s", "tdp_w": "W", "peak_tflops_16bit": "TFLOP/s"}

_REQUIRED = ("memory_gb", "memory_bandwidth_gb_per_s")
_SIXTEEN_BIT = ("peak_tflops_bf16", "peak_tflops_fp16")
_TEXT = ("name", "full_name", "vendor", "family", "source", "notes", "checked")
#: Text fields a lookup may read like a number field (``gpu_family`` keys the calibrated
#: efficiencies of :mod:`xlcalc.formulas.efficiency`).
GPU_TEXT_LOOKUPS = ("family",)
#: The family of a part that names none (a custom accelerator): the efficiency table's
#: row of medians over the measured families.
GENERIC_FAMILY = "generic"
_DATA = ("aliases", "sources", "confidence", "scale_up_link", "scale_out_link")


@dataclass(frozen=True, eq=False)
class Accelerator:
    """One accelerator; ``gpu["memory_gb"]`` is a float (NaN where the part has no
    figure).  ``sources`` maps a field to its source where it is not ``source``;
    ``confidence`` maps a field to ``{"note": ..., "range": [lo, hi]}``."""
    name: str
    fields: dict
    full_name: str = ""
    vendor: str = ""
    source: str = ""
    notes: str = ""
    aliases: tuple = ()
    sources: dict = field(default_factory=dict)
    confidence: dict = field(default_factory=dict)
    checked: str = ""
    scale_up_link: dict = field(default_factory=dict)    # kind, gb_per_s_bidirectional
    scale_out_link: dict = field(default_factory=dict)   # kind, gbit_per_s, count
    family: str = GENERIC_FAMILY   # architecture (hopper, cdna3 …): keys the efficiencies

    def __getitem__(self, field_: str) -> float:
        try:
            return self.fields[field_]
        except KeyError:
            if field_ in GPU_TEXT_LOOKUPS:
                return getattr(self, field_)
            raise unknown_choice("gpu field", field_, self.fields) from None

    def lookup_row(self) -> dict:
        """What a lookup may read from this record: the number fields and the text fields
        of :data:`GPU_TEXT_LOOKUPS` (the compiled scalar plans read this mapping; kept
        after the first call, as the record never changes)."""
        row = self.__dict__.get("_lookup_row")
        if row is None:
            row = dict(self.fields, **{f: getattr(self, f) for f in GPU_TEXT_LOOKUPS})
            object.__setattr__(self, "_lookup_row", row)
        return row

    def __getattr__(self, field_):
        fields = self.__dict__.get("fields")
        if fields is not None and field_ in fields:
            return fields[field_]
        raise AttributeError(field_)

    def __repr__(self):
        return f"Accelerator({self.name!r}, {self.fields['memory_gb']:g} GB)"

    def source_of(self, field_: str) -> str:
        """Where the figure of ``field_`` comes from."""
        return self.sources.get(field_, self.source)


def _norm(text: str) -> str:
    """A typed name in canonical spelling: lower case, spaces/underscores as hyphens."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple:
    """Names of the shipped accelerator presets."""
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.lru_cache(maxsize=1)
def gpu_aliases() -> dict:
    """Every accepted spelling (normalised) -> preset name: the names themselves and the
    ``aliases`` listed in each file (``h100`` -> ``h100-sxm``)."""
    out = {}
    for name in gpu_names():
        out[name] = name
        for alias in _raw(name).get("aliases", ()):
            key = _norm(alias)
            if key in out and out[key] != name:
                raise RuntimeError(f"gpu alias {alias!r} names both {out[key]} and {name}")
            out[key] = name
    return out


def canonical_gpu_name(text: str) -> str | None:
    """The preset a typed name means (case-insensitive, aliases included), or None."""
    if not isinstance(text, str):
        return None
    return gpu_aliases().get(_norm(text))


@functools.lru_cache(maxsize=None)
def _raw(name: str) -> dict:
    return json.loads((PRESET_DIR / f"{name}.json").read_text())


@functools.lru_cache(maxsize=None)
def _preset(name: str) -> Accelerator:
    return _from_mapping(dict(_raw(name)), name)


@checked_keywords
def load_gpu(spec) -> Accelerator:
    """An :class:`Accelerator` from a preset name (case-insensitive, or an alias such as
    ``H100``), a dict of fields, or ``[field, value]`` rows (a ``preset`` row starts from
    a preset and the other rows override it)."""
    if isinstance(spec, Accelerator):
        return spec
    if isinstance(spec, str):
        name = canonical_gpu_name(spec)
        if name is not None:
            return _preset(name)
        raise unknown_choice("gpu", spec, gpu_names())
    if isinstance(spec, dict):
        return _with_preset(dict(spec))
    if isinstance(spec, (list, tuple)):
        data = {}
        for i, row in enumerate(spec):
            if not isinstance(row, (list, tuple)) or len(row) != 2:
                raise invalid("gpu", row, f"a [field, value] pair in row {i + 1}")
            key, value = row
            if key is None and value is None:
                continue
            if not isinstance(key, str):
                raise invalid("gpu", key, f"a text field name in row {i + 1}")
            data[key.strip()] = value
        if not data:
            raise invalid("gpu", spec, "at least one [field, value] row")
        return _with_preset(data)
    raise invalid("gpu", spec, "an accelerator preset name, a dict or [field, value] rows")


def _with_preset(data: dict) -> Accelerator:
    base = data.pop("preset", None)
    if base is None:
        return _from_mapping(data, data.get("name") or "custom")
    start = load_gpu(base)
    merged = {k: v for k, v in start.fields.items() if k not in DERIVED_GPU_FIELDS}
    merged.update(name=f"{start.name} (modified)" if data else start.name,
                  full_name=start.full_name, vendor=start.vendor, source=start.source,
                  notes=start.notes, checked=start.checked, sources=dict(start.sources),
                  confidence=dict(start.confidence), scale_up_link=dict(start.scale_up_link),
                  scale_out_link=dict(start.scale_out_link), family=start.family)
    if "memory_gb" in data and "memory_bytes_reported" not in data:
        # the driver's total belongs to the preset's memory size, not to the new one
        merged["memory_bytes_reported"] = None
    merged.update(data)
    return _from_mapping(merged, merged["name"])


def _number(key, value):
    """A field's value as float: None or NaN means "no figure" (NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or value <= 0:
        raise invalid(key, value, "a positive number")
    return float(value)


def _from_mapping(data: dict, name: str) -> Accelerator:
    unknown = set(data) - set(GPU_FIELDS) - set(_TEXT) - set(_DATA)
    if unknown:
        raise unknown_choice("gpu field", sorted(unknown)[0], GPU_FIELDS)
    fields = {key: _number(key, data.get(key)) for key in GPU_FIELDS}
    for key in _REQUIRED:
        if fields[key] != fields[key]:
            raise XlcalcError(f"gpu {name!r} is missing {key!r}", "gpu")
    sixteen = [fields[k] for k in _SIXTEEN_BIT if fields[k] == fields[k]]
    if not sixteen:
        raise XlcalcError(f"gpu {name!r} needs peak_tflops_bf16 or peak_tflops_fp16 (the "
                          "16-bit peak every plan can fall back to)", "gpu")
    fields["peak_tflops_16bit"] = max(sixteen)
    return Accelerator(str(name), fields, str(data.get("full_name") or name),
                       str(data.get("vendor") or ""), str(data.get("source") or ""),
                       str(data.get("notes") or ""), tuple(data.get("aliases") or ()),
                       dict(data.get("sources") or {}), dict(data.get("confidence") or {}),
                       str(data.get("checked") or ""), dict(data.get("scale_up_link") or {}),
                       dict(data.get("scale_out_link") or {}),
                       str(data.get("family") or GENERIC_FAMILY).strip().lower())


def gpus_table():
    """The accelerator presets as a DataFrame indexed by name (full name, family, numeric
    fields, the derived 16-bit peak, and the main source)."""
    import pandas as pd
    frame = pd.DataFrame.from_dict(
        {n: {"full_name": _preset(n).full_name, "family": _preset(n).family,
             **_preset(n).fields,
             "source": _preset(n).source} for n in gpu_names()},
        orient="index")
    frame.index.name = "gpu"
    return frame
