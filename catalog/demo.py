"""`datamirror demo`: the whole job on one laptop, with no internet.

It composes the three parts the way an operator would, as processes: a sample source on
loopback (`mirror.sample_source`), `datamirror sync`, then `datamirror serve`, and prints
URLs to try. The catalog and store are the embedded defaults under DATAMIRROR_HOME.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import click

from catalog.cli import open_catalog, settings
from catalog.errors import DatamirrorError, UnknownDatasetError
from catalog.repository import Catalog, DatasetSpec

DATASET = "demo"
BIG_FILE_SIZE = 64 * 1024 * 1024


def _env(ctx: click.Context) -> dict[str, str]:
    conf = settings(ctx)
    env = dict(os.environ)
    env.update(
        DATAMIRROR_HOME=str(conf.home), DATAMIRROR_DB=conf.db_url, DATAMIRROR_STORE=conf.store_url
    )
    return env


@contextmanager
def sample_source(root: Path, env: dict[str, str]) -> Iterator[str]:
    """Run the loopback sample source; yield its base URL."""
    argv = [sys.executable, "-m", "mirror.sample_source", str(root)]
    argv += ["--generate", str(BIG_FILE_SIZE)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise DatamirrorError("the demo's sample source did not start")
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def register(catalog: Catalog, url: str) -> None:
    """Point the demo dataset at this run's source URL (the port changes every run)."""
    try:
        catalog.get_dataset(DATASET)
    except UnknownDatasetError:
        catalog.add_dataset(
            DatasetSpec(
                name=DATASET,
                url=url,
                title="datamirror demo dataset",
                description="Generated genomes, reads, variants and annotation.",
                license="CC0-1.0",
            )
        )
        return
    catalog.update_dataset(DATASET, url=url)


def wait_until_ready(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DatamirrorError(
                "datamirror serve exited before it was ready",
                hint="is the port taken? try `datamirror demo --port 8081`",
            )
        with (
            suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url + "/healthz", timeout=1),  # noqa: S310 (loopback)
        ):
            return
        time.sleep(0.1)
    raise DatamirrorError(f"datamirror serve did not answer on {url} within {timeout:.0f}s")


def print_tour(base: str) -> None:
    latest = f"{base}/datasets/{DATASET}/latest"
    fasta = f"{latest}/genomes/escherichia_coli/K-12_MG1655.fa"
    click.echo(
        f"""
datamirror is serving the mirrored demo dataset at {base}/

Try:
  curl {latest}/
  curl -H 'Accept: application/json' {latest}/
  curl -r 0-199 {fasta}
  curl -sI {latest}/variants/chr1.calls.vcf
  curl -s {latest}/md5sum.txt
  datamirror releases {DATASET}

Press Ctrl-C to stop.""",
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Mirror only; do not start the server.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool) -> None:
    """Mirror a generated sample source on loopback, then serve it."""
    conf = settings(ctx)
    root = conf.home / "demo-source"
    env = _env(ctx)
    cli = [sys.executable, "-m", "catalog.cli"]
    with sample_source(root, env) as url:
        click.echo(f"sample source running at {url}")
        register(open_catalog(ctx), url)
        click.echo(f"mirroring {url} into {conf.store_url}")
        if subprocess.run([*cli, "sync", DATASET, "--progress"], env=env, check=False).returncode:
            raise DatamirrorError("the demo sync failed (see the messages above)")
    subprocess.run([*cli, "releases", DATASET], env=env, check=False)
    if no_serve:
        return
    argv = [*cli, "serve", "--host", host, "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(argv, env=env, text=True)
    try:
        wait_until_ready(f"http://{host}:{port}", server)
        print_tour(f"http://{host}:{port}")
        server.wait()
    except KeyboardInterrupt:
        click.echo("\nstopping")
    finally:
        _stop(server)
