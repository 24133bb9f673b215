"""Per-release documents the server offers next to the data, in the reserved folder
`/datasets/<ds>/<rel>/.datamirror/` (where pages link them):

    manifest.json   the release manifest: the store object releases/<ds>/<rel>/manifest.json,
                    or generated from the catalog when the store has none
    md5sum.txt      `md5sum -c` input for every file with an MD5

They also answer under their bare names (`/datasets/<ds>/<rel>/md5sum.txt`) unless the
dataset has a file of that name, which then answers there. Releases are immutable, so each
document is built once and kept (an LRU of `max_items`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import xxhash
from cachetools import LRUCache

from catalog.errors import ObjectNotFoundError
from catalog.layout import manifest_key
from catalog.manifest import dump_manifest
from catalog.store.base import Store
from serve.release_index import ReleaseIndex

RESERVED = ".datamirror/"
NAMES = {"manifest.json": "application/json", "md5sum.txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class Document:
    data: bytes
    content_type: str
    xxh3_128: str


class Documents:
    def __init__(self, store: Store, max_items: int = 32) -> None:
        self.store = store
        self._cache: LRUCache[tuple[int, str], Document] = LRUCache(max_items)

    async def get(self, name: str, index: ReleaseIndex, source_url: str) -> Document:
        key = (index.release_id, name)
        found = self._cache.get(key)
        if found is not None:
            return found
        if name == "manifest.json":
            data = await self._manifest(index, source_url)
        else:
            data = await asyncio.to_thread(md5sum_text, index)
        digest = await asyncio.to_thread(xxhash.xxh3_128_hexdigest, data)
        document = self._cache[key] = Document(data, NAMES[name], digest)
        return document

    async def _manifest(self, index: ReleaseIndex, source_url: str) -> bytes:
        try:
            return await self.store.get(manifest_key(index.dataset, index.release))
        except ObjectNotFoundError:
            entries = list(index.files.values())
            return await asyncio.to_thread(
                dump_manifest, index.dataset, index.release, source_url, entries
            )


def md5sum_text(index: ReleaseIndex) -> bytes:
    entries = sorted(index.files.values(), key=lambda e: e.path)
    return "".join(f"{e.md5}  {e.path}\n" for e in entries if e.md5).encode()
