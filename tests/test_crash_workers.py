"""Three `datamirror worker` processes share one fanned-out sync while seeded random ones
are SIGKILLed (and respawned) mid-way: the release publishes exactly once, holding the
source's bytes, and no multipart upload is left open."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from catalog.queue import SYNC, JobState
from catalog.repository import Catalog
from tests.conftest import CLI
from tests.crash_helpers import PART, assert_release_holds, committed_bytes, write_seeded_tree
from tests.fixtures.cluster import Cluster, until
from tests.fixtures.http_sources import NginxFactory
from tests.test_crash_sync import open_uploads

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.nginx, pytest.mark.slow]

KILLS = 6
SEED = 41


async def test_workers_killed_at_random_during_a_shared_sync_publish_it_once_and_right(
    cluster: Cluster, cli: CLI, catalog: Catalog, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    files = write_seeded_tree(tmp_path / "source", SEED, [6 * PART + 3, 4 * PART + 5], small=300)
    total = sum(len(d) for d in files.values())
    server = nginx_server(tmp_path / "source", remote=True, rate="2m")
    cli("source", "add", "ds", server.url, "--connections", "4")
    await cluster.start(3)
    cli("sync", "ds", "--part-size", "5MiB", "--split-above", "10MiB")
    (job,) = await cluster.queue.jobs(dataset="ds", tasks=[SYNC])
    rng = random.Random(SEED)
    killed = []

    for share in sorted(rng.uniform(0.05, 0.85) for _ in range(KILLS)):

        async def under_way(share: float = share) -> bool:
            return await committed_bytes(catalog, "ds") >= share * total

        await until(under_way, f"{share:.0%} committed", 90, cluster.log_text)
        victim = rng.choice([p for p in cluster.procs if p.poll() is None])
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed.append(victim.pid)
        cluster.spawn()

    done = await cluster.finished(job.id, timeout=180)

    assert done.state is JobState.SUCCEEDED, cluster.log_text()
    assert len(killed) == KILLS
    runs = [r.state.value for r in await catalog.runs.list("ds")]
    assert runs.count("succeeded") == 1, runs
    (release,) = json.loads(cli("releases", "ds", "--json").stdout)
    assert release["report"]["published"] is True
    await assert_release_holds(cli, "ds", files)
    assert await open_uploads(cli.env) == []
    sent = sum(sum(server.bytes_sent(path)) for path in files)
    print(f"workers: {KILLS} kills, {sent / total:.3f}x the dataset")
