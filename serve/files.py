"""File answers, decided, then dispatched. `decide` evaluates the conditional headers and the
Range and picks one of full (200), single range (206), multiple ranges (206
multipart/byteranges) or not modified (304), or raises for 412 and 416; the caller opens a
body sender only when the answer needs one (a GET of a non-empty file); `dispatch` makes
the response.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import hdrs, web

from catalog.store.base import ByteRange
from serve.bodies import BodyResponse, Segment, Sender
from serve.http.conditional import Conditions, EntityTag, Outcome, Validators, evaluate, http_date
from serve.http.digests import repr_digest
from serve.http.problems import ProblemError
from serve.http.ranges import (
    IGNORE,
    RangeKind,
    RangeRequest,
    content_range,
    parse_range,
    unsatisfied_range,
)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"
PRIVATE = "private, no-cache"

INLINE_MAX = 128 * 1024
"""Spans up to this size are copied into one plain response when no wait is needed; larger
ones go out by sendfile or in chunks."""


@dataclass(frozen=True, slots=True)
class Representation:
    """What the server sends for one file, apart from its bytes. Immutable, so the headers
    every answer carries and its default `Repr-Digest` are worked out once, when built."""

    path: str
    size: int
    content_type: str
    etag: EntityTag
    last_modified: datetime | None
    cache_control: str
    digests: Mapping[str, str]
    headers: Mapping[str, str] = field(init=False, repr=False, compare=False)
    default_digest: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _validator_headers(self))
        object.__setattr__(self, "default_digest", repr_digest(dict(self.digests)))


_CONDITIONAL = (
    hdrs.IF_MATCH,
    hdrs.IF_NONE_MATCH,
    hdrs.IF_MODIFIED_SINCE,
    hdrs.IF_UNMODIFIED_SINCE,
    hdrs.IF_RANGE,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What to answer, short of the body's bytes: `needs_body` when a sender must write them."""

    status: int
    headers: dict[str, str]
    segments: list[Segment]
    needs_body: bool


def decide(request: web.Request, rep: Representation) -> Answer:
    """The answer to a GET or HEAD of `rep`; raises `ProblemError` for 412 and 416."""
    has_range = hdrs.RANGE in request.headers
    outcome = Outcome.PROCEED
    if any(name in request.headers for name in _CONDITIONAL):
        validators = Validators(rep.etag, rep.last_modified)
        outcome = evaluate(_conditions(request, has_range), validators)
    headers = dict(rep.headers)
    if outcome is Outcome.NOT_MODIFIED:
        return Answer(304, headers, [], needs_body=False)
    if outcome is Outcome.PRECONDITION_FAILED:
        raise ProblemError(412, f"a precondition failed for {rep.path}", headers=headers)
    wanted = IGNORE
    if outcome is Outcome.PROCEED and request.method == "GET":
        wanted = parse_range(request.headers.get(hdrs.RANGE), rep.size)
    if wanted.kind is RangeKind.UNSATISFIABLE:
        headers[hdrs.CONTENT_RANGE] = unsatisfied_range(rep.size)
        detail = f"{request.headers.get(hdrs.RANGE)!r} is outside {rep.path} ({rep.size} bytes)"
        raise ProblemError(416, detail, headers=headers)
    status, segments = _plan(rep, wanted, headers)
    want_digest = request.headers.get("Want-Repr-Digest")
    if want_digest is not None:
        digest = repr_digest(dict(rep.digests), want_digest)
    else:
        digest = rep.default_digest if status == 200 else None
    if digest:
        headers["Repr-Digest"] = digest
    return Answer(status, headers, segments, request.method == "GET" and rep.size > 0)


async def dispatch(answer: Answer, sender: Sender | None) -> web.StreamResponse:
    """A plain response when one small span can be had at once, else a streamed body."""
    status, headers, segments = answer.status, answer.headers, answer.segments
    only = segments[0] if len(segments) == 1 else None
    if sender is not None and isinstance(only, ByteRange) and only.length <= INLINE_MAX:
        try:
            data = sender.read_now(only)
        except BaseException:
            await sender.close()
            raise
        if data is not None:
            await sender.close()
            return web.Response(status=status, headers=headers, body=data)
    return BodyResponse(status=status, headers=headers, segments=segments, sender=sender)


def _conditions(request: web.Request, has_range: bool) -> Conditions:
    h = request.headers
    return Conditions(
        method=request.method,
        if_match=h.get(hdrs.IF_MATCH),
        if_none_match=h.get(hdrs.IF_NONE_MATCH),
        if_modified_since=h.get(hdrs.IF_MODIFIED_SINCE),
        if_unmodified_since=h.get(hdrs.IF_UNMODIFIED_SINCE),
        if_range=h.get(hdrs.IF_RANGE),
        has_range=has_range,
    )


def _validator_headers(rep: Representation) -> dict[str, str]:
    headers: dict[str, str] = {
        hdrs.ETAG: str(rep.etag),
        hdrs.ACCEPT_RANGES: "bytes",
        hdrs.CACHE_CONTROL: rep.cache_control,
    }
    if rep.last_modified is not None:
        headers[hdrs.LAST_MODIFIED] = http_date(rep.last_modified)
    return headers


def _plan(
    rep: Representation, wanted: RangeRequest, headers: dict[str, str]
) -> tuple[int, list[Segment]]:
    """The status and body segments; sets the content headers that go with them."""
    if wanted.kind is not RangeKind.PARTIAL:
        headers[hdrs.CONTENT_TYPE] = rep.content_type
        return 200, [ByteRange(0, rep.size)]
    if len(wanted.ranges) == 1:
        only = wanted.ranges[0]
        headers[hdrs.CONTENT_TYPE] = rep.content_type
        headers[hdrs.CONTENT_RANGE] = content_range(only, rep.size)
        return 206, [only]
    boundary = secrets.token_hex(16)
    segments = multipart_segments(wanted.ranges, rep.size, rep.content_type, boundary)
    if sum(len(s) if isinstance(s, bytes) else s.length for s in segments) > rep.size:
        # §14.2: many small ranges may be ignored; answering them would send more than
        # the whole file (a thousand one-byte ranges of a small file)
        headers[hdrs.CONTENT_TYPE] = rep.content_type
        return 200, [ByteRange(0, rep.size)]
    headers[hdrs.CONTENT_TYPE] = f"multipart/byteranges; boundary={boundary}"
    return 206, segments


def multipart_segments(
    ranges: tuple[ByteRange, ...], size: int, content_type: str, boundary: str
) -> list[Segment]:
    """RFC 9110 §14.6 body: each part's headers then its bytes, CRLF line ends throughout."""
    segments: list[Segment] = []
    for number, byte_range in enumerate(ranges):
        lead = b"" if number == 0 else b"\r\n"
        part_head = (
            f"--{boundary}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Range: {content_range(byte_range, size)}\r\n\r\n"
        )
        segments += [lead + part_head.encode("ascii"), byte_range]
    segments.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    return segments
