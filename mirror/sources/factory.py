"""Pick the source reader for a URL by its scheme."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from catalog.errors import InvalidSourceURLError
from mirror.sources.base import Source


def open_source(url: str, options: dict[str, Any] | None = None) -> Source:
    options = options or {}
    scheme = urlsplit(url).scheme
    if scheme in {"http", "https"}:
        from mirror.sources.http import HTTPSource

        return HTTPSource(url, connections_per_host=int(options.get("connections", 16)))
    raise InvalidSourceURLError(url, f"no reader for {scheme}:// sources yet")
