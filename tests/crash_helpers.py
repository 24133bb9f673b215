"""What the crash tests share: a seeded tree of large and small files, the bytes a
building release has committed, and a check that a published release holds exactly the
source's bytes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import func, select

from catalog.manifest import load_manifest
from catalog.models import Transfer, TransferPart
from catalog.repository import Catalog
from catalog.store import open_store
from tests.conftest import CLI

KiB, MiB = 1024, 1024 * 1024
PART = 5 * MiB  # S3's smallest multipart part, so every store takes the same parts


def write_seeded_tree(root: Path, seed: int, big: list[int], small: int) -> dict[str, bytes]:
    """Files of `big` sizes under big/, `small` files of 1-64 KiB under small/, and an
    md5sum.txt of them all, made from `seed`; the files by path (md5sum.txt included)."""
    rng = random.Random(seed)
    files = {f"big/b{i}.bin": rng.randbytes(size) for i, size in enumerate(big)}
    for i in range(small):
        files[f"small/s{i:03d}.bin"] = rng.randbytes(rng.randint(KiB, 64 * KiB))
    sums = "".join(f"{hashlib.md5(d).hexdigest()}  {p}\n" for p, d in sorted(files.items()))
    files["md5sum.txt"] = sums.encode()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return files


async def committed_bytes(catalog: Catalog, dataset: str) -> int:
    """Bytes the building release of `dataset` has committed: landed parts and files."""
    building = await catalog.releases.building(dataset)
    if building is None:
        return 0
    parts = (
        select(func.coalesce(func.sum(TransferPart.length), 0))
        .join(Transfer, TransferPart.transfer_id == Transfer.id)
        .where(Transfer.release_id == building.id)
    )
    landed = int(await catalog.db.run(lambda session: session.execute(parts).scalar_one()))
    return landed + sum(e.size for e in await catalog.releases.entries(building.id))


async def kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], Awaitable[bool]], timeout: float = 60
) -> bool:
    """SIGKILL `proc` once `ready()`; False when it exited first (0, or it fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            assert proc.returncode == 0, f"the sync exited {proc.returncode}"
            return False
        if await ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return True
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{proc.args!r} neither finished nor reached its kill in {timeout} s")


async def assert_release_holds(cli: CLI, dataset: str, files: dict[str, bytes]) -> str:
    """The one published release of `dataset` holds exactly `files`, byte for byte, by
    its manifest; its name."""
    (release,) = json.loads(cli("releases", dataset, "--json").stdout)
    assert release["state"] == "published"
    assert release["files"] == len(files)
    store = open_store(
        cli.env["DATAMIRROR_STORE"], s3_endpoint=cli.env.get("DATAMIRROR_S3_ENDPOINT")
    )
    try:
        raw = await store.get(f"releases/{dataset}/{release['name']}/manifest.json")
        _, entries = load_manifest(raw)
        keys = {e.path: e.key for e in entries}
        assert set(keys) == set(files)
        for path, data in sorted(files.items()):
            md5 = hashlib.md5()
            async for chunk in store.stream(keys[path]):
                md5.update(chunk)
            assert md5.hexdigest() == hashlib.md5(data).hexdigest(), path
    finally:
        await store.close()
    cli("verify", dataset)
    return str(release["name"])
