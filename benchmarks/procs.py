"""Processes on loopback: free ports, readiness polling, servers for a block, and timed runs
that record the peak resident memory and the CPU seconds of the whole process tree."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

LOOPBACK = "127.0.0.1"
POLL_SECONDS = 0.05


class CommandFailedError(RuntimeError):
    """A measured command exited non-zero or ran past its time limit."""

    def __init__(self, argv: Sequence[str], code: int | None, tail: str) -> None:
        what = "timed out" if code is None else f"exited {code}"
        super().__init__(f"{' '.join(argv[:4])} ... {what}: {tail}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    peak_rss: int
    stdout: str
    user_seconds: float = 0.0
    system_seconds: float = 0.0

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_http(
    url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll until `url` answers any HTTP status; fail early if `proc` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{url} did not answer after {timeout}s")


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone)."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 900.0,
    stdin: int | None = None,
) -> Timed:
    """Run a command to completion; wall time and the peak RSS of its process tree."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=dict(env) if env else None,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=stdin,
        )
        peak, usage = _poll_until_exit(proc, argv, timeout)
        seconds = time.perf_counter() - start
        log.seek(0)
        out = log.read().decode(errors="replace")
    if proc.returncode != 0:
        raise CommandFailedError(argv, proc.returncode, out[-2000:])
    return Timed(
        seconds=seconds,
        peak_rss=peak,
        stdout=out,
        user_seconds=usage.ru_utime,
        system_seconds=usage.ru_stime,
    )


def _poll_until_exit(
    proc: subprocess.Popen[bytes], argv: Sequence[str], timeout: float
) -> tuple[int, resource.struct_rusage]:
    """Sample the tree's RSS until the process exits; kill it at the deadline. The process
    is reaped with wait4, whose rusage counts it and every descendant it waited for."""
    watched = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return peak, usage
        peak = max(peak, tree_rss(watched))
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise CommandFailedError(argv, None, "timed out")
        time.sleep(POLL_SECONDS)


def run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 300.0
) -> str:
    """Run an untimed helper command; its output, or CommandFailedError."""
    proc = subprocess.run(
        list(argv),
        env=dict(env) if env else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise CommandFailedError(argv, proc.returncode, (proc.stdout + proc.stderr)[-2000:])
    return proc.stdout


@contextlib.contextmanager
def server(
    argv: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server for the duration of the block, ready when `ready_url` answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env else None,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            wait_for_http(ready_url, proc=proc)
            yield proc
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server and everything it started (its own session, never anything else)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def server_rss(proc: subprocess.Popen[bytes]) -> int:
    return tree_rss(psutil.Process(proc.pid))


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process and its descendants so far (children
    they have reaped included): sampled before and after a run, it gives a server's share."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for member in members:
        with contextlib.suppress(psutil.Error):
            t = member.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total
