"""Serving under load, on loopback: slow readers that take a few bytes a second hold their
connections while wrk drives (1) a few normal clients reading small ranges, for their
latency, then (2) a thousand connections mixing whole-file downloads and small ranges;
the server's memory and file descriptors are read from its processes before, during and
after. Shared by benchmark workload 12 and tests/test_serve_load.py.

Every phase is bounded in count and time; the slow readers are raw non-blocking sockets
with a small receive buffer, so the server really waits on them (an asyncio stream would
read ahead into its own buffer).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from benchmarks import wrk

MIB = 1024 * 1024
SLOW_RCVBUF = 4096

MIX_SCRIPT = """-- small ranges of one file; every {every}th request a whole download of another
local range_path, range_size, span = "{range_path}", {range_size}, {span}
local whole_path, whole_size, every = "{whole_path}", {whole_size}, {every}
local threads, counter = {{}}, 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(id * 7919)
  n, bad, server_errors = 0, 0, 0
end
function request()
  n = n + 1
  if every > 0 and n % every == 0 then
    return wrk.format("GET", whole_path)
  end
  local first = math.random(0, range_size - span)
  local wanted = "bytes=" .. first .. "-" .. (first + span - 1)
  return wrk.format("GET", range_path, {{["Range"] = wanted}})
end
function response(status, headers, body)
  if status >= 500 then server_errors = server_errors + 1 end
  if status == 200 then
    if #body ~= whole_size then bad = bad + 1 end
  elseif status == 206 then
    if #body ~= span then bad = bad + 1 end
  else
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local b, s = 0, 0
  for _, thread in ipairs(threads) do
    b = b + thread:get("bad")
    s = s + thread:get("server_errors")
  end
  io.write(string.format("bad_answers %d\\nserver_errors %d\\n", b, s))
