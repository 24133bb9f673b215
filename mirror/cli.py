"""`datamirror sync | verify | gc | worker` (loaded lazily by catalog.cli)."""

from __future__ import annotations

import asyncio
import gc as pygc
from concurrent.futures import ThreadPoolExecutor

import click

from catalog.config import Settings
from catalog.errors import DatamirrorError
from catalog.repository import Catalog
from catalog.store import open_store
from mirror.progress import Progress, make_progress
from mirror.report import SyncReport
from mirror.sources.factory import open_source
from mirror.sync import (
    DEFAULT_MEMORY,
    DEFAULT_PARALLEL,
    DEFAULT_PART_SIZE,
    MiB,
    SyncOptions,
    run_sync,
)

IO_THREADS = 32
UNITS = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB, "t": 1024**4}


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    return settings if settings is not None else Settings.from_env()


def parse_size(text: str) -> int:
    """`16MiB`, `16M`, `512k`, `1048576` -> bytes."""
    clean = text.strip().lower().removesuffix("/s").removesuffix("ib").removesuffix("b")
    unit = clean[-1:] if clean[-1:] in UNITS and clean[-1:] else ""
    try:
        value = int(float(clean.removesuffix(unit)) * UNITS[unit])
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size such as 16MiB or 1048576") from None
    if value <= 0:
        raise click.BadParameter(f"{text!r} must be positive")
    return value


async def sync_dataset(
    settings: Settings, catalog: Catalog, name: str, options: SyncOptions, progress: Progress
) -> SyncReport:
    # Stores and the catalog block in threads (a put is a write, an fsync and a rename):
    # thousands of small files need more of them in flight than asyncio's default.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(IO_THREADS))
    dataset = await asyncio.to_thread(catalog.get_dataset, name)
    store = open_store(settings.store_url, s3_endpoint=settings.s3_endpoint)
    source = open_source(dataset.url, dataset.options)
    try:
        return await run_sync(catalog, store, source, name, options, progress)
    finally:
        await source.close()
        await store.close()


@click.command()
@click.argument("name")
@click.option(
    "--part-size",
    default=f"{DEFAULT_PART_SIZE // MiB}MiB",
    show_default=True,
    help="Size of ranged parts (at least 5MiB into an S3 store).",
)
@click.option(
    "--parallel",
    default=DEFAULT_PARALLEL,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Connections to the source (files or parts) in flight.",
)
@click.option(
    "--memory",
    default=f"{DEFAULT_MEMORY // MiB}MiB",
    show_default=True,
    help="Bytes of file data held in memory at once, whatever the part size.",
)
@click.option("--bandwidth-limit", help="Cap on the total download rate, e.g. 50MiB (per s).")
@click.option(
    "--max-delete",
    type=click.FloatRange(0, 100),
    help="Override the dataset's limit on the share of files a sync may remove (percent).",
)
@click.option("--keep", type=click.IntRange(min=1), help="Override the releases to retain.")
@click.option("--checksums", help="Override the dataset's checksums: auto, none, or a file.")
@click.option("--wait", is_flag=True, help="Wait for the sync to finish (in-process syncs do).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def sync(
    ctx: click.Context,
    name: str,
    part_size: str,
    parallel: int,
    memory: str,
    bandwidth_limit: str | None,
    max_delete: float | None,
    keep: int | None,
    checksums: str | None,
    wait: bool,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Mirror dataset NAME into a new release; publish it when every file is verified."""
    del wait  # on the embedded default a sync always runs here and waits
    options = SyncOptions(
        part_size=max(parse_size(part_size), 64 * 1024),
        parallel=parallel,
        memory=parse_size(memory),
        bandwidth_limit=parse_size(bandwidth_limit) if bandwidth_limit else None,
        max_delete=max_delete,
        keep=keep,
        checksums=checksums,
    )
    settings = _settings(ctx)
    catalog = Catalog.from_settings(settings)
    # What the imports made lives as long as the process: keep the collector off it.
    pygc.freeze()
    try:
        report = asyncio.run(
            sync_dataset(settings, catalog, name, options, make_progress(quiet=quiet, bar=progress))
        )
    except DatamirrorError as exc:
        for note in getattr(exc, "__notes__", []):
            click.echo(note, err=True)
        raise
    finally:
        catalog.close()
    if not quiet:
        click.echo("\n".join(report.lines()))


@click.command()
@click.argument("name")
@click.option("--release", default="latest", show_default=True)
@click.pass_context
def verify(ctx: click.Context, name: str, release: str) -> None:
    """Re-read every object of a release from the store and check size and xxh3-128."""
    from mirror.verify import verify_release

    bad = asyncio.run(verify_release(_settings(ctx), name, release))
    if bad:
        for problem in bad:
            click.echo(f"bad: {problem}", err=True)
        raise DatamirrorError(
            f"{len(bad)} object(s) of {name} {release} failed verification",
            hint="run `datamirror sync` to fetch them again",
        )
    click.echo(f"{name} {release}: every object verified")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@click.pass_context
def gc(ctx: click.Context, dry_run: bool) -> None:
    """Delete objects that no retained release references."""
    from mirror.gc import collect_garbage

    deleted, kept = asyncio.run(collect_garbage(_settings(ctx), dry_run=dry_run))
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {deleted} object(s); {kept} object(s) still referenced")


@click.command()
@click.option("--once", is_flag=True, help="Sync the datasets due now, then exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Run scheduled syncs (datasets with a --schedule) in this process."""
    from mirror.worker import run_worker

    settings = _settings(ctx)
    catalog = Catalog.from_settings(settings)

    def sync_one(name: str) -> None:
        progress = make_progress(quiet=False, bar=False)
        report = asyncio.run(sync_dataset(settings, catalog, name, SyncOptions(), progress))
        click.echo("\n".join(report.lines()))

    try:
        asyncio.run(run_worker(catalog, sync_one, click.echo, once=once))
    finally:
        catalog.close()
