"""`datamirror serve`: N worker processes sharing one port (SO_REUSEPORT), each with its own
event loop and aiohttp AppRunner (the command's own process is the first of them);
SIGTERM/SIGINT stop accepting and let in-flight downloads finish for up to `--grace`
seconds. Access log in Combined Log Format (`serve.access_log`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import click
from aiohttp import web

from catalog.config import Settings
from catalog.repository import Catalog
from serve.access_log import LogSink, combined_log
from serve.app import ServeConfig, make_app
from serve.source_guard import parse_allowlist
from serve.token_cli import SECRET_ENV, token

__all__ = ["serve", "token"]

DEFAULT_GRACE = 30.0


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
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
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int | None,
    redirect_to_store: bool,
    sendfile: bool,
    grace: float,
) -> None:
    """Serve the published releases over HTTP."""
    settings = ctx.find_object(Settings) or Settings.from_env()
    Catalog(settings.db_url).close()  # migrate once, before the workers race to
    config = ServeConfig(
        db_url=settings.db_url,
        store_url=settings.store_url,
        s3_endpoint=settings.s3_endpoint,
        sendfile=sendfile,
        redirect_to_store=redirect_to_store,
        secret=os.environ.get(SECRET_ENV) or None,
        source_allowlist=parse_allowlist(os.environ.get("DATAMIRROR_SOURCE_ALLOWLIST")),
    )
    count = workers or os.cpu_count() or 1
    click.echo(f"serving on http://{_url_host(host)}:{port}/ with {count} worker(s)")
    if count == 1:
        run_worker(config, host, port, grace, reuse_port=False)
        return
    _run_workers(config, host, port, grace, count)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run_worker(
    config: ServeConfig,
    host: str,
    port: int,
    grace: float,
    *,
    reuse_port: bool,
    on_signal: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; `on_signal` is also told of the signal (to pass it on)."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # scans, so a full collection under load takes microseconds, not tens of milliseconds.
    gc.collect()
    gc.freeze()
    asyncio.run(_serve_until_signalled(config, host, port, grace, reuse_port, on_signal))


async def _serve_until_signalled(
    config: ServeConfig,
    host: str,
    port: int,
    grace: float,
    reuse_port: bool,
    on_signal: Callable[[int], None] | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping(signum: int) -> None:
        stop.set()
        if on_signal is not None:
            on_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping, signum)
    access_log = LogSink(sys.stdout)
    runner = web.AppRunner(
        make_app(config),
        handle_signals=False,
        access_log_class=combined_log(access_log),
        shutdown_timeout=grace,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        access_log.close()


def _run_workers(config: ServeConfig, host: str, port: int, grace: float, count: int) -> None:
    """This process is a worker too, next to `count - 1` children. They are forked before any
    event loop or thread exists, so they share this process's loaded code (no re-import, no
    resource tracker): memory grows by one worker's own data per worker, not a whole
    interpreter plus a supervisor."""
    context = multiprocessing.get_context("fork")
    children: list[BaseProcess] = [
        context.Process(
            target=run_worker, args=(config, host, port, grace), kwargs={"reuse_port": True}
        )
        for _ in range(count - 1)
    ]
    for child in children:
        child.start()

    def forward(signum: int) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    def early(signum: int, _frame: object) -> None:
        forward(signum)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, early)  # until this process's event loop takes over
    signal.signal(signal.SIGINT, early)
    try:
        run_worker(config, host, port, grace, reuse_port=True, on_signal=forward)
    finally:
        for child in children:
            child.join()
