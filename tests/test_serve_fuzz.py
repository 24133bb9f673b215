"""Hostile Range and conditional headers against the running server: whatever the
(syntactically valid) header values, the answer is a well-formed 200, 206, 304, 412 or 416,
never a 500."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.datamirror_server import Site

BIG = "big/data.bin"
EXPECTED = {200, 206, 304, 412, 416}

numbers = st.one_of(st.integers(0, 2**64), st.just(0), st.integers(0, 5000)).map(str)
spec = st.one_of(
    st.tuples(numbers, st.just("-"), numbers).map("".join),
    st.tuples(st.just("-"), numbers).map("".join),
    st.tuples(numbers, st.just("-")).map("".join),
    st.text(alphabet="0123456789-, =bytes", max_size=20),
)
range_header = st.one_of(
    st.lists(spec, min_size=1, max_size=8).map(lambda specs: "bytes=" + ",".join(specs)),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)
validator = st.one_of(
    st.just('"0"'),
    st.just("*"),
    st.just("Wed, 21 Oct 2015 07:28:00 GMT"),
    st.text(alphabet='abcdef0123456789"W/, ', max_size=40),
)
headers = st.fixed_dictionaries(
    {"Range": range_header},
    optional={
        "If-Range": validator,
        "If-None-Match": validator,
        "If-Match": validator,
        "If-Modified-Since": validator,
        "If-Unmodified-Since": validator,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sent=headers, method=st.sampled_from(["GET", "HEAD"]))
def test_no_combination_of_range_and_conditional_headers_gets_a_server_error(
    site: Site, sent: dict[str, str], method: str
) -> None:
    url = urlsplit(site.url(BIG))
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request(method, url.path, headers=sent)
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status in EXPECTED, (answer.status, sent, body[:200])
    if answer.status == 416:
        assert answer.getheader("Content-Range") == f"bytes */{len(site.files[BIG])}"
    if method == "GET" and answer.status == 200:
        assert body == site.files[BIG]
