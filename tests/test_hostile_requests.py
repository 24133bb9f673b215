"""Hostile requests against the running server: traversal in every spelling, oversized
headers and URLs, absurd Range lists. Each is a clear 4xx (a problem body, never a
traceback) or an ordinary answer; nothing outside the dataset is ever sent, and no
Range list makes the server send more than the file."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.datamirror_server import Site

LOCAL = pytest.mark.parametrize("site", ["local"], indirect=True)  # routing is store-blind
BIG = "big/data.bin"
FILE = f"/datasets/sample/latest/{BIG}"
SECRETS = (b"root:", b"SQLite format", b"Traceback")  # /etc/passwd, the catalog
SEGMENTS = [
    "..", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%252e%252e", "%c0%ae%c0%ae", "%e0%80%ae.",
    "%c0%af", "%c1%9c", "..%5c..", "%5c", "\\", "..\\..", "%00", "x%00.txt", "%2f", "%2F",
    "..;", ";", "%u002e", "\uff0e\uff0e", "etc", "passwd", "catalog.db", "big", "data.bin",
    "", ".", "%", "%zz", "%ff",
]  # fmt: skip


class RawConnection(http.client.HTTPConnection):
    """Sends the request line's bytes as given (latin-1 text), UTF-8 bytes included."""

    def _encode_request(self, request: str) -> bytes:
        return request.encode("latin-1")


def raw_get(site: Site, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    status, body, _ = raw_answer(site, target, headers)
    return status, body


def raw_answer(
    site: Site, target: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, str]:
    """GET `target` exactly as written (no client normalises it), on a fresh connection."""
    url = urlsplit(site.base)
    connection = RawConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read(), answer.getheader("Location", "")
    finally:
        connection.close()


def assert_refused_cleanly(status: int, body: bytes, site: Site) -> None:
    assert status in {200, 400, 404}, (status, body[:200])
    assert not any(secret in body for secret in SECRETS), body[:200]
    if status == 200:  # a spelling that names a file of the dataset is that file
        assert body in site.files.values() or body.startswith(b"<!DOCTYPE html>")
    elif status == 404 or body.startswith(b"400 Bad Request"):
        assert body.split(b":")[0] in {b"400 Bad Request", b"404 Not Found"}, body[:200]
    else:  # refused by aiohttp's request parser, before any handler: it says why
        assert body.startswith(b"Invalid"), body[:200]


@LOCAL
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segments=st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=8))
def test_no_spelling_of_traversal_leaves_the_dataset(site: Site, segments: list[str]) -> None:
    tail = "/".join(segments).encode().decode("latin-1")  # http.client sends latin-1 as bytes
    here = f"/datasets/{site.dataset}/{site.release}/"
    status, body, location = raw_answer(site, here + tail)
    if status in {301, 302, 308}:  # a folder named without its slash
        assert location.startswith(here), location
        assert location.removeprefix(here).rstrip("/") == tail.rstrip("/")
        return
    assert_refused_cleanly(status, body, site)


@LOCAL
@pytest.mark.parametrize(
    "target",
    [
        "/datasets/%2e%2e/%2e%2e/etc/passwd",
        "/datasets/sample/%2e%2e/%2e%2e/catalog.db",
        "/datasets/..%2f..%2fcatalog.db/latest/x",
        "/datasets/sample/latest/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/datasets/sample/latest/..%c0%af..%c0%afetc/passwd",
        "/datasets/sample/latest/..\\..\\..\\etc\\passwd",
        "/datasets/sample/latest/big%00/data.bin",
        "/datasets/sample/latest/%252e%252e/%252e%252e/etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/ga4gh/drs/v1/objects/..%2f..%2f..%2fetc%2fpasswd",
        "/ga4gh/drs/v1/objects/%2e%2e/access/https",
        "/api/v1/sources/..%2f..%2fetc",
    ],
)
def test_traversal_in_every_route_is_a_clear_4xx(site: Site, target: str) -> None:
    status, body = raw_get(site, target)
    assert status in {400, 401, 404}, (status, body[:200])
    assert not any(secret in body for secret in SECRETS), body[:200]
    assert body, "an error names what was wrong"


@LOCAL
@pytest.mark.parametrize(
    ("what", "target", "headers"),
    [
        ("a 100 KB URL", "/datasets/sample/latest/" + "a" * 100_000, {}),
        ("a 100 KB header", FILE, {"X-Big": "b" * 100_000}),
        ("a 100 KB Range", FILE, {"Range": "bytes=" + "0" * 100_000 + "-"}),
        ("a thousand headers", "/", {f"X-H{i}": "v" for i in range(1000)}),
    ],
)  # fmt: skip
def test_oversized_requests_are_a_4xx_and_the_server_keeps_serving(
    site: Site, what: str, target: str, headers: dict[str, str]
) -> None:
    try:
        status, body = raw_get(site, target, headers)
    except ConnectionResetError:  # refused before an answer could be written: acceptable
        status, body = 400, b""
    assert 400 <= status < 500, (what, status, body[:200])
    assert b"Traceback" not in body
    assert raw_get(site, "/healthz")[0] == 200


def many(count: int, spec: str) -> str:
    return "bytes=" + ",".join(spec.format(i=i) for i in range(count))


@LOCAL
@pytest.mark.parametrize(
    ("what", "header", "status"),
    [
        ("5000 ranges: a header over 8 KiB, refused", many(5000, "{i}-{i}"), 400),
        ("900 ranges: too many, ignored", many(900, "{i}-{i}"), 200),
        ("100 copies of the whole file: one part", many(100, "0-"), 206),
        ("100 overlapping ranges: coalesced", many(100, "{i}-{i}00"), 206),
        ("99 one-byte ranges far apart", many(99, "{i}000-{i}000"), 206),
        ("99 suffix ranges: coalesced", many(99, "-{i}1"), 206),
    ],
)
def test_no_range_list_makes_the_server_send_more_than_the_file(
    site: Site, what: str, header: str, status: int
) -> None:
    size = len(site.files[BIG])
    got, body = raw_get(site, site.url(BIG).removeprefix(site.base), {"Range": header})
    assert got == status, what
    assert len(body) <= size, (what, len(body), size)


@LOCAL
async def test_many_small_ranges_of_a_small_file_are_answered_with_the_file(site: Site) -> None:
    """A regression: 50 one-byte ranges of a 2 KiB file made a 206 of ~7 KB, 3.5 times
    the file; now the whole file (RFC 9110 §14.2 lets a server ignore such a list)."""
    data = bytes(range(256)) * 8
    name = await site.publish({"small.bin": data}, prefix="ranges")
    target = f"/datasets/{name}/latest/small.bin"
    status, body = raw_get(site, target, {"Range": many(50, "{i}0-{i}0")})
    assert (status, body) == (200, data)
    status, body = raw_get(site, target, {"Range": "bytes=0-9,100-109"})
    assert status == 206
    assert b"Content-Range: bytes 100-109/2048" in body
