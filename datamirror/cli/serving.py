"""`datamirror serve`: the HTTP server over the catalog and store the settings name."""

from __future__ import annotations

import os

import click

from catalog.db import upgrade
from datamirror.cli.common import settings
from datamirror.runtime import open_runtime
from serve.app import ServeConfig
from serve.capacity import raise_open_files_limit
from serve.server import listen
from serve.server import serve as run_server

DEFAULT_GRACE = 30.0


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one, printed at start).",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: CPU count)."
)
@click.option(
    "--redirect-to-store", is_flag=True, help="Answer file GETs with a presigned store URL."
)
@click.option(
    "--sendfile/--no-sendfile", default=True, show_default=True, help="Zero-copy local files."
)
@click.option(
    "--grace", default=DEFAULT_GRACE, show_default=True, help="Seconds to finish downloads."
)
@click.option(
    "--keepalive-timeout",
    default=75.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds an idle connection (or one sending its headers) is kept.",
)
@click.option(
    "--send-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="Seconds a client may read nothing before it is dropped.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int | None,
    redirect_to_store: bool,
    sendfile: bool,
    grace: float,
    keepalive_timeout: float,
    send_timeout: float,
) -> None:
    """Serve the published releases over HTTP."""
    conf = settings(ctx)
    upgrade(conf.db_url)  # once, before the workers race to
    count = workers or os.cpu_count() or 1
    limit = raise_open_files_limit()  # before the workers fork: they inherit it
    listener = listen(host, port, reuse_port=count > 1)
    click.echo(f"serving on {listener.url} with {count} worker(s), {limit.describe()}")
    config = ServeConfig(
        sendfile=sendfile,
        redirect_to_store=redirect_to_store,
        keepalive_timeout=keepalive_timeout,
        send_timeout=send_timeout,
    )
    run_server(config, lambda: open_runtime(conf), listener, workers=count, grace=grace)
