"""The curator API (JSON, bearer token with scope `curator`):

    POST   /api/v1/sources                  register a source (201, Location)
    GET    /api/v1/sources                  every source, restricted ones included
    GET    /api/v1/sources/<name>           one source
    PATCH  /api/v1/sources/<name>           change some of its fields
    DELETE /api/v1/sources/<name>           forget it and its releases (204)
    GET    /api/v1/sources/<name>/releases  its releases, oldest first
    GET    /api/v1/openapi.json             the OpenAPI 3.1 description (public)

Without a token: 401 with `WWW-Authenticate: Bearer`; a token without the curator scope:
403 (RFC 6750 §3.1). Syncing through the API needs the job queue and is not offered here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
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
from serve.http.problems import ProblemError
from serve.metrics import ROUTE_KIND

PREFIX = "/api/v1"
REALM = 'Bearer realm="datamirror"'
JSON_HEADERS = {hdrs.CACHE_CONTROL: "no-store"}


@dataclass(frozen=True, slots=True)
class CuratorApi:
    catalog: Catalog
    allowlist: frozenset[str]

    async def list_sources(self, request: web.Request) -> web.Response:
        _require_curator(request)
        rows = await self.catalog.datasets.list()
        body = {"sources": [source_json(ds) for ds in rows]}
        return web.json_response(body, headers=JSON_HEADERS)

    async def create(self, request: web.Request) -> web.Response:
        _require_curator(request)
        fields = checked_fields(await _json_body(request), creating=True)
        spec = spec_from(fields)
        await check_public(spec.url, spec.options, self.allowlist)
        ds = await self.catalog.datasets.add(spec)
        location = f"{PREFIX}/sources/{ds.name}"
        headers = {**JSON_HEADERS, hdrs.LOCATION: location}
        return web.json_response(source_json(ds), status=201, headers=headers)

    async def show(self, request: web.Request) -> web.Response:
        _require_curator(request)
        ds = await self._dataset(request)
        return web.json_response(source_json(ds), headers=JSON_HEADERS)

    async def update(self, request: web.Request) -> web.Response:
        _require_curator(request)
        ds = await self._dataset(request)
        changes = changes_from(checked_fields(await _json_body(request), creating=False), ds)
        if "url" in changes or "options" in changes:
            url = changes.get("url", ds.url)
            await check_public(url, changes.get("options", ds.options), self.allowlist)
        updated = await self.catalog.datasets.update(ds.name, **changes)
        return web.json_response(source_json(updated), headers=JSON_HEADERS)

    async def remove(self, request: web.Request) -> web.Response:
        _require_curator(request)
        ds = await self._dataset(request)
        await self.catalog.datasets.remove(ds.name)
        return web.Response(status=204, headers=JSON_HEADERS)

    async def releases(self, request: web.Request) -> web.Response:
        _require_curator(request)
        ds = await self._dataset(request)
        rows = await self.catalog.releases.list(ds.name)
        body = {
            "source": ds.name,
            "releases": [release_json(r, ds.current_release_id) for r in rows],
        }
        return web.json_response(body, headers=JSON_HEADERS)

    async def _dataset(self, request: web.Request) -> Dataset:
        return await self.catalog.datasets.get(request.match_info["name"])


API = web.AppKey("curator_api", CuratorApi)
Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_routes(router: web.UrlDispatcher) -> None:
    """The API's routes; their handlers live on the app's `CuratorApi` (made at startup)."""
    router.add_get(f"{PREFIX}/openapi.json", openapi)
    router.add_get(f"{PREFIX}/sources", _via(CuratorApi.list_sources))
    router.add_post(f"{PREFIX}/sources", _via(CuratorApi.create))
    router.add_get(f"{PREFIX}/sources/{{name}}", _via(CuratorApi.show))
    router.add_patch(f"{PREFIX}/sources/{{name}}", _via(CuratorApi.update))
    router.add_delete(f"{PREFIX}/sources/{{name}}", _via(CuratorApi.remove))
    router.add_get(f"{PREFIX}/sources/{{name}}/releases", _via(CuratorApi.releases))


def _via(method: Callable[[CuratorApi, web.Request], Awaitable[web.Response]]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return await method(request.app[API], request)

    return handler


def _require_curator(request: web.Request) -> None:
    """RFC 6750 §3: 401 without a valid token, 403 when its scopes fall short."""
    request[ROUTE_KIND] = "api"
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


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProblemError(400, f"the body is not JSON: {exc}") from None


async def openapi(request: web.Request) -> web.Response:
    request[ROUTE_KIND] = "api"
    return web.json_response(OPENAPI, headers={hdrs.CACHE_CONTROL: "no-cache"})
