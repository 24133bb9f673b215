"""`datamirror demo`: the whole job on one laptop, with no internet.

It composes the three parts the way an operator would, as processes: a sample source on
loopback (`mirror.sample_source`), `datamirror sync`, then `datamirror serve`, and prints
commands to try that work as printed. The catalog and store are the embedded defaults
under DATAMIRROR_HOME.
"""

from __future__ import annotations

import os
import shlex
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

from catalog.config import Settings
from catalog.errors import DatamirrorError, UnknownDatasetError
from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from datamirror.cli.common import invocation, settings, with_runtime
from serve.server import listen

DATASET = "demo"
BIG_FILE_SIZE = 64 * 1024 * 1024
SELF = [sys.executable, "-m", "datamirror"]


def _env(conf: Settings) -> dict[str, str]:
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


async def register(catalog: Catalog, url: str) -> None:
    """Point the demo dataset at this run's source URL (the port changes every run)."""
    try:
        await catalog.datasets.get(DATASET)
    except UnknownDatasetError:
        await catalog.datasets.add(
            DatasetSpec(
                name=DATASET,
                url=url,
                title="datamirror demo dataset",
                description="Generated genomes, reads, variants and annotation.",
                license="CC0-1.0",
            )
        )
        return
    await catalog.datasets.update(DATASET, url=url)


def wait_until_ready(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DatamirrorError(
                "datamirror serve exited before it was ready (see its message above)"
            )
        with (
            suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url + "/healthz", timeout=1),  # noqa: S310 (loopback)
        ):
            return
        time.sleep(0.1)
    raise DatamirrorError(f"datamirror serve did not answer on {url} within {timeout:.0f}s")


def print_tour(base: str, home: Path) -> None:
    latest = f"{base}/datasets/{DATASET}/latest"
    fasta = f"{latest}/genomes/escherichia_coli/K-12_MG1655.fa"
    command = invocation()
    if home != Path.cwd() / "datamirror-data":
        command = f"DATAMIRROR_HOME={shlex.quote(str(home))} {command}"
    click.echo(
        f"""
datamirror is serving the mirrored demo dataset at {base}/

Try:
  curl {latest}/
  curl -H 'Accept: application/json' {latest}/
  curl -r 0-199 {fasta}
  curl -sI {latest}/variants/chr1.calls.vcf
  curl -s {latest}/.datamirror/md5sum.txt
  {command} releases {DATASET}

Press Ctrl-C to stop.""",
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Mirror only; do not start the server.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool) -> None:
    """Mirror a generated sample source on loopback, then serve it."""
    conf = settings(ctx)
    if not no_serve:
        listen(host, port, reuse_port=False).sock.close()  # a taken port fails now, not later
    env = _env(conf)
    with sample_source(conf.home / "demo-source", env) as url:
        click.echo(f"sample source running at {url}")
        with_runtime(ctx, lambda runtime: register(runtime.catalog, url))
        click.echo(f"mirroring {url} into {conf.store_url}")
        if subprocess.run([*SELF, "sync", DATASET, "--progress"], env=env, check=False).returncode:
            raise DatamirrorError("the demo sync failed (see the messages above)")
    subprocess.run([*SELF, "releases", DATASET], env=env, check=False)
    if no_serve:
        return
    argv = [*SELF, "serve", "--host", host, "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(argv, env=env, text=True)
    try:
        wait_until_ready(f"http://{host}:{port}", server)
        print_tour(f"http://{host}:{port}", conf.home)
        server.wait()
    except KeyboardInterrupt:
        click.echo("\nstopping")
    finally:
        _stop(server)
    if server.returncode not in {0, -signal.SIGTERM, -signal.SIGINT}:
        raise DatamirrorError(f"datamirror serve exited with status {server.returncode}")
