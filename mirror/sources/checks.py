"""Checks every source reader makes the same way: that a file is still the version that
was listed, and that a socket error reads as one plain line."""

from __future__ import annotations

import os

from catalog.errors import SourceChangedError


def version_size(version: str | None) -> int | None:
    """The size a `size:N;mtime:...` version promises (see SourceEntry.version)."""
    if not version or not version.startswith("size:"):
        return None
    text = version.removeprefix("size:").split(";", 1)[0]
    return int(text) if text.isdigit() else None


def check_size_unchanged(url: str, size: int, version: str | None) -> None:
    """Raise SourceChangedError when the file's size is not the one its version promised."""
    listed = version_size(version)
    if listed is not None and listed != size:
        raise SourceChangedError(url, f"it was {listed} bytes and is {size} now")


def os_error_cause(error: OSError) -> str:
    """'Connection refused', not asyncio's "Connect call failed ('127.0.0.1', 80)"."""
    if error.errno and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or str(error) or type(error).__name__
