"""Number formats as data: how weights are stored, how the KV cache is stored, and which
dtype the kernels compute in (``xlcalc/presets/formats/*.json``).

A plan has three formats (DESIGN.md: categorical inputs are tables):

* ``dtype`` — the weights' **storage** format (table ``dtypes``): bits per weight of the
  format's blocks (values plus their scales and zero points), the tensors a GGUF ``_M`` mix
  keeps at more bits, the bits of the token embedding and the LM head, and the format's
  native compute dtype;
* ``kv_dtype`` — the KV cache's format (table ``kv_dtypes``): bits per element plus scale
  bytes per group (per head vector for int8), and MLA's split layout;
* ``compute_dtype`` — the dtype the matrix multiplications run in (table
  ``compute_dtypes``), which picks the accelerator's dense peak; ``auto`` takes the
  weights' native compute where the GPU has that peak and its best 16-bit peak otherwise.

Memory and the decode step read the storage bytes; prefill FLOP/s use the compute dtype's
peak.  The arithmetic on these columns lives in the formula graph
(:mod:`xlcalc.formulas.formats`); this module only loads the tables.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .errors import checked_keywords, unknown_choice

__all__ = ["DTYPES", "KV_DTYPES", "COMPUTE_DTYPES", "dtype_bytes", "dtypes_table",
           "kv_dtypes_table", "compute_dtypes_table", "FORMAT_TABLES"]

FORMAT_DIR = Path(__file__).parent / "presets" / "formats"

#: table name -> (file, the glossary input whose choices it lists)
FORMAT_TABLES = {
    "dtypes": ("weights.json", "dtype"),
    "kv_dtypes": ("kv_cache.json", "kv_dtype"),
    "compute_dtypes": ("compute.json", "compute_dtype"),
}


@functools.lru_cache(maxsize=None)
def _rows(table: str) -> dict:
    file, _ = FORMAT_TABLES[table]
    return {r["name"]: r for r in json.loads((FORMAT_DIR / file).read_text())}


def DTYPES() -> tuple:
    """Names of the weight storage formats (the ``dtype`` argument)."""
    return tuple(_rows("dtypes"))


def KV_DTYPES() -> tuple:
    """Names of the KV-cache formats (the ``kv_dtype`` argument)."""
    return tuple(_rows("kv_dtypes"))


def COMPUTE_DTYPES() -> tuple:
    """Names of the compute dtypes (the ``compute_dtype`` argument; ``auto`` first)."""
    return tuple(_rows("compute_dtypes"))


@checked_keywords
def dtype_bytes(dtype: str) -> float:
    """Bytes of one weight value of a storage format, scales not counted (``int4`` and
    ``nvfp4`` are 0.5; the seeds' 每参数字节数)."""
    rows = _rows("dtypes")
    if not isinstance(dtype, str) or dtype.strip().lower() not in rows:
        raise unknown_choice("dtype", dtype, rows)
    return rows[dtype.strip().lower()]["bits"] / 8


def _frame(table: str, index: str):
    import pandas as pd
    frame = pd.DataFrame.from_dict(_rows(table), orient="index").drop(columns="name")
    frame.index.name = index
    return frame


def dtypes_table():
    """Weight storage formats as a DataFrame indexed by name; ``bytes`` (= bits / 8, the
    value bytes without scales) is derived from ``bits``."""
    frame = _frame("dtypes", "dtype")
    frame.insert(0, "bytes", frame["bits"] / 8)
    return frame


def kv_dtypes_table():
    """KV-cache formats as a DataFrame indexed by name."""
    return _frame("kv_dtypes", "kv_dtype")


def compute_dtypes_table():
    """Compute dtypes as a DataFrame indexed by name (``peak_field``: the accelerator
    column that holds its dense peak)."""
    return _frame("compute_dtypes", "compute_dtype")
