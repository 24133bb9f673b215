"""`datamirror sync` SIGKILLed at 20 seeded moments over one run, on the local store and
on S3: every resume converges to the source's bytes, what the source sent stays within
1.2x the dataset plus one part per kill, and no multipart upload outlives the release."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.repository import Catalog
from tests.conftest import CLI
from tests.crash_helpers import (
    PART,
    assert_release_holds,
    committed_bytes,
    kill_when,
    write_seeded_tree,
)
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.s3_servers import STORE_PREFIX, S3Endpoint

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

KILLS = 20
SEED = 14
BIG = [3 * PART + 12345, 2 * PART + 777, PART + 4321]
SYNC = ["sync", "ds", "--part-size", "5MiB", "--parallel", "3", "--quiet"]


@dataclass(frozen=True, slots=True)
class Moment:
    """Kill `delay` s after the release has committed `fraction` of the dataset; a
    moment already passed when the run starts kills 0.5 + 4 x `delay` s after it started
    (in start-up, listing, planning, reopening uploads)."""

    fraction: float
    delay: float


def moments(seed: int, count: int) -> list[Moment]:
    rng = random.Random(seed)
    spread = sorted(rng.uniform(0.0, 1.0) for _ in range(count - 2))
    # the last two wait for every byte: they land in completing, manifest or publishing
    return [Moment(f, rng.uniform(0.0, 0.4)) for f in [*spread, 1.0, 1.0]]


@dataclass
class Crashes:
    kills: int = 0
    runs: int = 0


async def reached(catalog: Catalog, moment: Moment, total: int) -> Callable[[], Awaitable[bool]]:
    """Whether `moment` has come in the run that starts now."""
    loop = asyncio.get_running_loop()
    threshold = moment.fraction * total
    delay, since = moment.delay, None
    if await committed_bytes(catalog, "ds") >= threshold:
        delay, since = 0.5 + 4 * moment.delay, loop.time()

    async def due() -> bool:
        nonlocal since
        if since is None and await committed_bytes(catalog, "ds") >= threshold:
            since = loop.time()
        return since is not None and loop.time() - since >= delay

    return due


async def kill_over_one_run(cli: CLI, catalog: Catalog, total: int, plan: list[Moment]) -> Crashes:
    argv = [sys.executable, "-m", "datamirror", *SYNC]
    seen = Crashes()
    for moment in plan:
        proc = subprocess.Popen(argv, env=cli.env, cwd=cli.cwd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        seen.runs += 1
        if not await kill_when(proc, await reached(catalog, moment, total)):
            return seen
        seen.kills += 1
    cli(*SYNC)
    seen.runs += 1
    return seen


@pytest.mark.parametrize(
    "store_env", ["local", pytest.param("s3-moto", marks=pytest.mark.s3)], indirect=True
)
async def test_a_sync_killed_twenty_times_publishes_the_source_byte_for_byte(
    cli: CLI, catalog: Catalog, store_env: dict[str, str], nginx_server: NginxFactory,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    files = write_seeded_tree(tmp_path / "source", SEED, BIG, small=40)
    total = sum(len(d) for d in files.values())
    server = nginx_server(tmp_path / "source", remote=True, rate="2m")
    cli.env.update(store_env)
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    cli("source", "add", "ds", server.url)

    seen = await kill_over_one_run(cli, catalog, total, moments(SEED, KILLS))

    assert seen.kills >= KILLS - 2, f"only {seen.kills} kills landed before the run finished"
    await assert_release_holds(cli, "ds", files)
    sent = sum(sum(server.bytes_sent(path)) for path in files)
    print(f"crashes: {seen.kills} kills, {seen.runs} runs, {sent / total:.3f}x the dataset")
    assert sent <= 1.2 * total + seen.kills * PART, (sent, total, seen.kills)
    assert await open_uploads(store_env) == []


async def open_uploads(store_env: dict[str, str]) -> list[str]:
    """Multipart uploads still open in the store: S3's own list, or the local store's
    upload folders."""
    url = store_env["DATAMIRROR_STORE"]
    if url.startswith("file://"):
        return [p.name for p in (Path(url.removeprefix("file://")) / ".uploads").iterdir()]
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    keys = store_env["AWS_ACCESS_KEY_ID"], store_env["AWS_SECRET_ACCESS_KEY"]
    endpoint = S3Endpoint("s3", store_env["DATAMIRROR_S3_ENDPOINT"], *keys)
    client = endpoint.client()
    try:
        answer = client.list_multipart_uploads(Bucket=bucket, Prefix=STORE_PREFIX)
    finally:
        client.close()
    return [u["Key"] for u in answer.get("Uploads", [])]
