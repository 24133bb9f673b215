"""The Jinja2 environment of the server's pages (templates in serve/templates/), with
autoescape on, undefined names an error, and the filters the templates share."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from catalog.sizes import human_bytes
from serve.assets import STYLESHEET_URL


def _date(when: datetime | None, with_time: bool = False) -> str:
    if when is None:
        return "-"
    return when.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def _size(size: int | None) -> str:
    return "-" if size is None else human_bytes(size)


def _href(path: str) -> str:
    """A path percent-encoded for a link (slashes kept)."""
    return quote(path)


ENV = Environment(
    loader=PackageLoader("serve", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
ENV.filters.update(date=_date, size=_size, href=_href)
ENV.globals.update(stylesheet=STYLESHEET_URL)


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)
