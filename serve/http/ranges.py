"""The `Range` request header (RFC 9110 §14.1-14.2), parsed against a representation size.

Pure: no I/O. A syntactically invalid header is ignored (the server answers 200 with the
whole representation, §14.2); a valid header none of whose ranges overlaps the
representation is unsatisfiable (416, §15.5.17). Satisfiable ranges come back clamped to
the size, sorted and coalesced (§14.3 allows it), as `ByteRange` values with an exclusive end.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from catalog.store.base import ByteRange

MAX_RANGES = 100
"""More range specs than this and the header is ignored (a full 200), as Apache's MaxRanges."""

_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_OWS = " \t"


class RangeKind(enum.Enum):
    IGNORE = "ignore"
    PARTIAL = "partial"
    UNSATISFIABLE = "unsatisfiable"


@dataclass(frozen=True, slots=True)
class RangeRequest:
    kind: RangeKind
    ranges: tuple[ByteRange, ...] = ()


IGNORE = RangeRequest(RangeKind.IGNORE)
UNSATISFIABLE = RangeRequest(RangeKind.UNSATISFIABLE)


def parse_range(header: str | None, size: int) -> RangeRequest:
    """What a `Range: bytes=...` header asks of a representation of `size` bytes."""
    if header is None:
        return IGNORE
    unit, sep, spec_list = header.strip(_OWS).partition("=")
    if not sep or unit.strip(_OWS).lower() != "bytes":
        return IGNORE
    # §5.6.1: recipients accept and ignore empty list elements.
    items = [item.strip(_OWS) for item in spec_list.split(",")]
    specs = [item for item in items if item]
    if not specs or len(specs) > MAX_RANGES:
        return IGNORE
    wanted: list[ByteRange] = []
    for spec in specs:
        parsed = _parse_spec(spec)
        if parsed is None:
            return IGNORE
        clamped = _clamp(*parsed, size)
        if clamped is not None:
            wanted.append(clamped)
    if not wanted:
        return UNSATISFIABLE
    return RangeRequest(RangeKind.PARTIAL, coalesce(wanted))


def _parse_spec(spec: str) -> tuple[int | None, int | None] | None:
    """(first, last) of `first-last`, `first-` or `-suffix`; None when malformed."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        # §14.1.1 suffix-range: "-" suffix-length; a bare "-" is malformed.
        return (None, int(last_text)) if last_text else None
    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        return None  # §14.1.1: last-pos < first-pos makes the int-range invalid
    return first, last


def _clamp(first: int | None, last: int | None, size: int) -> ByteRange | None:
    """The satisfiable part of one spec, or None (§14.1.1 satisfiability)."""
    if first is None:
        assert last is not None
        if last == 0 or size == 0:
            return None
        return ByteRange(max(0, size - last), size)
    if first >= size:
        return None
    end = size if last is None else min(last + 1, size)
    return ByteRange(first, end)


def coalesce(ranges: list[ByteRange]) -> tuple[ByteRange, ...]:
    """Sorted ranges with overlapping and adjacent ones merged."""
    merged: list[ByteRange] = []
    for current in sorted(ranges, key=lambda r: (r.start, r.end)):
        if merged and current.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = ByteRange(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return tuple(merged)


def content_range(byte_range: ByteRange, size: int) -> str:
    """The `Content-Range` value of a partial response (§14.4)."""
    return f"bytes {byte_range.start}-{byte_range.end - 1}/{size}"


def unsatisfied_range(size: int) -> str:
    """The `Content-Range` value of a 416 response (§14.4)."""
    return f"bytes */{size}"
