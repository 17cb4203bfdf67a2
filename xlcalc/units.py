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
    key = _BY_LOWER.get(unit.strip().lower()) if isinstance(unit, str) else None
    if key is None:
        raise unknown_choice("unit", unit, MEMORY_UNITS)
    return MEMORY_UNITS[key]


def to_unit(value_bytes, unit: str = "GB"):
    """Convert bytes to ``unit`` (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)."""
    return value_bytes / unit_factor(unit)
