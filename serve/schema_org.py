"""schema.org JSON-LD (https://schema.org/Dataset) of the pages, shaped for Google's Dataset
rich results: name, a description of 50 to 5000 characters, url, identifier, license,
creator and publisher, version, dates, a distribution of DataDownloads with contentUrl and
encodingFormat, and isBasedOn (the source). Also the dataset index as a DataCatalog and a
folder of a release as a Dataset that is part of its dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from catalog.media_types import content_type
from serve.catalog_view import DatasetInfo, ReleaseInfo
from serve.citation import Citable
from serve.documents import RESERVED
from serve.licenses import license_url
from serve.release_index import Child
from serve.release_outline import ReleaseOutline

CONTEXT = "https://schema.org/"
MIN_DESCRIPTION, MAX_DESCRIPTION = 50, 5000


def description(ds: DatasetInfo) -> str:
    """The curator's description, lengthened with what the mirror is when it is under 50
    characters and cut at a word under 5000."""
    text = " ".join((ds.description or "").split())
    if len(text) < MIN_DESCRIPTION:
        mirror = (f"A mirror of {ds.url}, kept as immutable, checksummed, versioned releases "
                  "and served over HTTP with byte ranges.")  # fmt: skip
        if text and text[-1] not in ".!?":
            text += "."
        text = f"{text} {mirror}".strip()
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 1].rsplit(" ", 1)[0] + "…"
    return text


def _license(text: str | None) -> str | dict[str, str] | None:
    if not text:
        return None
    return license_url(text) or {"@type": "CreativeWork", "name": text}


def dataset(
    item: Citable,
    releases: Sequence[ReleaseInfo],
    outline: ReleaseOutline | None,
    landing: str,
    base: str,
) -> dict[str, Any]:
    ds = item.ds
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Dataset",
        "@id": landing,
        "name": item.title,
        "description": description(ds),
        "url": landing,
        "identifier": landing,
        "isBasedOn": [ds.url, *([ds.homepage] if ds.homepage else [])],
        "creator": [a.schema_org() for a in item.creators],
        "publisher": item.publisher.schema_org(),
        "isAccessibleForFree": not ds.restricted,
        "includedInDataCatalog": {"@type": "DataCatalog", "url": f"{base}/"},
    }
    optional = {
        "license": _license(ds.license),
        "keywords": list(ds.keywords) or None,
        "citation": ds.citation,
        "version": ds.current,
        "dateModified": ds.updated.isoformat() if ds.updated else None,
        "datePublished": _first_published(releases),
    }
    document |= {k: v for k, v in optional.items() if v is not None}
    if outline is not None and ds.current:
        release_url = f"{landing}{quote(ds.current)}/"
        document["distribution"] = _distribution(outline, release_url)
    return document


def _first_published(releases: Sequence[ReleaseInfo]) -> str | None:
    dates = [r.published_at for r in releases if r.published_at]
    return min(dates).isoformat() if dates else None


def _distribution(outline: ReleaseOutline, release_url: str) -> list[dict[str, Any]]:
    files = [_download(e.path, release_url + quote(e.path), e.size) for e in outline.distribution]
    manifest = _download("manifest.json", f"{release_url}{RESERVED}manifest.json", None)
    manifest["description"] = "every file of the release with its size and digests"
    return [*files, manifest]


def _download(name: str, url: str, size: int | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@type": "DataDownload",
        "name": name,
        "contentUrl": url,
        "encodingFormat": content_type(name).split(";")[0],
    }
    if size is not None:
        found["contentSize"] = f"{size} B"
    return found


def data_catalog(datasets: Sequence[DatasetInfo], base: str) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "@type": "DataCatalog",
        "url": f"{base}/",
        "name": "Mirrored datasets",
        "dataset": [
            {
                "@type": "Dataset",
                "name": d.title or d.name,
                "url": f"{base}/datasets/{quote(d.name)}/",
                "description": description(d),
                **({"version": d.current} if d.current else {}),
                **({"license": _license(d.license)} if d.license else {}),
            }
            for d in datasets
        ],
    }


def folder(
    ds: DatasetInfo, release: str, path: str, children: Sequence[Child], base: str
) -> dict[str, Any]:
    landing = f"{base}/datasets/{quote(ds.name)}/"
    here = f"{landing}{quote(release)}/" + (quote(path) + "/" if path else "")
    return {
        "@context": CONTEXT,
        "@type": "Dataset",
        "@id": here,
        "name": f"{ds.title or ds.name}, release {release}: /{path}",
        "url": here,
        "version": release,
        "isPartOf": {"@type": "Dataset", "@id": landing, "url": landing},
        "hasPart": [
            {"@type": "Dataset", "url": here + quote(c.href)} for c in children if c.is_dir
        ],
        "distribution": [
            _download(c.name, here + quote(c.name), c.entry.size)
            for c in children
            if c.entry is not None
        ],
    }
