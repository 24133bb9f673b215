"""Reading a checksum file from a source, bounded: a checksum file is held in memory
whole (its bytes are also stored as they are), so one over MAX_CHECKSUM_FILE is an
error before, or as soon as, that many bytes arrive."""

from __future__ import annotations

from catalog.errors import ChecksumFileError
from catalog.sizes import human_bytes
from mirror.sources.base import Source

MAX_CHECKSUM_FILE = 128 * 1024 * 1024


async def read_bounded(source: Source, path: str) -> bytes:
    chunks: list[bytes] = []
    received = 0
    async for chunk in source.read(path):
        received += len(chunk)
        if received > MAX_CHECKSUM_FILE:
            raise checksum_file_too_large(path)
        chunks.append(chunk)
    return b"".join(chunks)


def checksum_file_too_large(path: str) -> ChecksumFileError:
    return ChecksumFileError(path, f"it is larger than {human_bytes(MAX_CHECKSUM_FILE)}")
