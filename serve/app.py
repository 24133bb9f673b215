"""The aiohttp application: routes, shared state (typed app keys) and its lifetime.

/                                     datasets (HTML, or JSON by Accept)
/datasets/<ds>/                       landing page with schema.org JSON-LD
/datasets/<ds>/<release|latest>/<p>   a file, a directory listing, or a release document
/api/v1/...                           the curator API (serve.api)
/metrics                              Prometheus metrics of this process (serve.metrics)
/healthz  /readyz

Middlewares, outermost first: metrics (times the whole answer), problems (errors become
problem bodies), access (bearer token or signed URL -> `Access` on the request).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from catalog.errors import StoreError
from catalog.repository import Catalog
from catalog.runtime import Runtime
from catalog.store import Store
from catalog.store.base import SupportsLocalPath, SupportsPresign
from serve.access import GATE, Gatekeeper, TokenCache, access_middleware
from serve.api.curator import API, CuratorApi
from serve.api.curator import add_routes as add_api_routes
from serve.catalog_view import CatalogView
from serve.documents import Documents
from serve.hot_cache import HotCache
from serve.http.cors import add_cors_headers, preflight
from serve.http.problems import problem_middleware
from serve.metrics import METRICS, Metrics, metrics_handler, metrics_middleware
from serve.open_files import OpenFiles
from serve.remote_reads import PresignedUrls, RemoteReader
from serve.routes import DatasetRoutes


@dataclass(frozen=True, slots=True)
class ServeConfig:
    sendfile: bool = True
    redirect_to_store: bool = False
    ttl: float = 2.0
    hot_cache_bytes: int = 64 * 1024 * 1024
    token_ttl: float = 5.0


RuntimeOpener = Callable[[], AbstractAsyncContextManager[Runtime]]
PROBE_SECONDS = 5.0
CATALOG = web.AppKey("catalog", Catalog)
STORE = web.AppKey("store", Store)
ROUTES = web.AppKey("routes", DatasetRoutes)


def make_app(config: ServeConfig, open_runtime: RuntimeOpener) -> web.Application:
    """The application; each process that runs it opens its own runtime at start-up."""
    app = web.Application(middlewares=[metrics_middleware, problem_middleware, access_middleware])
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_resources(config, open_runtime))
    app.on_response_prepare.append(add_cors_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    add_api_routes(app.router)
    app.router.add_get("/", _delegate(lambda r: r.index))
    app.router.add_get("/datasets/{tail:.*}", _delegate(lambda r: r.datasets))
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    return app


Handler = Callable[[web.Request], Any]


def _delegate(pick: Callable[[DatasetRoutes], Handler]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await pick(request.app[ROUTES])(request)
        return response

    return handler


def _resources(
    config: ServeConfig, open_runtime: RuntimeOpener
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async with open_runtime() as runtime, _serving(app, config, runtime):
            yield

    return lifetime


@asynccontextmanager
async def _serving(
    app: web.Application, config: ServeConfig, runtime: Runtime
) -> AsyncIterator[None]:
    catalog, store = runtime.catalog, runtime.store
    app[CATALOG] = catalog
    app[STORE] = store
    app[GATE] = Gatekeeper(TokenCache(catalog, config.token_ttl), runtime.signing_key)
    app[API] = CuratorApi(catalog, runtime.settings.source_allowlist)
    files = OpenFiles(store.local_path) if isinstance(store, SupportsLocalPath) else None
    remote = None
    if files is None and isinstance(store, SupportsPresign):
        remote = RemoteReader(store, PresignedUrls(store))
    app[ROUTES] = DatasetRoutes(
        view=CatalogView(catalog, ttl=config.ttl),
        store=store,
        documents=Documents(store),
        hot=HotCache(config.hot_cache_bytes),
        files=files,
        remote=remote,
        sendfile=config.sendfile,
        redirect_to_store=config.redirect_to_store,
    )
    try:
        yield
    finally:
        if files is not None:
            files.close()
        if remote is not None:
            await remote.close()


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the catalog database answers and the object store is reachable."""
    checks = {
        "db": _check(request.app[CATALOG].ping()),
        "store": _check(request.app[STORE].exists("readyz-probe")),
    }
    results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    ready = all(value == "ok" for value in results.values())
    return web.json_response(
        {"status": "ok" if ready else "unavailable", **results},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _check(probe: Any) -> str:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await probe
    except (TimeoutError, StoreError, OSError) as exc:
        return f"error: {type(exc).__name__}"
    except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
        return f"error: {type(exc).__name__}"
    return "ok"
