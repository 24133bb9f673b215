"""Conditional requests (RFC 9110 §13), evaluated in the order of §13.2.2.

Pure: the caller passes the request's header values and the representation's validators
(a strong entity tag and a last-modified time) and gets an `Outcome` back.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


class Outcome(enum.Enum):
    PROCEED = "proceed"  # answer normally, honouring a Range header
    IGNORE_RANGE = "ignore-range"  # If-Range failed: answer 200 with the whole representation
    NOT_MODIFIED = "not-modified"  # 304
    PRECONDITION_FAILED = "precondition-failed"  # 412


@dataclass(frozen=True, slots=True)
class EntityTag:
    opaque: str
    weak: bool = False

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server knows about the selected representation."""

    etag: EntityTag
    last_modified: datetime | None


@dataclass(frozen=True, slots=True)
class Conditions:
    """The request's conditional header values, as received (None when absent)."""

    method: str = "GET"
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None
    if_range: str | None = None
    has_range: bool = False


def evaluate(conditions: Conditions, validators: Validators) -> Outcome:
    """§13.2.2: the precedence of preconditions."""
    c, v = conditions, validators
    is_read = c.method in {"GET", "HEAD"}
    # Step 1 and 2: If-Match, else If-Unmodified-Since.
    if c.if_match is not None:
        if not _matches(c.if_match, v.etag, weak=False):
            return Outcome.PRECONDITION_FAILED
    elif c.if_unmodified_since is not None:
        since = parse_http_date(c.if_unmodified_since)
        if since is not None and v.last_modified is not None and _secs(v.last_modified) > since:
            return Outcome.PRECONDITION_FAILED
    # Step 3 and 4: If-None-Match, else If-Modified-Since (GET and HEAD only).
    if c.if_none_match is not None:
        if _matches(c.if_none_match, v.etag, weak=True):
            return Outcome.NOT_MODIFIED if is_read else Outcome.PRECONDITION_FAILED
    elif c.if_modified_since is not None and is_read:
        since = parse_http_date(c.if_modified_since)
        if since is not None and v.last_modified is not None and _secs(v.last_modified) <= since:
            return Outcome.NOT_MODIFIED
    # Step 5: If-Range, only when a Range is asked of a GET (§13.1.5).
    ranged_get = c.method == "GET" and c.has_range
    if ranged_get and c.if_range is not None and not _if_range_holds(c.if_range, v):
        return Outcome.IGNORE_RANGE
    return Outcome.PROCEED


def parse_entity_tags(value: str) -> list[EntityTag] | None:
    """The entity tags of an If-Match / If-None-Match list; None when malformed."""
    tags: list[EntityTag] = []
    position = 0
    text = value.strip()
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None:
            return None
        tags.append(EntityTag(match.group(2), weak=bool(match.group(1))))
        position = match.end()
    return tags


def _matches(header: str, etag: EntityTag, *, weak: bool) -> bool:
    """§8.8.3.2: strong comparison needs both tags strong; weak compares opaque values."""
    if header.strip() == "*":
        return True
    tags = parse_entity_tags(header) or []
    if weak:
        return any(tag.opaque == etag.opaque for tag in tags)
    return not etag.weak and any(not t.weak and t.opaque == etag.opaque for t in tags)


def _if_range_holds(value: str, v: Validators) -> bool:
    """§13.1.5: a strong entity tag compared strongly, or a date equal to Last-Modified."""
    text = value.strip()
    if text.startswith(('"', "W/")):
        tags = parse_entity_tags(text)
        if not tags or len(tags) != 1:
            return False
        tag = tags[0]
        return not tag.weak and not v.etag.weak and tag.opaque == v.etag.opaque
    date = parse_http_date(text)
    return date is not None and v.last_modified is not None and _secs(v.last_modified) == date


def parse_http_date(value: str) -> datetime | None:
    """An HTTP-date (§5.6.7: IMF-fixdate, RFC 850 or asctime) in UTC; None when invalid."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _secs(moment: datetime) -> datetime:
    """HTTP dates have one-second resolution."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def http_date(moment: datetime) -> str:
    """IMF-fixdate (§5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return format_datetime(_secs(moment), usegmt=True)
