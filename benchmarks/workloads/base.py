"""What every workload shares: the run settings, the lazily started sources and servers, and
the alternating runner (A B C A B C ...) that makes contenders see the same machine state."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import dm
from benchmarks.data import Tree, WrongBytesError, big_file_tree, small_files_tree
from benchmarks.model import ContenderResult, Sample
from benchmarks.peers import Tools
from benchmarks.procs import CommandFailedError, Timed, run_timed
from benchmarks.sources import LOOPBACK_PROFILE, REMOTE, Source, nginx_source

MIB = 1024 * 1024
FAILURES = (CommandFailedError, WrongBytesError, OSError, TimeoutError, RuntimeError, ValueError)


@dataclass(frozen=True, slots=True)
class Settings:
    quick: bool
    runs: int
    big_size: int
    small_count: int
    wrk_seconds: int
    work: Path
    keep: bool
    small_size: int = 16 * 1024
    small_dirs: int = 20
    serve_workers: int = 2

    @classmethod
    def make(cls, *, quick: bool, work: Path, keep: bool, runs: int | None = None) -> Settings:
        if quick:
            return cls(
                quick=True,
                runs=runs or 1,
                big_size=64 * MIB,
                small_count=300,
                wrk_seconds=3,
                work=work,
                keep=keep,
            )
        return cls(
            quick=False,
            runs=runs or 3,
            big_size=1024 * MIB,
            small_count=2000,
            wrk_seconds=10,
            work=work,
            keep=keep,
        )


@dataclass(frozen=True, slots=True)
class Contender:
    """One tool setting: `run(i)` performs, times and checks run i, or raises."""

    name: str
    run: Callable[[int], Sample]
    is_datamirror: bool = False
    not_run: str | None = None


@dataclass
class Context:
    """Settings, tools, limits, and the sources started on first use (stopped at the end)."""

    settings: Settings
    tools: Tools
    limits: dict[str, float]
    stack: contextlib.ExitStack
    _sources: dict[str, Source] = field(default_factory=dict)
    _trees: dict[str, Tree] = field(default_factory=dict)
    shared: dict[str, object] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.settings.work

    def big_tree(self) -> Tree:
        if "big" not in self._trees:
            self._trees["big"] = big_file_tree(self.work / "data" / "big", self.settings.big_size)
        return self._trees["big"]

    def small_tree(self) -> Tree:
        if "small" not in self._trees:
            s = self.settings
            root = self.work / "data" / f"small-{s.small_count}"
            self._trees["small"] = small_files_tree(root, s.small_count, s.small_size, s.small_dirs)
        return self._trees["small"]

    def source(self, profile: str, tree: str) -> Source:
        """nginx serving a generated tree ("big" or "small") in a profile."""
        key = f"{profile}-{tree}"
        if key not in self._sources:
            nginx = self.tools.get("nginx")
            if nginx is None:
                raise RuntimeError(self.tools.why_missing("nginx"))
            data = self.big_tree() if tree == "big" else self.small_tree()
            chosen = REMOTE if profile == "remote" else LOOPBACK_PROFILE
            self._sources[key] = self.stack.enter_context(
                nginx_source(nginx, chosen, data.root, self.work / "run" / key)
            )
        return self._sources[key]

    def scratch(self, name: str) -> Path:
        """A fresh, empty output folder."""
        path = self.work / "out" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def discard(self, path: Path) -> None:
        if not self.settings.keep:
            shutil.rmtree(path, ignore_errors=True)


def alternate(contenders: Sequence[Contender], runs: int) -> tuple[ContenderResult, ...]:
    """Run every contender `runs` times, interleaved; a failed contender stops running."""
    samples: dict[str, list[Sample]] = {c.name: [] for c in contenders}
    errors: dict[str, str] = {}
    for index in range(runs):
        for contender in contenders:
            if contender.not_run or contender.name in errors:
                continue
            print(f"    {contender.name} (run {index + 1}/{runs})", flush=True)
            try:
                sample = contender.run(index)
            except FAILURES as exc:
                errors[contender.name] = f"{type(exc).__name__}: {exc}"
                print(f"      failed: {errors[contender.name]}", flush=True)
                continue
            samples[contender.name].append(sample)
            print(f"      {sample.value:.2f}", flush=True)
    return tuple(
        ContenderResult(
            name=c.name,
            is_datamirror=c.is_datamirror,
            samples=tuple(samples[c.name]),
            error=errors.get(c.name),
            not_run=c.not_run,
        )
        for c in contenders
    )


def cpu_details(timed: Timed) -> dict[str, float]:
    """CPU seconds of the command's process tree: user + system, and each."""
    return {
        "cpu_s": timed.cpu_seconds,
        "user_s": timed.user_seconds,
        "sys_s": timed.system_seconds,
    }


def transfer_sample(timed: Timed, nbytes: int) -> Sample:
    return Sample(
        timed.seconds,
        {
            "mib_per_s": nbytes / MIB / timed.seconds,
            "peak_rss_mib": timed.peak_rss / MIB,
            **cpu_details(timed),
        },
    )


def peer_contender(
    ctx: Context,
    name: str,
    tool: str,
    make_argv: Callable[[str, Path], list[str]],
    check: Callable[[Path], None],
    nbytes: int,
) -> Contender:
    """A peer that copies into a fresh folder: argv from (tool path, folder), then a check."""
    path = ctx.tools.get(tool)
    if path is None:
        return Contender(name, _never, not_run=ctx.tools.why_missing(tool))

    def run(index: int) -> Sample:
        out = ctx.scratch(f"{_slug(name)}-{index}")
        timed = run_timed(make_argv(path, out), cwd=out)
        check(out)
        ctx.discard(out)
        return transfer_sample(timed, nbytes)

    return Contender(name, run)


def dm_sync_contender(
    ctx: Context,
    name: str,
    url: str,
    expected: Tree,
    make_home: Callable[[int], dm.Home] | None = None,
    source_options: Sequence[str] = (),
) -> Contender:
    """datamirror: a fresh home, `source add`, then the timed `sync`, then the md5 check."""
    missing = dm.missing_command("sync")
    if missing:
        return Contender(name, _never, is_datamirror=True, not_run=missing)

    def run(index: int) -> Sample:
        home_dir = ctx.work / "out" / f"{_slug(name)}-{index}"
        home = make_home(index) if make_home else dm.new_home(home_dir)
        dm.add_source(home, url, dm.DATASET, *source_options)
        timed = run_timed(dm.sync_argv(), env=home.env, cwd=home.root)
        dm.check_release(home, expected)
        ctx.discard(home.root)
        if home.store_root != home.root / "store":
            ctx.discard(home.store_root)
        return transfer_sample(timed, expected.total_bytes)

    return Contender(name, run, is_datamirror=True)


def _never(index: int) -> Sample:
    raise RuntimeError("not runnable")


def failing(exc: Exception) -> Callable[[int], Sample]:
    """A run that reports a setup failure as the contender's error."""

    def run(index: int) -> Sample:
        raise RuntimeError(f"setup failed: {exc}")

    return run


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower()