end
"""


@dataclass(frozen=True, slots=True)
class Plan:
    slow_readers: int = 300
    slow_bytes: int = 4  # each slow reader takes this many bytes ...
    slow_interval: float = 1.0  # ... this often
    range_clients: int = 32
    range_seconds: int = 10
    range_span: int = 4096
    mix_connections: int = 1000
    mix_seconds: int = 15
    whole_every: int = 10  # in the mix, one request in this many is a whole file
    wrk_threads: int = 2
    latecomers: int = 50  # fresh connections opened at the mix's peak, each one request
    latecomer_seconds: float = 10.0  # for each of them to be answered
    settle_seconds: float = 20.0  # at most, for descriptors to come back after the load


Pids = Callable[[], Sequence[int]]


@dataclass(frozen=True, slots=True)
class Target:
    """The server under load: its address, the files to ask for, its process ids."""

    host: str
    port: int
    range_path: str
    range_size: int
    whole_path: str
    whole_bytes: bytes
    pids: Pids


@dataclass(frozen=True, slots=True)
class Phase:
    """One wrk run: its figures and everything that went wrong."""

    connections: int
    seconds: int
    requests: int
    requests_per_s: float
    mib_per_s: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    server_errors: int
    non_2xx: int
    bad_answers: int


@dataclass
class ServerState:
    rss_mib: float
    fds: int
    processes: int
    fd_kinds: dict[str, int] = field(default_factory=dict)  # socket, pipe, a file's name ...


@dataclass
class Report:
    plan: Plan
    before: ServerState
    ranges: Phase
    mix: Phase
    peak_rss_mib: float
    after: ServerState
    slow_connected: int
    slow_held: int
    slow_wrong_bytes: int
    slow_bytes_read: int
    latecomers_answered: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def server_state(pids: Sequence[int]) -> ServerState:
    rss, fds, alive = 0, 0, 0
    kinds: collections.Counter[str] = collections.Counter()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            rss += proc.memory_info().rss
            fds += proc.num_fds()
            alive += 1
            kinds.update(_fd_kind(pid, fd) for fd in os.listdir(f"/proc/{pid}/fd"))
    return ServerState(rss / MIB, fds, alive, dict(kinds))


def _fd_kind(pid: int, fd: str) -> str:
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return "gone"
    kind = target.partition(":")[0]
    if kind in ("socket", "pipe", "anon_inode"):
        return kind
    return os.path.basename(target)


def server_pids(root: int) -> list[int]:
    """A server process and its worker children."""
    proc = psutil.Process(root)
    return [root, *(child.pid for child in proc.children(recursive=True))]


class SlowReaders:
    """`count` connections that each ask for one file and then read it a few bytes at a time."""

    def __init__(self, target: Target, plan: Plan) -> None:
        self.target, self.plan = target, plan
        self.connected = 0
        self.closed_early = 0
        self.wrong = 0
        self.read = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._reader(index)) for index in range(self.plan.slow_readers)
        ]
        deadline = time.monotonic() + 30
        while self.connected + self.closed_early < self.plan.slow_readers:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)

    async def run_briefly(self) -> None:
        """Connect, read once, hang up."""
        await self.start()
        await asyncio.sleep(self.plan.slow_interval)
        await self.stop()

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    @property
    def held(self) -> int:
        return self.connected - self.closed_early

    async def _reader(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        sock.setblocking(False)
        got = bytearray()
        try:
            await asyncio.sleep(index * 0.005)  # not all in one burst of SYNs
            await loop.sock_connect(sock, (self.target.host, self.target.port))
            request = (
                f"GET {self.target.whole_path} HTTP/1.1\r\nHost: {self.target.host}\r\n"
                f"User-Agent: slow-reader/{index}\r\n\r\n"
            )
            await loop.sock_sendall(sock, request.encode("ascii"))
            self.connected += 1
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.plan.slow_interval):
                        chunk = await loop.sock_recv(sock, self.plan.slow_bytes)
                        if not chunk:
                            self.closed_early += 1
                            return
                        got += chunk
                        self.read += len(chunk)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.plan.slow_interval):
                        await self._stop.wait()
        except OSError:
            self.closed_early += 1
        finally:
            sock.close()
            self._check(bytes(got))

    def _check(self, got: bytes) -> None:
        head, found, body = got.partition(b"\r\n\r\n")
        if not found:
            return  # not even the headers yet: nothing to judge
        if not head.startswith(b"HTTP/1.1 200") or not self.target.whole_bytes.startswith(body):
            self.wrong += 1


async def run_wrk(
    tool: str, target: Target, plan: Plan, *, connections: int, seconds: int, every: int
) -> Phase:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(
            MIX_SCRIPT.format(
                range_path=target.range_path,
                range_size=target.range_size,
                span=plan.range_span,
                whole_path=target.whole_path,
                whole_size=len(target.whole_bytes),
                every=every,
            )
        )
    script = handle.name
    threads = min(plan.wrk_threads, connections)
    argv = [tool, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    argv += ["--timeout", "10s", "-s", script, f"http://{target.host}:{target.port}/"]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        async with asyncio.timeout(seconds + 60):
            out, _ = await proc.communicate()
    finally:
        os.unlink(script)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}:\n{text[-2000:]}")
    report = wrk.parse(text)
    return Phase(
        connections=connections,
        seconds=seconds,
        requests=report.requests,
        requests_per_s=report.requests_per_s,
        mib_per_s=_transfer_mib(text),
        p50_ms=report.p50_ms,
        p99_ms=report.p99_ms,
        socket_errors=report.socket_errors,
        server_errors=int(_grab(r"^server_errors (\d+)", text)),
        non_2xx=report.non_2xx,
        bad_answers=report.bad_answers,
    )


def _grab(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk output lacks {pattern!r}:\n{text[-1500:]}")
    return match.group(1)


def _transfer_mib(text: str) -> float:
    number, unit = re.search(r"^Transfer/sec:\s+([\d.]+)(\w+)", text, re.MULTILINE).groups()  # type: ignore[union-attr]
    scale = {"B": 1 / MIB, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 1024.0 * 1024}
    return float(number) * scale[unit]


async def _peak_rss(pids: Pids, stop: asyncio.Event) -> float:
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, (await asyncio.to_thread(server_state, pids())).rss_mib)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.25):
                await stop.wait()
    return peak


async def run(tool: str, target: Target, plan: Plan) -> Report:
    """Warm up, take the baseline, then both phases under the slow readers; the report."""
    started = time.monotonic()
    # The warm-up opens what the server keeps for good (the held files, pooled catalog
    # connections): the baseline the descriptors must come back to.
    warm = min(plan.range_clients, plan.mix_connections)
    await run_wrk(tool, target, plan, connections=warm, seconds=2, every=plan.whole_every)
    before = await _steady(target)
    slow = SlowReaders(target, plan)
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_peak_rss(target.pids, stop_sampling))
    await slow.start()
    try:
        ranges = await run_wrk(
            tool, target, plan, connections=plan.range_clients, seconds=plan.range_seconds, every=0
        )
        mix_run = asyncio.create_task(
            run_wrk(
                tool,
                target,
                plan,
                connections=plan.mix_connections,
                seconds=plan.mix_seconds,
                every=plan.whole_every,
            )
        )
        await asyncio.sleep(plan.mix_seconds / 3)  # every wrk connection is open by now
        answered = await latecomers(target, plan)
        mix = await mix_run
        held = slow.held
    finally:
        await slow.stop()
        stop_sampling.set()
        peak = await sampler
    after = await _settled(target, before, plan.settle_seconds)
    return Report(
        plan=plan,
        before=before,
        ranges=ranges,
        mix=mix,
        peak_rss_mib=peak,
        after=after,
        slow_connected=slow.connected,
        slow_held=held,
        slow_wrong_bytes=slow.wrong,
        slow_bytes_read=slow.read,
        latecomers_answered=answered,
        seconds=time.monotonic() - started,
    )


async def latecomers(target: Target, plan: Plan) -> int:
    """How many of `plan.latecomers` fresh connections, opened while the server holds every
    other one, get their answer in time (a server out of descriptors leaves them waiting)."""
    loop = asyncio.get_running_loop()

    async def one() -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(plan.latecomer_seconds):
                await loop.sock_connect(sock, (target.host, target.port))
                request = f"GET /healthz HTTP/1.1\r\nHost: {target.host}\r\n\r\n"
                await loop.sock_sendall(sock, request.encode("ascii"))
                return (await loop.sock_recv(sock, 64)).startswith(b"HTTP/1.1 200")
        except (OSError, TimeoutError):
            return False
        finally:
            sock.close()

    return sum(await asyncio.gather(*(one() for _ in range(plan.latecomers))))


async def _steady(target: Target, seconds: float = 5.0) -> ServerState:
    """The server's state once its descriptor count holds still (the warm-up's connections
    closed), or after `seconds`."""
    deadline = time.monotonic() + seconds
    state = server_state(target.pids())
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = server_state(target.pids())
        if now.fds == state.fds:
            return now
        state = now
    return state


async def _settled(target: Target, before: ServerState, seconds: float) -> ServerState:
    """The server's state once its descriptors are back at the baseline (or the time is up)."""
    deadline = time.monotonic() + seconds
    state = server_state(target.pids())
    while state.fds > before.fds and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        state = server_state(target.pids())
    return state


