"""Files over HTTP, checked with curl and independent parsers (email for multipart), on every
store the `site` fixture runs: local with sendfile, local streamed, S3 streamed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import xxhash

from tests.fixtures.datamirror_server import Site, run_client
from tests.fixtures.net import require_binary

BIG = "big/data.bin"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: email.message.Message
    body: bytes


@pytest.fixture
def curl(tmp_path: Path) -> object:
    binary = require_binary("curl", "curl")

    def fetch(url: str, *args: str) -> Answer:
        head, body = tmp_path / "head", tmp_path / "body"
        head.unlink(missing_ok=True)
        body.unlink(missing_ok=True)
        argv = [binary, "-sS", "--path-as-is", "-D", str(head), "-o", str(body), *args, url]
        run_client(argv)
        raw = head.read_bytes()
        block = raw.split(b"\r\n\r\n")[-2] if raw.count(b"\r\n\r\n") > 1 else raw
        status_line, _, fields = block.partition(b"\r\n")
        headers = email.message_from_bytes(fields, policy=email.policy.HTTP)
        data = body.read_bytes() if body.exists() else b""
        return Answer(int(status_line.split()[1]), headers, data)

    return fetch


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def test_a_whole_file_comes_with_strong_validators_and_its_digest(site: Site, curl) -> None:
    data = site.files[BIG]
    got = curl(site.url(BIG))
    assert got.status == 200
    assert got.body == data
    assert got.headers["Content-Length"] == str(len(data))
    assert got.headers["ETag"] == f'"{xxhash.xxh3_128_hexdigest(data)}"'
    assert got.headers["Last-Modified"] == "Fri, 01 Mar 2024 10:30:00 GMT"
    assert got.headers["Accept-Ranges"] == "bytes"
    assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert f"sha-256=:{_b64(hashlib.sha256(data).hexdigest())}:" in got.headers["Repr-Digest"]
    assert "Content-Encoding" not in got.headers


def test_a_single_range_is_206_with_its_content_range(site: Site, curl) -> None:
    data = site.files[BIG]
    got = curl(site.url(BIG), "-r", "100-199")
    assert got.status == 206
    assert got.body == data[100:200]
    assert got.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert got.headers["Content-Length"] == "100"
    assert "Repr-Digest" not in got.headers


def test_a_suffix_range_returns_the_last_bytes(site: Site, curl) -> None:
    data = site.files[BIG]
    got = curl(site.url(BIG), "-r", "-500")
    assert got.status == 206
    assert got.body == data[-500:]
    assert got.headers["Content-Range"] == f"bytes {len(data) - 500}-{len(data) - 1}/{len(data)}"


def test_a_range_of_a_small_cached_file_is_served_from_memory_alike(site: Site, curl) -> None:
    data = site.files["README.md"]
    for _ in range(2):
        got = curl(site.url("README.md"), "-r", "2-7")
        assert (got.status, got.body) == (206, data[2:8])


def test_multiple_ranges_are_multipart_byteranges_that_email_parses(site: Site, curl) -> None:
    data = site.files[BIG]
    size = len(data)
    got = curl(site.url(BIG), "-r", "0-9,1000-1999,-100")
    assert got.status == 206
    content_type = got.headers["Content-Type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert int(got.headers["Content-Length"]) == len(got.body)
    envelope = f"Content-Type: {content_type}\r\n\r\n".encode() + got.body
    message = email.message_from_bytes(envelope, policy=email.policy.HTTP)
    parts = list(message.iter_parts())
    assert [p["Content-Range"] for p in parts] == [
        f"bytes 0-9/{size}",
        f"bytes 1000-1999/{size}",
        f"bytes {size - 100}-{size - 1}/{size}",
    ]
    assert all(p["Content-Type"] == "application/octet-stream" for p in parts)
    payloads = [p.get_payload(decode=True) for p in parts]
    assert payloads == [data[0:10], data[1000:2000], data[-100:]]
    assert b"\r\n--" in got.body
    assert got.body.endswith(b"--\r\n")


def test_overlapping_ranges_are_coalesced_into_one(site: Site, curl) -> None:
    data = site.files[BIG]
    got = curl(site.url(BIG), "-r", "0-99,50-149")
    assert got.status == 206
    assert got.headers["Content-Range"] == f"bytes 0-149/{len(data)}"
    assert got.body == data[:150]


def test_head_answers_exactly_the_headers_of_get(site: Site, curl) -> None:
    for path in (BIG, "README.md", "empty.txt", "genome/"):
        get = curl(site.url(path))
        head = curl(site.url(path), "-I")
        assert head.status == get.status
        strip = {"date"}
        assert {k: v for k, v in head.headers.items() if k.lower() not in strip} == {
            k: v for k, v in get.headers.items() if k.lower() not in strip
        }


def test_if_none_match_with_the_etag_is_304(site: Site, curl) -> None:
    etag = curl(site.url(BIG), "-I").headers["ETag"]
    got = curl(site.url(BIG), "-H", f"If-None-Match: {etag}")
    assert got.status == 304
    assert got.body == b""
    assert got.headers["ETag"] == etag


def test_if_modified_since_the_mtime_is_304(site: Site, curl) -> None:
    got = curl(site.url(BIG), "-H", "If-Modified-Since: Fri, 01 Mar 2024 10:30:00 GMT")
    assert got.status == 304
    older = curl(site.url(BIG), "-H", "If-Modified-Since: Fri, 01 Mar 2024 10:29:59 GMT")
    assert older.status == 200


def test_if_match_with_another_etag_is_412(site: Site, curl) -> None:
    got = curl(site.url(BIG), "-H", 'If-Match: "0123"')
    assert got.status == 412
    assert b"precondition" in got.body


def test_if_range_with_the_current_etag_honours_the_range(site: Site, curl) -> None:
    data = site.files[BIG]
    etag = curl(site.url(BIG), "-I").headers["ETag"]
    fresh = curl(site.url(BIG), "-r", "10-19", "-H", f"If-Range: {etag}")
    assert (fresh.status, fresh.body) == (206, data[10:20])
    stale = curl(site.url(BIG), "-r", "10-19", "-H", 'If-Range: "stale"')
    assert (stale.status, stale.body) == (200, data)
    dated = curl(site.url(BIG), "-r", "10-19", "-H", "If-Range: Fri, 01 Mar 2024 10:30:00 GMT")
    assert (dated.status, dated.body) == (206, data[10:20])


def test_a_range_past_the_end_is_416_naming_the_size(site: Site, curl) -> None:
    size = len(site.files[BIG])
    got = curl(site.url(BIG), "-r", f"{size}-")
    assert got.status == 416
    assert got.headers["Content-Range"] == f"bytes */{size}"
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    assert got.body.startswith(b"416 ")
    assert b"outside big/data.bin" in got.body


def test_any_range_of_an_empty_file_is_416_and_the_file_itself_is_empty(site: Site, curl) -> None:
    assert curl(site.url("empty.txt"), "-r", "0-").status == 416
    whole = curl(site.url("empty.txt"))
    assert (whole.status, whole.body, whole.headers["Content-Length"]) == (200, b"", "0")


def test_want_repr_digest_adds_the_digest_to_a_partial_answer(site: Site, curl) -> None:
    data = site.files[BIG]
    got = curl(site.url(BIG), "-r", "0-9", "-H", "Want-Repr-Digest: md5=9, sha-256=0")
    assert got.status == 206
    assert got.headers["Repr-Digest"] == f"md5=:{_b64(hashlib.md5(data).hexdigest())}:"


def test_gzip_files_are_served_as_stored_without_content_encoding(site: Site, curl) -> None:
    got = curl(site.url("genome/chr1.fa.gz"), "-H", "Accept-Encoding: gzip")
    assert got.body == site.files["genome/chr1.fa.gz"]
    assert got.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in got.headers


def test_latest_serves_the_current_release_and_must_revalidate(site: Site, curl) -> None:
    got = curl(site.url("README.md", release="latest"))
    assert got.body == site.files["README.md"]
    assert got.headers["Cache-Control"] == "public, no-cache"
    assert got.headers.get_content_type() == "text/markdown"


def test_a_cors_preflight_for_range_is_allowed(site: Site, curl) -> None:
    got = curl(
        site.url(BIG),
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://viewer.example.org",
        "-H",
        "Access-Control-Request-Method: GET",
        "-H",
        "Access-Control-Request-Headers: range, if-none-match",
    )
    assert got.status == 204
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in got.headers["Access-Control-Allow-Methods"]
    allowed = got.headers["Access-Control-Allow-Headers"].lower()
    assert "range" in allowed
    assert "if-none-match" in allowed


def test_answers_expose_the_range_headers_to_scripts(site: Site, curl) -> None:
    got = curl(site.url(BIG), "-r", "0-0", "-H", "Origin: https://viewer.example.org")
    exposed = {h.strip().lower() for h in got.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"content-range", "content-length", "accept-ranges", "etag"} <= exposed


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/datasets/nosuch/latest/x", b"unknown dataset"),
        ("/datasets/sample/1999-01-01.1/README.md", b"has no release"),
        ("/datasets/sample/latest/nosuch.txt", b"has no file"),
    ],
)
def test_unknown_datasets_releases_and_paths_are_404_with_a_short_body(
    site: Site, curl, path: str, detail: bytes
) -> None:
    got = curl(site.base + path)
    assert got.status == 404
    assert detail in got.body
    assert b"Traceback" not in got.body
    assert got.headers["Access-Control-Allow-Origin"] == "*"


def test_errors_are_problem_json_when_json_is_accepted(site: Site, curl) -> None:
    got = curl(site.base + "/datasets/nosuch/", "-H", "Accept: application/json")
    assert got.status == 404
    assert got.headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(got.body)
    assert problem["status"] == 404
    assert "nosuch" in problem["detail"]


@pytest.mark.parametrize(
    "tail",
    [
        "../../../../../../etc/passwd",
        "genome/../../other/x",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E%2F%2E%2E%2Fcatalog.db",
        "genome%2fchr1.fa",
        "..%2f..%2f..%2fcatalog.db",
        "genome/%2e/chr1.fa",
        "genome//chr1.fa",
        "%00",
        "%ff%fe",
    ],
)
def test_traversal_attempts_never_leave_the_dataset(site: Site, curl, tail: str) -> None:
    got = curl(f"{site.base}/datasets/sample/{site.release}/{tail}")
    assert got.status in {400, 404}
    assert b"root:" not in got.body
    assert b"SQLite" not in got.body
    assert got.body.split(b":")[0] in {b"400 Bad Request", b"404 Not Found"}


def test_health_and_readiness_answer(site: Site, curl) -> None:
    assert curl(site.base + "/healthz").status == 200
    ready = curl(site.base + "/readyz")
    assert ready.status == 200
    assert json.loads(ready.body) == {"status": "ok", "db": "ok", "store": "ok"}


LOCAL = pytest.mark.parametrize("site", ["local"], indirect=True)  # routing is store-blind


@LOCAL
@pytest.mark.parametrize("path", ["/foo", "/favicon.ico", "/datasets", "/api/v1/"])
def test_an_unknown_path_is_a_404_problem_not_a_405(site: Site, curl, path: str) -> None:
    got = curl(site.base + path)
    assert got.status == 404
    assert "Allow" not in got.headers
    if path.startswith("/api/"):  # the curator API answers problem+json to any Accept
        assert got.headers["Content-Type"].startswith("application/problem+json")
        assert json.loads(got.body)["detail"] == f"nothing is served at {path}"
    else:
        assert got.body.startswith(b"404 Not Found: nothing is served at ")
        assert b"hint: the index at / lists" in got.body
    assert curl(site.base + path, "-X", "OPTIONS").status == 404
    problem = json.loads(curl(site.base + path, "-H", "Accept: application/json").body)
    assert problem["status"] == 404


@LOCAL
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/datasets/sample/",
        "/datasets/sample/latest/",
        "/datasets/sample/latest/genome/",
        "/datasets/sample/latest/README.md",
        "/datasets/sample/latest/.datamirror/md5sum.txt",
        "/api/v1/openapi.json",
        "/api/v1/sources",
        "/api/v1/sources/sample",
        "/api/v1/sources/sample/releases",
        "/healthz",
        "/readyz",
        "/metrics",
    ],
)
def test_a_cors_preflight_is_answered_on_every_real_route(site: Site, curl, path: str) -> None:
    got = curl(
        site.base + path,
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://viewer.example.org",
        "-H",
        "Access-Control-Request-Method: GET",
    )
    assert got.status == 204
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in got.headers["Access-Control-Allow-Methods"]


@LOCAL
def test_the_404_of_an_unknown_dataset_gives_visitors_no_cli_command(site: Site, curl) -> None:
    text = curl(site.base + "/datasets/nosuch/").body.decode()
    problem = json.loads(
        curl(site.base + "/datasets/nosuch/", "-H", "Accept: application/json").body
    )
    assert problem["hint"] == "the index at / lists the datasets this server offers"
    assert f"hint: {problem['hint']}" in text
    for answer in (text, json.dumps(problem)):
        assert "datamirror " not in answer
        assert "`" not in answer
