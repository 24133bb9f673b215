"""Request handlers for the dataset index, landing pages, files, listings and documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web

from catalog.errors import UnknownDatasetError
from catalog.layout import NAME_RE
from catalog.manifest import ManifestEntry
from catalog.store.base import Store, SupportsPresign
from serve.access import ACCESS
from serve.bodies import BytesSender
from serve.catalog_view import CatalogView, DatasetInfo
from serve.documents import Documents, document_name
from serve.files import IMMUTABLE, REVALIDATE, Representation, open_object, respond
from serve.hot_cache import HotCache
from serve.http.conditional import EntityTag
from serve.http.content_types import content_type
from serve.http.cors import SERVED_PRIVATE
from serve.http.digests import known_digests
from serve.http.negotiation import prefers_json
from serve.http.problems import ProblemError
from serve.http.url_paths import DatasetPath, split_dataset_path
from serve.listing import listing_html, listing_json
from serve.metrics import ROUTE_KIND
from serve.open_files import OpenFiles
from serve.pages import index_html, index_json, landing_html, landing_json
from serve.release_index import ReleaseIndex
from serve.remote_reads import RemoteReader

NO_CACHE = "no-cache"
PRESIGN_SECONDS = 3600
MAX_REPRESENTATIONS = 10_000


@dataclass(slots=True)
class DatasetRoutes:
    view: CatalogView
    store: Store
    documents: Documents
    hot: HotCache
    files: OpenFiles | None = None  # local stores only
    remote: RemoteReader | None = None  # stores that presign
    sendfile: bool = True
    redirect_to_store: bool = False
    _reps: dict[tuple[int, str, str], Representation] = field(default_factory=dict)

    async def index(self, request: web.Request) -> web.StreamResponse:
        request[ROUTE_KIND] = "index"
        datasets = [d for d in await self.view.datasets() if self._visible(request, d)]
        if any(d.restricted for d in datasets):
            request[SERVED_PRIVATE] = True
        if prefers_json(request.headers.get(hdrs.ACCEPT)):
            return _json(index_json(datasets, _base(request)), NO_CACHE)
        return _html(index_html(datasets), NO_CACHE)

    async def datasets(self, request: web.Request) -> web.StreamResponse:
        where = split_dataset_path(request.rel_url.raw_path)
        if not where.dataset:
            raise web.HTTPFound("/")
        ds = await self._dataset(request, where.dataset)
        if where.release is None:
            if not where.slash:
                raise _to_slash(request)
            return await self._landing(request, ds)
        if not where.path and not where.slash:
            raise _to_slash(request)
        index = await self.view.index(ds.name, where.release)
        pinned = where.release != "latest"
        return await self._in_release(request, ds, index, where, pinned)

    async def _dataset(self, request: web.Request, name: str) -> DatasetInfo:
        if not NAME_RE.match(name):
            raise UnknownDatasetError(name)
        ds = await self.view.dataset(name)
        if not self._visible(request, ds):
            raise UnknownDatasetError(name)
        if ds.restricted:
            request[SERVED_PRIVATE] = True
        return ds

    def _visible(self, request: web.Request, ds: DatasetInfo) -> bool:
        """Restricted datasets exist for no one without access (not even their names)."""
        return not ds.restricted or request[ACCESS].can_read(ds.name)

    async def _landing(self, request: web.Request, ds: DatasetInfo) -> web.StreamResponse:
        request[ROUTE_KIND] = "landing"
        releases = await self.view.releases(ds.name)
        if prefers_json(request.headers.get(hdrs.ACCEPT)):
            return _json(landing_json(ds, releases, _base(request)), NO_CACHE)
        return _html(landing_html(ds, releases, _base(request)), NO_CACHE)

    async def _in_release(
        self,
        request: web.Request,
        ds: DatasetInfo,
        index: ReleaseIndex,
        where: DatasetPath,
        pinned: bool,
    ) -> web.StreamResponse:
        if where.slash:
            request[ROUTE_KIND] = "listing"
            children = index.listing(where.path)
            if children is None:
                raise ProblemError(404, f"{ds.name}/{index.release}/{where.path}/ is no directory")
            title = f"/datasets/{ds.name}/{where.release}/{where.path}".rstrip("/") + "/"
            if prefers_json(request.headers.get(hdrs.ACCEPT)):
                body = listing_json(ds.name, index.release, where.path, children)
                return _json(body, NO_CACHE)
            return _html(listing_html(title, children, index.published_at), NO_CACHE)
        cache = IMMUTABLE if pinned else REVALIDATE
        entry = index.file(where.path)
        if entry is not None:
            request[ROUTE_KIND] = "file"
            return await self._file(request, index, entry, cache)
        name = document_name(where.path, index)
        if name is not None:
            request[ROUTE_KIND] = "document"
            return await self._document(request, ds, index, name, cache)
        if index.listing(where.path) is not None:
            raise _to_slash(request)
        raise ProblemError(404, f"{ds.name}/{index.release} has no file {where.path}")

    async def _file(
        self, request: web.Request, index: ReleaseIndex, entry: ManifestEntry, cache: str
    ) -> web.StreamResponse:
        if self.redirect_to_store and isinstance(self.store, SupportsPresign):
            url = await self.store.presign(entry.key, PRESIGN_SECONDS)
            raise web.HTTPFound(url, headers={hdrs.CACHE_CONTROL: "no-store"})
        rep = self._representation(index, entry, cache)

        async def opener() -> Any:
            return await open_object(
                self.store,
                entry.key,
                entry.size,
                hot=self.hot,
                files=self.files,
                sendfile=self.sendfile,
                remote=self.remote,
            )

        return await respond(request, rep, opener)

    def _representation(
        self, index: ReleaseIndex, entry: ManifestEntry, cache: str
    ) -> Representation:
        """Built once per release, file and caching rule (releases never change)."""
        key = (index.release_id, entry.path, cache)
        rep = self._reps.get(key)
        if rep is None:
            if len(self._reps) >= MAX_REPRESENTATIONS:
                self._reps.clear()
            rep = self._reps[key] = Representation(
                path=entry.path,
                size=entry.size,
                content_type=content_type(entry.path),
                etag=EntityTag(entry.xxh3_128),
                last_modified=entry.mtime or index.published_at,
                cache_control=cache,
                digests=known_digests(entry),
            )
        return rep

    async def _document(
        self, request: web.Request, ds: DatasetInfo, index: ReleaseIndex, name: str, cache: str
    ) -> web.StreamResponse:
        doc = await self.documents.get(name, index, ds.url)
        rep = Representation(
            path=name,
            size=len(doc.data),
            content_type=doc.content_type,
            etag=EntityTag(doc.xxh3_128),
            last_modified=index.published_at,
            cache_control=cache,
            digests={},
        )

        async def opener() -> BytesSender:
            return BytesSender(doc.data)

        return await respond(request, rep, opener)


def _to_slash(request: web.Request) -> web.HTTPFound:
    location = request.rel_url.raw_path + "/"
    if request.rel_url.raw_query_string:
        location += "?" + request.rel_url.raw_query_string
    return web.HTTPFound(location, headers={hdrs.CACHE_CONTROL: NO_CACHE})


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _json(body: dict[str, Any], cache: str) -> web.Response:
    return web.json_response(body, headers={hdrs.CACHE_CONTROL: cache, hdrs.VARY: "Accept"})


def _html(body: str, cache: str) -> web.Response:
    headers = {hdrs.CACHE_CONTROL: cache, hdrs.VARY: "Accept"}
    return web.Response(text=body, content_type="text/html", headers=headers)