def summary(report: Report) -> str:
    r, m, b, a = report.ranges, report.mix, report.before, report.after
    slow = (
        f"slow readers: {report.slow_held} of {report.plan.slow_readers} held "
        f"({report.slow_bytes_read} bytes read, {report.slow_wrong_bytes} wrong); "
        f"{report.latecomers_answered} of {report.plan.latecomers} latecomers answered"
    )
    ranges = (
        f"{r.connections} range clients: {r.requests} requests, {r.requests_per_s:.0f} req/s, "
        f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, {r.socket_errors} socket errors, "
        f"{r.server_errors} 5xx"
    )
    mix = (
        f"{m.connections} connections mixed: {m.requests} requests, "
        f"{m.requests_per_s:.0f} req/s, {m.mib_per_s:.0f} MiB/s, p99 {m.p99_ms:.1f} ms, "
        f"{m.server_errors} 5xx, {m.socket_errors} socket errors, {m.bad_answers} bad"
    )
    server = (
        f"server RSS {b.rss_mib:.0f} MiB before, {report.peak_rss_mib:.0f} MiB peak, "
        f"{a.rss_mib:.0f} MiB after; fds {b.fds} before, {a.fds} after "
        f"({b.processes} processes); {report.seconds:.0f} s in all"
    )
    kept = {k: n - b.fd_kinds.get(k, 0) for k, n in a.fd_kinds.items() if n > b.fd_kinds.get(k, 0)}
    if kept:
        server += f"; descriptors kept: {kept}"
    return f"{slow}\n{ranges}\n{mix}\n{server}"
