"""The server's own static files (a stylesheet, nothing from elsewhere), named by digest so
that they are cached for a year: `/static/style-<digest>.css`."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import xxhash
from aiohttp import hdrs, web

from serve.files import IMMUTABLE
from serve.http.problems import ProblemError

ROUTE = "/static/{name}"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    data: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return f'"{xxhash.xxh3_64_hexdigest(self.data)}"'


def _load(name: str, content_type: str) -> Asset:
    data = (files("serve") / "static" / name).read_bytes()
    stem, _, ext = name.rpartition(".")
    digest = xxhash.xxh3_64_hexdigest(data)[:12]
    return Asset(f"{stem}-{digest}.{ext}", data, content_type)


STYLESHEET = _load("style.css", "text/css; charset=utf-8")
ASSETS = {asset.name: asset for asset in (STYLESHEET,)}
STYLESHEET_URL = f"/static/{STYLESHEET.name}"


async def static(request: web.Request) -> web.Response:
    asset = ASSETS.get(request.match_info["name"])
    if asset is None:
        raise ProblemError(404, "no such static file")
    headers = {hdrs.CACHE_CONTROL: IMMUTABLE, hdrs.ETAG: asset.etag}
    if request.headers.get(hdrs.IF_NONE_MATCH) == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.data, content_type=asset.content_type.split(";")[0],
                        charset="utf-8", headers=headers)  # fmt: skip
