"""The Range header parser, by table and by fuzzing against a byte-set model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.store.base import ByteRange
from serve.http.ranges import (
    MAX_RANGES,
    RangeKind,
    coalesce,
    content_range,
    parse_range,
    unsatisfied_range,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499", [(0, 500)]),
        ("bytes=500-999", [(500, 1000)]),
        ("bytes=500-", [(500, 1000)]),
        ("bytes=-500", [(500, 1000)]),
        ("bytes=-5000", [(0, 1000)]),
        ("bytes=990-5000", [(990, 1000)]),
        ("bytes=0-0", [(0, 1)]),
        ("bytes=999-999", [(999, 1000)]),
        ("bytes=0-0,-1", [(0, 1), (999, 1000)]),
        ("bytes=500-600,601-999", [(500, 1000)]),
        ("bytes=500-700,601-999", [(500, 1000)]),
        ("bytes=900-,0-9", [(0, 10), (900, 1000)]),
        ("BYTES=0-9", [(0, 10)]),
        ("bytes= 0-9 , 20-29 ", [(0, 10), (20, 30)]),
        ("bytes=0-9,,20-29", [(0, 10), (20, 30)]),
        ("bytes=0-9,2000-3000", [(0, 10)]),
        ("bytes=0000-0009", [(0, 10)]),
    ],
)
def test_a_satisfiable_range_is_clamped_sorted_and_coalesced(
    header: str, expected: list[tuple[int, int]]
) -> None:
    result = parse_range(header, SIZE)
    assert result.kind is RangeKind.PARTIAL
    assert [(r.start, r.end) for r in result.ranges] == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",
        "bytes=1000-2000",
        "bytes=-0",
        "bytes=5000-,6000-7000",
    ],
)
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    assert parse_range(header, SIZE).kind is RangeKind.UNSATISFIABLE


def test_any_range_of_an_empty_file_is_unsatisfiable() -> None:
    assert parse_range("bytes=0-", 0).kind is RangeKind.UNSATISFIABLE
    assert parse_range("bytes=-10", 0).kind is RangeKind.UNSATISFIABLE


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=abc",
        "bytes=5-4",
        "bytes=0-9,5-4",
        "bytes=1-2-3",
        "bytes=--5",
        "bytes=0x10-20",
        "bytes=1_0-20",
        "bytes=\u0661-5",
        "items=0-9",
        "bytes 0-9",
        "bytes=0 -9",
        "bytes=,",
    ],
)
def test_a_malformed_range_is_ignored(header: str | None) -> None:
    assert parse_range(header, SIZE).kind is RangeKind.IGNORE


def test_too_many_ranges_are_ignored_rather_than_served() -> None:
    header = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES + 1))
    assert parse_range(header, SIZE).kind is RangeKind.IGNORE
    allowed = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES))
    assert len(parse_range(allowed, SIZE).ranges) == MAX_RANGES


def test_content_range_values_name_inclusive_positions() -> None:
    assert content_range(ByteRange(0, 500), 1000) == "bytes 0-499/1000"
    assert unsatisfied_range(1000) == "bytes */1000"


def test_coalescing_merges_adjacent_and_contained_ranges() -> None:
    ranges = [ByteRange(10, 20), ByteRange(0, 5), ByteRange(5, 8), ByteRange(12, 15)]
    assert coalesce(ranges) == (ByteRange(0, 8), ByteRange(10, 20))


def _model_bytes(specs: list[tuple[int | None, int | None]], size: int) -> set[int]:
    """The byte positions the specs select, computed one position at a time."""
    chosen: set[int] = set()
    for first, last in specs:
        if first is None:
            assert last is not None
            chosen.update(p for p in range(size) if p >= size - last)
        else:
            top = size - 1 if last is None else last
            chosen.update(p for p in range(size) if first <= p <= top)
    return chosen


_spec = st.one_of(
    st.tuples(st.integers(0, 60), st.none()),
    st.tuples(st.none(), st.integers(1, 60)),
    st.integers(0, 60).flatmap(lambda a: st.tuples(st.just(a), st.integers(a, 80))),
)


def _render(spec: tuple[int | None, int | None]) -> str:
    first, last = spec
    return f"{'' if first is None else first}-{'' if last is None else last}"


@given(specs=st.lists(_spec, min_size=1, max_size=8), size=st.integers(0, 50))
def test_valid_ranges_select_exactly_the_bytes_of_the_model(
    specs: list[tuple[int | None, int | None]], size: int
) -> None:
    result = parse_range("bytes=" + ",".join(_render(s) for s in specs), size)
    expected = _model_bytes(specs, size)
    if not expected:
        assert result.kind is RangeKind.UNSATISFIABLE
        return
    assert result.kind is RangeKind.PARTIAL
    got = {p for r in result.ranges for p in range(r.start, r.end)}
    assert got == expected
    ends = [(r.start, r.end) for r in result.ranges]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ends))


@given(header=st.text(max_size=60), size=st.integers(0, 10**12))
def test_any_header_text_parses_without_raising(header: str, size: int) -> None:
    result = parse_range(header, size)
    for r in result.ranges:
        assert 0 <= r.start < r.end <= size


@given(
    header=st.from_regex(r"bytes=[0-9, \t-]{0,40}", fullmatch=True),
    size=st.integers(0, 10**6),
)
def test_range_like_headers_parse_without_raising(header: str, size: int) -> None:
    result = parse_range(header, size)
    assert result.kind in set(RangeKind)
    for r in result.ranges:
        assert 0 <= r.start < r.end <= size
