"""`datamirror sync` from every kind of source EBI uses, served by real servers on loopback:
nginx (HTML and JSON autoindex), Apache httpd (mod_autoindex), FTP (MLSD and LIST), and S3
buckets on moto and on `rclone serve s3` (including a Zarr v3 store written by zarr-python).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from catalog.repository import Catalog
from mirror.sample_data import write_sample_tree
from tests.conftest import CLI
from tests.fixtures.s3_servers import S3Endpoint
from tests.fixtures.trees import file_bytes

SourceMaker = Callable[[Path], tuple[str, list[str]]]


async def mirrored_files(cli: CLI, dataset: str) -> dict[str, bytes]:
    """Every file of the dataset's current release, read from the local store."""
    catalog = await Catalog.open(cli.env["DATAMIRROR_DB"])
    try:
        release = await catalog.releases.current(dataset)
        entries = await catalog.releases.entries(release.id)
    finally:
        await catalog.close()
    store_root = Path(cli.env["DATAMIRROR_STORE"].removeprefix("file://"))
    return {e.path: (store_root / e.key).read_bytes() for e in entries}


def upload_tree(endpoint: S3Endpoint, root: Path, prefix: str) -> str:
    bucket = endpoint.new_bucket("src")
    client = endpoint.client()
    try:
        for path, data in file_bytes(root).items():
            client.put_object(Bucket=bucket, Key=f"{prefix}{path}", Body=data)
    finally:
        client.close()
    return f"s3://{bucket}/{prefix}"


@pytest.fixture(
    params=[
        pytest.param("nginx-html", marks=pytest.mark.nginx),
        pytest.param("nginx-json", marks=pytest.mark.nginx),
        pytest.param("apache-table", marks=pytest.mark.apache),
        pytest.param("apache-fancy", marks=pytest.mark.apache),
        pytest.param("ftp-mlsd", marks=pytest.mark.ftp),
        pytest.param("ftp-list", marks=pytest.mark.ftp),
        pytest.param("s3-moto", marks=pytest.mark.s3),
        pytest.param("s3-rclone", marks=pytest.mark.s3),
    ]
)
def source_maker(request: pytest.FixtureRequest, cli: CLI) -> SourceMaker:
    """Serves a folder as the parametrised kind of source: (URL, extra `source add` args)."""
    kind: str = request.param

    def make(root: Path) -> tuple[str, list[str]]:
        if kind.startswith("nginx"):
            server = request.getfixturevalue("nginx_server")
            return server(root, autoindex_format=kind.removeprefix("nginx-")).url, []
        if kind.startswith("apache"):
            server = request.getfixturevalue("apache_server")
            return server(root, style=kind.removeprefix("apache-")).url, []
        if kind.startswith("ftp"):
            server = request.getfixturevalue("ftp_server")
            return server(root, mlsd=kind == "ftp-mlsd").url, []
        endpoint: S3Endpoint = request.getfixturevalue(f"{kind.removeprefix('s3-')}_endpoint")
        for name, value in endpoint.env().items():
            if name.startswith("AWS_"):
                cli.env[name] = value
        return upload_tree(endpoint, root, "pub/data/"), ["--endpoint-url", endpoint.endpoint_url]

    return make


async def test_a_source_tree_is_mirrored_byte_identical_and_verified(
    cli: CLI, source_maker: SourceMaker, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    write_sample_tree(root, seed=21, big_file_size=3 * 1024 * 1024 + 5)
    url, extra = source_maker(root)
    cli("source", "add", "ds", url, *extra)
    cli("sync", "ds", "--part-size", "1MiB")
    assert await mirrored_files(cli, "ds") == file_bytes(root)
    report = json.loads(cli("releases", "ds", "--json").stdout)[-1]["report"]
    assert report["new"] == len(file_bytes(root))
    cli("verify", "ds")


def test_a_second_sync_of_an_unchanged_source_fetches_nothing(
    cli: CLI, source_maker: SourceMaker, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    write_sample_tree(root, seed=22)
    (root / "variants" / "chr1.calls.vcf").unlink()
    (root / "md5sum.txt").unlink()
    url, extra = source_maker(root)
    cli("source", "add", "ds", url, "--checksums", "none", *extra)
    cli("sync", "ds")
    first = json.loads(cli("releases", "ds", "--json").stdout)
    out = cli("sync", "ds").stdout
    assert json.loads(cli("releases", "ds", "--json").stdout) == first
    unchanged = first[0]["report"]["new"]
    assert f"0 new, 0 changed, {unchanged} unchanged, 0 removed, 0 failed; 0 B" in out
    assert "stays current" in out


@pytest.mark.s3
@pytest.mark.parametrize("server", ["moto", "rclone"])
async def test_a_zarr_store_mirrored_from_s3_reads_back_identical_arrays(
    cli: CLI,
    server: str,
    request: pytest.FixtureRequest,
    datamirror_server: Callable[..., str],
    tmp_path: Path,
) -> None:
    zarr = pytest.importorskip("zarr")
    numpy = pytest.importorskip("numpy")
    image = tmp_path / "bucket" / "image.zarr"
    values = numpy.arange(96 * 80, dtype="uint16").reshape(96, 80)
    array = zarr.create_array(store=str(image), shape=values.shape, chunks=(16, 16), dtype="uint16")
    array[:] = values
    endpoint: S3Endpoint = request.getfixturevalue(f"{server}_endpoint")
    for name, value in endpoint.env().items():
        if name.startswith("AWS_"):
            cli.env[name] = value
    url = upload_tree(endpoint, tmp_path / "bucket", "idr/")
    cli("source", "add", "idr", url, "--endpoint-url", endpoint.endpoint_url)
    cli("sync", "idr")
    assert len(await mirrored_files(cli, "idr")) == len(file_bytes(tmp_path / "bucket")) > 30

    base = datamirror_server(cli.env)
    store = zarr.storage.FsspecStore.from_url(
        f"{base}/datasets/idr/latest/image.zarr", read_only=True
    )
    mirrored = zarr.open_array(store=store, mode="r")
    assert numpy.array_equal(mirrored[:], values)
    digest = hashlib.sha256(mirrored[10:50, 5:70].tobytes()).hexdigest()
    assert digest == hashlib.sha256(values[10:50, 5:70].tobytes()).hexdigest()


@pytest.mark.s3
@pytest.mark.parametrize("server", ["moto", "rclone"])
async def test_single_part_s3_etags_are_checked_and_kept_as_md5(
    cli: CLI, server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    write_sample_tree(root, seed=23)
    (root / "md5sum.txt").unlink()
    endpoint: S3Endpoint = request.getfixturevalue(f"{server}_endpoint")
    for name, value in endpoint.env().items():
        if name.startswith("AWS_"):
            cli.env[name] = value
    url = upload_tree(endpoint, root, "pub/")
    cli("source", "add", "ds", url, "--endpoint-url", endpoint.endpoint_url)
    cli("sync", "ds")
    catalog = await Catalog.open(cli.env["DATAMIRROR_DB"])
    try:
        entries = await catalog.releases.entries((await catalog.releases.current("ds")).id)
    finally:
        await catalog.close()
    held = {e.path: e.md5 for e in entries}
    assert held == {p: hashlib.md5(data).hexdigest() for p, data in file_bytes(root).items()}
