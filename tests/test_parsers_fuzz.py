"""Hypothesis against the pure parsers of what others send: listing pages (HTML and nginx
JSON), FTP LIST and MLSD lines, checksum files, request paths. Inputs are bounded in
size; each parser either answers, within its invariants, or raises its own typed error.
(Range and conditional headers: tests/test_ranges.py, tests/test_conditional.py and,
through the server, tests/test_serve_fuzz.py; the API's bodies: test_api_schemathesis.)"""

from __future__ import annotations

import contextlib
import json
import posixpath
import xml.etree.ElementTree as ET

import aioftp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.errors import ChecksumFileError, InvalidPathError
from catalog.layout import clean_path, object_key, unpublishable
from mirror.checksum_files import digests_from_file
from mirror.sources.ftp import listed_entry, parse_modify
from mirror.sources.ftp_walk import UNPARSED, _tolerant
from mirror.sources.http_listing import parse_listing
from serve.http.url_paths import split_dataset_path

EXAMPLES = settings(max_examples=300, deadline=None)  # inputs bounded; a hang meets the timeout

HTML_TOKENS = [
    '<a href="', '">', "</a>", "<a href=", "<a>", "<tr><td>", "</td><td>", "<li>", "<br>",
    "<!--", "-->", "<![CDATA[", "<![", "]]>", "<script>", "</script>", "<?", "&amp;", "&#",
    "&#x110000;", "../", "/", "\\", "\x00", "%2e%2e", "%2F", "%00", "%ff", "%5C", "?C=N;O=D",
    "#", "http://h/d/", "//h/d/", "http://other/", "x.fa", "sub/", " ", "\n",
    "01-Dec-2026 10:00", "2026-12-01 10:00:00", "31-Feb-2026 25:61", "123", "1.2M", "-1",
    "99999999999999999999999",
]  # fmt: skip
html_pages = st.lists(
    st.one_of(st.sampled_from(HTML_TOKENS), st.text(max_size=12)), max_size=60
).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["name", "type", "size", "mtime", "x"]), inner, max_size=5
    ),
    max_leaves=30,
)  # fmt: skip


def assert_children(items: list) -> None:  # type: ignore[type-arg]
    for item in items:
        assert isinstance(item.name, str)
        assert item.name
        assert "/" not in item.name
        assert item.name not in {".", ".."}
        assert item.size is None or (isinstance(item.size, int) and item.size >= 0)
        assert not (item.is_dir and item.size is not None)


@EXAMPLES
@given(page=html_pages, content_type=st.sampled_from(["text/html", "application/json", ""]))
def test_any_html_listing_page_parses_to_children_of_the_folder(
    page: str, content_type: str
) -> None:
    assert_children(parse_listing(page, "http://h/d/", content_type))


@EXAMPLES
@given(rows=json_values)
def test_any_json_listing_page_parses_to_children_of_the_folder(rows: object) -> None:
    assert_children(parse_listing(json.dumps(rows), "http://h/d/", "application/json"))


SUM_TOKENS = [
    "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E", "a" * 64, "b" * 40,
    "c" * 128, "0" * 31, "  ", " *", " ", "\\", "\n", "\r\n", "#", "MD5 (", "SHA256 (", ") = ",
    "(", ")", "=", "x.fa", "./x.fa", "../x.fa", "../../etc/passwd", "/etc/passwd", "sub/",
    ".", "..", "12345", "00042 17", "\x00", "ü",
]  # fmt: skip
sum_texts = st.lists(st.one_of(st.sampled_from(SUM_TOKENS), st.text(max_size=8)), max_size=40).map(
    "".join
)
CHECKSUM_FILES = ["md5sum.txt", "d/e/md5checksums.txt", "CHECKSUMS", "d/x.fa.md5", "SHA256SUMS"]


def assert_inside(digests: dict) -> None:  # type: ignore[type-arg]
    for path in digests:
        assert not path.startswith("/")
        assert posixpath.normpath(path) == path
        assert path != ".."
        assert not path.startswith("../")


@EXAMPLES
@given(text=sum_texts, checksum_path=st.sampled_from(CHECKSUM_FILES))
def test_any_checksum_file_gives_paths_inside_the_dataset_or_a_checksum_file_error(
    text: str, checksum_path: str
) -> None:
    try:
        digests = digests_from_file(checksum_path, text)
    except ChecksumFileError as exc:
        failed: ChecksumFileError | None = exc
    else:
        failed = None
        assert_inside(digests)
    assert failed is None or failed.checksum_file == checksum_path


