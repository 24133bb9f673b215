"""Running the server: N worker processes sharing one port (SO_REUSEPORT), each with its own
event loop and aiohttp AppRunner (the calling process is the first of them); SIGTERM and
SIGINT stop accepting and let in-flight downloads finish for up to `grace` seconds. Access
log in Combined Log Format (`serve.access_log`).

The first socket is bound before any worker starts, so a port in use or an address this
machine does not have is one clear error, and port 0 means a port the kernel picks, which
every worker then shares. Metrics of every worker land in one folder
(`serve.metrics_dir`), so `/metrics` of any of them covers them all; a watcher thread of
the first process marks a child that exits as dead there.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from aiohttp import web

from catalog.errors import DatamirrorError
from serve.access_log import LogSink, combined_log
from serve.app import RuntimeOpener, ServeConfig, make_app
from serve.metrics_dir import mark_dead, metrics_folder

BACKLOG = 1024


class ListenError(DatamirrorError):
    """The server cannot listen where it was asked to."""


@dataclass(frozen=True, slots=True)
class Listener:
    host: str
    port: int
    sock: socket.socket

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def listen(host: str, port: int, *, reuse_port: bool) -> Listener:
    """A listening TCP socket on host:port (port 0: one the kernel picks). With
    `reuse_port`, this server's workers may bind the same port; another server holding it
    still makes this fail: the port is claimed alone first, since SO_REUSEPORT sockets of
    the same user would otherwise share it silently."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(
            f"cannot listen on {host}: no such address ({exc.strerror})",
            hint="use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0 (all of them)",
        ) from None
    family, kind, proto, _, address = infos[0]
    if reuse_port:
        with _bound(host, port, socket.socket(family, kind, proto), address) as probe:
            port = probe.getsockname()[1]
        address = (address[0], port, *address[2:])
    sock = socket.socket(family, kind, proto)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    _bound(host, port, sock, address)
    try:
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise _listen_error(host, port, exc) from None
    sock.setblocking(False)
    return Listener(host, sock.getsockname()[1], sock)


def _bound(host: str, port: int, sock: socket.socket, address: tuple[Any, ...]) -> socket.socket:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise _listen_error(host, port, exc) from None
    return sock


def _listen_error(host: str, port: int, exc: OSError) -> ListenError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ListenError(
            f"cannot listen on {where}: the port is in use",
            hint=f"another program listens on port {port}; choose another with --port",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ListenError(
            f"cannot listen on {where}: this machine has no address {host}",
            hint="use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0 (all of them)",
        )
    if exc.errno == errno.EACCES:
        return ListenError(
            f"cannot listen on {where}: permission denied",
            hint="ports below 1024 need privileges; use a port such as 8000",
        )
    return ListenError(f"cannot listen on {where}: {exc.strerror or exc}")


def serve(
    config: ServeConfig,
    open_runtime: RuntimeOpener,
    listener: Listener,
    *,
    workers: int,
    grace: float,
) -> None:
    """Serve on `listener` with `workers` processes until SIGTERM or SIGINT."""
    with metrics_folder() as folder:
        if workers == 1:
            run_worker(config, open_runtime, listener.sock, grace)
            return
        _run_workers(config, open_runtime, listener, grace, workers, folder)


def run_worker(
    config: ServeConfig,
    open_runtime: RuntimeOpener,
    sock: socket.socket,
    grace: float,
    *,
    on_signal: Callable[[int], None] | None = None,
) -> None:
    """Serve on `sock` until SIGTERM/SIGINT; `on_signal` is also told of the signal."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # scans, so a full collection under load takes microseconds, not tens of milliseconds.
    gc.collect()
    gc.freeze()
    asyncio.run(_serve_until_signalled(config, open_runtime, sock, grace, on_signal))


async def _serve_until_signalled(
    config: ServeConfig,
    open_runtime: RuntimeOpener,
    sock: socket.socket,
    grace: float,
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
        make_app(config, open_runtime),
        handle_signals=False,
        access_log_class=combined_log(access_log),
        shutdown_timeout=grace,
        keepalive_timeout=config.keepalive_timeout,
    )
    limit_sends(sock, config.send_timeout)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        access_log.close()


def limit_sends(sock: socket.socket, seconds: float) -> None:
    """Connections accepted on `sock` are dropped by the kernel when sent bytes stay
    unacknowledged, or the client's receive window stays shut, for `seconds`
    (TCP_USER_TIMEOUT, which accepted sockets inherit): a client that stops reading holds
    neither its descriptor nor its coroutine for longer, whichever sender writes to it."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, option, max(1, int(seconds * 1000)))


def _run_workers(
    config: ServeConfig,
    open_runtime: RuntimeOpener,
    listener: Listener,
    grace: float,
    count: int,
    metrics: Path,
) -> None:
    """This process is a worker too, next to `count - 1` children. They are forked before any
    event loop or thread exists, so they share this process's loaded code (no re-import, no
    resource tracker): memory grows by one worker's own data per worker, not a whole
    interpreter plus a supervisor. Each child binds its own SO_REUSEPORT socket to the
    listener's port, so the kernel spreads connections over the processes."""
    context = multiprocessing.get_context("fork")
    children: list[BaseProcess] = [
        context.Process(target=_child, args=(config, open_runtime, listener, grace))
        for _ in range(count - 1)
    ]
    for child in children:
        child.start()
    threading.Thread(target=_mark_when_dead, args=(children, metrics), daemon=True).start()

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
        run_worker(config, open_runtime, listener.sock, grace, on_signal=forward)
    finally:
        for child in children:
            child.join()


def _mark_when_dead(children: list[BaseProcess], metrics: Path) -> None:
    """Mark each child's metrics dead as it exits (its live gauges stop counting)."""
    waiting = {child.sentinel: child for child in children}
    while waiting:
        for sentinel in wait(list(waiting)):
            child = waiting.pop(sentinel)  # type: ignore[arg-type]
            if child.pid is not None:
                mark_dead(child.pid, metrics)


def _child(
    config: ServeConfig, open_runtime: RuntimeOpener, listener: Listener, grace: float
) -> None:
    run_worker(config, open_runtime, _joined(listener), grace)


def _joined(listener: Listener) -> socket.socket:
    """A socket of this process's own on the listener's address: SO_REUSEPORT, as the
    listener's is, so the kernel spreads connections over both. (`listen` would first
    claim the port alone, which the listener holds.)"""
    shared = listener.sock
    sock = socket.socket(shared.family, shared.type, shared.proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    _bound(listener.host, listener.port, sock, shared.getsockname())
    shared.close()
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock
