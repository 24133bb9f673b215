"""A sync converges on the ordinary faults of a wide-area network: through the fault proxy in
front of nginx, each fault alone at 20% and all together at 8% each, a tree of large
(multi-part) and small files is published in one run, every byte the source's, and the
report counts the retries by the kinds the proxy injected. At absurd rates the sync fails
cleanly and the previous release stays current and intact."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from catalog.store import open_store
from catalog.store.base import Store
from mirror.retry import DIGEST, IGNORED_RANGE, RESET, SERVER_ERROR, TRUNCATION, RetryPolicy
from mirror.sample_data import write_md5sums
from mirror.sources.http import HTTPSource
from mirror.sync import SyncOptions, run_sync
from tests.conftest import CLI
from tests.fixtures.fault_proxy import (
    FLIP,
    IGNORE_RANGE,
    RESET_BEFORE,
    TRUNCATE,
    UNAVAILABLE,
    FaultProxy,
    Rule,
    every,
    fault_proxy,
    fault_proxy_thread,
)
from tests.fixtures.fault_proxy import RESET as PROXY_RESET
from tests.fixtures.http_sources import NginxFactory

pytestmark = pytest.mark.nginx

PART = 128 * 1024
FAST = RetryPolicy(attempts=8, initial_wait=0.01, max_wait=0.05, deadline=60)
DATA_FILES = r"\.(bin|dat)$"  # listings and md5sum.txt pass untouched: a flipped bit there
# changes what the source says, which no client can tell
COUNTED_AS = {PROXY_RESET: RESET, RESET_BEFORE: RESET, TRUNCATE: TRUNCATION, FLIP: DIGEST,
              UNAVAILABLE: SERVER_ERROR, IGNORE_RANGE: IGNORED_RANGE}  # fmt: skip
ALL_KINDS = list(COUNTED_AS)


def write_tree(root: Path, seed: int = 5) -> dict[str, bytes]:
    """Three files of several parts each and 30 small ones, with their md5sum.txt."""
    rng = random.Random(seed)
    files = {f"big/{i}.bin": rng.randbytes(6 * PART + 1000 * i + 7) for i in range(3)}
    files |= {f"small/{i:02d}.dat": rng.randbytes(rng.randrange(1, 40_000)) for i in range(30)}
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    write_md5sums(root, list(files))
    return files


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "source"
    return root, write_tree(root)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store((tmp_path / "store").as_uri())
    yield opened
    await opened.close()


async def sync_through(proxy: FaultProxy, catalog: Catalog, store: Store) -> dict[str, int]:
    """One sync of the proxied tree; the retries its report counts."""
    if not await catalog.datasets.list():
        await catalog.datasets.add(DatasetSpec("faulty", proxy.url))
    source = HTTPSource(proxy.url, policy=FAST)
    try:
        report = await run_sync(catalog, store, source, "faulty",
                                SyncOptions(part_size=PART, parallel=16, policy=FAST))  # fmt: skip
    finally:
        await source.close()
    assert report.published
    return report.retries


async def published_bytes(catalog: Catalog, store: Store) -> dict[str, bytes]:
    release = await catalog.releases.current("faulty")
    entries = await catalog.releases.entries(release.id)
    return {e.path: await store.get(e.key) for e in entries if e.path != "md5sum.txt"}


def assert_counted_in_kind(injected: dict[str, int], retries: dict[str, int]) -> None:
    """Every kind the proxy injected shows in the report's retries, and nothing else."""
    assert sum(injected.values()) > 0, "the proxy injected nothing: the test proves nothing"
    assert {COUNTED_AS[k] for k in injected} == set(retries), (injected, retries)


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_each_fault_alone_at_20_percent_still_publishes_every_byte_in_one_run(
    kind: str, tree: tuple[Path, dict[str, bytes]], nginx_server: NginxFactory,
    catalog: Catalog, store: Store,
) -> None:  # fmt: skip
    root, files = tree
    rules = [Rule({kind: 0.2}, path=DATA_FILES)]
    async with fault_proxy(nginx_server(root).url, rules, seed=11) as proxy:
        retries = await sync_through(proxy, catalog, store)
    assert await published_bytes(catalog, store) == files
    assert_counted_in_kind(dict(proxy.injected), retries)


async def test_all_faults_together_at_8_percent_each_still_publish_every_byte_in_one_run(
    tree: tuple[Path, dict[str, bytes]], nginx_server: NginxFactory, catalog: Catalog,
    store: Store,
) -> None:  # fmt: skip
    root, files = tree
    rules = [every(0.08, ALL_KINDS, path=DATA_FILES)]
    async with fault_proxy(nginx_server(root).url, rules, seed=2) as proxy:
        retries = await sync_through(proxy, catalog, store)
    assert await published_bytes(catalog, store) == files
    assert_counted_in_kind(dict(proxy.injected), retries)
    assert sum(retries.values()) <= sum(proxy.injected.values())


async def test_a_server_that_always_ignores_range_gets_its_large_files_as_one_stream(
    tree: tuple[Path, dict[str, bytes]], nginx_server: NginxFactory, catalog: Catalog,
    store: Store,
) -> None:  # fmt: skip
    root, files = tree
    rules = [Rule({IGNORE_RANGE: 1.0}, path=DATA_FILES)]
    async with fault_proxy(nginx_server(root).url, rules) as proxy:
        await sync_through(proxy, catalog, store)
    assert await published_bytes(catalog, store) == files
    assert proxy.injected[IGNORE_RANGE] > 0
    run = await catalog.runs.latest("faulty")
    assert run is not None
    assert sorted(run.report["whole_files"]) == sorted(p for p in files if p.startswith("big/"))


def test_at_absurd_fault_rates_the_sync_fails_cleanly_and_the_previous_release_stays(
    tmp_path: Path, nginx_server: NginxFactory, cli: CLI
) -> None:
    root = tmp_path / "source"
    files = write_tree(root)
    with fault_proxy_thread(nginx_server(root).url) as proxy:
        cli("source", "add", "faulty", proxy.url)
        first = cli("sync", "faulty", "--part-size", "128KiB").stdout
        previous = first.split(":")[0].removeprefix("faulty ")
        write_tree(root, seed=6)  # new bytes upstream: the next sync must fetch them
        proxy.set_rules(every(0.9 / len(ALL_KINDS), ALL_KINDS, path=DATA_FILES))
        failed = cli("sync", "faulty", "--part-size", "128KiB", "--retries", "1", check=False)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "error: " in failed.stderr
    assert "hint: " in failed.stderr
    assert "not published" in failed.stderr
    assert "retries (resets" in failed.stderr
    assert sum(proxy.injected.values()) > 0
    after = json.loads(cli("releases", "faulty", "--json").stdout)
    assert [r["name"] for r in after if r["current"]] == [previous]
    objects = Path(cli.env["DATAMIRROR_HOME"]) / "store" / "objects" / "faulty" / previous
    assert {p: (objects / p).read_bytes() for p in files} == files
