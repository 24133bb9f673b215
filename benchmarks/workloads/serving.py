"""Workloads 7, 8 and 9: serving a big file. Random 64 KiB ranges under wrk, and one whole
download with curl, from datamirror serve (local store, then S3 store) and from peers."""

from __future__ import annotations

import random
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks import dm, s3, wrk
from benchmarks.data import BIG_NAME, WrongBytesError
from benchmarks.model import REQUESTS, SECONDS, Sample, WorkloadResult
from benchmarks.procs import LOOPBACK, free_port, run, run_timed, server, server_rss, tree_cpu
from benchmarks.workloads.base import FAILURES, MIB, Contender, Context, alternate, cpu_details
from benchmarks.workloads.s3_target import endpoint

SPOT_CHECKS = 16


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A server's URL for the big file; `proc` to read its memory, `pid` its CPU seconds;
    `not_run` if absent."""

    name: str
    url: str = ""
    is_datamirror: bool = False
    proc: subprocess.Popen[bytes] | None = None
    not_run: str | None = None
    pid: int = 0

    def cpu(self) -> float:
        pid = self.proc.pid if self.proc is not None else self.pid
        return tree_cpu(pid) if pid else 0.0


def spot_check(url: str, local: Path, size: int) -> None:
    """Random ranges from the server equal the same bytes read from the source file."""
    rng = random.Random(7)
    with local.open("rb") as handle:
        for _ in range(SPOT_CHECKS):
            first = rng.randrange(0, size - wrk.SPAN)
            request = urllib.request.Request(
                url, headers={"Range": f"bytes={first}-{first + wrk.SPAN - 1}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                got = response.read()
            handle.seek(first)
            if got != handle.read(wrk.SPAN):
                raise WrongBytesError(f"{url}: bytes {first}+{wrk.SPAN} differ from the source")


def _dm_server(ctx: Context, name: str, home: dm.Home, label: str) -> Endpoint:
    """Sync the loopback source into `home` and serve it with `datamirror serve`."""
    missing = dm.missing_command("sync") or dm.missing_command("serve")
    if missing:
        return Endpoint(name, is_datamirror=True, not_run=missing)
    try:
        dm.add_source(home, ctx.source("loopback", "big").url)
        run(dm.sync_argv(), env=home.env, timeout=900)
        port = free_port()
        proc = ctx.stack.enter_context(
            server(
                dm.serve_argv(port, ctx.settings.serve_workers),
                env=home.env,
                ready_url=f"http://{LOOPBACK}:{port}/healthz",
                log=ctx.work / "run" / f"dm-serve-{label}.log",
            )
        )
    except FAILURES as exc:
        return Endpoint(name, is_datamirror=True, not_run=f"setup failed: {exc}")
    url = f"http://{LOOPBACK}:{port}/datasets/{dm.DATASET}/latest/{BIG_NAME}"
    return Endpoint(name, url=url, is_datamirror=True, proc=proc)


def local_servers(ctx: Context) -> list[Endpoint]:
    """datamirror serve (local store), rclone serve http, nginx; started once, shared."""
    if "local_servers" in ctx.shared:
        return ctx.shared["local_servers"]  # type: ignore[return-value]
    home = dm.new_home(ctx.scratch("dm-serve-local"))
    found = [_dm_server(ctx, "datamirror serve (local store)", home, "local")]
    rclone = ctx.tools.get("rclone")
    if rclone is None:
        found.append(Endpoint("rclone serve http", not_run=ctx.tools.why_missing("rclone")))
    else:
        port = free_port()
        proc = ctx.stack.enter_context(
            server(
                [
                    rclone,
                    "serve",
                    "http",
                    str(ctx.big_tree().root),
                    "--addr",
                    f"{LOOPBACK}:{port}",
                    "--buffer-size",
                    "0",
                ],
                ready_url=f"http://{LOOPBACK}:{port}/",
                log=ctx.work / "run" / "rclone-http.log",
            )
        )
        found.append(
            Endpoint(
                "rclone serve http --buffer-size 0",
                url=f"http://{LOOPBACK}:{port}/{BIG_NAME}",
                proc=proc,
            )
        )
    nginx = ctx.source("loopback", "big")
    found.append(Endpoint("nginx (sendfile on)", url=nginx.url_of(BIG_NAME), pid=nginx.pid))
    ctx.shared["local_servers"] = found
    return found


def s3_servers(ctx: Context) -> list[Endpoint]:
    """datamirror serve over the S3 store, and the S3 endpoint itself (anonymous GETs)."""
    end = endpoint(ctx)
    prefix = "dm-serve"
    home = dm.new_home(
        ctx.scratch("dm-serve-s3"), s3=(end.url, f"{s3.BUCKET}/{prefix}", end.local(prefix))
    )
    ours = _dm_server(ctx, "datamirror serve (S3 store)", home, "s3")
    if ours.not_run:
        return [ours, Endpoint("S3 endpoint directly", not_run="needs datamirror's S3 release")]
    key = dm.current_manifest(home)[BIG_NAME]
    direct = Endpoint(
        "S3 endpoint directly (rclone serve s3)",
        url=f"{end.url}/{s3.BUCKET}/{prefix}/{key}",
        pid=end.pid,
    )
    return [ours, direct]


def _ranges_contender(ctx: Context, target: Endpoint) -> Contender:
    if target.not_run:
        return Contender(target.name, lambda i: Sample(0.0), target.is_datamirror, target.not_run)
    tool = ctx.tools.get("wrk")
    if tool is None:
        return Contender(
            target.name, lambda i: Sample(0.0), target.is_datamirror, ctx.tools.why_missing("wrk")
        )
    size = ctx.big_tree().sizes[BIG_NAME]
    path = "/" + target.url.split("/", 3)[3]
    script = wrk.write_script(ctx.work / "run", path, size)
    checked: list[bool] = []

    def run_wrk(index: int) -> Sample:
        if not checked:
            spot_check(target.url, ctx.big_tree().root / BIG_NAME, size)
            checked.append(True)
        server_before = target.cpu()
        timed = run_timed(
            [
                tool,
                "-t2",
                "-c64",
                f"-d{ctx.settings.wrk_seconds}s",
                "--latency",
                "-s",
                str(script),
                target.url,
            ],
            timeout=120,
        )
        report = wrk.parse(timed.stdout)
        if report.bad_answers or report.non_2xx:
            raise WrongBytesError(
                f"{report.bad_answers} answers were not ranges, {report.non_2xx} were errors"
            )
        details = {
            "p99_ms": report.p99_ms,
            "p50_ms": report.p50_ms,
            "socket_errors": float(report.socket_errors),
            "server_cpu_s": target.cpu() - server_before,
            **cpu_details(timed),
        }
        if target.proc is not None:
            details["server_rss_mib"] = server_rss(target.proc) / MIB
        return Sample(report.requests_per_s, details)

    return Contender(target.name, run_wrk, target.is_datamirror)


def _whole_contender(ctx: Context, target: Endpoint) -> Contender:
    curl = ctx.tools.get("curl")
    if target.not_run or curl is None:
        return Contender(
            target.name,
            lambda i: Sample(0.0),
            target.is_datamirror,
            target.not_run or ctx.tools.why_missing("curl"),
        )
    size = ctx.big_tree().sizes[BIG_NAME]

    def download(index: int) -> Sample:
        server_before = target.cpu()
        timed = run_timed(
            [
                curl,
                "-sS",
                "--fail",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                target.url,
            ],
            timeout=600,
        )
        status, got = timed.stdout.split()
        if status != "200" or int(got) != size:
            raise WrongBytesError(f"answered {status} with {got} bytes, expected 200 with {size}")
        details = {"mib_per_s": size / MIB / timed.seconds, **cpu_details(timed)}
        details["server_cpu_s"] = target.cpu() - server_before
        return Sample(timed.seconds, details)

    return Contender(target.name, download, target.is_datamirror)


def run_group(ctx: Context, only: set[str]) -> list[WorkloadResult]:
    results = []
    if only & {"7", "8"}:
        targets = local_servers(ctx)
        results += _serve(
            ctx,
            targets,
            ("7-serve-ranges", "8-serve-whole-file"),
            "local",
            "7" in only,
            "8" in only,
        )
    if "9" in only:
        targets = s3_servers(ctx)
        results += _serve(
            ctx, targets, ("9a-s3-serve-ranges", "9b-s3-serve-whole-file"), "S3 store", True, True
        )
    return results


def _serve(
    ctx: Context,
    targets: list[Endpoint],
    keys: tuple[str, str],
    where: str,
    ranges: bool,
    whole: bool,
) -> list[WorkloadResult]:
    results = []
    size = ctx.big_tree().sizes[BIG_NAME]
    if ranges:
        print(f"  {keys[0]}", flush=True)
        results.append(
            WorkloadResult(
                key=keys[0],
                title=f"Random 64 KiB ranges of one big file, wrk -t2 -c64 ({where})",
                metric=REQUESTS,
                contenders=alternate(
                    [_ranges_contender(ctx, t) for t in targets], ctx.settings.runs
                ),
                notes=f"{SPOT_CHECKS} ranges per server compared with the source first; "
                "p99 latency and server RSS in the details",
            )
        )
    if whole:
        print(f"  {keys[1]}", flush=True)
        results.append(
            WorkloadResult(
                key=keys[1],
                title=f"One whole big file, curl -o /dev/null ({where})",
                metric=SECONDS,
                bytes_per_run=size,
                limit="loopback_tcp",
                contenders=alternate(
                    [_whole_contender(ctx, t) for t in targets], ctx.settings.runs
                ),
                notes="status 200 and the exact byte count are checked on every run",
            )
        )
    return results
