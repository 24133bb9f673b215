"""Handlers for the dataset index, landing pages, listings, release documents and files, and
the route patterns that choose between them.

The patterns match aiohttp's decoded path and only pick the handler; each handler splits the
raw path itself (`serve.http.url_paths`), which decodes segment by segment and refuses
traversal. A pattern has a single group, so matching allocates no more than one string.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import xxhash
from aiohttp import hdrs, web
from cachetools import LRUCache

from catalog.drs_ids import bundle_id, drs_uri
from catalog.errors import UnknownDatasetError
from catalog.layout import NAME_RE
from catalog.manifest import ManifestEntry
from catalog.media_types import content_type
from catalog.store.base import SupportsPresign
from serve.access import ACCESS
from serve.bodies import BytesSender
from serve.catalog_view import CatalogView, DatasetInfo
from serve.citation import DOCUMENTS as CITATIONS
from serve.citation import Citable
from serve.citation import document as citation_document
from serve.documents import NAMES, RESERVED, Document, Documents
from serve.files import IMMUTABLE, REVALIDATE, Representation, decide, dispatch
from serve.http.conditional import EntityTag
from serve.http.cors import SERVED_PRIVATE
from serve.http.digests import known_digests
from serve.http.negotiation import choose
from serve.http.problems import ProblemError
from serve.http.url_paths import DatasetPath, split_dataset_path
from serve.listing import listing_html, listing_json
from serve.object_senders import ObjectSenders
from serve.pages import (
    JSON,
    JSON_LD,
    PAGE_TYPES,
    Landing,
    index_html,
    index_json,
    index_ld,
    landing_html,
    landing_json,
    matches,
)
from serve.release_index import ReleaseIndex
from serve.release_outline import ReleaseOutline
from serve.schema_org import folder as folder_ld

NO_CACHE = "no-cache"
PRESIGN_SECONDS = 3600
MAX_REPRESENTATIONS = 10_000
MAX_OUTLINES = 64
MAX_QUERY = 200

_DOCUMENTS = "(?:" + "|".join(re.escape(RESERVED + n) for n in [*NAMES, *CITATIONS]) + ")"
# <dataset>/<release>/<path> with no trailing slash, except the generated documents
FILE = "/datasets/{path:[^/]+/[^/]+/(?!" + _DOCUMENTS + r"\Z).*[^/]}"
# <dataset>/<release>/.datamirror/<document>
DOCUMENT = "/datasets/{path:[^/]+/[^/]+/" + _DOCUMENTS + "}"
# <dataset>/<release>/ and its folders (ending in /); without the slash: redirected to it
LISTING = "/datasets/{path:[^/]+/[^/]+(?:/|/.*/)?}"
# <dataset>/ (without the slash: redirected to it)
LANDING = "/datasets/{dataset:[^/]+/?}"

RepresentationKey = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class Datasets:
    """What the dataset handlers read, made at start-up. `presigner`: answer file GETs with
    a redirect to a presigned store URL (`--redirect-to-store`)."""

    view: CatalogView
    documents: Documents
    senders: ObjectSenders
    presigner: SupportsPresign | None = None
    representations: LRUCache[RepresentationKey, Representation] = field(
        default_factory=lambda: LRUCache(MAX_REPRESENTATIONS)
    )
    outlines: LRUCache[int, ReleaseOutline] = field(default_factory=lambda: LRUCache(MAX_OUTLINES))


DATASETS = web.AppKey("datasets", Datasets)


async def dataset_index(request: web.Request) -> web.StreamResponse:
    """The visible datasets; `?q=` keeps those whose name, title or a keyword has its words."""
    view = request.app[DATASETS].view
    datasets = [d for d in await view.datasets() if _visible(request, d)]
    if any(d.restricted for d in datasets):
        request[SERVED_PRIVATE] = True
    query = " ".join(request.query.get("q", "").split())[:MAX_QUERY]
    shown = [d for d in datasets if matches(d, query)] if query else datasets
    kind = choose(request.headers.get(hdrs.ACCEPT), PAGE_TYPES)
    if kind == JSON:
        return _json(index_json(shown, base_url(request)), NO_CACHE)
    if kind == JSON_LD:
        return _json(index_ld(shown, base_url(request)), NO_CACHE, JSON_LD)
    return _html(index_html(shown, query, len(datasets)), NO_CACHE)


async def to_index(_request: web.Request) -> web.StreamResponse:
    """`/datasets/`: the datasets are listed at `/`."""
    raise web.HTTPFound("/")


async def landing(request: web.Request) -> web.StreamResponse:
    state = request.app[DATASETS]
    where, ds = await _dataset(request, state)
    if not where.slash:
        raise _to_slash(request)
    releases = await state.view.releases(ds)
    outline = await _outline(state, await state.view.index(ds, "latest")) if ds.current else None
    base = base_url(request)
    bundle = drs_uri(_hostname(request), bundle_id(ds.name, ds.current)) if ds.current else None
    page = Landing(ds, releases, outline, base, bundle)
    kind = choose(request.headers.get(hdrs.ACCEPT), PAGE_TYPES)
    if kind == JSON:
        return _json(landing_json(page), NO_CACHE)
    if kind == JSON_LD:
        return _json(page.json_ld, NO_CACHE, JSON_LD)
    return _html(landing_html(page), NO_CACHE)


async def _outline(state: Datasets, index: ReleaseIndex) -> ReleaseOutline:
    """Built once per release, in a thread (a release may hold a million files)."""
    try:
        return state.outlines[index.release_id]
    except KeyError:
        pass
    outline = state.outlines[index.release_id] = await asyncio.to_thread(
        ReleaseOutline.build, index
    )
    return outline


async def listing(request: web.Request) -> web.StreamResponse:
    state = request.app[DATASETS]
    where, ds = await _dataset(request, state)
    if not where.slash:
        raise _to_slash(request)
    release = _release(where)
    index = await state.view.index(ds, release)
    children = index.listing(where.path)
    if children is None:
        raise ProblemError(404, f"{ds.name}/{index.release}/{where.path}/ is no directory")
    kind = choose(request.headers.get(hdrs.ACCEPT), PAGE_TYPES)
    if kind == JSON:
        body = listing_json(ds.name, index.release, where.path, children, _hostname(request))
        return _json(body, NO_CACHE)
    if kind == JSON_LD:
        ld = folder_ld(ds, release, where.path, children, base_url(request))
        return _json(ld, NO_CACHE, JSON_LD)
    page = listing_html(ds.name, release, where.path, children, index.published_at)
    return _html(page, NO_CACHE)


async def document(request: web.Request) -> web.StreamResponse:
    """A generated document under the reserved folder `.datamirror/`."""
    state = request.app[DATASETS]
    where, ds = await _dataset(request, state)
    index = await state.view.index(ds, _release(where))
    name = where.path.removeprefix(RESERVED)
    if name in CITATIONS:
        return await _citation(request, ds, index, name)
    return await _document(request, state, ds, index, name, _caching(where))


async def _citation(
    request: web.Request, ds: DatasetInfo, index: ReleaseIndex, name: str
) -> web.StreamResponse:
    """A citation of the release; revalidated even under a release's own name, since the
    dataset's metadata (its title, creators) may be edited."""
    url = f"{base_url(request)}/datasets/{ds.name}/{index.release}/"
    item = Citable(ds, index.release, index.published_at, url, len(index.files),
                   index.total_bytes)  # fmt: skip
    data = citation_document(name, item)
    doc = Document(data, CITATIONS[name], xxhash.xxh3_128_hexdigest(data))  # a few KiB
    return await _send_document(request, doc, name, None, REVALIDATE)


