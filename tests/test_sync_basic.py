"""End-to-end syncs through the `datamirror` CLI, from a real HTTP server into the store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from aiohttp import web

from catalog.errors import ObjectNotFoundError
from catalog.store import open_store
from mirror.checksum_files import Digest
from mirror.retry import RetryPolicy
from mirror.sample_data import write_md5sums, write_sample_tree
from mirror.sources.base import SourceEntry
from mirror.sources.http import HTTPSource
from mirror.sync import published_digests
from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.misbehaving import misbehaving
from tests.fixtures.trees import file_bytes

pytestmark = pytest.mark.nginx

DATASET = "demo"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    write_sample_tree(root, seed=3, big_file_size=3 * 1024 * 1024 + 17)
    return root


@pytest.fixture
def source_url(tree: Path, nginx_server: NginxFactory) -> str:
    """The generated tree served by nginx with its autoindex pages on loopback."""
    return nginx_server(tree).url


@pytest.fixture
def synced(cli: CLI, source_url: str) -> CLI:
    cli("source", "add", DATASET, source_url, "--title", "Demo", "--license", "CC0-1.0")
    cli("sync", DATASET, "--part-size", "1MiB")
    return cli


@pytest.fixture
def synced_anywhere(
    cli: CLI, store_env: dict[str, str], source_url: str, monkeypatch: pytest.MonkeyPatch
) -> CLI:
    """Like `synced`, on every kind of store (local, S3 on moto, S3 on rclone)."""
    cli.env.update(store_env)
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    cli("source", "add", DATASET, source_url, "--license", "CC0-1.0")
    cli("sync", DATASET, "--part-size", "1MiB")
    return cli


async def read_object(cli: CLI, key: str) -> bytes | None:
    """An object's bytes from the store the CLI uses, or None when it is absent."""
    store = open_store(
        cli.env["DATAMIRROR_STORE"], s3_endpoint=cli.env.get("DATAMIRROR_S3_ENDPOINT")
    )
    try:
        return await store.get(key)
    except ObjectNotFoundError:
        return None
    finally:
        await store.close()


def store_root(cli: CLI) -> Path:
    return Path(cli.env["DATAMIRROR_HOME"]) / "store"


def releases(cli: CLI) -> list[dict]:
    return json.loads(cli("releases", DATASET, "--json").stdout)


async def manifest(cli: CLI, release: str) -> dict[str, dict]:
    raw = await read_object(cli, f"releases/{DATASET}/{release}/manifest.json")
    assert raw is not None
    return {f["path"]: f for f in json.loads(raw)["files"]}


async def test_a_full_sync_is_byte_identical_in_the_store_and_the_manifest(
    synced_anywhere: CLI, tree: Path
) -> None:
    synced = synced_anywhere
    (release,) = releases(synced)
    assert release["state"] == "published"
    assert release["current"]
    files = await manifest(synced, release["name"])
    expected = file_bytes(tree)
    assert set(files) == set(expected)
    for path, data in expected.items():
        stored = await read_object(synced, files[path]["key"])
        assert stored == data, path
        assert files[path]["size"] == len(data)
        if path != "md5sum.txt":
            assert files[path]["md5"] == hashlib.md5(data).hexdigest()
    crate_key = f"releases/{DATASET}/{release['name']}/ro-crate-metadata.json"
    crate = json.loads(await read_object(synced, crate_key) or b"{}")
    kinds = {e["@id"]: e for e in crate["@graph"]}
    assert kinds["./"]["license"] == {"@id": "http://spdx.org/licenses/CC0-1.0"}
    assert kinds["README.txt"]["contentSize"] == str(len(expected["README.txt"]))
    assert release["report"]["new"] == len(expected)


def test_a_second_sync_of_an_unchanged_tree_publishes_no_new_release(synced: CLI) -> None:
    before = releases(synced)
    out = synced("sync", DATASET).stdout
    assert releases(synced) == before
    assert f"nothing changed; {before[0]['name']} stays current" in out
    assert "0 new, 0 changed" in out
    listing = synced("releases", DATASET).stdout
    assert "last sync" in listing
    assert "stays current" in listing


