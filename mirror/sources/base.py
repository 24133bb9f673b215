"""The source role: list a tree, read byte ranges of its files.

Sources convert whatever their protocol gives (fsspec dicts, listing pages, S3 responses)
into these value objects at the edge; nothing above this layer sees protocol details.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from catalog.store.base import ByteRange


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """A file in the source tree.

    `path` is relative to the source root, '/'-separated, as it will be published.
    `md5` is a digest the protocol itself states for the bytes (an S3 ETag of an object
    uploaded in one part), checked like a published checksum.
    `version` is whatever tells that the bytes changed without reading them: an ETag, or
    size and mtime joined; a file whose version moved during a sync is restarted.
    """

    path: str
    size: int
    mtime: datetime | None = None
    etag: str | None = None
    md5: str | None = None

    @property
    def version(self) -> str:
        if self.etag:
            return f"etag:{self.etag}"
        stamp = self.mtime.isoformat() if self.mtime else "-"
        return f"size:{self.size};mtime:{stamp}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A name the source listed that is not mirrored (`path` as listed), and why."""

    path: str
    reason: str


@runtime_checkable
class ReportsSkipped(Protocol):
    """A source whose listing drops what it will not follow (a loop, a page too large,
    a name that is no path); `skipped` tells them after `list`."""

    @property
    def skipped(self) -> list[Skipped]: ...


class Source(Protocol):
    """A remote tree to mirror."""

    @property
    def url(self) -> str: ...

    def list(self) -> AsyncIterator[SourceEntry]:
        """Every file under the root, recursively, with exact sizes."""
        ...

    async def stat(self, path: str) -> SourceEntry: ...

    def read(
        self, path: str, byte_range: ByteRange | None = None, *, version: str | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of a file (or of a range of it), in order, in bounded chunks.

        Raises SourceError (transient or not) on failure; a server that ignores the range,
        or whose file changed from `version`, is an error, never silently spliced bytes.
        """
        ...

    async def close(self) -> None: ...