async def file(request: web.Request) -> web.StreamResponse:
    state = request.app[DATASETS]
    where, ds = await _dataset(request, state)
    index = await state.view.index(ds, _release(where))
    entry = index.file(where.path)
    if entry is None:
        return await _no_file(request, state, ds, index, where)
    if state.presigner is not None:
        url = await state.presigner.presign(entry.key, PRESIGN_SECONDS)
        raise web.HTTPFound(url, headers={hdrs.CACHE_CONTROL: "no-store"})
    answer = decide(request, _representation(state, index, entry, _caching(where)))
    sender = await state.senders.open(entry.key, entry.size) if answer.needs_body else None
    return await dispatch(answer, sender)


async def _no_file(
    request: web.Request, state: Datasets, ds: DatasetInfo, index: ReleaseIndex, where: DatasetPath
) -> web.StreamResponse:
    """A document under its bare name when the dataset has no file of that name, a folder's
    redirect to its slash, or 404."""
    if where.path in NAMES:
        return await _document(request, state, ds, index, where.path, _caching(where))
    if index.listing(where.path) is not None:
        raise _to_slash(request)
    raise ProblemError(404, f"{ds.name}/{index.release} has no file {where.path}")


async def _dataset(request: web.Request, state: Datasets) -> tuple[DatasetPath, DatasetInfo]:
    where = split_dataset_path(request.rel_url.raw_path)
    if not NAME_RE.match(where.dataset):
        raise UnknownDatasetError(where.dataset)
    ds = await state.view.dataset(where.dataset)
    if not _visible(request, ds):
        raise UnknownDatasetError(where.dataset)
    if ds.restricted:
        request[SERVED_PRIVATE] = True
    return where, ds


