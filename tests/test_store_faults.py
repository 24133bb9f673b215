"""Faults between datamirror and its S3 store (500, SlowDown, a connection reset during a
part upload): writes are tried again, uploads complete, nothing is lost, and no multipart
upload is left behind. The fault proxy stands between the store and a real S3 server."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from catalog.store.s3 import S3Store
from catalog.store.s3_client import make_client
from mirror.sample_data import BIG_FILE, write_sample_tree
from tests.conftest import CLI
from tests.fixtures.fault_proxy import (
    RESET,
    RESET_BEFORE,
    SERVER_ERROR,
    SLOW_DOWN,
    FaultProxy,
    Rule,
    fault_proxy,
    fault_proxy_thread,
)
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.s3_servers import REGION, STORE_PREFIX, S3Endpoint

pytestmark = pytest.mark.s3

MiB = 1024 * 1024
PART = 5 * MiB
STORE_FAULTS = (RESET, SERVER_ERROR, SLOW_DOWN)


def part_faults(rate: float) -> Rule:
    return Rule(dict.fromkeys(STORE_FAULTS, rate), methods=frozenset({"PUT"}), query="partNumber")


def put_faults(rate: float) -> Rule:
    return Rule(dict.fromkeys(STORE_FAULTS, rate), methods=frozenset({"PUT"}))


def open_uploads(endpoint: S3Endpoint, bucket: str) -> list[str]:
    with closing(endpoint.client()) as client:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [upload["Key"] for upload in uploads]


def assert_each_fault_injected(proxy: FaultProxy) -> None:
    assert {kind: proxy.injected[kind] > 0 for kind in STORE_FAULTS} == dict.fromkeys(
        STORE_FAULTS, True
    ), f"not every fault happened: {dict(proxy.injected)}"


@pytest.fixture
async def faulty_store(
    s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[S3Store, FaultProxy, str]]:
    """An S3 store whose every request goes through a fault proxy (no faults yet)."""
    for name, value in s3_endpoint.env().items():
        monkeypatch.setenv(name, value)
    bucket = s3_endpoint.new_bucket()
    async with fault_proxy(s3_endpoint.endpoint_url, seed=11) as proxy:
        store = S3Store(bucket, f"{STORE_PREFIX}/", make_client(proxy.url.rstrip("/"), REGION))
        try:
            yield store, proxy, bucket
        finally:
            await store.close()


async def test_parts_that_fail_are_uploaded_again_and_the_upload_completes_whole(
    faulty_store: tuple[S3Store, FaultProxy, str], s3_endpoint: S3Endpoint
) -> None:
    store, proxy, bucket = faulty_store
    data = random.Random(3).randbytes(6 * PART + 1234)
    proxy.set_rules(part_faults(0.2))
    writer = await store.start_upload("objects/big.bin", PART)
    # one after another, so that the seeded faults fall on the same requests every run
    for number, start in enumerate(range(0, len(data), PART), start=1):
        await writer.write_part(number, data[start : start + PART])
    proxy.set_rules()
    await writer.complete()

    assert_each_fault_injected(proxy)
    assert await store.get("objects/big.bin") == data
    assert open_uploads(s3_endpoint, bucket) == []


async def test_whole_objects_that_fail_are_put_again(
    faulty_store: tuple[S3Store, FaultProxy, str],
) -> None:
    store, proxy, _ = faulty_store
    objects = {f"objects/small-{n}.txt": f"object {n}\n".encode() * 500 for n in range(30)}
    proxy.set_rules(put_faults(0.1))
    for key, data in objects.items():
        await store.put(key, data)
    proxy.set_rules()

    assert_each_fault_injected(proxy)
    assert {key: await store.get(key) for key in objects} == objects


def test_a_sync_through_store_faults_publishes_every_byte_and_leaves_no_upload(
    cli: CLI, s3_endpoint: S3Endpoint, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, big_file_size=4 * PART + 321)
    server = nginx_server(root)
    bucket = s3_endpoint.new_bucket()
    rules = [
        part_faults(0.06),
        put_faults(0.06),
        Rule({SERVER_ERROR: 0.1, SLOW_DOWN: 0.1, RESET_BEFORE: 0.1}, methods=frozenset({"POST"})),
    ]
    with fault_proxy_thread(s3_endpoint.endpoint_url, rules, seed=5) as proxy:
        cli.env.update(s3_endpoint.env())
        cli.env.update(
            DATAMIRROR_STORE=f"s3://{bucket}/{STORE_PREFIX}",
            DATAMIRROR_S3_ENDPOINT=proxy.url.rstrip("/"),
        )
        cli("source", "add", "faulty", server.url)
        cli("sync", "faulty", "--part-size", "5MiB")
        injected = dict(proxy.injected)
    assert_each_fault_injected(proxy)

    (release,) = json.loads(cli("releases", "faulty", "--json").stdout)
    assert release["state"] == "published", injected
    assert open_uploads(s3_endpoint, bucket) == []
    cli.env["DATAMIRROR_S3_ENDPOINT"] = s3_endpoint.endpoint_url
    cli("verify", "faulty")
    with closing(s3_endpoint.client()) as client:
        key = f"{STORE_PREFIX}/objects/faulty/{release['name']}/{BIG_FILE}"
        stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.md5(stored).digest() == hashlib.md5((root / BIG_FILE).read_bytes()).digest()
