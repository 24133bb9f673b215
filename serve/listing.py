"""Directory listings of a release, as HTML or JSON.

The HTML is an autoindex that tools parse: one plain relative `<a href>` per child,
directories ending with `/`, a `../` parent link, and no other links or absolute URLs in
the page (fsspec's HTTPFileSystem and rclone's http backend take every link as an entry).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from catalog.drs_ids import bundle_id, drs_uri, folder_id, object_id
from serve.http.conditional import http_date
from serve.release_index import Child

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em}"
    "table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.85em}"
)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def listing_html(title: str, children: tuple[Child, ...], fallback_date: datetime | None) -> str:
    rows = ['<tr><td><a href="../">../</a></td><td></td><td></td><td></td></tr>']
    for child in children:
        rows.append(_row(child, fallback_date))
    body = "\n".join(rows)
    heading = escape(title)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Index of {heading}</title><style>{STYLE}</style></head>\n<body>\n"
        f"<h1>Index of {heading}</h1>\n<table>\n<thead><tr><th>Name</th><th>Size</th>"
        "<th>Last modified</th><th>Checksums</th></tr></thead>\n<tbody>\n"
        f"{body}\n</tbody>\n</table>\n</body></html>\n"
    )


def _row(child: Child, fallback_date: datetime | None) -> str:
    link = f'<a href="{escape(quote(child.href), quote=True)}">{escape(child.href)}</a>'
    entry = child.entry
    if entry is None:
        return f'<tr><td>{link}</td><td class="n">-</td><td></td><td></td></tr>'
    moment = entry.mtime or fallback_date
    when = http_date(moment) if moment else ""
    sums = [f"xxh3-128:{entry.xxh3_128}"]
    if entry.md5:
        sums.append(f"md5:{entry.md5}")
    checksums = " ".join(f"<code>{escape(s)}</code>" for s in sums)
    size = f'<td class="n" title="{human_size(entry.size)}">{entry.size}</td>'
    return f"<tr><td>{link}</td>{size}<td>{when}</td><td>{checksums}</td></tr>"


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
