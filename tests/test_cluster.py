"""Several `datamirror worker` processes on PostgreSQL and an S3 store share syncs: one
sync fans out over all of them, a worker killed mid-way has its jobs taken over, syncs of
one dataset run in turn, and gc waits for a running sync."""

from __future__ import annotations

import hashlib
import json
import re
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog.leases import dataset_lease
from catalog.models import Lease, Transfer, TransferPart
from catalog.queue import JobState
from catalog.repository import Catalog
from catalog.store import open_store
from mirror.batch_jobs import source_host
from tests.conftest import CLI
from tests.fixtures.cluster import Cluster, KiB, MiB, until, write_tree
from tests.fixtures.http_sources import NginxFactory

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.nginx, pytest.mark.slow]

PART = 5 * MiB


async def landed_parts(catalog: Catalog) -> set[tuple[int, int]]:
    query = select(TransferPart.offset, TransferPart.length).join(
        Transfer, TransferPart.transfer_id == Transfer.id
    )
    rows = await catalog.db.run(lambda session: session.execute(query).all())
    return {(offset, length) for offset, length in rows}


async def recorded_paths(catalog: Catalog, dataset: str) -> set[str]:
    building = await catalog.releases.building(dataset)
    if building is None:
        return set()
    return {e.path for e in await catalog.releases.entries(building.id)}


async def lease_holder_pid(catalog: Catalog, dataset: str) -> int | None:
    lease = await catalog.db.run(lambda s: s.get(Lease, dataset_lease(dataset)))
    return int(lease.holder.split(":")[1]) if lease is not None else None


def requests(lines: list[str]) -> list[tuple[str, str]]:
    """(path, range) of every GET in an nginx access log of `$request $status $range`."""
    found = []
    for line in lines:
        if match := re.match(r"GET /(\S*) HTTP/1.1 \d+ (\S+)$", line):
            found.append((match.group(1), match.group(2)))
    return found


def range_of(offset: int, length: int) -> str:
    return f"bytes={offset}-{offset + length - 1}"


async def stored_md5(cli: CLI, key: str) -> str:
    store = open_store(cli.env["DATAMIRROR_STORE"], s3_endpoint=cli.env["DATAMIRROR_S3_ENDPOINT"])
    md5 = hashlib.md5()
    try:
        async for chunk in store.stream(key):
            md5.update(chunk)
    finally:
        await store.close()
    return md5.hexdigest()


async def test_three_workers_share_a_sync_and_one_killed_midway_loses_nothing(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    files = write_tree(root, small=400, big=8 * PART + 123 * KiB)
    server = nginx_server(root, remote=True)
    cli("source", "add", "ds", server.url, "--connections", "3")
    await cluster.start(3)
    cli("sync", "ds", "--part-size", "5MiB", "--split-above", "10MiB")
    (job,) = await cluster.queue.jobs(dataset="ds", tasks=["datamirror:sync"])

    host, in_use = source_host(server.url), []

    async def midway() -> bool:
        in_use.append(await catalog.slots.in_use(host))
        parts, paths = await landed_parts(catalog), await recorded_paths(catalog, "ds")
        return len(parts) >= 2 and len(paths) >= 60

    await until(midway, "two parts and 60 files landed", 60, cluster.log_text)
    pid = await lease_holder_pid(catalog, "ds")
    assert pid is not None
    victim = cluster.worker_of(pid)  # the worker that coordinates the sync
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    committed_parts = await landed_parts(catalog)
    committed_files = await recorded_paths(catalog, "ds")
    assert 0 < max(in_use) <= 3  # three workers, one cap of three connections to the host

    done = await cluster.finished(job.id)

    assert done.state is JobState.SUCCEEDED, cluster.log_text()
    assert done.attempts >= 1  # it ran again after its worker died
    (release,) = json.loads(cli("releases", "ds", "--json").stdout)
    assert release["state"] == "published"
    assert release["files"] == len(files) + 1  # and md5sum.txt
    assert release["report"]["published"] is True
    runs = [(r.state.value, r.error) for r in await catalog.runs.list("ds")]
    assert runs.count(("succeeded", None)) == 1
    fetched = requests(server.log_lines())
    for offset, length in committed_parts:
        assert fetched.count(("big.bin", range_of(offset, length))) == 1, (offset, length)
    for path in committed_files - {"big.bin", "md5sum.txt"}:
        assert fetched.count((path, "-")) == 1, path
    big_md5 = hashlib.md5(files["big.bin"]).hexdigest()
    assert await stored_md5(cli, f"objects/ds/{release['name']}/big.bin") == big_md5
    cli("verify", "ds")


async def test_two_syncs_of_one_dataset_queued_at_once_run_one_after_the_other(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_tree(root, small=40, big=0)
    cli("source", "add", "ds", nginx_server(root, remote=True).url)
    first = await cluster.queue.enqueue_sync("ds")
    second = await cluster.queue.enqueue_sync("ds")
    assert first is not None
    assert second is not None
    await cluster.start(2)

    one, two = await cluster.finished(first), await cluster.finished(second)

    assert (one.state, two.state) == (JobState.SUCCEEDED, JobState.SUCCEEDED)
    assert one.finished_at is not None
    assert two.started_at is not None
    assert one.finished_at <= two.started_at
    reports = [r.report for r in await catalog.runs.list("ds")]
    assert [r["published"] for r in reports] == [True, False]
    assert reports[1]["up_to_date"] is True


async def test_gc_waits_for_a_running_sync_of_the_dataset(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_tree(root, small=300, big=0)
    cli("source", "add", "ds", nginx_server(root, remote=True).url, "--connections", "2")
    await cluster.start(1)
    job_id = await cluster.queue.enqueue_sync("ds")
    assert job_id is not None

    async def syncing() -> bool:
        return await lease_holder_pid(catalog, "ds") is not None and bool(
            await recorded_paths(catalog, "ds")
        )

    await until(syncing, "the sync holding its lease", 60, cluster.log_text)
    gc = cli("gc", timeout=120)

    sync = await cluster.queue.job(job_id)
    assert sync.state is JobState.SUCCEEDED, cluster.log_text()
    assert "waiting for the sync" in gc.stderr
    assert "deleted 0 object(s)" in gc.stdout
    cli("verify", "ds")
