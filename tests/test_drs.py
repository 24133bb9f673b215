"""GA4GH DRS 1.5 against the real `datamirror serve`: every answer validates against the
DRS schemas (tests/fixtures/drs_schemas.py), files are objects whose access URLs give
their exact bytes, releases and folders are bundles, errors are DRS `Error` bodies, and a
restricted dataset's objects exist only for a bearer token that may read it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

import pytest

from catalog.drs_ids import object_id
from tests.fixtures.datamirror_server import Site, publish_files
from tests.fixtures.drs_schemas import (
    BULK_OBJECTS,
    DRS_OBJECT,
    ERROR,
    SERVICE_INFO,
    validate,
)

LOCAL = pytest.mark.parametrize("site", ["local"], indirect=True)
DRS = "/ga4gh/drs/v1"
FILES = {"dir/a.txt": b"restricted bytes 0123456789", "readme.txt": b"about"}


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = fetch(url, headers=headers)
    assert status == 200, (url, status, body)
    return json.loads(body)


def drs_object(site: Site, drs_id: str, query: str = "", **kw: Any) -> Any:
    found = get_json(f"{site.base}{DRS}/objects/{drs_id}{query}", **kw)
    validate(found, DRS_OBJECT)
    return found


def drs_error(url: str, status: int, **kw: Any) -> str:
    """The `msg` of the DRS Error that `url` answers with `status`."""
    got, headers, body = fetch(url, **kw)
    assert got == status, (url, got, body)
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)
    validate(error, ERROR)
    assert error["status_code"] == status
    return str(error["msg"])


def listing(site: Site, dataset: str, release: str, folder: str = "", **kw: Any) -> Any:
    url = f"{site.base}/datasets/{dataset}/{release}/{urllib.request.quote(folder)}"
    return get_json(url, headers={"Accept": "application/json", **kw.get("headers", {})})


def file_ids(site: Site, dataset: str, release: str, **kw: Any) -> dict[str, str]:
    """path -> drs_id, from the JSON listings, folder by folder."""
    found: dict[str, str] = {}
    folders = [""]
    while folders:
        folder = folders.pop()
        for item in listing(site, dataset, release, folder, **kw)["entries"]:
            if item["type"] == "directory":
                folders.append(folder + item["name"])
            else:
                found[folder + item["name"]] = item["drs_id"]
    return found


def read_token(site: Site, scope: str) -> dict[str, str]:
    argv = [sys.executable, "-m", "datamirror", "token", "create", "--scope", scope]
    out = subprocess.run(argv, env=site.env, capture_output=True, text=True, timeout=60,
                         check=True).stdout  # fmt: skip
    return {"Authorization": f"Bearer {out.split()[-1]}"}


@LOCAL
def test_service_info_says_it_is_a_ga4gh_drs_1_5_service(site: Site) -> None:
    info = get_json(f"{site.base}{DRS}/service-info")
    validate(info, SERVICE_INFO)
    assert info["type"] == {"group": "org.ga4gh", "artifact": "drs", "version": "1.5.0"}


@LOCAL
def test_every_file_is_a_drs_object_whose_access_url_gives_its_exact_bytes(site: Site) -> None:
    ids = file_ids(site, site.dataset, site.release)
    assert set(ids) == set(site.files)
    for path, data in site.files.items():
        found = drs_object(site, ids[path])
        assert found["id"] == ids[path]
        assert found["self_uri"] == f"drs://127.0.0.1/{ids[path]}"
        assert (found["size"], found["name"]) == (len(data), path.rsplit("/", 1)[-1])
        assert found["aliases"] == [f"{site.dataset}/{path}"]
        sums = {c["type"]: c["checksum"] for c in found["checksums"]}
        assert sums["md5"] == hashlib.md5(data).hexdigest()
        assert sums["sha-256"] == hashlib.sha256(data).hexdigest()
        assert found["created_time"] == "2024-03-01T10:30:00Z"
        (method,) = found["access_methods"]
        url = method["access_url"]["url"]
        assert url.startswith(f"{site.base}/datasets/{site.dataset}/{site.release}/")
        status, _, body = fetch(url)
        assert (status, body) == (200, data), path
        if len(data) > 20:
            status, _, body = fetch(url, headers={"Range": "bytes=5-19"})
            assert (status, body) == (206, data[5:20]), path
        access = get_json(f"{site.base}{DRS}/objects/{ids[path]}/access/{method['access_id']}")
        assert access == {"url": url}


@LOCAL
def test_the_mime_type_is_the_content_type_the_file_is_served_with(site: Site) -> None:
    ids = file_ids(site, site.dataset, site.release)
    for path in ("genome/chr1.fa", "genome/chr1.fa.gz", "image.zarr/zarr.json", "README.md"):
        _, headers, _ = fetch(site.url(path.replace(" ", "%20")), method="HEAD")
        assert drs_object(site, ids[path])["mime_type"] == headers["Content-Type"], path


@LOCAL
async def test_identical_bytes_at_the_same_path_keep_their_drs_id_across_releases(
    site: Site,
) -> None:
    name = await site.publish({"same.txt": b"same bytes", "changed.txt": b"first"})
    one = listing(site, name, "latest")
    await publish_files(
        site.catalog, site.store, name, {"same.txt": b"same bytes", "changed.txt": b"2"}
    )
    landing = get_json(f"{site.base}/datasets/{name}/", headers={"Accept": "application/json"})
    releases = [r["name"] for r in landing["releases"]]
    assert len(releases) == 2
    old, new = (listing(site, name, r) for r in sorted(releases))
    assert one["release"] == old["release"]
    ids = [{e["name"]: e["drs_id"] for e in doc["entries"]} for doc in (old, new)]
    assert ids[0]["same.txt"] == ids[1]["same.txt"]
    assert ids[0]["changed.txt"] != ids[1]["changed.txt"]
    assert old["drs_bundle_id"] != new["drs_bundle_id"]
    same = drs_object(site, ids[1]["same.txt"])
    assert fetch(same["access_methods"][0]["access_url"]["url"])[2] == b"same bytes"
    changed = drs_object(site, ids[1]["changed.txt"])
    assert fetch(changed["access_methods"][0]["access_url"]["url"])[2] == b"2"


def md5_bundle(checksums: list[str]) -> str:
    """DRS's bundle checksum: md5 of the sorted, concatenated md5s of the top-level items."""
    return hashlib.md5("".join(sorted(checksums)).encode()).hexdigest()


