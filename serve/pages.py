"""The dataset index (`/`) and a dataset's landing page (`/datasets/<name>/`), with
schema.org `Dataset` JSON-LD so search engines and FAIR tooling can find the data.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

from serve.catalog_view import DatasetInfo, ReleaseInfo
from serve.documents import RESERVED
from serve.listing import STYLE, human_size

# The generated documents, linked in the reserved folder and named apart from the dataset's
# own files (a dataset may publish an md5sum.txt of its own).
DOCUMENTS = {
    "manifest.json": "manifest.json (the release's files and digests)",
    "md5sum.txt": "md5sum.txt (generated for every file)",
}


def _page(title: str, body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style>{head}</head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def index_json(datasets: list[DatasetInfo], base: str) -> dict[str, Any]:
    return {
        "datasets": [
            {
                "name": d.name,
                "title": d.title,
                "current": d.current,
                "url": f"{base}/datasets/{quote(d.name)}/",
            }
            for d in datasets
        ]
    }


def index_html(datasets: list[DatasetInfo]) -> str:
    rows = "\n".join(
        f'<tr><td><a href="datasets/{quote(d.name)}/">{escape(d.name)}</a></td>'
        f"<td>{escape(d.title or '')}</td><td>{escape(d.current or '-')}</td></tr>"
        for d in datasets
    )
    body = (
        "<h1>Datasets</h1>\n<table>\n<thead><tr><th>Name</th><th>Title</th>"
        f"<th>Current release</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    )
    return _page("Datasets", body)


def landing_json(ds: DatasetInfo, releases: list[ReleaseInfo], base: str) -> dict[str, Any]:
    here = f"{base}/datasets/{quote(ds.name)}"
    return {
        "name": ds.name,
        "title": ds.title,
        "description": ds.description,
        "license": ds.license,
        "source": ds.url,
        "current": ds.current,
        "latest": f"{here}/latest/",
        "releases": [
            {
                "name": r.name,
                "url": f"{here}/{quote(r.name)}/",
                "published_at": r.published_at.isoformat() if r.published_at else None,
                "files": r.file_count,
                "bytes": r.total_bytes,
                "manifest": f"{here}/{quote(r.name)}/{RESERVED}manifest.json",
            }
            for r in releases
        ],
    }


def json_ld(ds: DatasetInfo, releases: list[ReleaseInfo], base: str) -> dict[str, Any]:
    """schema.org Dataset (https://schema.org/Dataset), one DataDownload per release."""
    here = f"{base}/datasets/{quote(ds.name)}/"
    document: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": ds.title or ds.name,
        "identifier": ds.name,
        "description": ds.description or f"A mirror of {ds.url}",
        "url": here,
        "isBasedOn": ds.url,
        "distribution": [
            {
                "@type": "DataDownload",
                "name": r.name,
                "contentUrl": f"{here}{quote(r.name)}/",
                "encodingFormat": "text/html",
                "contentSize": f"{r.total_bytes} B",
                "uploadDate": r.published_at.isoformat() if r.published_at else None,
            }
            for r in releases
        ],
    }
    if ds.license:
        document["license"] = ds.license
    if ds.current:
        document["version"] = ds.current
    if releases and releases[0].published_at:
        document["dateModified"] = releases[0].published_at.isoformat()
    return document


def landing_html(ds: DatasetInfo, releases: list[ReleaseInfo], base: str) -> str:
    ld = json.dumps(json_ld(ds, releases, base)).replace("</", "<\\/")
    head = f'<script type="application/ld+json">{ld}</script>'
    facts = [("Source", ds.url), ("License", ds.license or "not stated")]
    facts_html = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    rows = "\n".join(_release_row(r, ds.current) for r in releases)
    body = (
        f"<h1>{escape(ds.title or ds.name)}</h1>\n"
        f"<p>{escape(ds.description or '')}</p>\n<dl>{facts_html}</dl>\n"
        '<p><a href="latest/">latest</a> (the current release)</p>\n'
        "<h2>Releases</h2>\n<table>\n<thead><tr><th>Release</th><th>Published</th>"
        "<th>Files</th><th>Size</th><th>Generated documents</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>"
    )
    return _page(ds.title or ds.name, body, head)


def _release_row(release: ReleaseInfo, current: str | None) -> str:
    name = quote(release.name)
    mark = " (current)" if release.name == current else ""
    when = release.published_at.strftime("%Y-%m-%d %H:%M UTC") if release.published_at else "-"
    docs = "<br>".join(
        f'<a href="{name}/{RESERVED}{doc}">{escape(text)}</a>' for doc, text in DOCUMENTS.items()
    )
    return (
        f'<tr><td><a href="{name}/">{escape(release.name)}</a>{mark}</td><td>{when}</td>'
        f'<td class="n">{release.file_count}</td><td class="n">'
        f"{human_size(release.total_bytes)}</td><td>{docs}</td></tr>"
    )
