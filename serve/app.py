"""The aiohttp application: routes, shared state (typed app keys) and its lifetime.

Every route has a name, which labels its metrics; each answers OPTIONS (CORS preflight).

/                                          index: datasets (HTML; JSON or JSON-LD by Accept)
/datasets/                                 datasets: a redirect to /
/datasets/<ds>/                            landing: its page, with schema.org JSON-LD
/datasets/<ds>/<release|latest>/<folder>/  listing: a directory listing
/datasets/<ds>/<release|latest>/<path>     file: a file of the release
/datasets/<ds>/<release|latest>/.datamirror/<name>   document: manifest.json, md5sum.txt,
                                           citation.bib, CITATION.cff, datacite.json
/sitemap.xml  /robots.txt                  sitemap, robots: for crawlers (serve.crawlers)
/static/<name>                             static: the stylesheet, named by its digest
/api/v1/...                                api.*: the curator API (serve.api.curator, and
                                           its jobs: serve.api.jobs)
/ga4gh/drs/v1/...                          drs.*: GA4GH DRS 1.5 (serve.api.drs)
/metrics                                   metrics: Prometheus metrics of this process
/healthz  /readyz                          health, health.ready

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
from catalog.store.base import SupportsPresign
from serve import assets, crawlers, routes
from serve.access import GATE, Gatekeeper, TokenCache, access_middleware
from serve.api.curator import API, CuratorApi
from serve.api.curator import PREFIX as API_PREFIX
from serve.api.curator import add_routes as add_api_routes
from serve.api.drs import DRS, drs_api
from serve.api.drs import add_routes as add_drs_routes
from serve.api.jobs import JOBS, JobsApi
from serve.api.jobs import add_routes as add_jobs_routes
from serve.api.tokens import add_routes as add_token_routes
from serve.catalog_view import CatalogView
from serve.documents import Documents
from serve.http.cors import add_cors_headers, add_resource
from serve.http.problems import PROBLEM_PREFIXES, problem_middleware
from serve.metrics import METRICS, Metrics, metrics_handler, metrics_middleware
from serve.object_senders import DEFAULT_HOT_BYTES, object_senders


@dataclass(frozen=True, slots=True)
class ServeConfig:
    sendfile: bool = True
    redirect_to_store: bool = False
    ttl: float = 2.0
    hot_cache_bytes: int = DEFAULT_HOT_BYTES
    token_ttl: float = 5.0
    keepalive_timeout: float = 75.0
    """Seconds a connection may wait for its next request, or for the rest of its headers,
    as nginx's `keepalive_timeout` (aiohttp's own default is an hour)."""
    send_timeout: float = 60.0
    """Seconds a client may take no byte of its answer before its connection is dropped,
    as nginx's `send_timeout`."""


RuntimeOpener = Callable[[], AbstractAsyncContextManager[Runtime]]
PROBE_SECONDS = 5.0
CATALOG = web.AppKey("catalog", Catalog)
STORE = web.AppKey("store", Store)


def make_app(config: ServeConfig, open_runtime: RuntimeOpener) -> web.Application:
    """The application; each process that runs it opens its own runtime at start-up."""
    app = web.Application(middlewares=[metrics_middleware, problem_middleware, access_middleware])
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_resources(config, open_runtime))
    app.on_response_prepare.append(add_cors_headers)
    router = app.router
    # The file route first: it is the one the hot path asks for, and routes sharing the
    # /datasets prefix are tried in the order they were added.
    add_resource(router, routes.FILE, "file", {"GET": routes.file})
    add_resource(router, routes.DOCUMENT, "document", {"GET": routes.document})
    add_resource(router, routes.LISTING, "listing", {"GET": routes.listing})
    add_resource(router, routes.LANDING, "landing", {"GET": routes.landing})
    add_resource(router, "/datasets/", "datasets", {"GET": routes.to_index})
    add_resource(router, "/", "index", {"GET": routes.dataset_index})
    add_resource(router, "/sitemap.xml", "sitemap", {"GET": crawlers.sitemap})
    add_resource(router, "/robots.txt", "robots", {"GET": crawlers.robots})
    add_resource(router, assets.ROUTE, "static", {"GET": assets.static})
    add_resource(router, "/healthz", "health", {"GET": healthz})
    add_resource(router, "/readyz", "health.ready", {"GET": readyz})
    add_resource(router, "/metrics", "metrics", {"GET": metrics_handler})
    add_api_routes(router)
    add_jobs_routes(router)
    add_token_routes(router)
    app[PROBLEM_PREFIXES] = (f"{API_PREFIX}/",)
    add_drs_routes(app)
    return app


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
    app[JOBS] = JobsApi(catalog, runtime.queue)
    senders = object_senders(store, sendfile=config.sendfile, hot_bytes=config.hot_cache_bytes)
    presigner = store if config.redirect_to_store and isinstance(store, SupportsPresign) else None
    view = CatalogView(catalog, ttl=config.ttl)
    app[DRS] = drs_api(catalog, view)
    app[routes.DATASETS] = routes.Datasets(
        view=view,
        documents=Documents(store, catalog),
        senders=senders,
        presigner=presigner,
    )
    try:
        yield
    finally:
        await senders.close()


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
