"""The `store_env` fixture's variables point any fresh `datamirror` process at its store."""

from __future__ import annotations

import subprocess
import sys

from catalog.store import open_store
from catalog.store.base import Store
from catalog.store.s3 import S3Store
from tests.fixtures.s3_servers import S3Endpoint

WRITE_FROM_ENV = """
import asyncio
from catalog.config import Settings
from catalog.store import open_store

async def main():
    settings = Settings.from_env()
    store = open_store(settings.store_url, s3_endpoint=settings.s3_endpoint)
    await store.put("from-env.txt", b"written by a fresh process")
    print(store.url)
    await store.close()

asyncio.run(main())
"""


async def test_store_env_points_a_fresh_process_at_the_store(
    store_env: dict[str, str], dm_env: dict[str, str]
) -> None:
    env = {**dm_env, **store_env}
    proc = subprocess.run(
        [sys.executable, "-c", WRITE_FROM_ENV],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    url = proc.stdout.strip()
    assert url.rstrip("/") == store_env["DATAMIRROR_STORE"].rstrip("/")
    reader: Store = _open_with(store_env)
    try:
        assert await reader.get("from-env.txt") == b"written by a fresh process"
    finally:
        await reader.close()


def _open_with(store_env: dict[str, str]) -> Store:
    if "DATAMIRROR_S3_ENDPOINT" not in store_env:
        return open_store(store_env["DATAMIRROR_STORE"])
    endpoint = store_env["DATAMIRROR_S3_ENDPOINT"]
    bucket, _, prefix = store_env["DATAMIRROR_STORE"].removeprefix("s3://").partition("/")
    client = S3Endpoint(
        "check",
        endpoint,
        store_env["AWS_ACCESS_KEY_ID"],
        store_env["AWS_SECRET_ACCESS_KEY"],
    ).client()
    return S3Store(bucket, f"{prefix}/", client)
