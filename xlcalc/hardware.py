"""Accelerators as data: one JSON file per GPU in ``xlcalc/presets/gpus/``.

Every field states its unit in its name (GB/s is gigabytes per second; network
links quoted in Gb/s are converted in the file's ``notes``).  Peaks are *dense*
(vendors often print the 2:4-sparsity figure, twice as high); a dtype the part
does not support is ``null`` in the file and NaN here, and using it is an error.
Memory is the marketed capacity in GB (1e9 bytes); the HBM behind "80 GB" is
80 GiB, so real capacity is ~7 % above what xlcalc plans with (conservative).
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from .errors import XlcalcError, checked_keywords, invalid, unknown_choice

__all__ = ["Accelerator", "load_gpu", "gpu_names", "GPU_FIELDS", "gpus_table", "DTYPES",
           "dtypes_table", "dtype_bytes"]

PRESET_DIR = Path(__file__).parent / "presets" / "gpus"
DTYPES_FILE = Path(__file__).parent / "presets" / "dtypes.json"

#: Numeric accelerator fields (units in the names).
GPU_FIELDS = (
    "memory_gb", "memory_bandwidth_gb_per_s", "peak_tflops_fp32", "peak_tflops_tf32",
    "peak_tflops_fp16", "peak_tflops_bf16", "peak_tflops_fp8", "peak_tops_int8",
    "intra_node_gb_per_s", "inter_node_gb_per_s",
)
_REQUIRED = ("memory_gb", "memory_bandwidth_gb_per_s", "peak_tflops_fp16")


@dataclass(frozen=True, eq=False)
class Accelerator:
    """One accelerator; ``gpu["memory_gb"]`` is a float (NaN where unsupported)."""
    name: str
    fields: dict
    full_name: str = ""
    vendor: str = ""
    source: str = ""
    notes: str = ""

    def __getitem__(self, field: str) -> float:
        try:
            return self.fields[field]
        except KeyError:
            raise unknown_choice("gpu field", field, self.fields) from None

    def __getattr__(self, field):
        fields = self.__dict__.get("fields")
        if fields is not None and field in fields:
            return fields[field]
        raise AttributeError(field)

    def __repr__(self):
        return f"Accelerator({self.name!r}, {self.fields['memory_gb']:g} GB)"


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple:
    """Names of the shipped accelerator presets."""
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.lru_cache(maxsize=None)
def _preset(name: str) -> Accelerator:
    data = json.loads((PRESET_DIR / f"{name}.json").read_text())
    return _from_mapping(data, name)


@checked_keywords
def load_gpu(spec) -> Accelerator:
    """An :class:`Accelerator` from a preset name (case-insensitive), a dict of
    fields, or ``[field, value]`` rows (a ``preset`` row starts from a preset)."""
    if isinstance(spec, Accelerator):
        return spec
    if isinstance(spec, str):
        name = spec.strip().lower()
        if name in gpu_names():
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
    merged = {**start.fields, "name": f"{start.name} (modified)" if data else start.name,
              "full_name": start.full_name, "vendor": start.vendor, "source": start.source,
              "notes": start.notes}
    merged.update(data)
    return _from_mapping(merged, merged["name"])


def _from_mapping(data: dict, name: str) -> Accelerator:
    unknown = set(data) - set(GPU_FIELDS) - {"name", "full_name", "vendor", "source", "notes"}
    if unknown:
        raise unknown_choice("gpu field", sorted(unknown)[0], GPU_FIELDS)
    fields = {}
    for key in GPU_FIELDS:
        value = data.get(key)
        if value is None:
            if key in _REQUIRED:
                raise XlcalcError(f"gpu {name!r} is missing {key!r}", "gpu")
            fields[key] = math.nan
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not math.isfinite(value) or value <= 0:
            raise invalid(key, value, "a positive number")
        fields[key] = float(value)
    return Accelerator(str(name), fields, str(data.get("full_name") or name),
                       str(data.get("vendor") or ""), str(data.get("source") or ""),
                       str(data.get("notes") or ""))


def gpus_table():
    """The accelerator presets as a DataFrame indexed by name."""
    import pandas as pd
    frame = pd.DataFrame.from_dict(
        {n: {"full_name": _preset(n).full_name, **_preset(n).fields} for n in gpu_names()},
        orient="index")
    frame.index.name = "gpu"
    return frame


@functools.lru_cache(maxsize=1)
def _dtypes() -> dict:
    return {d["name"]: d for d in json.loads(DTYPES_FILE.read_text())}


def DTYPES() -> tuple:
    """Names of the supported storage/compute types."""
    return tuple(_dtypes())


@checked_keywords
def dtype_bytes(dtype: str) -> float:
    """Bytes per element of a dtype name (``int4`` is 0.5)."""
    if not isinstance(dtype, str) or dtype.strip().lower() not in _dtypes():
        raise unknown_choice("dtype", dtype, _dtypes())
    return float(_dtypes()[dtype.strip().lower()]["bytes"])


def dtypes_table():
    """The dtypes as a DataFrame indexed by name (bytes, peak_field, note)."""
    import pandas as pd
    frame = pd.DataFrame.from_dict(_dtypes(), orient="index").drop(columns="name")
    frame.index.name = "dtype"
    return frame