def _visible(request: web.Request, ds: DatasetInfo) -> bool:
    """Restricted datasets exist for no one without access (not even their names)."""
    return not ds.restricted or request[ACCESS].can_read(ds.name)


def _release(where: DatasetPath) -> str:
    assert where.release is not None, "the release routes match <dataset>/<release>"
    return where.release


def _caching(where: DatasetPath) -> str:
    return REVALIDATE if where.release == "latest" else IMMUTABLE


def _representation(
    state: Datasets, index: ReleaseIndex, entry: ManifestEntry, cache: str
) -> Representation:
    """Built once per release, file and caching rule (releases never change)."""
    key = (index.release_id, entry.path, cache)
    try:
        return state.representations[key]
    except KeyError:
        pass
    rep = state.representations[key] = Representation(
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
    request: web.Request,
    state: Datasets,
    ds: DatasetInfo,
    index: ReleaseIndex,
    name: str,
    cache: str,
) -> web.StreamResponse:
    doc = await state.documents.get(name, index, ds, _hostname(request))
    return await _send_document(request, doc, name, index.published_at, cache)


async def _send_document(
    request: web.Request, doc: Document, name: str, modified: datetime | None, cache: str
) -> web.StreamResponse:
    rep = Representation(
        path=name,
        size=len(doc.data),
        content_type=doc.content_type,
        etag=EntityTag(doc.xxh3_128),
        last_modified=modified,
        cache_control=cache,
        digests={},
    )
    answer = decide(request, rep)
    return await dispatch(answer, BytesSender(doc.data) if answer.needs_body else None)


def _to_slash(request: web.Request) -> web.HTTPFound:
    location = request.rel_url.raw_path + "/"
    if request.rel_url.raw_query_string:
        location += "?" + request.rel_url.raw_query_string
    return web.HTTPFound(location, headers={hdrs.CACHE_CONTROL: NO_CACHE})


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _hostname(request: web.Request) -> str:
    """The host asked for, without its port: what drs:// URIs name."""
    return request.url.host or request.host


def _json(body: dict[str, Any], cache: str, content_type: str = JSON) -> web.Response:
    headers = {hdrs.CACHE_CONTROL: cache, hdrs.VARY: "Accept"}
    return web.json_response(body, headers=headers, content_type=content_type)


def _html(body: str, cache: str) -> web.Response:
    headers = {hdrs.CACHE_CONTROL: cache, hdrs.VARY: "Accept"}
    return web.Response(text=body, content_type="text/html", headers=headers)
