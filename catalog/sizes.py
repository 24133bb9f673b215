"""Byte counts for people: `1.5 GiB` out, `16MiB` in."""

from __future__ import annotations

MiB = 1024 * 1024
UNITS = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB, "t": 1024**4}


def human_bytes(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def parse_size(text: str) -> int:
    """`16MiB`, `16M`, `512k`, `1048576` -> bytes; ValueError for anything else."""
    clean = text.strip().lower().removesuffix("/s").removesuffix("ib").removesuffix("b")
    unit = clean[-1:] if clean[-1:] in UNITS and clean[-1:] else ""
    try:
        value = int(float(clean.removesuffix(unit)) * UNITS[unit])
    except ValueError:
        raise ValueError(f"{text!r} is not a size such as 16MiB or 1048576") from None
    if value <= 0:
        raise ValueError(f"{text!r} must be positive")
    return value
