"""The BSD `sum` checksum (coreutils `sum` / `sum -r`), as Ensembl's CHECKSUMS files use it.

A 16-bit rotating checksum of the bytes and the size in 1 KiB blocks, rounded up. The
recurrence is sequential byte by byte, so Python computes it at a few MB/s while holding
the GIL: inputs up to `INLINE_LIMIT` are summed here, larger ones are piped through the
system's `sum` (coreutils, or BSD's, whose default algorithm is the same) which does it
at disk speed. Where no `sum` is installed the Python loop does all of it, slowly.
Like hashlib objects, `update` of a large buffer belongs in a worker thread.
"""

from __future__ import annotations

import shutil
import subprocess
import weakref

from catalog.errors import DatamirrorError

INLINE_LIMIT = 64 * 1024
BLOCK = 1024
_ROTATE_RIGHT = [(s >> 1) | ((s & 1) << 15) for s in range(1 << 16)]


def bsd_checksum(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """The 16-bit BSD checksum of `data`, continuing from `start`."""
    checksum = start
    rotate = _ROTATE_RIGHT
    for byte in bytes(data):
        checksum = (rotate[checksum] + byte) & 0xFFFF
    return checksum


def bsd_sum(data: bytes) -> str:
    """`sum` output for `data`: `"%05d %d" % (checksum, blocks)`."""
    hasher = BSDSum(use_system_sum=False)
    hasher.update(data)
    return hasher.hexdigest()


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class BSDSum:
    """A streaming `sum` hasher with hashlib's shape: `update(data)`, `hexdigest()`."""

    name = "sum"

    def __init__(self, *, use_system_sum: bool = True) -> None:
        self._program = shutil.which("sum") if use_system_sum else None
        self._size = 0
        self._pending = bytearray()
        self._proc: subprocess.Popen[bytes] | None = None
        self._result: str | None = None
        self._checksum = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._result is not None:
            raise ValueError("update() after hexdigest()")
        self._size += len(data)
        if self._proc is None and (
            self._program is None or len(self._pending) + len(data) <= INLINE_LIMIT
        ):
            self._pending += data
            if self._program is None and len(self._pending) >= INLINE_LIMIT:
                self._fold_pending()
            return
        proc = self._proc or self._start()
        assert proc.stdin is not None
        proc.stdin.write(data)

    def _start(self) -> subprocess.Popen[bytes]:
        assert self._program is not None
        proc = subprocess.Popen(
            [self._program],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"LC_ALL": "C"},
        )
        weakref.finalize(self, _reap, proc)
        assert proc.stdin is not None
        proc.stdin.write(self._pending)
        self._pending = bytearray()
        self._proc = proc
        return proc

    def _fold_pending(self) -> None:
        self._checksum = bsd_checksum(self._pending, self._checksum)
        self._pending = bytearray()

    def hexdigest(self) -> str:
        if self._result is None:
            checksum = self._finish_process() if self._proc else None
            if checksum is None:
                self._fold_pending()
                checksum = self._checksum
            blocks = -(-self._size // BLOCK)
            self._result = f"{checksum:05d} {blocks}"
        return self._result

    def _finish_process(self) -> int:
        assert self._proc is not None
        output, _ = self._proc.communicate()
        fields = output.split()
        if self._proc.returncode != 0 or not fields or not fields[0].isdigit():
            raise DatamirrorError(
                f"{self._program} exited {self._proc.returncode} with {output[:80]!r}",
                hint="check the `sum` program (coreutils) on this machine",
            )
        return int(fields[0])
