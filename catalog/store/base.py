"""The object store roles. Backends implement `Store`; optional capabilities are separate
runtime-checkable protocols that callers discover at run time.

All methods are async. Blocking backends (files, boto3) move their I/O to threads inside the
implementation, so no caller can block the event loop.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from catalog.errors import InvalidPathError

STREAM_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes [start, end) of an object; `end` is exclusive."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid byte range [{self.start}, {self.end})")

    @property
    def length(self) -> int:
        return self.end - self.start

    def range_header(self) -> str:
        """The `Range` request header asking for these bytes (RFC 9110 §14.2); the range
        must not be empty."""
        return f"bytes={self.start}-{self.end - 1}"

    def content_range(self, total: int) -> str:
        """The `Content-Range` answering with these bytes of `total` (RFC 9110 §14.4)."""
        return f"bytes {self.start}-{self.end - 1}/{total}"

    def answered_by(self, content_range: str | None) -> bool:
        """Whether a `Content-Range` header names exactly these bytes (of any total)."""
        return (content_range or "").startswith(f"bytes {self.start}-{self.end - 1}/")


def content_range_total(content_range: str | None) -> int | None:
    """The complete length a `Content-Range` header states (`*` or garbage: None)."""
    total = (content_range or "").rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime | None = None
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class LandedPart:
    """A part the store holds for an unfinished upload."""

    number: int
    size: int
    etag: str | None = None


class PartWriter(Protocol):
    """A chunked upload: parts in any order, then complete (atomic visibility) or abort.

    Part numbers start at 1; every part but the last has the same size (the part size), so
    part `n` starts at `(n - 1) * part_size`. Until `complete`, nothing is visible under the
    final key.
    """

    @property
    def upload_id(self) -> str: ...

    async def write_part(self, number: int, data: bytes | memoryview) -> LandedPart: ...

    async def complete(self) -> ObjectInfo: ...

    async def abort(self) -> None: ...


class Store(Protocol):
    """A flat key -> bytes object store."""

    @property
    def url(self) -> str: ...

    async def put(self, key: str, data: bytes) -> ObjectInfo:
        """Write a whole object atomically: readers see the old state or the new, never half."""
        ...

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes: ...

    def stream(
        self, key: str, byte_range: ByteRange | None = None, chunk_size: int = STREAM_CHUNK
    ) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of at most `chunk_size`; memory stays bounded."""
        ...

    async def stat(self, key: str) -> ObjectInfo:
        """Raises ObjectNotFoundError when there is no object under `key`."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Deleting a missing key is not an error."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in key order."""
        ...

    async def start_upload(self, key: str, part_size: int) -> PartWriter: ...

    async def resume_upload(self, key: str, upload_id: str, part_size: int) -> PartWriter:
        """Reopen an unfinished upload; raises ObjectNotFoundError when the store lost it."""
        ...

    async def landed_parts(self, key: str, upload_id: str) -> builtins.list[LandedPart]:
        """The parts an unfinished upload holds (for a resuming worker)."""
        ...

    async def abort_stale_uploads(self, prefix: str, keep: set[str]) -> int:
        """Abort unfinished uploads under `prefix` whose ids are not in `keep`; count them."""
        ...

    async def flush(self) -> None:
        """Make every object written so far durable: it survives a power cut."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class SupportsWriteAt(Protocol):
    """A part writer that takes bytes at any offset, so a part streams in without being
    buffered whole (the local store). Writers without it take whole parts."""

    async def write_at(self, offset: int, data: bytes | memoryview) -> None: ...


@runtime_checkable
class SupportsLocalPath(Protocol):
    """A store whose objects are plain files: the server can sendfile them."""

    def local_path(self, key: str) -> Path: ...


@runtime_checkable
class SupportsPresign(Protocol):
    """A store that can mint time-limited URLs that clients fetch directly."""

    async def presign(self, key: str, expires_in: int) -> str: ...


def check_key(key: str) -> str:
    """A store key: '/'-separated and relative, with no empty, '.' or '..' parts."""
    parts = key.split("/")
    if not key or "\x00" in key or any(part in {"", ".", ".."} for part in parts):
        raise InvalidPathError(f"invalid store key {key!r}")
    return key
