"""Progress of a sync on stderr: a tqdm bar on a terminal, plain periodic lines in logs."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Never, Protocol, TextIO

from catalog.sizes import human_bytes

if TYPE_CHECKING:
    from tqdm import tqdm

LINE_EVERY = 2.0


class Progress(Protocol):
    def start(self, files: int, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def file_done(self) -> None: ...

    def close(self) -> None: ...


class QuietProgress:
    def start(self, files: int, total_bytes: int) -> None:
        return None

    def advance(self, nbytes: int) -> None:
        return None

    def file_done(self) -> None:
        return None

    def close(self) -> None:
        return None


class BarProgress:
    """Bytes, files, rate and ETA as a tqdm bar."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: tqdm[Never] | None = None
        self._files = 0
        self._total_files = 0

    def start(self, files: int, total_bytes: int) -> None:
        from tqdm import tqdm  # 30 ms of imports that only a terminal needs

        self._total_files = files
        self._bar = bar = tqdm(
            total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024,
            file=self._stream, desc="sync", dynamic_ncols=True,
        )  # fmt: skip
        bar.set_postfix_str(f"0/{files} files")

    def advance(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)

    def file_done(self) -> None:
        self._files += 1
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._files}/{self._total_files} files", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class LineProgress:
    """One line every few seconds, for logs and pipes."""

    def __init__(self, stream: TextIO, every: float = LINE_EVERY) -> None:
        self._stream = stream
        self._every = every
        self._total = self._files = self._total_files = self._done = 0
        self._started = self._last = time.monotonic()

    def start(self, files: int, total_bytes: int) -> None:
        self._total, self._total_files = total_bytes, files
        self._started = self._last = time.monotonic()
        self._write(f"fetching {files} files, {human_bytes(total_bytes)}")

    def advance(self, nbytes: int) -> None:
        self._done += nbytes
        self._maybe_report()

    def file_done(self) -> None:
        self._files += 1
        self._maybe_report()

    def _maybe_report(self) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        rate = self._done / max(now - self._started, 1e-6)
        left = (self._total - self._done) / rate if rate > 0 else 0.0
        self._write(
            f"{human_bytes(self._done)}/{human_bytes(self._total)}, "
            f"{self._files}/{self._total_files} files, {human_bytes(rate)}/s, ETA {left:.0f}s"
        )

    def close(self) -> None:
        if self._total_files:
            self._write(f"fetched {self._files}/{self._total_files} files")

    def _write(self, text: str) -> None:
        print(f"sync: {text}", file=self._stream, flush=True)


def make_progress(
    *, quiet: bool, bar: bool | None = None, stream: TextIO | None = None
) -> Progress:
    """Quiet, a bar (on a tty, or when asked), or plain lines."""
    out = stream or sys.stderr
    if quiet:
        return QuietProgress()
    if bar or (bar is None and out.isatty()):
        return BarProgress(out)
    return LineProgress(out)
