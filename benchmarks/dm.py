"""Driving datamirror as a user does: a fresh home per run, `source add`, `sync`, `serve`,
and finding the bytes a release holds in its store (to check their md5)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.data import Tree, WrongBytesError, check_file
from benchmarks.procs import run
from catalog.layout import MANIFEST
from catalog.manifest import load_manifest

DATASET = "bench"


@dataclass(frozen=True, slots=True)
class Home:
    """One datamirror home: its environment and the folder that holds its store's keys."""

    root: Path
    env: dict[str, str]
    store_root: Path


def argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "datamirror", *args]


def new_home(root: Path, *, s3: tuple[str, str, Path] | None = None) -> Home:
    """A fresh, empty home at `root`; `s3` = (endpoint, bucket/prefix, local folder backing it)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMIRROR_")}
    env.update(
        DATAMIRROR_HOME=str(root),
        DATAMIRROR_DB=f"sqlite:///{root / 'catalog.db'}",
        PYTHONUNBUFFERED="1",
    )
    if s3 is None:
        store_root = root / "store"
        env["DATAMIRROR_STORE"] = store_root.as_uri()
    else:
        endpoint, bucket_prefix, store_root = s3
        shutil.rmtree(store_root, ignore_errors=True)
        env.update(
            DATAMIRROR_STORE=f"s3://{bucket_prefix}",
            DATAMIRROR_S3_ENDPOINT=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
        )
    return Home(root=root, env=env, store_root=store_root)


@functools.cache
def missing_command(command: str) -> str | None:
    """None if `datamirror COMMAND` exists here, else why the workload cannot run it."""
    proc = subprocess.run(
        argv(command, "--help"), capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"`datamirror {command}` is not available yet ({tail[0]})"
    return None


@functools.cache
def sync_flags() -> tuple[str, ...]:
    help_text = subprocess.run(
        argv("sync", "--help"), capture_output=True, text=True, timeout=60, check=False
    ).stdout
    return ("--quiet",) if "--quiet" in help_text else ()


def add_source(home: Home, url: str, name: str = DATASET, *options: str) -> None:
    run(argv("source", "add", name, url, *options), env=home.env)


def sync_argv(name: str = DATASET) -> list[str]:
    return argv("sync", name, *sync_flags())


def serve_argv(port: int, workers: int) -> list[str]:
    return argv("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers))


def current_manifest(home: Home, name: str = DATASET) -> dict[str, str]:
    """path -> store key of the newest release's manifest."""
    manifests = sorted(
        (home.store_root / "releases" / name).glob(f"*/{MANIFEST}"), key=lambda p: p.stat().st_mtime
    )
    if not manifests:
        raise WrongBytesError(f"no release manifest under {home.store_root}")
    _, entries = load_manifest(manifests[-1].read_bytes())
    return {e.path: e.key for e in entries}


def check_release(home: Home, expected: Tree, name: str = DATASET) -> None:
    """Every file of `expected` is in the release, with the source's md5."""
    keys = current_manifest(home, name)
    for rel, digest in expected.md5.items():
        if rel not in keys:
            raise WrongBytesError(f"{rel} is not in the release")
        check_file(digest, home.store_root / keys[rel])


def object_path(home: Home, rel: str, name: str = DATASET) -> Path:
    return home.store_root / current_manifest(home, name)[rel]
