"""The curator API (JSON, bearer token with scope `curator`):

    POST   /api/v1/sources                  register a source (201, Location)
    GET    /api/v1/sources                  every source, restricted ones included
    GET    /api/v1/sources/<name>           one source
    PATCH  /api/v1/sources/<name>           change some of its fields
    DELETE /api/v1/sources/<name>           forget it and its releases (204)
    GET    /api/v1/sources/<name>/releases  its releases, oldest first
    GET    /api/v1/openapi.json             the OpenAPI 3.1 description (public)

and the curator tokens (`serve.api.tokens`). Sources registered or pointed elsewhere here
are public-only (`serve.api.source_guard` at registration, the readers at every connection).

Without a token: 401 with `WWW-Authenticate: Bearer`; a token without the curator scope:
403 (RFC 6750 §3.1). Syncs and their jobs: `serve.api.jobs`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from catalog.models import Dataset
from catalog.releases import release_json
from catalog.repository import Catalog
from serve.access import ACCESS
from serve.api.fields import changes_from, checked_fields, source_json, spec_from
from serve.api.openapi import OPENAPI
from serve.api.source_guard import check_public
from serve.http.cors import add_resource
from serve.http.problems import NESTED_TOO_DEEP, ProblemError

PREFIX = "/api/v1"
REALM = 'Bearer realm="datamirror"'
JSON_HEADERS = {hdrs.CACHE_CONTROL: "no-store"}


@dataclass(frozen=True, slots=True)
class CuratorApi:
    """What the API's handlers work with, made at start-up."""

    catalog: Catalog
    allowlist: frozenset[str]


API = web.AppKey("curator_api", CuratorApi)


def add_routes(router: web.UrlDispatcher) -> None:
    add_resource(router, f"{PREFIX}/openapi.json", "api.openapi", {"GET": openapi})
    sources = f"{PREFIX}/sources"
    add_resource(router, sources, "api.sources", {"GET": list_sources, "POST": create})
    one = {"GET": show, "PATCH": update, "DELETE": remove}
    add_resource(router, f"{sources}/{{name}}", "api.source", one)
    add_resource(router, f"{sources}/{{name}}/releases", "api.releases", {"GET": releases})


async def list_sources(request: web.Request) -> web.Response:
    api = curator_api(request)
    rows = await api.catalog.datasets.list()
    body = {"sources": [source_json(ds) for ds in rows]}
    return web.json_response(body, headers=JSON_HEADERS)


async def create(request: web.Request) -> web.Response:
    api = curator_api(request)
    fields = checked_fields(await json_body(request), creating=True)
    spec = spec_from(fields)
    await check_public(spec.url, spec.options, api.allowlist)
    ds = await api.catalog.datasets.add(spec)
    location = f"{PREFIX}/sources/{ds.name}"
    headers = {**JSON_HEADERS, hdrs.LOCATION: location}
    return web.json_response(source_json(ds), status=201, headers=headers)


async def show(request: web.Request) -> web.Response:
    ds = await _dataset(curator_api(request), request)
    return web.json_response(source_json(ds), headers=JSON_HEADERS)


async def update(request: web.Request) -> web.Response:
    api = curator_api(request)
    ds = await _dataset(api, request)
    changes = changes_from(checked_fields(await json_body(request), creating=False), ds)
    if "options" in changes:  # the URL or the S3 options changed: the source is public-only
        await check_public(changes.get("url", ds.url), changes["options"], api.allowlist)
    updated = await api.catalog.datasets.update(ds.name, **changes)
    return web.json_response(source_json(updated), headers=JSON_HEADERS)


async def remove(request: web.Request) -> web.Response:
    api = curator_api(request)
    ds = await _dataset(api, request)
    await api.catalog.datasets.remove(ds.name)
    return web.Response(status=204, headers=JSON_HEADERS)


async def releases(request: web.Request) -> web.Response:
    api = curator_api(request)
    ds = await _dataset(api, request)
    rows = await api.catalog.releases.list(ds.name)
    body = {
        "source": ds.name,
        "releases": [release_json(r, ds.current_release_id) for r in rows],
    }
    return web.json_response(body, headers=JSON_HEADERS)


async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(OPENAPI, headers={hdrs.CACHE_CONTROL: "no-cache"})


async def _dataset(api: CuratorApi, request: web.Request) -> Dataset:
    return await api.catalog.datasets.get(request.match_info["name"])


def curator_api(request: web.Request) -> CuratorApi:
    """The API for a request whose bearer token has the curator scope; else RFC 6750 §3: 401
    without a valid token, 403 when its scopes fall short."""
    access = request[ACCESS]
    if not access.shown:
        raise ProblemError(
            401,
            "the curator API needs a bearer token",
            hint="send `Authorization: Bearer <token>` (`datamirror token create --scope curator`)",
            headers={hdrs.WWW_AUTHENTICATE: REALM},
        )
    if not access.scopes:
        raise ProblemError(
            401,
            "the bearer token is unknown or revoked",
            headers={hdrs.WWW_AUTHENTICATE: f'{REALM}, error="invalid_token"'},
        )
    if not access.curator:
        raise ProblemError(
            403,
            "the bearer token lacks the curator scope",
            headers={
                hdrs.WWW_AUTHENTICATE: f'{REALM}, error="insufficient_scope", scope="curator"'
            },
        )
    return request.app[API]


async def json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int too long
        raise ProblemError(400, f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ProblemError(400, NESTED_TOO_DEEP) from None