@LOCAL
def test_a_release_is_a_bundle_of_its_files_and_folders_nested_when_expanded(site: Site) -> None:
    root = listing(site, site.dataset, site.release)
    bundle = drs_object(site, root["drs_bundle_id"])
    assert bundle["self_uri"] == root["drs_bundle_uri"]
    assert bundle["size"] == sum(len(d) for d in site.files.values())
    names = [c["name"] for c in bundle["contents"]]
    assert names == [e["name"].rstrip("/") for e in root["entries"]]
    assert all("contents" not in c and c["id"] for c in bundle["contents"])
    expanded = drs_object(site, root["drs_bundle_id"], "?expand=true")

    def paths(items: list[dict[str, Any]], prefix: str = "") -> dict[str, str]:
        found: dict[str, str] = {}
        for item in items:
            if "contents" in item:
                found.update(paths(item["contents"], prefix + item["name"] + "/"))
            else:
                found[prefix + item["name"]] = item["id"]
        return found

    assert paths(expanded["contents"]) == file_ids(site, site.dataset, site.release)
    genome = next(c for c in bundle["contents"] if c["name"] == "genome")
    folder = drs_object(site, genome["id"])
    assert sorted(c["name"] for c in folder["contents"]) == ["chr1.fa", "chr1.fa.gz"]
    md5s = [hashlib.md5(site.files[f"genome/{n}"]).hexdigest() for n in ("chr1.fa", "chr1.fa.gz")]
    assert {"type": "md5", "checksum": md5_bundle(md5s)} in folder["checksums"]
    assert fetch(f"{site.base}{DRS}/objects/{genome['id']}/access/https")[0] == 404


@LOCAL
def test_listings_and_the_manifest_lead_from_a_path_to_its_drs_object_and_back(site: Site) -> None:
    manifest = get_json(site.url(".datamirror/manifest.json"))
    ids = file_ids(site, site.dataset, site.release)
    assert manifest["drs_bundle_id"] == listing(site, site.dataset, site.release)["drs_bundle_id"]
    for item in manifest["files"]:
        assert item["drs_id"] == ids[item["path"]]
        assert item["drs_uri"] == f"drs://127.0.0.1/{item['drs_id']}"
        back = drs_object(site, item["drs_id"])["access_methods"][0]["access_url"]["url"]
        assert urllib.request.unquote(back).endswith(f"/{site.release}/{item['path']}")


@LOCAL
def test_drs_errors_are_drs_error_bodies_with_the_http_status(site: Site) -> None:
    ids = file_ids(site, site.dataset, site.release)
    some = ids["README.md"]
    assert "no DRS object" in drs_error(f"{site.base}{DRS}/objects/{'0' * 32}", 404)
    assert "no DRS object" in drs_error(f"{site.base}{DRS}/objects/nonsense", 404)
    assert "expand" in drs_error(f"{site.base}{DRS}/objects/{some}?expand=maybe", 400)
    assert "access method" in drs_error(f"{site.base}{DRS}/objects/{some}/access/s3", 404)
    drs_error(f"{site.base}{DRS}/no-such-endpoint", 404, headers={"Accept": "text/html"})
    drs_error(f"{site.base}{DRS}/objects/{some}", 405, method="PUT", body=b"{}")


