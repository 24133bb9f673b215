"""Directory listings of a release, as HTML or JSON.

The HTML is an autoindex that tools parse: one plain relative `<a href>` per child,
directories ending with `/`, a `../` parent link, and no absolute URLs in the page (fsspec's
HTTPFileSystem and rclone's http backend take every relative link as an entry). The only
other links are breadcrumbs to the folder's ancestors, as absolute paths that those tools
and `wget -np` skip (the folder itself is no link). Sizes, dates and every digest show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from catalog.drs_ids import bundle_id, drs_uri, folder_id, object_id
from catalog.manifest import ManifestEntry
from serve.http.conditional import http_date
from serve.release_index import Child
from serve.templating import render


@dataclass(frozen=True, slots=True)
class Row:
    href: str
    entry: ManifestEntry | None
    when: str
    sums: tuple[str, ...]


def listing_html(
    dataset: str,
    release: str,
    path: str,
    children: tuple[Child, ...],
    fallback_date: datetime | None,
) -> str:
    """The autoindex page of folder `path` ("" is the release's root) of `release`."""
    parts = [p for p in path.split("/") if p]
    crumbs = [("datasets", "/datasets/"), (dataset, f"/datasets/{quote(dataset)}/")]
    folder = f"/datasets/{quote(dataset)}/{quote(release)}/"
    if parts:
        crumbs.append((release, folder))
        for name in parts[:-1]:
            folder += quote(name) + "/"
            crumbs.append((name, folder))
    title = f"/datasets/{dataset}/{release}/{path}".rstrip("/") + "/"
    rows = [_row(child, fallback_date) for child in children]
    here = parts[-1] if parts else release
    return render("listing.html", title=title, crumbs=crumbs, here=here, rows=rows)


def _row(child: Child, fallback_date: datetime | None) -> Row:
    entry = child.entry
    if entry is None:
        return Row(child.href, None, "", ())
    moment = entry.mtime or fallback_date
    sums = [f"xxh3-128:{entry.xxh3_128}"]
    if entry.md5:
        sums.append(f"md5:{entry.md5}")
    if entry.sha256:
        sums.append(f"sha256:{entry.sha256}")
    return Row(child.href, entry, http_date(moment) if moment else "", tuple(sums))


def listing_json(
    dataset: str, release: str, path: str, children: tuple[Child, ...], hostname: str
) -> dict[str, Any]:
    """Each file with its GA4GH DRS id and URI, each folder with its bundle's, and the
    release's bundle (`hostname` names this server in the drs:// URIs)."""
    bundle = bundle_id(dataset, release)
    entries: list[dict[str, Any]] = []
    for child in children:
        entry = child.entry
        if entry is None:
            folder = folder_id(bundle, f"{path}/{child.name}" if path else child.name)
            uri = drs_uri(hostname, folder)
            entries.append(
                {"name": child.href, "type": "directory", "drs_id": folder, "drs_uri": uri}
            )
            continue
        drs_id = object_id(dataset, entry.path, entry.xxh3_128)
        item: dict[str, Any] = {"name": child.name, "type": "file", "size": entry.size}
        item["drs_id"], item["drs_uri"] = drs_id, drs_uri(hostname, drs_id)
        item["mtime"] = entry.mtime.isoformat() if entry.mtime else None
        item["xxh3_128"] = entry.xxh3_128
        for field in ("md5", "sha256"):
            value = getattr(entry, field)
            if value:
                item[field] = value
        entries.append(item)
    return {
        "dataset": dataset,
        "release": release,
        "path": path,
        "drs_bundle_id": bundle,
        "drs_bundle_uri": drs_uri(hostname, bundle),
        "entries": entries,
    }
