"""Without a valid token a restricted dataset leaks nothing: each of its URLs answers
byte for byte and header for header what the same URL of a dataset that does not exist
answers (a name of the same length, so even Content-Length cannot tell), and its name is
in no metric, OpenAPI document or DRS service-info."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message

import pytest

from catalog.drs_ids import bundle_id, object_id
from tests.fixtures.datamirror_server import Site

LOCAL = pytest.mark.parametrize("site", ["local"], indirect=True)
FILES = {"dir/a.txt": b"restricted bytes 0123456789", "readme.txt": b"about"}
VARYING = {"Date", "Server"}


Answer = tuple[int, list[tuple[str, str]], bytes]


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def post_json(url: str, body: object) -> tuple[int, bytes]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def same_length_stranger(name: str) -> str:
    """A dataset name nobody registered, as long as `name`."""
    return name[:-1] + ("x" if name[-1] != "x" else "y")


def answer(url: str, method: str, headers: dict[str, str]) -> Answer:
    status, got, body = fetch(url, method, headers)
    return status, sorted((k, v) for k, v in got.items() if k not in VARYING), body


@LOCAL
@pytest.mark.parametrize("accept", ["text/html", "application/json", "application/ld+json"])
async def test_every_url_of_a_restricted_dataset_answers_as_if_it_did_not_exist(
    site: Site, accept: str
) -> None:
    name = await site.publish(FILES, prefix="leak", restricted=True)
    release = (await site.catalog.releases.current(name)).name
    stranger = same_length_stranger(name)
    paths = [
        "/", "/latest/", "/latest/dir/", "/latest/dir/a.txt", f"/{release}/dir/a.txt",
        "/latest/nosuch.txt", f"/{release}/manifest.json", "/latest/md5sum.txt",
        "/latest/ro-crate-metadata.json", "/latest/.datamirror/citation.bib",
        "/latest/.datamirror/CITATION.cff", "/latest/.datamirror/datacite.json",
        "/latest/dir/a.txt?expires=1&signature=00", f"/{release}/",
    ]  # fmt: skip
    for path in paths:
        for method in ("GET", "HEAD"):
            for extra in ({}, {"Range": "bytes=0-3"}, {"Authorization": "Bearer not-a-token"}):
                headers = {"Accept": accept, **extra}
                secret = answer(f"{site.base}/datasets/{name}{path}", method, headers)
                unknown = answer(f"{site.base}/datasets/{stranger}{path}", method, headers)
                status, fields, body = unknown
                expected = (status, fields, body.replace(stranger.encode(), name.encode()))
                assert secret == expected, (path, method, extra)
                assert secret[0] in {403, 404}, (path, secret[0])


@LOCAL
async def test_drs_answers_a_restricted_object_as_an_unknown_one(site: Site) -> None:
    name = await site.publish(FILES, prefix="leak", restricted=True)
    release = await site.catalog.releases.current(name)
    ids = [
        object_id(name, e.path, e.xxh3_128) for e in await site.catalog.releases.entries(release.id)
    ]
    ids += [bundle_id(name, release.name)]
    drs = f"{site.base}/ga4gh/drs/v1/objects"
    for drs_id in ids:
        unknown = "0" * len(drs_id)
        for suffix in ("", "?expand=true", "/access/https"):
            secret = answer(f"{drs}/{drs_id}{suffix}", "GET", {})
            stranger = answer(f"{drs}/{unknown}{suffix}", "GET", {})
            assert secret[0] == stranger[0] == 404
            assert secret[1] == stranger[1]
            assert secret[2].replace(drs_id.encode(), unknown.encode()) == stranger[2]
        bulk = [post_json(drs, {"bulk_object_ids": [i]}) for i in (drs_id, unknown)]
        assert bulk[0][0] == bulk[1][0]
        assert bulk[0][1].replace(drs_id.encode(), unknown.encode()) == bulk[1][1]


@LOCAL
async def test_metrics_openapi_and_service_info_never_name_a_restricted_dataset(
    site: Site,
) -> None:
    documents = ("/ga4gh/drs/v1/service-info", "/api/v1/openapi.json")
    before = {p: fetch(site.base + p)[2] for p in documents}
    name = await site.publish(FILES, prefix="leak", restricted=True)
    for path in ("/", "/latest/dir/a.txt", "/latest/nosuch", "/latest/dir/"):
        fetch(f"{site.base}/datasets/{name}{path}")
    after = {p: fetch(site.base + p)[2] for p in before}
    assert after == before
    metrics = fetch(site.base + "/metrics")[2]
    assert name.encode() not in metrics
    assert b"dir/a.txt" not in metrics
