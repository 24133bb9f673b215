"""CORS (Fetch standard) on every answer, errors included, and preflight for reads.

Data is public: `Access-Control-Allow-Origin: *` (no credentials), the range and
conditional request headers are allowed, and the headers a ranged reader needs are exposed.
"""

from __future__ import annotations

from aiohttp import web

ALLOW_METHODS = "GET, HEAD, OPTIONS"
ALLOW_HEADERS = (
    "Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, "
    "Want-Repr-Digest, Accept, Authorization"
)
EXPOSE_HEADERS = (
    "Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified, Repr-Digest, Content-Type"
)
MAX_AGE = "86400"


async def add_cors_headers(_request: web.BaseRequest, response: web.StreamResponse) -> None:
    """An `on_response_prepare` hook: runs for every response, errors included."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS


async def preflight(request: web.Request) -> web.Response:
    """OPTIONS: answers any preflight for a read with the methods and headers allowed."""
    headers = {
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": MAX_AGE,
        "Allow": ALLOW_METHODS,
    }
    return web.Response(status=204, headers=headers)
