"""Per-release documents the server offers next to the data, in the reserved folder
`/datasets/<ds>/<rel>/.datamirror/` (where pages link them):

    manifest.json            the release manifest: the store object
                             releases/<ds>/<rel>/manifest.json (or generated from the catalog
                             when the store has none), with each file's GA4GH DRS URI and the
                             release's bundle URI added for the host that was asked
    md5sum.txt               `md5sum -c` input for every file with an MD5
    ro-crate-metadata.json   the release's RO-Crate (`application/ld+json`): the store object
                             releases/<ds>/<rel>/ro-crate-metadata.json written at publish, or
                             generated from the catalog (`catalog.ro_crate`) when there is none

They also answer under their bare names (`/datasets/<ds>/<rel>/md5sum.txt`) unless the
dataset has a file of that name, which then answers there; the RO-Crate's bare name is its
canonical place, the release root being the crate's root. Releases are immutable, so each
document is built once and kept (an LRU of `max_items`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import xxhash
from cachetools import LRUCache

from catalog.drs_ids import bundle_id, drs_uri, object_id
from catalog.errors import ObjectNotFoundError
from catalog.layout import RO_CRATE, manifest_key, ro_crate_key
from catalog.manifest import dump_manifest
from catalog.repository import Catalog
from catalog.ro_crate import CrateFacts, ro_crate
from catalog.store.base import Store
from serve.catalog_view import DatasetInfo
from serve.release_index import ReleaseIndex

RESERVED = ".datamirror/"
MANIFEST = "manifest.json"
NAMES = {
    MANIFEST: "application/json",
    "md5sum.txt": "text/plain; charset=utf-8",
    RO_CRATE: "application/ld+json",
}
DocumentKey = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class Document:
    data: bytes
    content_type: str
    xxh3_128: str


class Documents:
    def __init__(self, store: Store, catalog: Catalog, max_items: int = 32) -> None:
        self.store = store
        self.catalog = catalog
        self._cache: LRUCache[DocumentKey, Document] = LRUCache(max_items)

    async def get(self, name: str, index: ReleaseIndex, ds: DatasetInfo, hostname: str) -> Document:
        """`hostname` names the server in the manifest's drs:// URIs."""
        key = (index.release_id, name, hostname if name == MANIFEST else "")
        found = self._cache.get(key)
        if found is not None:
            return found
        if name == MANIFEST:
            data = await self._manifest(index, ds.url, hostname)
        elif name == RO_CRATE:
            data = await self._ro_crate(index, ds)
        else:
            data = await asyncio.to_thread(md5sum_text, index)
        digest = await asyncio.to_thread(xxhash.xxh3_128_hexdigest, data)
        document = self._cache[key] = Document(data, NAMES[name], digest)
        return document

    async def _manifest(self, index: ReleaseIndex, source_url: str, hostname: str) -> bytes:
        try:
            raw = await self.store.get(manifest_key(index.dataset, index.release))
        except ObjectNotFoundError:
            entries = list(index.files.values())
            raw = await asyncio.to_thread(
                dump_manifest, index.dataset, index.release, source_url, entries
            )
        return await asyncio.to_thread(with_drs_uris, raw, hostname)

    async def _ro_crate(self, index: ReleaseIndex, ds: DatasetInfo) -> bytes:
        try:
            return await self.store.get(ro_crate_key(index.dataset, index.release))
        except ObjectNotFoundError:
            pass
        run = await self.catalog.runs.of_release(index.release_id)
        published = index.published_at or ds.created_at
        facts = CrateFacts(
            dataset=ds.name, source_url=ds.url, release=index.release, published=published,
            title=ds.title, description=ds.description, license=ds.license,
            run_started=run.started_at if run else None,
            run_ended=run.finished_at if run else None,
        )  # fmt: skip
        entries = list(index.files.values())
        crate = await asyncio.to_thread(ro_crate, facts, entries)
        return json.dumps(crate, indent=1, ensure_ascii=False).encode()


def with_drs_uris(raw: bytes, hostname: str) -> bytes:
    """A manifest with every file's `drs_id` and `drs_uri` and the release's bundle id and
    URI (manifests written before DRS ids existed get their ids here)."""
    document = json.loads(raw)
    dataset, release = document["dataset"], document["release"]
    bundle = document.setdefault("drs_bundle_id", bundle_id(dataset, release))
    document["drs_bundle_uri"] = drs_uri(hostname, bundle)
    for item in document["files"]:
        drs_id = item.setdefault("drs_id", object_id(dataset, item["path"], item["xxh3_128"]))
        item["drs_uri"] = drs_uri(hostname, drs_id)
    return json.dumps(document, indent=1, sort_keys=True).encode()


def md5sum_text(index: ReleaseIndex) -> bytes:
    entries = sorted(index.files.values(), key=lambda e: e.path)
    return "".join(f"{e.md5}  {e.path}\n" for e in entries if e.md5).encode()
