"""The `datamirror` console script. Catalog commands live here; the mirror and serve
commands are loaded lazily from their packages, so `catalog` never imports them at import
time and `datamirror source list` stays fast.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from catalog.config import Settings
from catalog.errors import DatamirrorError
from catalog.repository import Catalog, DatasetSpec

LAZY_COMMANDS = {
    "sync": "mirror.cli:sync",
    "verify": "mirror.cli:verify",
    "gc": "mirror.cli:gc",
    "worker": "mirror.cli:worker",
    "demo": "catalog.demo:demo",
    "serve": "serve.cli:serve",
    "token": "serve.cli:token",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        try:
            command: click.Command = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            return None
        return command


def settings(ctx: click.Context) -> Settings:
    value = ctx.find_object(Settings)
    assert value is not None
    return value


def open_catalog(ctx: click.Context) -> Catalog:
    return Catalog.from_settings(settings(ctx))


@click.group(cls=LazyGroup)
@click.option("--home", envvar="DATAMIRROR_HOME", help="Data folder (default ./datamirror-data).")
@click.option("--db", envvar="DATAMIRROR_DB", help="Catalog database URL.")
@click.option("--store", envvar="DATAMIRROR_STORE", help="Object store URL.")
@click.version_option(package_name="datamirror")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None, store: str | None) -> None:
    """Mirror life-science datasets as verified, versioned releases and serve them."""
    env = {**os.environ, **({"DATAMIRROR_HOME": home} if home else {})}
    base = Settings.from_env(env)
    ctx.obj = base.with_overrides(db_url=db, store_url=store)


@cli.group()
def source() -> None:
    """Register, list, show and remove mirror sources."""


@source.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--include", multiple=True, help="Glob of paths to mirror (repeatable).")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("--checksums", default="auto", show_default=True, help="auto, none, or a file.")
@click.option("--schedule", help="Cron expression for scheduled syncs.")
@click.option("--keep", type=click.IntRange(min=1), help="Releases to retain.")
@click.option(
    "--max-delete",
    type=click.FloatRange(0, 100),
    default=50.0,
    show_default=True,
    help="Stop a sync that would drop more than this percent of the files.",
)
@click.option("--restricted", is_flag=True, help="Serve only with a token scoped to it.")
@click.option("--title", help="Human-readable title.")
@click.option("--description", help="What the dataset holds.")
@click.option("--license", "license_", help="License (SPDX id or URL).")
@click.option("--endpoint-url", help="S3 endpoint for s3:// sources.")
@click.option("--no-sign-request", is_flag=True, help="Read a public S3 bucket unsigned.")
@click.pass_context
def source_add(
    ctx: click.Context,
    name: str,
    url: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    checksums: str,
    schedule: str | None,
    keep: int | None,
    max_delete: float,
    restricted: bool,
    title: str | None,
    description: str | None,
    license_: str | None,
    endpoint_url: str | None,
    no_sign_request: bool,
) -> None:
    """Register a source URL as dataset NAME."""
    options: dict[str, Any] = {}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if no_sign_request:
        options["no_sign_request"] = True
    spec = DatasetSpec(
        name=name,
        url=url,
        include=include,
        exclude=exclude,
        checksums=checksums,
        schedule=schedule,
        keep=keep,
        max_delete=max_delete,
        restricted=restricted,
        title=title,
        description=description,
        license=license_,
        options=options,
    )
    open_catalog(ctx).add_dataset(spec)
    click.echo(f"added {name} <- {url}")


@source.command("list")
@click.pass_context
def source_list(ctx: click.Context) -> None:
    """List the registered sources."""
    catalog = open_catalog(ctx)
    datasets = catalog.list_datasets()
    if not datasets:
        click.echo("no sources yet; add one with `datamirror source add NAME URL`")
        return
    current = {r.id: r.name for d in datasets for r in [_current(catalog, d.name)] if r}
    for ds in datasets:
        release = current.get(ds.current_release_id or -1, "-")
        flag = " (restricted)" if ds.restricted else ""
        click.echo(f"{ds.name}\t{release}\t{ds.url}{flag}")


def _current(catalog: Catalog, name: str) -> Any:
    try:
        return catalog.current_release(name)
    except DatamirrorError:
        return None


@source.command("show")
@click.argument("name")
@click.pass_context
def source_show(ctx: click.Context, name: str) -> None:
    """Show a source's settings and metadata as JSON."""
    ds = open_catalog(ctx).get_dataset(name)
    fields = ("name", "url", "include", "exclude", "checksums", "schedule", "keep")
    more = ("max_delete", "restricted", "title", "description", "license", "options")
    data = {f: getattr(ds, f) for f in (*fields, *more)}
    data["created_at"] = ds.created_at.isoformat()
    click.echo(json.dumps(data, indent=2))


@source.command("remove")
@click.argument("name")
@click.pass_context
def source_remove(ctx: click.Context, name: str) -> None:
    """Forget a source and its releases (objects go at the next `datamirror gc`)."""
    open_catalog(ctx).remove_dataset(name)
    click.echo(f"removed {name}")


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def releases(ctx: click.Context, name: str, as_json: bool) -> None:
    """List a dataset's releases and its sync reports."""
    catalog = open_catalog(ctx)
    ds = catalog.get_dataset(name)
    rows = catalog.list_releases(name)
    all_runs = catalog.list_runs(name)
    runs = {r.release_id: r for r in all_runs if r.release_id is not None}
    if as_json:
        out = [
            {
                "release": r.name,
                "state": r.state.value,
                "current": r.id == ds.current_release_id,
                "files": r.file_count,
                "bytes": r.total_bytes,
                "published_at": r.published_at.isoformat() if r.published_at else None,
                "report": runs[r.id].report if r.id in runs else None,
            }
            for r in rows
        ]
        click.echo(json.dumps(out, indent=2))
        return
    if not rows:
        click.echo(f"{name} has no releases yet; run `datamirror sync {name}`")
    for r in rows:
        mark = "*" if r.id == ds.current_release_id else " "
        when = r.published_at.strftime("%Y-%m-%d %H:%M") if r.published_at else "-"
        line = f"{mark} {r.name}\t{r.state.value}\t{r.file_count} files\t{r.total_bytes} B\t{when}"
        run = runs.get(r.id)
        if run and run.report:
            summary = run.report.get("summary")
            if summary:
                line += f"\t{summary}"
        if run and run.error:
            line += f"\terror: {run.error}"
        click.echo(line)
    if all_runs and all_runs[-1].release_id is None:
        last = all_runs[-1]
        outcome = last.error or (last.report or {}).get("summary") or last.state.value
        click.echo(f"last sync {last.started_at:%Y-%m-%d %H:%M}: {outcome}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: expected errors print `error:` and `hint:` lines, never a traceback."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DatamirrorError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


run: Callable[[], None] = main


if __name__ == "__main__":
    main()