XML_TOKENS = [
    "<metalink>", "</metalink>", '<file name="', '">', "</file>", '<hash type="md5">',
    '<hash type="sha-256">', "</hash>", "<verification>", "</verification>", "<!DOCTYPE x [",
    '<!ENTITY e "ee">', "]>", "&e;", "&amp;", "<", ">", "../x", "/etc/passwd", "x.fa",
    "d41d8cd98f00b204e9800998ecf8427e", "<?xml version='1.0'?>", "\x00",
]  # fmt: skip


@EXAMPLES
@given(
    text=st.lists(st.one_of(st.sampled_from(XML_TOKENS), st.text(max_size=6)), max_size=30).map(
        "".join
    )
)
def test_any_metalink_gives_paths_inside_the_dataset_or_a_checksum_file_error(text: str) -> None:
    with contextlib.suppress(ChecksumFileError):  # the one error it may raise
        assert_inside(digests_from_file("knowledgebase/RELEASE.metalink", text))


def test_a_billion_laughs_metalink_is_a_checksum_file_error() -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    text = f'<!DOCTYPE m [{entities}]><metalink><file name="&a9;"/></metalink>'
    with pytest.raises(ChecksumFileError, match="XML"):
        digests_from_file("RELEASE.metalink", text)


FTP_TOKENS = [
    b"type=file;", b"type=dir;", b"type=cdir;", b"size=", b"size=12;", b"size=-1;", b"size=x;",
    b"modify=20260101000000;", b"modify=2026;", b"perm=r;", b" ", b"x.fa", b"../..", b"/etc",
    b"\\", b"\xff\xfe", b"\x00", b"-rw-r--r--", b"drwxr-xr-x", b"lrwxrwxrwx", b" 1 ", b"ftp",
    b" 123 ", b"Dec  1 10:00", b"Dec  1  2026", b" -> ", b"loop/", b"12-01-26  10:00AM",
    b"<DIR>", b"\r\n",
]  # fmt: skip
ftp_lines = st.lists(
    st.one_of(st.sampled_from(FTP_TOKENS), st.binary(max_size=8)), max_size=20
).map(b"".join)


@EXAMPLES
@given(line=ftp_lines)
def test_any_ftp_listing_line_parses_or_is_set_aside(line: bytes) -> None:
    client = aioftp.Client()
    for parse in (client.parse_mlsx_line, client.parse_list_line):
        unparsed: list[bytes] = []
        name, info = _tolerant(parse, unparsed)(line)
        assert "type" in info
        assert name == UNPARSED or not unparsed
        if info["type"] == "file" and str(info.get("size", "")).isdigit():
            assert listed_entry("x", info).size >= 0


@EXAMPLES
@given(text=st.text(max_size=30))
def test_any_ftp_time_parses_or_is_none(text: str) -> None:
    parsed = parse_modify(text)
    assert parsed is None or parsed.tzinfo is not None


PATH_TOKENS = [
    "..", ".", "%2e", "%2E", "%2f", "%2F", "%5c", "%00", "%c0%ae", "%e0%80%ae", "%252e", "%",
    "%zz", "%ff", "/", "\\", ";", "a", "ü", "\uff0e", "latest", "sample",
]  # fmt: skip


@EXAMPLES
@given(tail=st.lists(st.sampled_from(PATH_TOKENS), max_size=12).map("".join))
def test_any_request_path_splits_inside_its_dataset_or_is_refused(tail: str) -> None:
    try:
        split = split_dataset_path("/datasets/" + tail)
    except InvalidPathError:
        return
    for part in (split.dataset, split.release or "", *split.path.split("/")):
        assert part not in {".", ".."}
        assert "\\" not in part
        assert "\x00" not in part
    if split.path:
        assert clean_path(split.path) == split.path


@EXAMPLES
@given(path=st.lists(st.sampled_from([*PATH_TOKENS, "\n", "x"]), max_size=10).map("".join))
def test_a_path_judged_publishable_stays_under_its_release_key(path: str) -> None:
    if unpublishable(path) is not None:
        return
    key = object_key("ds", "r1", path)
    assert posixpath.normpath(key) == key
    assert key.startswith("objects/ds/r1/")


def test_ftp_listing_and_metalink_errors_are_the_modules_own() -> None:
    """What the fuzz tests above allow besides an answer, spelled once."""
    assert issubclass(ChecksumFileError, ValueError)
    assert not issubclass(ET.ParseError, ChecksumFileError)


def test_a_listing_with_a_broken_marked_section_parses_instead_of_raising() -> None:
    """Found by the fuzz test above: `<![` without a name made CPython's HTMLParser raise
    a bare AssertionError, which ended the sync with a traceback."""
    page = '<pre><![ oops ><a href="x.fa">x.fa</a> 01-Dec-2026 10:00 12\n</pre>'
    assert [i.name for i in parse_listing(page, "http://h/d/")] == ["x.fa"]
