"""What crawlers read: `/robots.txt` (landing pages welcome, release trees and the APIs not:
they are bytes, not pages) and `/sitemap.xml` (the index and every public landing page,
with the date of its current release). Restricted datasets are never in the sitemap, token
or not: crawlers carry none, and a sitemap is public.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from aiohttp import hdrs, web

from serve.catalog_view import DatasetInfo
from serve.routes import DATASETS, NO_CACHE, base_url

ROBOTS_CACHE = "public, max-age=3600"


def robots_txt(base: str) -> str:
    return (
        "User-agent: *\n"
        "Allow: /$\n"
        "Allow: /datasets/*/$\n"
        "Disallow: /datasets/*/*/\n"
        "Disallow: /api/\n"
        "Disallow: /metrics\n"
        f"Sitemap: {base}/sitemap.xml\n"
    )


def sitemap_xml(datasets: list[DatasetInfo], base: str) -> str:
    urls = [f"<url><loc>{escape(base)}/</loc></url>"]
    for ds in datasets:
        loc = escape(f"{base}/datasets/{ds.name}/")
        modified = f"<lastmod>{ds.updated.date().isoformat()}</lastmod>" if ds.updated else ""
        urls.append(f"<url><loc>{loc}</loc>{modified}</url>")
    body = "\n".join(urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{body}\n</urlset>\n'
    )


async def robots(request: web.Request) -> web.Response:
    return web.Response(text=robots_txt(base_url(request)), content_type="text/plain",
                        headers={hdrs.CACHE_CONTROL: ROBOTS_CACHE})  # fmt: skip


async def sitemap(request: web.Request) -> web.Response:
    datasets = [d for d in await request.app[DATASETS].view.datasets() if not d.restricted]
    text = sitemap_xml(datasets, base_url(request))
    headers = {hdrs.CACHE_CONTROL: NO_CACHE}
    return web.Response(text=text, content_type="application/xml", headers=headers)
