"""A worker's life in a cluster: SIGTERM hands its jobs back and exits 0; the database's
connections cut under it change nothing; `sync --wait` ends as its job ends; `jobs`
lists, retries and cancels; schedules queue syncs; /metrics tells what workers did
(retries by kind included, counted once in the sync's report)."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from catalog.queue import GC, SYNC, VERIFY, JobState
from catalog.repository import Catalog
from tests.conftest import CLI
from tests.fixtures.cluster import Cluster, until, write_tree
from tests.fixtures.fault_proxy import UNAVAILABLE, every, fault_proxy_thread
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.net import free_port
from tests.test_cluster import PART, landed_parts, range_of, recorded_paths, requests

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.nginx, pytest.mark.slow]


async def test_sigterm_hands_a_workers_jobs_back_and_it_exits_0(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_tree(root, small=20, big=8 * PART)
    server = nginx_server(root, remote=True)
    cli("source", "add", "ds", server.url, "--connections", "1")
    (first,) = await cluster.start(1, "--grace", "0.5")
    cli("sync", "ds", "--part-size", "5MiB", "--split-above", "10MiB")
    (job,) = await cluster.queue.jobs(dataset="ds", tasks=[SYNC])

    async def two_parts() -> bool:
        return len(await landed_parts(catalog)) >= 2

    await until(two_parts, "two parts landed", 60, cluster.log_text)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(first.wait, 30) == 0, cluster.log_text()
    committed = await landed_parts(catalog)
    assert (await cluster.queue.job(job.id)).state is JobState.QUEUED
    assert not await cluster.queue.jobs(dataset="ds", states=[JobState.RUNNING])

    await cluster.start(1)
    done = await cluster.finished(job.id)

    assert done.state is JobState.SUCCEEDED, cluster.log_text()
    fetched = requests(server.log_lines())
    for offset, length in committed:
        assert fetched.count(("big.bin", range_of(offset, length))) == 1
    cli("verify", "ds")


async def test_a_worker_goes_on_when_its_database_connections_are_cut(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path,
    pg_admin: object,
) -> None:  # fmt: skip
    """What PostgreSQL restarting does to a worker: every connection dropped at once."""
    root = tmp_path / "source"
    write_tree(root, small=300, big=3 * PART)
    cli("source", "add", "ds", nginx_server(root, remote=True).url, "--connections", "2")
    await cluster.start(2)
    cli("sync", "ds", "--part-size", "5MiB", "--split-above", "10MiB")
    (job,) = await cluster.queue.jobs(dataset="ds", tasks=[SYNC])

    async def started() -> bool:
        return len(await recorded_paths(catalog, "ds")) >= 20

    await until(started, "the sync under way", 60, cluster.log_text)
    database = catalog.url.rsplit("/", 1)[1]
    cut = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = :db AND pid <> pg_backend_pid()"
    )
    for _ in range(2):
        with pg_admin.connect() as connection:  # type: ignore[attr-defined]
            assert connection.execute(cut, {"db": database}).scalar()
        await asyncio.sleep(0.5)

    done = await cluster.finished(job.id, timeout=120)

    assert done.state is JobState.SUCCEEDED, cluster.log_text()
    assert all(proc.poll() is None for proc in cluster.procs), cluster.log_text()
    cli("verify", "ds")


async def test_sync_wait_ends_as_its_job_and_jobs_lists_retries_and_cancels(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    write_tree(good, small=30, big=0)
    write_tree(bad, small=5, big=0)
    sums = (bad / "md5sum.txt").read_text().splitlines()
    sums[0] = "0" * 32 + sums[0][32:]  # a published digest the bytes do not match
    (bad / "md5sum.txt").write_text("\n".join(sums) + "\n")
    cli("source", "add", "good", nginx_server(good).url)
    cli("source", "add", "bad", nginx_server(bad).url)
    cli("source", "add", "nightly", nginx_server(good).url, "--schedule", "0 3 * * *")
    port = free_port()
    (worker,) = await cluster.start(1, "--metrics-port", str(port))

    ok = cli("sync", "good", "--wait", "--no-progress")
    failed = cli("sync", "bad", "--wait", "--no-progress", check=False)

    assert "good 2" in ok.stdout
    assert "published" in ok.stdout
    assert failed.returncode == 1
    assert "checksum mismatch for sub/f0000.bin: md5 expected 000000" in failed.stderr
    assert "error: job" in failed.stderr
    assert "failed" in failed.stderr
    (nightly,) = await cluster.queue.jobs(dataset="nightly", tasks=[SYNC])  # its schedule's
    assert (await cluster.finished(nightly.id)).state is JobState.SUCCEEDED
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    for line in (b'datamirror_worker_jobs_started_total{task="sync"}',
                 b'datamirror_worker_jobs_failed_total{task="sync"}',
                 b'datamirror_queue_jobs{state="failed"}',
                 b"datamirror_worker_fetched_bytes_total"):  # fmt: skip
        assert line in metrics
    verify = await cluster.queue.enqueue(VERIFY, {"dataset": "good"})
    sweep = await cluster.queue.enqueue(GC, {"dry_run": True}, lock="gc")
    assert verify is not None
    assert sweep is not None
    assert (await cluster.finished(verify)).state is JobState.SUCCEEDED
    assert (await cluster.finished(sweep)).state is JobState.SUCCEEDED
    listing = cli("jobs", "--dataset", "bad", "--state", "failed").stdout
    (failed_id,) = [int(row.split()[0]) for row in listing.splitlines()[1:]]
    assert "sync" in listing
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 30) == 0
    assert f"job {failed_id} (sync) is queued" in cli("jobs", "retry", str(failed_id)).stdout
    assert "is cancelled" in cli("jobs", "cancel", str(failed_id)).stdout
    assert (await cluster.queue.job(failed_id)).state is JobState.CANCELLED
    gone = cli("jobs", "cancel", "424242", check=False)
    assert gone.returncode == 1
    assert "no job with id 424242" in gone.stderr


async def test_a_fanned_out_syncs_report_and_metrics_count_the_retries_of_its_jobs(
    cluster: Cluster, cli: CLI, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_tree(root, small=40, big=3 * PART)
    port = free_port()
    with fault_proxy_thread(nginx_server(root).url, seed=5, retry_after=0) as proxy:
        proxy.set_rules(every(0.2, [UNAVAILABLE], path=r"\.bin$"))
        cli("source", "add", "ds", proxy.url)
        await cluster.start(1, "--metrics-port", str(port))
        done = cli("sync", "ds", "--wait", "--no-progress", "--part-size", "5MiB",
                   "--split-above", "10MiB")  # fmt: skip
        injected = proxy.injected[UNAVAILABLE]

    assert injected > 0
    assert "published" in done.stdout
    assert f"{injected} retries (resets 0, truncations 0, 5xx {injected}" in done.stdout
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    assert f'datamirror_worker_retries_total{{kind="5xx"}} {injected}.0'.encode() in metrics
