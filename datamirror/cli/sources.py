"""`datamirror source add | list | show | remove` and `datamirror releases`."""

from __future__ import annotations

import json
from typing import Any

import click

from catalog.models import Dataset, Release, SyncRun
from catalog.releases import release_json
from catalog.runtime import Runtime
from catalog.sizes import human_bytes
from catalog.source_spec import DatasetSpec
from datamirror.cli.common import table, with_runtime


@click.group()
def source() -> None:
    """Register, list, show and remove mirror sources."""


@source.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--include", multiple=True, help="Glob of paths to mirror (repeatable).")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("--checksums", default="auto", show_default=True, help="auto, none, or a file.")
@click.option("--schedule", help="Cron expression for scheduled syncs, e.g. '0 3 * * *'.")
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
@click.option("--homepage", help="Web page of the dataset upstream (http(s) URL).")
@click.option("--citation", help="How the data's authors ask to be cited (text, with its DOI).")
@click.option("--keyword", "keywords", multiple=True, help="A keyword (repeatable).")
@click.option(
    "--creator",
    "creators",
    multiple=True,
    help="A creator (repeatable): 'Family, Given' for a person, an organization without a "
    "comma; a URL or ORCID may follow in angle brackets.",
)
@click.option("--publisher", help="Who publishes the data upstream (organization, <URL>).")
@click.option("--endpoint-url", help="S3 endpoint for s3:// sources.")
@click.option("--no-sign-request", is_flag=True, help="Read a public S3 bucket unsigned.")
@click.option(
    "--connections",
    type=click.IntRange(1, 256),
    help="Cap on connections to the source's host, across every worker of a cluster "
    "(default: the sync's --parallel).",
)
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
    homepage: str | None,
    citation: str | None,
    keywords: tuple[str, ...],
    creators: tuple[str, ...],
    publisher: str | None,
    endpoint_url: str | None,
    no_sign_request: bool,
    connections: int | None,
) -> None:
    """Register a source URL as dataset NAME."""
    options: dict[str, Any] = {}
    if connections:
        options["connections"] = connections
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if no_sign_request:
        options["no_sign_request"] = True
    spec = DatasetSpec(
        name=name, url=url, include=include, exclude=exclude, checksums=checksums,
        schedule=schedule, keep=keep, max_delete=max_delete, restricted=restricted,
        title=title, description=description, license=license_, homepage=homepage,
        citation=citation, keywords=keywords, creators=creators, publisher=publisher,
        options=options,
    )  # fmt: skip
    with_runtime(ctx, lambda runtime: runtime.catalog.datasets.add(spec))
    click.echo(f"added {name} <- {url}")


@source.command("list")
@click.pass_context
def source_list(ctx: click.Context) -> None:
    """List the registered sources."""
    datasets: list[Dataset] = with_runtime(ctx, lambda runtime: runtime.catalog.datasets.list())
    if not datasets:
        click.echo("no sources yet; add one with `datamirror source add NAME URL`")
        return
    rows = [
        [ds.name, ds.current_release_name or "-", ds.schedule or "-",
         "restricted" if ds.restricted else "public", ds.url]
        for ds in datasets
    ]  # fmt: skip
    click.echo(table(["NAME", "CURRENT", "SCHEDULE", "ACCESS", "URL"], rows))


@source.command("show")
@click.argument("name")
@click.pass_context
def source_show(ctx: click.Context, name: str) -> None:
    """Show a source's settings and metadata as JSON."""
    ds: Dataset = with_runtime(ctx, lambda runtime: runtime.catalog.datasets.get(name))
    fields = ("name", "url", "include", "exclude", "checksums", "schedule", "keep")
    more = ("max_delete", "restricted", "title", "description", "license", "homepage",
            "citation", "keywords", "creators", "publisher", "options")  # fmt: skip
    data = {f: getattr(ds, f) for f in (*fields, *more)}
    data["current"] = ds.current_release_name
    data["created_at"] = ds.created_at.isoformat()
    click.echo(json.dumps(data, indent=2))


@source.command("remove")
@click.argument("name")
@click.pass_context
def source_remove(ctx: click.Context, name: str) -> None:
    """Forget a source and its releases (objects go at the next `datamirror gc`)."""
    with_runtime(ctx, lambda runtime: runtime.catalog.datasets.remove(name))
    click.echo(f"removed {name}")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def releases(ctx: click.Context, name: str, as_json: bool) -> None:
    """List a dataset's releases and its sync reports."""

    async def load(runtime: Runtime) -> tuple[Dataset, list[Release], list[SyncRun]]:
        catalog = runtime.catalog
        ds = await catalog.datasets.get(name)
        return ds, await catalog.releases.list(name), await catalog.runs.list(name)

    ds, rows, all_runs = with_runtime(ctx, load)
    runs = {r.release_id: r for r in all_runs if r.release_id is not None}
    if as_json:
        out = [
            {**release_json(r, ds.current_release_id),
             "report": runs[r.id].report if r.id in runs else None}
            for r in rows
        ]  # fmt: skip
        click.echo(json.dumps(out, indent=2))
        return
    if not rows:
        click.echo(f"{name} has no releases yet; run `datamirror sync {name}`")
    else:
        click.echo(table(["", "RELEASE", "STATE", "FILES", "SIZE", "PUBLISHED", "LAST SYNC"],
                         [_release_row(r, ds, runs.get(r.id)) for r in rows]))  # fmt: skip
    if all_runs and all_runs[-1].release_id is None:
        last = all_runs[-1]
        outcome = last.error or (last.report or {}).get("summary") or last.state.value
        click.echo(f"last sync {last.started_at:%Y-%m-%d %H:%M}: {outcome}")


def _release_row(release: Release, ds: Dataset, run: SyncRun | None) -> list[str]:
    mark = "*" if release.id == ds.current_release_id else " "
    when = release.published_at.strftime("%Y-%m-%d %H:%M") if release.published_at else "-"
    outcome = "-"
    if run is not None:
        outcome = (run.report or {}).get("summary") or run.state.value
        if run.error:
            outcome = f"error: {run.error}"
    return [mark, release.name, release.state.value, str(release.file_count),
            human_bytes(release.total_bytes), when, outcome]  # fmt: skip
