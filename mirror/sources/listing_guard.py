"""What keeps a crawl of listing pages bounded whatever the server sends: a cap on the
bytes of one page, folders that repeat an ancestor (a symlink loop) not followed, pages
that redirect out of the source's root not read.

A loop is told by what a folder lists: a symlink to an ancestor lists exactly what the
ancestor lists (names, kinds, sizes, times), at a deeper URL. Without this check a folder
with two links to `.` doubles the folders at every level.
"""

from __future__ import annotations

import codecs
from collections.abc import Hashable, Iterable

import aiohttp
from yarl import URL

from catalog.errors import SourceError
from catalog.sizes import human_bytes

MAX_LISTING_PAGE = 64 * 1024 * 1024
"""The largest listing page read (about 400,000 rows of nginx's autoindex)."""


async def read_page(response: aiohttp.ClientResponse, url: str, limit: int) -> str:
    """The page's text, read in chunks; a page longer than `limit` bytes is an error
    before it is held in memory."""
    announced = response.content_length
    if announced is not None and announced > limit:
        raise page_too_large(url, limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_any():
        received += len(chunk)
        if received > limit:
            raise page_too_large(url, limit)
        chunks.append(chunk)
    return b"".join(chunks).decode(_codec(response.charset), errors="replace")


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"


def page_too_large(url: str, limit: int) -> SourceError:
    return SourceError(
        url,
        f"the listing page is larger than {human_bytes(limit)}, the most datamirror reads",
        hint="mirror a subfolder, or a source whose folders are listed in smaller pages",
    )


def signature(items: Iterable[Hashable]) -> int:
    """What a folder lists, as one number (order-free)."""
    return hash(frozenset(items))


def ancestors(folder: str) -> list[str]:
    """`a/b/c/` -> `""`, `a/`, `a/b/`."""
    parts = folder.rstrip("/").split("/")
    return ["".join(f"{p}/" for p in parts[:i]) for i in range(len(parts))]


def repeated_ancestor(folder: str, listed: int, seen: dict[str, int]) -> str | None:
    """The ancestor of `folder` that lists the same (`seen`: signatures by folder)."""
    for ancestor in ancestors(folder):
        if seen.get(ancestor) == listed:
            return ancestor
    return None


def inside(url: URL, root: str) -> bool:
    """Whether `url` (where a request ended, redirects followed) is under `root`."""
    base = URL(root)
    same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
    return same_origin and url.path.startswith(base.path)
