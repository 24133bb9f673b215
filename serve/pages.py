"""The dataset index (`/`) and a dataset's landing page (`/datasets/<name>/`): HTML from the
templates in serve/templates/, JSON with `Accept: application/json` and schema.org JSON-LD
with `Accept: application/ld+json` (the HTML carries the same JSON-LD in its head).

A landing page is made of what the handler already holds: the dataset (cached for seconds),
its releases with their sync reports (cached likewise) and the outline of the current
release (cached for good: releases never change).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote

from serve.catalog_view import DatasetInfo, ReleaseInfo
from serve.citation import DOCUMENTS as CITATIONS
from serve.citation import Citable, cite_as
from serve.documents import RESERVED
from serve.downloads import Recipe, Target, recipes
from serve.licenses import license_url
from serve.release_outline import ReleaseOutline
from serve.schema_org import data_catalog, dataset
from serve.templating import render

HTML, JSON, JSON_LD = "text/html", "application/json", "application/ld+json"
PAGE_TYPES = (HTML, JSON, JSON_LD)

# The generated documents, linked in the reserved folder and named apart from the dataset's
# own files (a dataset may publish an md5sum.txt of its own).
DOCUMENTS = {
    "manifest.json": "manifest.json (the release's files and digests)",
    "md5sum.txt": "md5sum.txt (generated for every file)",
}
CITATION_LINKS = {"citation.bib": "BibTeX", "CITATION.cff": "CITATION.cff",
                  "datacite.json": "DataCite JSON"}  # fmt: skip
assert set(CITATION_LINKS) == set(CITATIONS)


def matches(ds: DatasetInfo, query: str) -> bool:
    """Whether every word of `query` is in the dataset's name, title or a keyword."""
    haystack = " ".join([ds.name, ds.title or "", *ds.keywords]).casefold()
    return all(word in haystack for word in query.casefold().split())


def index_json(datasets: Sequence[DatasetInfo], base: str) -> dict[str, Any]:
    return {
        "datasets": [
            {
                "name": d.name,
                "title": d.title,
                "license": d.license,
                "keywords": list(d.keywords),
                "current": d.current,
                "updated": d.updated.isoformat() if d.updated else None,
                "files": d.file_count,
                "bytes": d.total_bytes,
                "url": f"{base}/datasets/{quote(d.name)}/",
            }
            for d in datasets
        ]
    }


def index_ld(datasets: Sequence[DatasetInfo], base: str) -> dict[str, Any]:
    return data_catalog(datasets, base)


def index_html(datasets: Sequence[DatasetInfo], query: str, total: int) -> str:
    return render("index.html", datasets=datasets, query=query, total=total)


@dataclass(frozen=True)
class Landing:
    """What a landing page shows. `outline` is that of the current release, if any.
    `drs_uri`: the current release's GA4GH DRS bundle URI (None: no release, no DRS
    line)."""

    ds: DatasetInfo
    releases: Sequence[ReleaseInfo]
    outline: ReleaseOutline | None
    base: str
    drs_uri: str | None = None

    @property
    def url(self) -> str:
        return f"{self.base}/datasets/{quote(self.ds.name)}/"

    @property
    def current(self) -> ReleaseInfo | None:
        return next((r for r in self.releases if r.name == self.ds.current), None)

    def release_url(self, release: str) -> str:
        return f"{self.url}{quote(release)}/"

    @cached_property
    def citable(self) -> Citable:
        current = self.current
        name = current.name if current else "unreleased"
        url = self.release_url(current.name) if current else self.url
        return Citable(self.ds, name, current.published_at if current else None, url,
                       self.ds.file_count, self.ds.total_bytes)  # fmt: skip

    @cached_property
    def recipes(self) -> list[Recipe]:
        if self.current is None or self.outline is None:
            return []
        target = Target(self.ds.name, self.current.name, self.release_url(self.current.name),
                        self.ds.restricted, self.outline.example, self.outline.zarr_stores,
                        self.outline.with_md5, self.drs_uri)  # fmt: skip
        return recipes(target)

    @cached_property
    def json_ld(self) -> dict[str, Any]:
        return dataset(self.citable, self.releases, self.outline, self.url, self.base)


def landing_json(page: Landing) -> dict[str, Any]:
    ds = page.ds
    current = f"{quote(ds.current)}/{RESERVED}" if ds.current else None
    return {
        "name": ds.name,
        "title": ds.title,
        "description": ds.description,
        "license": ds.license,
        "source": ds.url,
        "homepage": ds.homepage,
        "citation": ds.citation,
        "keywords": list(ds.keywords),
        "creators": list(ds.creators),
        "publisher": ds.publisher,
        "current": ds.current,
        "latest": f"{page.url}latest/",
        "cite_as": cite_as(page.citable) if ds.current else None,
        "citations": {n: f"{page.url}{current}{n}" for n in CITATIONS} if current else {},
        "downloads": [{"tool": r.tool, "title": r.title, "code": r.code} for r in page.recipes],
        "drs_uri": page.drs_uri,
        "releases": [_release_json(page, r) for r in page.releases],
    }


def _release_json(page: Landing, release: ReleaseInfo) -> dict[str, Any]:
    here = page.release_url(release.name)
    return {
        "name": release.name,
        "url": here,
        "published_at": release.published_at.isoformat() if release.published_at else None,
        "files": release.file_count,
        "bytes": release.total_bytes,
        "changes": None if release.added is None else {
            "added": release.added, "changed": release.changed, "removed": release.removed,
        },
        "report": release.report,
        "manifest": f"{here}{RESERVED}manifest.json",
    }  # fmt: skip


def landing_html(page: Landing) -> str:
    # no "<" at all inside the script element: neither "</script>" nor "<!--" can occur
    ld = json.dumps(page.json_ld, ensure_ascii=False).replace("<", "\\u003c")
    return render(
        "landing.html",
        page=page,
        ds=page.ds,
        json_ld=ld,
        cite=cite_as(page.citable) if page.current else None,
        license_href=license_url(page.ds.license),
        creators=page.citable.creators if page.ds.creators else [],
        documents=DOCUMENTS,
        citations=CITATION_LINKS,
        reserved=RESERVED,
    )
