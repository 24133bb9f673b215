"""Pure parsers for directory listing pages: nginx (HTML and JSON autoindex), Apache
mod_autoindex (fancy and HTML table), and any page of plain links.

A listing gives names, and where the server prints them exactly, sizes and times. A size
printed rounded ("1.2M", "17K") is not a size: it is reported as unknown, and the source
asks the server (HEAD) instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

NGINX_DATE = re.compile(r"(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2})")
ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?)")
EXACT_SIZE = re.compile(r"^\d+$")


@dataclass(frozen=True, slots=True)
class ListingItem:
    """A child of a listed folder. `name` is decoded and has no trailing slash."""

    name: str
    is_dir: bool
    size: int | None = None
    mtime: datetime | None = None


class _LinkCollector(HTMLParser):
    """Collects each link's href, text, and the text that follows it on its row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[list[str]] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href is not None:
                self.links.append([href, "", ""])
                self._in_link = True
        elif tag in {"tr", "li", "br"}:
            self._in_link = False
            if self.links:
                self.links[-1][2] += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False

    def handle_data(self, data: str) -> None:
        if not self.links:
            return
        self.links[-1][1 if self._in_link else 2] += data


def parse_listing(page: str, page_url: str, content_type: str = "text/html") -> list[ListingItem]:
    """The children of the folder at `page_url`, from its listing page."""
    if "json" in content_type or page.lstrip().startswith("["):
        return parse_nginx_json(page)
    items: dict[str, ListingItem] = {}
    collector = _LinkCollector()
    collector.feed(page)
    for href, text, tail in collector.links:
        name = child_name(href, page_url)
        if name is None or name in items:
            continue
        is_dir = href.split("?")[0].endswith("/") or text.strip().endswith("/")
        row = tail.split("\n", 1)[0]
        items[name] = ListingItem(name, is_dir, None if is_dir else row_size(row), row_time(row))
    return list(items.values())


def child_name(href: str, page_url: str) -> str | None:
    """The child's name when `href` points at a direct child of the listed folder."""
    if not href or href.startswith(("?", "#", "mailto:", "javascript:")):
        return None
    base = page_url if page_url.endswith("/") else page_url + "/"
    target = urlsplit(urljoin(base, href))
    folder = urlsplit(base)
    if (target.scheme, target.netloc) != (folder.scheme, folder.netloc) or target.query:
        return None
    if not target.path.startswith(folder.path):
        return None
    rest = unquote(target.path[len(folder.path) :]).rstrip("/")
    if not rest or "/" in rest or rest in {".", ".."}:
        return None
    return rest


def row_size(row: str) -> int | None:
    """The exact size printed on a listing row, if it prints one."""
    tokens = row.split()
    if not tokens:
        return None
    last = tokens[-1]
    return int(last) if EXACT_SIZE.match(last) and len(tokens) >= 2 else None


def row_time(row: str) -> datetime | None:
    if match := NGINX_DATE.search(row):
        return datetime.strptime(match.group(1), "%d-%b-%Y %H:%M").replace(tzinfo=UTC)
    if match := ISO_DATE.search(row):
        text = match.group(1)
        fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
        return datetime.strptime(text, fmt).replace(tzinfo=UTC)
    return None


def parse_nginx_json(page: str) -> list[ListingItem]:
    """nginx's `autoindex_format json`: name, type, mtime (RFC 1123) and exact size."""
    items = []
    for row in json.loads(page):
        is_dir = row.get("type") == "directory"
        mtime = row.get("mtime")
        items.append(
            ListingItem(
                name=row["name"],
                is_dir=is_dir,
                size=None if is_dir else int(row["size"]),
                mtime=(
                    datetime.strptime(mtime, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
                    if mtime
                    else None
                ),
            )
        )
    return items
