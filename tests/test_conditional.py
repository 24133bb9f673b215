"""Conditional request evaluation (RFC 9110 §13), by table and by fuzzing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serve.http.conditional import (
    Conditions,
    EntityTag,
    Outcome,
    Validators,
    evaluate,
    http_date,
    parse_entity_tags,
    parse_http_date,
)

MODIFIED = datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)
V = Validators(EntityTag("abc123"), MODIFIED)
SAME = "Wed, 01 May 2024 12:00:00 GMT"
BEFORE = "Wed, 01 May 2024 11:59:59 GMT"
AFTER = "Wed, 01 May 2024 12:00:01 GMT"


@pytest.mark.parametrize(
    ("conditions", "outcome"),
    [
        (Conditions(), Outcome.PROCEED),
        (Conditions(if_match='"abc123"'), Outcome.PROCEED),
        (Conditions(if_match='"x", "abc123"'), Outcome.PROCEED),
        (Conditions(if_match="*"), Outcome.PROCEED),
        (Conditions(if_match='"other"'), Outcome.PRECONDITION_FAILED),
        (Conditions(if_match='W/"abc123"'), Outcome.PRECONDITION_FAILED),
        (Conditions(if_unmodified_since=SAME), Outcome.PROCEED),
        (Conditions(if_unmodified_since=BEFORE), Outcome.PRECONDITION_FAILED),
        (Conditions(if_unmodified_since="garbage"), Outcome.PROCEED),
        (Conditions(if_match='"abc123"', if_unmodified_since=BEFORE), Outcome.PROCEED),
        (Conditions(if_none_match='"abc123"'), Outcome.NOT_MODIFIED),
        (Conditions(if_none_match='W/"abc123"'), Outcome.NOT_MODIFIED),
        (Conditions(if_none_match="*"), Outcome.NOT_MODIFIED),
        (Conditions(if_none_match='"a", "b"'), Outcome.PROCEED),
        (Conditions(method="HEAD", if_none_match='"abc123"'), Outcome.NOT_MODIFIED),
        (Conditions(method="POST", if_none_match='"abc123"'), Outcome.PRECONDITION_FAILED),
        (Conditions(if_modified_since=SAME), Outcome.NOT_MODIFIED),
        (Conditions(if_modified_since=AFTER), Outcome.NOT_MODIFIED),
        (Conditions(if_modified_since=BEFORE), Outcome.PROCEED),
        (Conditions(if_modified_since="Sunday, 06-Nov-94 08:49:37 GMT"), Outcome.PROCEED),
        (Conditions(if_modified_since="not a date"), Outcome.PROCEED),
        (Conditions(if_none_match='"other"', if_modified_since=SAME), Outcome.PROCEED),
        (Conditions(if_match='"other"', if_none_match='"abc123"'), Outcome.PRECONDITION_FAILED),
        (Conditions(has_range=True, if_range='"abc123"'), Outcome.PROCEED),
        (Conditions(has_range=True, if_range='"stale"'), Outcome.IGNORE_RANGE),
        (Conditions(has_range=True, if_range='W/"abc123"'), Outcome.IGNORE_RANGE),
        (Conditions(has_range=True, if_range=SAME), Outcome.PROCEED),
        (Conditions(has_range=True, if_range=AFTER), Outcome.IGNORE_RANGE),
        (Conditions(has_range=True, if_range="junk"), Outcome.IGNORE_RANGE),
        (Conditions(if_range='"stale"'), Outcome.PROCEED),
        (Conditions(method="HEAD", has_range=True, if_range='"stale"'), Outcome.PROCEED),
        (
            Conditions(has_range=True, if_range='"stale"', if_none_match='"abc123"'),
            Outcome.NOT_MODIFIED,
        ),
    ],
)
def test_preconditions_are_evaluated_in_the_rfc_order(
    conditions: Conditions, outcome: Outcome
) -> None:
    assert evaluate(conditions, V) is outcome


def test_a_weak_validator_never_satisfies_if_range() -> None:
    weak = Validators(EntityTag("abc123", weak=True), MODIFIED)
    assert evaluate(Conditions(has_range=True, if_range='"abc123"'), weak) is Outcome.IGNORE_RANGE


def test_a_representation_without_date_ignores_date_conditions() -> None:
    undated = Validators(EntityTag("abc123"), None)
    assert evaluate(Conditions(if_modified_since=SAME), undated) is Outcome.PROCEED
    assert evaluate(Conditions(if_unmodified_since=BEFORE), undated) is Outcome.PROCEED
    assert evaluate(Conditions(has_range=True, if_range=SAME), undated) is Outcome.IGNORE_RANGE


def test_entity_tag_lists_parse_strictly() -> None:
    assert parse_entity_tags('"a", W/"b" ,"c"') == [
        EntityTag("a"),
        EntityTag("b", weak=True),
        EntityTag("c"),
    ]
    assert parse_entity_tags("a") is None
    assert parse_entity_tags('"a" "b"') is None


def test_http_dates_round_trip_at_second_resolution() -> None:
    assert http_date(MODIFIED) == SAME
    assert parse_http_date(SAME) == MODIFIED.replace(microsecond=0)
    assert parse_http_date("Wed May  1 12:00:00 2024") == MODIFIED.replace(microsecond=0)
    assert parse_http_date("yesterday") is None


_headers = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(['"abc123"', "*", SAME]))


@given(
    method=st.sampled_from(["GET", "HEAD", "PUT"]),
    if_match=_headers,
    if_none_match=_headers,
    ims=_headers,
    ius=_headers,
    if_range=_headers,
    has_range=st.booleans(),
    offset=st.integers(-(10**6), 10**6),
)
def test_any_header_values_evaluate_without_raising(
    method: str,
    if_match: str | None,
    if_none_match: str | None,
    ims: str | None,
    ius: str | None,
    if_range: str | None,
    has_range: bool,
    offset: int,
) -> None:
    conditions = Conditions(method, if_match, if_none_match, ims, ius, if_range, has_range)
    validators = Validators(EntityTag("abc123"), MODIFIED + timedelta(seconds=offset))
    outcome = evaluate(conditions, validators)
    if outcome is Outcome.IGNORE_RANGE:
        assert (method, has_range, if_range is not None) == ("GET", True, True)
    if outcome is Outcome.NOT_MODIFIED:
        assert method in {"GET", "HEAD"}