async def test_an_unchanged_file_keeps_its_object_in_the_next_release(
    synced: CLI, tree: Path
) -> None:
    (tree / "NEWS.txt").write_text("a new file, so that the source changed\n")
    synced("sync", DATASET)
    first, second = releases(synced)
    assert second["current"]
    assert second["report"]["new"] == 1
    assert second["report"]["bytes_transferred"] == len("a new file, so that the source changed\n")
    before = await manifest(synced, first["name"])
    after = await manifest(synced, second["name"])
    assert {path: after[path] for path in before} == before


async def test_a_changed_file_gets_a_new_object_and_the_old_release_keeps_the_old_one(
    synced: CLI, tree: Path
) -> None:
    path = "variants/chr1.calls.vcf"
    old = (tree / path).read_bytes()
    (tree / path).write_bytes(old + b"chr1\t999999999\trs1\tA\tC\t50\tPASS\tDP=9\n")
    write_md5sums(tree, [p for p in file_bytes(tree) if p != "md5sum.txt"])
    synced("sync", DATASET)
    first, second = releases(synced)
    before = await manifest(synced, first["name"])
    after = await manifest(synced, second["name"])
    assert after[path]["key"] == f"objects/{DATASET}/{second['name']}/{path}"
    assert (store_root(synced) / after[path]["key"]).read_bytes() == (tree / path).read_bytes()
    assert (store_root(synced) / before[path]["key"]).read_bytes() == old
    assert after["README.txt"]["key"] == before["README.txt"]["key"]
    assert second["report"]["changed"] == 2  # the file and md5sum.txt


async def test_a_removed_file_is_absent_from_the_new_release(synced: CLI, tree: Path) -> None:
    (tree / "annotation/releases/notes for v1.txt").unlink()
    synced("sync", DATASET)
    first, second = releases(synced)
    assert "annotation/releases/notes for v1.txt" in await manifest(synced, first["name"])
    assert "annotation/releases/notes for v1.txt" not in await manifest(synced, second["name"])
    assert second["report"]["removed"] == 1


def test_a_corrupt_file_fails_the_run_and_the_previous_release_stays_current(
    synced: CLI, tree: Path
) -> None:
    path = "reads/SRR000001_1.fastq.gz"
    data = (tree / path).read_bytes()
    (tree / path).write_bytes(data + b"garbage")
    proc = synced("sync", DATASET, check=False)
    assert proc.returncode == 1
    expected_md5 = hashlib.md5(data).hexdigest()
    actual_md5 = hashlib.md5(data + b"garbage").hexdigest()
    assert path in proc.stderr
    assert expected_md5 in proc.stderr
    assert actual_md5 in proc.stderr
    first, second = releases(synced)
    assert first["current"]
    assert first["state"] == "published"
    assert second["state"] == "building"
    (error,) = second["report"]["errors"]
    assert (error["path"], error["expected"], error["actual"]) == (path, expected_md5, actual_md5)


def test_the_deletion_guard_stops_a_sync_that_would_drop_most_files(
    synced: CLI, tree: Path
) -> None:
    for path in list(file_bytes(tree))[:-3]:
        (tree / path).unlink()
    proc = synced("sync", DATASET, check=False)
    assert proc.returncode == 1
    assert "--max-delete" in proc.stderr
    assert [r["current"] for r in releases(synced)] == [True]
    assert "--max-delete" not in synced("releases", DATASET).stdout.split("last sync")[0]
    assert "last sync" in synced("releases", DATASET).stdout
    synced("sync", DATASET, "--max-delete", "100")
    assert releases(synced)[-1]["files"] == 3


async def test_verify_names_an_object_whose_bytes_rotted_in_the_store(synced: CLI) -> None:
    assert "every object verified" in synced("verify", DATASET).stdout
    release = releases(synced)[0]["name"]
    key = (await manifest(synced, release))["variants/chr1.calls.vcf"]["key"]
    target = store_root(synced) / key
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    proc = synced("verify", DATASET, "--release", release, check=False)
    assert proc.returncode == 1
    assert "variants/chr1.calls.vcf" in proc.stderr


