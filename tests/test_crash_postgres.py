"""PostgreSQL restarting under datamirror (a server of the test's own, stopped and started
again): a worker's sync goes on and publishes once, and `datamirror serve` answers 503
while the database is away, its readiness false, then recovers by itself."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalog.queue import SYNC, JobQueue, JobState, new_app
from catalog.repository import Catalog
from catalog.store import open_store
from tests.conftest import CLI
from tests.crash_helpers import PART, assert_release_holds, committed_bytes, write_seeded_tree
from tests.fixtures.cluster import Cluster, until
from tests.fixtures.datamirror_server import publish_files
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.own_postgres import OwnPostgres

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


@pytest.fixture(autouse=True)
def once_per_suite(db_kind: str) -> None:
    if db_kind == "postgresql":
        pytest.skip("brings its own PostgreSQL whatever --db says: runs once, in the SQLite pass")


@pytest.fixture
async def own_catalog(own_postgres: OwnPostgres, cli: CLI) -> AsyncIterator[Catalog]:
    """The catalog on the test's own PostgreSQL, migrated; the CLI pointed at it."""
    cli.env["DATAMIRROR_DB"] = own_postgres.url
    cli("migrate")
    made = await Catalog.open(own_postgres.url)
    yield made
    await made.close()


async def test_a_workers_sync_survives_postgresql_restarting_twice(
    own_postgres: OwnPostgres, own_catalog: Catalog, cli: CLI, nginx_server: NginxFactory,
    tmp_path: Path,
) -> None:  # fmt: skip
    files = write_seeded_tree(tmp_path / "source", 5, [3 * PART + 99, PART + 7], small=60)
    total = sum(len(d) for d in files.values())
    cli.env["DATAMIRROR_STORE"] = (tmp_path / "store").as_uri()
    cli("source", "add", "ds", nginx_server(tmp_path / "source", remote=True, rate="2m").url)
    queue = JobQueue(new_app(own_postgres.url), own_catalog.runs, stalled_after=2.0)
    logs = tmp_path / "workers"
    logs.mkdir()
    cluster = Cluster(cli, queue, logs)
    try:
        await cluster.start(1)
        cli("sync", "ds", "--part-size", "5MiB", "--split-above", "10MiB", "--parallel", "2")
        (job,) = await queue.jobs(dataset="ds", tasks=[SYNC])
        for share in (0.25, 0.6):

            async def under_way(share: float = share) -> bool:
                return await committed_bytes(own_catalog, "ds") >= share * total

            await until(under_way, f"{share:.0%} committed", 90, cluster.log_text)
            own_postgres.stop("immediate")  # a crash: every connection gone, none accepted
            await asyncio.sleep(3)
            own_postgres.start()
        done = await cluster.finished(job.id, timeout=120)
        assert done.state is JobState.SUCCEEDED, cluster.log_text()
        assert all(p.poll() is None for p in cluster.procs), cluster.log_text()
    finally:
        cluster.stop()
        await queue.close()
    runs = [r.state.value for r in await own_catalog.runs.list("ds")]
    assert runs.count("succeeded") == 1, runs
    await assert_release_holds(cli, "ds", files)


def answer(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            status = response.status
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        body, status, kind = exc.read(), exc.code, exc.headers.get("Content-Type", "")
        exc.close()
    return status, json.loads(body) if "json" in kind else {"text": body[:200]}


async def wait_status(url: str, status: int, timeout: float) -> tuple[int, dict[str, object]]:
    deadline, got = time.monotonic() + timeout, (0, {})
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(answer, url)
        if got[0] == status:
            return got
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} answered {got} for {timeout} s, not {status}")


async def test_the_server_answers_503_while_postgresql_is_away_and_recovers_by_itself(
    own_postgres: OwnPostgres, own_catalog: Catalog, cli: CLI, tmp_path: Path,
    datamirror_server: object,
) -> None:  # fmt: skip
    cli.env["DATAMIRROR_STORE"] = (tmp_path / "store").as_uri()
    store = open_store(cli.env["DATAMIRROR_STORE"])
    try:
        release = await publish_files(own_catalog, store, "ds", {"a.txt": b"alpha\n"})
    finally:
        await store.close()
    base = datamirror_server(cli.env)  # type: ignore[operator]
    file_url = f"{base}/datasets/ds/{release}/a.txt"
    assert (await wait_status(f"{base}/readyz", 200, 10))[1]["db"] == "ok"

    own_postgres.stop("immediate")
    down = await wait_status(f"{base}/readyz", 503, 20)
    assert down[1]["db"] != "ok"
    landing = await wait_status(f"{base}/datasets/ds/", 503, 20)
    assert "the catalog database is unavailable" in str(landing[1]), landing
    assert "DATAMIRROR_DB" not in str(landing[1])  # the operator's facts stay in the log
    assert str(own_postgres.port) not in str(landing[1])
    own_postgres.start()

    assert (await wait_status(f"{base}/readyz", 200, 30))[1]["db"] == "ok"
    assert (await wait_status(f"{base}/datasets/ds/", 200, 30))[0] == 200
    assert (await wait_status(file_url, 200, 10))[0] == 200
