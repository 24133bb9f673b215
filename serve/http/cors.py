"""CORS (Fetch standard) on every answer, errors included, and preflight for reads.

Public data: `Access-Control-Allow-Origin: *` (no credentials), the range and conditional
request headers are allowed, and the headers a ranged reader needs are exposed.

Restricted data (the request was marked `SERVED_PRIVATE`) is never answered with `*`: the
request's own Origin is reflected, with `Vary: Origin`, and never
`Access-Control-Allow-Credentials`. Bearer tokens and signed URLs are not ambient
credentials a browser adds by itself, so a page on another origin reads restricted data only
when it already holds the token or the signed URL (which is what a hosted genome browser or
zarr viewer given a signed link needs); cookies and HTTP auth never unlock anything, and
`Vary: Origin` keeps one origin's answer from being replayed to another by a cache. Such
answers also become `Cache-Control: private, no-cache`, so no shared cache stores them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import hdrs, web

ALLOW_METHODS = "GET, HEAD, OPTIONS"
ALLOW_HEADERS = (
    "Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, "
    "Want-Repr-Digest, Accept, Authorization"
)
EXPOSE_HEADERS = (
    "Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified, Repr-Digest, Content-Type"
)
MAX_AGE = "86400"
PRIVATE_CACHE = "private, no-cache"
SERVED_PRIVATE = web.RequestKey("served_private", bool)
"""Set by a handler that answers with restricted data."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def add_cors_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """An `on_response_prepare` hook: runs for every response, errors included."""
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if not request.get(SERVED_PRIVATE):
        response.headers["Access-Control-Allow-Origin"] = "*"
        return
    origin = request.headers.get(hdrs.ORIGIN)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
    response.headers.add(hdrs.VARY, "Origin")
    if response.headers.get(hdrs.CACHE_CONTROL) != "no-store":
        response.headers[hdrs.CACHE_CONTROL] = PRIVATE_CACHE


async def preflight(request: web.Request) -> web.Response:
    """OPTIONS: answers any preflight for a read with the methods and headers allowed."""
    headers = {
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": MAX_AGE,
        "Allow": ALLOW_METHODS,
    }
    return web.Response(status=204, headers=headers)


def add_resource(
    router: web.UrlDispatcher, path: str, name: str, handlers: Mapping[str, Handler]
) -> None:
    """A named resource with its handlers by method (GET answers HEAD too) and the preflight.
    Only real resources answer OPTIONS, so an unknown path stays a 404."""
    resource = router.add_resource(path, name=name)
    for method, handler in handlers.items():
        resource.add_route(method, handler)
        if method == hdrs.METH_GET:
            resource.add_route(hdrs.METH_HEAD, handler)
    resource.add_route(hdrs.METH_OPTIONS, preflight)