async def test_gc_deletes_only_objects_no_retained_release_needs(synced: CLI, tree: Path) -> None:
    path = "variants/chr1.calls.vcf"
    (tree / path).write_bytes((tree / path).read_bytes() + b"# more\n")
    synced("sync", DATASET, "--keep", "1", "--checksums", "none")
    first, second = releases(synced)
    assert first["state"] == "expired"
    old_key = (await manifest(synced, first["name"]))[path]["key"]
    # the old object, and the expired release's manifest and RO-Crate
    assert "would delete 3 object(s)" in synced("gc", "--dry-run").stdout
    assert (store_root(synced) / old_key).exists()
    synced("gc")
    assert not (store_root(synced) / old_key).exists()
    assert not (store_root(synced) / "releases" / DATASET / first["name"]).exists()
    for entry in (await manifest(synced, second["name"])).values():
        assert (store_root(synced) / entry["key"]).is_file()
    synced("verify", DATASET)


async def test_the_checksum_file_is_fetched_once_and_stored_from_those_bytes(
    cli: CLI, tree: Path, nginx_server: NginxFactory
) -> None:
    server = nginx_server(tree)
    cli("source", "add", DATASET, server.url)
    cli("sync", DATASET)
    requests = [line for line in server.log_lines() if line.startswith("GET /md5sum.txt ")]
    assert len(requests) == 1
    (release,) = releases(cli)
    key = (await manifest(cli, release["name"]))["md5sum.txt"]["key"]
    assert await read_object(cli, key) == (tree / "md5sum.txt").read_bytes()


async def test_a_checksum_file_that_fails_once_is_read_again() -> None:
    empty_md5 = hashlib.md5(b"").hexdigest()
    calls: list[str] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls.append(request.path)
        if len(calls) == 1:
            return web.Response(status=503, headers={"Retry-After": "0"})
        return web.Response(body=f"{empty_md5}  empty.txt\n".encode())

    async with misbehaving(flaky) as url:
        source = HTTPSource(url)
        listing = [SourceEntry("md5sum.txt", 45), SourceEntry("empty.txt", 0)]
        try:
            found = await published_digests(source, listing, "auto", RetryPolicy(3, 0.01))
        finally:
            await source.close()
    assert found.digests == {"empty.txt": Digest("md5", empty_md5)}
    assert calls == ["/md5sum.txt", "/md5sum.txt"]


async def test_every_verified_digest_is_kept_in_the_manifest_and_the_catalog(
    cli: CLI, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    """A checksum file may name sha512 or sha1: once verified, the digest stays with the
    file (it used to be verified, then dropped)."""
    from catalog.repository import Catalog

    root = tmp_path / "digests"
    root.mkdir()
    files = {"reads.fq": b"@r1\nACGT\n+\n!!!!\n" * 100, "notes.txt": b"notes\n"}
    for name, data in files.items():
        (root / name).write_bytes(data)
    sha512 = hashlib.sha512(files["reads.fq"]).hexdigest()
    sha1 = hashlib.sha1(files["notes.txt"]).hexdigest()
    (root / "reads.fq.sha512").write_text(f"{sha512}  reads.fq\n")
    (root / "notes.txt.sha1").write_text(f"{sha1}  notes.txt\n")
    cli("source", "add", "sums", nginx_server(root).url)
    cli("sync", "sums")
    (release,) = json.loads(cli("releases", "sums", "--json").stdout)
    raw = await read_object(cli, f"releases/sums/{release['name']}/manifest.json")
    listed = {f["path"]: f for f in json.loads(raw or b"{}")["files"]}
    assert listed["reads.fq"]["other_digests"] == {"sha512": sha512}
    assert listed["notes.txt"]["other_digests"] == {"sha1": sha1}
    catalog = await Catalog.open(cli.env["DATAMIRROR_DB"])
    try:
        current = await catalog.releases.current("sums")
        held = {e.path: e.digests for e in await catalog.releases.entries(current.id)}
    finally:
        await catalog.close()
    assert held["reads.fq"] == {"sha512": sha512}
    assert held["notes.txt"] == {"sha1": sha1}
