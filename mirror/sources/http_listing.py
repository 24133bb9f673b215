"""Pure parsers for directory listing pages: nginx (HTML and JSON autoindex), Apache
mod_autoindex (fancy, HTML table and plain list), and any page of plain links (python's
http.server, aiohttp's show_index).

A listing gives names, and where the server prints them exactly, sizes and times. A size
printed rounded ("1.2M", "17K") is not a size: it is reported as unknown, and the source
asks the server (HEAD) instead. Both servers print small sizes as plain digits, which are
exact; every rounded size carries a unit letter.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

NGINX_DATE = re.compile(r"\b(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}(?::\d{2})?)")
ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?)")
EXACT_SIZE = re.compile(r"^\d+$")
PLAIN_CHILD = re.compile(r"^(?!\.\.?/?$)[^/:?#\\]+/?$")
SKIPPED_HREF_PREFIXES = ("?", "#", "mailto:", "javascript:", "data:")


@dataclass(frozen=True, slots=True)
class ListingItem:
    """A child of a listed folder. `name` is decoded and has no trailing slash."""

    name: str
    is_dir: bool
    size: int | None = None
    mtime: datetime | None = None


@dataclass(slots=True)
class _Link:
    href: str
    text: str = ""
    tail: str = ""


class _LinkCollector(HTMLParser):
    """Collects each link's href, its text, and the text after it up to the next link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href is not None:
                self.links.append(_Link(href))
                self._in_link = True
        elif tag in {"tr", "li", "br", "p", "div"} and self.links:
            self._in_link = False
            self.links[-1].tail += "\n"

    def parse_html_declaration(self, i: int) -> int:
        try:
            return super().parse_html_declaration(i)
        except AssertionError:  # CPython's parser gives up on `<![` without a name
            return self.parse_bogus_comment(i)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False

    def handle_data(self, data: str) -> None:
        if not self.links:
            return
        if self._in_link:
            self.links[-1].text += data
        else:
            self.links[-1].tail += data


def parse_listing(page: str, page_url: str, content_type: str = "text/html") -> list[ListingItem]:
    """The children of the folder at `page_url`, from its listing page. Total: a page
    that is not what it claims to be lists what its links name (maybe nothing)."""
    if "json" in content_type or page.lstrip().startswith("["):
        try:
            return parse_nginx_json(page)
        except (ValueError, TypeError):  # not JSON, or JSON that is no list of rows
            pass
    return parse_html_links(page, page_url)


def parse_html_links(page: str, page_url: str) -> list[ListingItem]:
    """Children from the links of an HTML page, with size and time from each link's row."""
    items: dict[str, ListingItem] = {}
    collector = _LinkCollector()
    collector.feed(page)
    collector.close()
    for link in collector.links:
        name = child_name(link.href, page_url)
        if name is None:
            continue
        is_dir = urlsplit(link.href).path.endswith("/")
        row = link.tail.split("\n", 1)[0]
        mtime, size = row_time_and_size(row)
        item = ListingItem(name, is_dir, None if is_dir else size, mtime)
        known = items.get(name)
        # Apache's IconsAreLinks puts two links per row; the second is followed by the row.
        if known is None or (known.mtime is None and known.size is None):
            items[name] = item
    return list(items.values())


def child_name(href: str, page_url: str) -> str | None:
    """The child's name when `href` points at a direct child of the listed folder."""
    if not href or href.startswith(SKIPPED_HREF_PREFIXES):
        return None
    if PLAIN_CHILD.match(href):
        # a bare relative name ("x.fa", "sub/") resolves to itself: no URL joining needed
        return _decoded_name(href)
    base = page_url if page_url.endswith("/") else page_url + "/"
    target = urlsplit(urljoin(base, href))
    folder = urlsplit(base)
    if (target.scheme, target.netloc) != (folder.scheme, folder.netloc) or target.query:
        return None
    if not target.path.startswith(folder.path):
        return None
    return _decoded_name(target.path[len(folder.path) :])


def _decoded_name(path: str) -> str | None:
    try:
        rest = unquote(path, errors="strict").removesuffix("/")
    except UnicodeDecodeError:  # not UTF-8: no name we could publish and fetch back
        return None
    if not rest or "/" in rest or rest in {".", ".."}:
        return None
    return rest  # NUL, backslash and the like are the sync's to skip and report


def row_time_and_size(row: str) -> tuple[datetime | None, int | None]:
    """The time on a listing row and the exact size printed right after it, if any."""
    for pattern, formats in (
        (NGINX_DATE, ("%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M")),
        (ISO_DATE, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")),
    ):
        if match := pattern.search(row):
            mtime = _parse_time(match.group(1), formats)
            after = row[match.end() :].split()
            size = int(after[0]) if after and EXACT_SIZE.match(after[0]) else None
            return mtime, size
    return None, None


@functools.lru_cache(maxsize=4096)  # a listing's files share few distinct minutes
def _parse_time(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_nginx_json(page: str) -> list[ListingItem]:
    """nginx's `autoindex_format json`: name, type, mtime (RFC 1123) and exact size.
    ValueError when the page is no JSON, TypeError when no list; odd rows are skipped."""
    rows = json.loads(page)
    if not isinstance(rows, list):
        raise TypeError("not a list of rows")
    items = []
    for row in rows:
        name = row.get("name") if isinstance(row, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name in {".", ".."}:
            continue
        is_dir = row.get("type") == "directory"
        size, mtime = row.get("size"), row.get("mtime")
        exact = isinstance(size, int) and not isinstance(size, bool) and size >= 0
        items.append(
            ListingItem(
                name=name,
                is_dir=is_dir,
                size=size if exact and not is_dir else None,
                mtime=_parse_time(mtime, ("%a, %d %b %Y %H:%M:%S GMT",))
                if isinstance(mtime, str)
                else None,
            )
        )
    return items
