"""Units: SI inside, GB (1e9) and GiB (2^30) both offered and never confused.

Memory results are bytes in Python; faces display GB (1e9 bytes) by default, as the
seeds do (DESIGN.md principle 7).
"""

from __future__ import annotations

from .errors import unknown_choice

#: bytes per unit, decimal and binary
MEMORY_UNITS = {
    "B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KiB": 2.0 ** 10, "MiB": 2.0 ** 20, "GiB": 2.0 ** 30, "TiB": 2.0 ** 40,
}
_BY_LOWER = {k.lower(): k for k in MEMORY_UNITS}


def unit_factor(unit: str) -> float:
    """Bytes in one ``unit`` (case-insensitive: ``gib`` is GiB, ``gb`` is GB)."""
    factor = MEMORY_UNITS.get(unit) if type(unit) is str else None
    if factor is not None:            # spelled as listed (the common case)
        return factor
    key = _BY_LOWER.get(unit.strip().lower()) if isinstance(unit, str) else None
    if key is None:
        raise unknown_choice("unit", unit, MEMORY_UNITS)
    return MEMORY_UNITS[key]


def to_unit(value_bytes, unit: str = "GB"):
    """Convert bytes to ``unit`` (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)."""
    return value_bytes / unit_factor(unit)

#: display units of every quantity, as (SI unit, factor): value_in_unit = si / factor
DISPLAY_UNITS = {
    **{u: ("bytes", f) for u, f in MEMORY_UNITS.items()},
    "s": ("s", 1.0), "ms": ("s", 1e-3), "us": ("s", 1e-6), "min": ("s", 60.0),
    "h": ("s", 3600.0), "days": ("s", 86400.0),
    "FLOPs": ("FLOPs", 1.0), "GFLOPs": ("FLOPs", 1e9), "TFLOPs": ("FLOPs", 1e12),
    "PFLOPs": ("FLOPs", 1e15), "EFLOPs": ("FLOPs", 1e18), "ZFLOPs": ("FLOPs", 1e21),
    "million": ("count", 1e6), "billion": ("count", 1e9),
}


def display_factor(unit: str) -> float:
    """SI units in one display ``unit`` (``GB`` 1e9 bytes, ``ms`` 1e-3 s, ``TFLOPs`` 1e12);
    units not listed here (``tokens/s``, ``GPUs``, ``%``) are shown as computed (1)."""
    if unit in DISPLAY_UNITS:
        return DISPLAY_UNITS[unit][1]
    return 1.0