@LOCAL
def test_a_passport_is_answered_not_supported_and_a_plain_post_works_like_get(site: Site) -> None:
    some = file_ids(site, site.dataset, site.release)["genome/chr1.fa"]
    url = f"{site.base}{DRS}/objects/{some}"
    headers = {"Content-Type": "application/json"}
    passports = json.dumps({"passports": ["eyJhbGciOiJIUzI1NiJ9.e30.c2ln"]}).encode()
    assert "Passports are not supported" in drs_error(
        url, 400, method="POST", body=passports, headers=headers
    )
    drs_error(f"{url}/access/https", 400, method="POST", body=passports, headers=headers)
    drs_error(url, 400, method="POST", body=b"[not json", headers=headers)
    status, _, body = fetch(url, method="POST", body=b'{"expand": true}', headers=headers)
    assert status == 200
    assert json.loads(body) == drs_object(site, some)


@LOCAL
def test_bulk_objects_resolve_the_known_ids_and_list_the_rest(site: Site) -> None:
    ids = list(file_ids(site, site.dataset, site.release).values())[:3]
    body = json.dumps({"bulk_object_ids": [*ids, "f" * 32]}).encode()
    status, _, raw = fetch(f"{site.base}{DRS}/objects", method="POST", body=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 200
    found = json.loads(raw)
    validate(found, BULK_OBJECTS)
    assert found["summary"] == {"requested": 4, "resolved": 3, "unresolved": 1}
    assert [o["id"] for o in found["resolved_drs_object"]] == ids
    assert found["unresolved_drs_objects"] == [{"error_code": 404, "object_ids": ["f" * 32]}]
    too_many = json.dumps({"bulk_object_ids": ["x"] * 101}).encode()
    drs_error(f"{site.base}{DRS}/objects", 413, method="POST", body=too_many)


@LOCAL
async def test_a_restricted_object_is_404_without_a_token_and_signed_with_one(site: Site) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    auth = read_token(site, f"read:{name}")
    landing = f"{site.base}/datasets/{name}/"
    release = get_json(landing, headers={**auth, "Accept": "application/json"})["releases"][0]
    release = release["name"]
    ids = file_ids(site, name, release, headers=auth)
    assert ids["dir/a.txt"] == object_id(name, "dir/a.txt", _xxh3(FILES["dir/a.txt"]))
    bundle = listing(site, name, release, headers=auth)["drs_bundle_id"]
    unknown = drs_error(f"{site.base}{DRS}/objects/{'0' * 32}", 404)
    other = await site.publish(FILES, prefix="restricted", restricted=True)
    others = read_token(site, f"read:{other}")
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, others):
        for drs_id in (ids["dir/a.txt"], bundle, f"{bundle}.{'0' * 16}"):
            for path in ("", "/access/https"):
                url = f"{site.base}{DRS}/objects/{drs_id}{path}"
                assert drs_error(url, 404, headers=headers) == unknown.replace("0" * 32, drs_id)
    crate = f"{site.base}/datasets/{name}/{release}/ro-crate-metadata.json"
    assert fetch(crate)[0] == 404
    assert json.loads(fetch(crate, headers=auth)[2])["@graph"][1]["@id"] == "./"
    found = drs_object(site, ids["dir/a.txt"], headers=auth)
    (method,) = found["access_methods"]
    assert "access_url" not in method
    assert method["authorizations"]["supported_types"] == ["BearerAuth"]
    assert drs_object(site, bundle, headers=auth)["size"] == sum(len(d) for d in FILES.values())
    signed = get_json(f"{site.base}{DRS}/objects/{found['id']}/access/{method['access_id']}",
                      headers=auth)["url"]  # fmt: skip
    assert "signature=" in signed
    status, _, body = fetch(signed)
    assert (status, body) == (200, FILES["dir/a.txt"])
    status, _, body = fetch(signed, headers={"Range": "bytes=0-9"})
    assert (status, body) == (206, FILES["dir/a.txt"][:10])
    assert fetch(signed.split("?")[0])[0] == 404


def _xxh3(data: bytes) -> str:
    import xxhash

    return str(xxhash.xxh3_128_hexdigest(data))


@LOCAL
def test_the_landing_page_offers_the_current_release_as_a_drs_bundle(site: Site) -> None:
    bundle = listing(site, site.dataset, "latest")["drs_bundle_uri"]
    page = fetch(f"{site.base}/datasets/{site.dataset}/")[2].decode()
    assert bundle in page
    assert bundle.startswith("drs://127.0.0.1/")
    assert drs_object(site, bundle.rsplit("/", 1)[1])["contents"]
