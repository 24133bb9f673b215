"""GA4GH DRS 1.5 over the published releases (public, read-only):

    GET  /ga4gh/drs/v1/service-info                           what this service is
    GET  /ga4gh/drs/v1/objects/<id>[?expand=true]             a file, or a release/folder bundle
    POST /ga4gh/drs/v1/objects/<id>                           the same, `expand` in a JSON body
    POST /ga4gh/drs/v1/objects                                several at once (`bulk_object_ids`)
    GET  /ga4gh/drs/v1/objects/<id>/access/<access_id>        a URL that fetches the bytes
    POST /ga4gh/drs/v1/objects/<id>/access/<access_id>        the same

Ids resolve through the catalog's DRS index (`catalog.drs`), never by scanning releases.
Access follows the rest of the server (`serve.access`): an object of a restricted dataset
exists only for a request whose bearer token may read that dataset, and its access URL
is then a signed `/datasets/...` URL (`serve.signing`) that expires; anyone else gets the
same 404 as for an id that does not exist. GA4GH Passports are not supported: a body that
carries any is answered 400, saying so. Errors are DRS `Error` bodies (`msg`,
`status_code`), registered with the problem middleware for this prefix.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from cachetools import LRUCache

from catalog.drs import Located
from catalog.drs_ids import split_folder_id
from catalog.repository import Catalog
from catalog.ro_crate import tool_version
from serve.access import ACCESS, GATE
from serve.api.drs_bundles import ReleaseBundles, bundle_object
from serve.api.drs_objects import (
    ACCESS_ID,
    MAX_BULK,
    FileFacts,
    Site,
    error_body,
    file_object,
    service_info,
)
from serve.catalog_view import CatalogView, DatasetInfo
from serve.http.cors import SERVED_PRIVATE, add_resource
from serve.http.problems import ERROR_BODIES, NESTED_TOO_DEEP, ProblemError
from serve.release_index import ReleaseIndex
from serve.signing import signed_url_path

PREFIX = "/ga4gh/drs/v1"
SIGNED_SECONDS = 3600
MAX_BUNDLES = 16
JSON_HEADERS = {hdrs.CACHE_CONTROL: "no-cache"}
ACCESS_HEADERS = {hdrs.CACHE_CONTROL: "no-store"}  # a signed URL is for its asker only
NO_PASSPORTS = (
    "GA4GH Passports are not supported by this server; send `Authorization: Bearer <token>` "
    "with a token that may read the dataset"
)


@dataclass(frozen=True, slots=True)
class DrsApi:
    """What the DRS handlers read, made at start-up."""

    catalog: Catalog
    view: CatalogView
    bundles: LRUCache[int, ReleaseBundles]  # by release id


DRS = web.AppKey("drs_api", DrsApi)


def add_routes(app: web.Application) -> None:
    app.setdefault(ERROR_BODIES, {})[PREFIX] = error_body
    router = app.router
    add_resource(router, f"{PREFIX}/service-info", "drs.service_info", {"GET": get_service_info})
    add_resource(router, f"{PREFIX}/objects", "drs.bulk", {"POST": post_bulk})
    one = {"GET": get_object, "POST": post_object}
    add_resource(router, f"{PREFIX}/objects/{{object_id}}", "drs.object", one)
    access = {"GET": get_access, "POST": post_access}
    add_resource(
        router, f"{PREFIX}/objects/{{object_id}}/access/{{access_id}}", "drs.access", access
    )


def drs_api(catalog: Catalog, view: CatalogView) -> DrsApi:
    return DrsApi(catalog, view, LRUCache(MAX_BUNDLES))


async def get_service_info(request: web.Request) -> web.Response:
    return web.json_response(service_info(_site(request), tool_version()), headers=JSON_HEADERS)


async def get_object(request: web.Request) -> web.Response:
    expand = _expand(request.query.get("expand"))
    body = await _object(request, request.match_info["object_id"], expand)
    return _answer(body)


async def post_object(request: web.Request) -> web.Response:
    fields = await _post_body(request)
    expand = _expand_field(fields.get("expand", False))
    body = await _object(request, request.match_info["object_id"], expand)
    return _answer(body)


async def post_bulk(request: web.Request) -> web.Response:
    fields = await _post_body(request)
    ids = fields.get("bulk_object_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
        raise ProblemError(400, "`bulk_object_ids` must be a non-empty array of DRS ids")
    if len(ids) > MAX_BULK:
        raise ProblemError(413, f"at most {MAX_BULK} ids per request; {len(ids)} were sent")
    expand = _expand(request.query.get("expand"))
    resolved: list[dict[str, Any]] = []
    missing: list[str] = []
    for drs_id in ids:
        try:
            resolved.append(await _object(request, drs_id, expand))
        except ProblemError as exc:
            if exc.status != 404:
                raise
            missing.append(drs_id)
    body: dict[str, Any] = {
        "summary": {"requested": len(ids), "resolved": len(resolved), "unresolved": len(missing)},
        "resolved_drs_object": resolved,
        "unresolved_drs_objects": [{"error_code": 404, "object_ids": missing}] if missing else [],
    }
    return _answer(body)


async def get_access(request: web.Request) -> web.Response:
    return web.json_response(await _access(request), headers=ACCESS_HEADERS)


async def post_access(request: web.Request) -> web.Response:
    await _post_body(request)
    return web.json_response(await _access(request), headers=ACCESS_HEADERS)


async def _object(request: web.Request, drs_id: str, expand: bool) -> dict[str, Any]:
    """The DrsObject with this id, as this request may see it; 404 otherwise."""
    api = request.app[DRS]
    folder = split_folder_id(drs_id)
    if folder is not None:
        return await _bundle(request, api, drs_id, folder[0], folder[1], expand)
    located = await api.catalog.drs.file(drs_id)
    if located is not None and located.entry is not None:
        facts = await _file_facts(request, api, drs_id, located)
        return file_object(_site(request), facts)
    return await _bundle(request, api, drs_id, drs_id, None, expand)


async def _bundle(
    request: web.Request, api: DrsApi, drs_id: str, bundle: str, key: str | None, expand: bool
) -> dict[str, Any]:
    located = await api.catalog.drs.bundle(bundle)
    if located is None:
        raise _unknown(drs_id)
    ds = await _visible(request, api, located, drs_id)
    index = await api.view.index(ds, located.release)
    bundles = await _bundles(api, index)
    path = "" if key is None else bundles.paths.get(key)
    if path is None:
        raise _unknown(drs_id)
    return bundle_object(_site(request), bundles, index, path, expand=expand,
                         published_at=located.published_at, source_url=ds.url)  # fmt: skip


async def _bundles(api: DrsApi, index: ReleaseIndex) -> ReleaseBundles:
    """Releases are immutable: their bundles are summed once and kept (an LRU)."""
    found = api.bundles.get(index.release_id)
    if found is None:
        found = api.bundles[index.release_id] = await asyncio.to_thread(ReleaseBundles.build, index)
    return found


async def _file_facts(
    request: web.Request, api: DrsApi, drs_id: str, located: Located
) -> FileFacts:
    ds = await _visible(request, api, located, drs_id)
    assert located.entry is not None
    return FileFacts(located.dataset, located.release, located.published_at, located.entry,
                     ds.restricted)  # fmt: skip


async def _access(request: web.Request) -> dict[str, Any]:
    api = request.app[DRS]
    drs_id, access_id = request.match_info["object_id"], request.match_info["access_id"]
    located = await api.catalog.drs.file(drs_id)
    if located is None or located.entry is None:
        await _object(request, drs_id, expand=False)  # the unknown id's 404 unless visible
        raise ProblemError(404, f"the bundle {drs_id} has no access methods; fetch its contents")
    facts = await _file_facts(request, api, drs_id, located)
    if access_id != ACCESS_ID:
        raise ProblemError(404, f"the object {drs_id} has no access method {access_id!r}")
    site = _site(request)
    entry = facts.entry
    if not facts.restricted:
        return {"url": site.dataset_url(facts.dataset, facts.release, entry.path)}
    key = await request.app[GATE].signing_key()
    expires = int(time.time()) + SIGNED_SECONDS
    path = signed_url_path(key, f"{facts.dataset}/{facts.release}/{entry.path}", expires)
    return {"url": site.base + path}


async def _visible(request: web.Request, api: DrsApi, located: Located, drs_id: str) -> DatasetInfo:
    """The dataset of a located id, if this request may see it; else the unknown id's 404."""
    ds = await api.view.dataset(located.dataset)
    if ds.restricted:
        if not request[ACCESS].can_read(ds.name):
            raise _unknown(drs_id)
        request[SERVED_PRIVATE] = True
    return ds


def _unknown(drs_id: str) -> ProblemError:
    return ProblemError(404, f"no DRS object has the id {drs_id!r}")


def _expand(value: str | None) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise ProblemError(400, f"expand must be true or false, not {value!r}")


def _expand_field(value: object) -> bool:
    if not isinstance(value, bool):
        raise ProblemError(400, "`expand` must be a JSON boolean")
    return value


async def _post_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        fields = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int too long
        raise ProblemError(400, f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ProblemError(400, NESTED_TOO_DEEP) from None
    if not isinstance(fields, dict):
        raise ProblemError(400, "the body must be a JSON object")
    if fields.get("passports"):
        raise ProblemError(400, NO_PASSPORTS)
    return fields


def _site(request: web.Request) -> Site:
    return Site(f"{request.scheme}://{request.host}", request.url.host or request.host)


def _answer(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, headers=JSON_HEADERS)
