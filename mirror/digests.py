"""Streaming digests: xxh3-128 of every file, and md5/sha256 when the source publishes one.

`update` is meant to run in a worker thread for large buffers (hashlib and xxhash release
the GIL on large inputs); `FileDigests.update_async` decides that for its caller.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import xxhash

from catalog.errors import ChecksumMismatchError
from mirror.bsd_sum import BSDSum
from mirror.checksum_files import Digest

INLINE_LIMIT = 64 * 1024
HASHLIB_GIL_MINSIZE = 2048
HASHLIB = ("md5", "sha1", "sha256", "sha512")
SUPPORTED = (*HASHLIB, "sum")


@dataclass(slots=True)
class FileDigests:
    """The digests of one file, fed in order."""

    extra: tuple[str, ...] = ()
    _xxh: Any = field(default_factory=xxhash.xxh3_128)
    _extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._extra = {name: new_hasher(name) for name in self.extra if name in SUPPORTED}

    def update(self, data: bytes | memoryview) -> None:
        self._xxh.update(data)
        for hasher in self._extra.values():
            hasher.update(data)

    def update_many(self, chunks: Iterable[bytes | memoryview]) -> None:
        for chunk in chunks:
            self.update(chunk)

    async def update_async(self, chunks: list[bytes]) -> None:
        """Hash on the loop only when the input is small; otherwise in a thread."""
        if sum(len(c) for c in chunks) <= INLINE_LIMIT:
            for chunk in chunks:
                self.update_on_loop(chunk)
        else:
            await asyncio.to_thread(self.update_many, chunks)

    def update_on_loop(self, data: bytes | memoryview) -> None:
        """`update` that never lets go of the GIL. hashlib releases it for inputs of
        `HASHLIB_GIL_MINSIZE` bytes and more, and the event loop then waits up to the
        switch interval (5 ms) behind a busy thread to get it back, for some 25 us of
        hashing; fed in smaller pieces, it keeps the GIL."""
        self._xxh.update(data)
        view = memoryview(data)
        for hasher in self._extra.values():
            for start in range(0, len(view), HASHLIB_GIL_MINSIZE - 1):
                hasher.update(view[start : start + HASHLIB_GIL_MINSIZE - 1])

    @property
    def xxh3_128(self) -> str:
        return str(self._xxh.hexdigest())

    def hexdigest(self, algorithm: str) -> str | None:
        hasher = self._extra.get(algorithm)
        return hasher.hexdigest() if hasher else None

    def hexdigests(self) -> dict[str, str]:
        """Every digest computed but xxh3-128, by algorithm."""
        return {name: str(hasher.hexdigest()) for name, hasher in self._extra.items()}

    @property
    def finish_blocks(self) -> bool:
        """Whether `finish` may wait (on BSD `sum`'s helper process)."""
        return "sum" in self._extra

    def finish(self) -> None:
        """Compute every digest (BSD `sum` may wait on its helper process: call in a thread)."""
        for hasher in self._extra.values():
            hasher.hexdigest()

    def check(self, path: str, expected: Digest | None) -> None:
        """Raise ChecksumMismatchError when the published digest differs."""
        if expected is None:
            return
        actual = self.hexdigest(expected.algorithm)
        if actual is not None and actual != expected.hexdigest:
            raise ChecksumMismatchError(path, expected.algorithm, expected.hexdigest, actual)


def new_hasher(algorithm: str) -> Any:
    """A streaming hasher for a digest a source publishes."""
    if algorithm == "sum":
        return BSDSum()
    return hashlib.new(algorithm)


def xxh3_128_of(chunks: Iterable[bytes | memoryview]) -> str:
    hasher = xxhash.xxh3_128()
    for chunk in chunks:
        hasher.update(chunk)
    return str(hasher.hexdigest())
