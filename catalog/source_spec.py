"""What a curator registers, checked field by field when it is given (not at the first sync).

`check_source_url` is the one judge of a source URL: scheme, host (a name, an IPv4 address
or a bracketed IPv6 address), port and bucket; `check_schedule` of a cron expression;
`check_metadata` of the FAIR fields (homepage, citation, keywords, creators, publisher).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from catalog.agents import check_web_url, parse_agent
from catalog.errors import InvalidSettingError, InvalidSourceURLError

SOURCE_SCHEMES = ("http", "https", "ftp", "s3")
HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,254}$")


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What a curator registers."""

    name: str
    url: str
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    checksums: str = "auto"
    schedule: str | None = None
    keep: int | None = None
    max_delete: float = 50.0
    restricted: bool = False
    title: str | None = None
    description: str | None = None
    license: str | None = None
    homepage: str | None = None
    citation: str | None = None
    keywords: Sequence[str] = ()
    creators: Sequence[str] = ()
    publisher: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def check_source_url(url: str) -> str:
    """The URL, if datamirror can mirror it; else InvalidSourceURLError saying why."""
    if any(c.isspace() for c in url):
        raise InvalidSourceURLError(url, "it contains a space; percent-encode it as %20")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidSourceURLError(url, _port_or_host_reason(str(exc))) from None
    if parts.scheme not in SOURCE_SCHEMES:
        raise InvalidSourceURLError(url, f"scheme must be one of {', '.join(SOURCE_SCHEMES)}")
    if not parts.netloc or not parts.hostname:
        raise InvalidSourceURLError(url, "no host or bucket")
    if parts.scheme == "s3":
        if not BUCKET.match(parts.netloc):
            raise InvalidSourceURLError(url, f"{parts.netloc!r} is not an S3 bucket name")
        return url
    if port == 0:
        raise InvalidSourceURLError(url, "port 0 is not a port a server listens on")
    check_host(url, parts.hostname)
    return url


def check_host(url: str, host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if not all(HOST_LABEL.match(label) for label in labels):
            raise InvalidSourceURLError(url, f"{host!r} is not a valid host name") from None


def _port_or_host_reason(detail: str) -> str:
    if "Port" in detail:
        return "the port must be a number from 1 to 65535"
    if "IPv6" in detail:
        return "an IPv6 address must be written in brackets, closed: http://[2001:db8::1]/"
    return detail


def check_schedule(schedule: str) -> str:
    """A five-field cron expression (`0 3 * * *` is every day at 03:00 UTC)."""
    from croniter import croniter

    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise InvalidSettingError(
            f"invalid cron schedule {schedule!r}",
            hint="use five fields: minute hour day month weekday, e.g. '0 3 * * *' for 03:00",
        )
    return schedule


def check_spec(spec: DatasetSpec) -> DatasetSpec:
    """Every field of a spec, checked (the name by `catalog.layout.check_name`); the spec
    with its metadata tidied (keywords and names stripped)."""
    from catalog.layout import check_name

    check_name(spec.name)
    check_source_url(spec.url)
    if spec.schedule is not None:
        check_schedule(spec.schedule)
    endpoint = spec.options.get("endpoint_url")
    if endpoint is not None:
        check_endpoint(endpoint)
    given = {name: getattr(spec, name) for name in METADATA_CHECKS}
    return dataclasses.replace(spec, **check_metadata(given))


MAX_KEYWORD = 100
MAX_CITATION = 4000


def check_homepage(url: str | None) -> str | None:
    return None if url is None else check_web_url(url.strip(), what="the homepage")


def check_citation(text: str | None) -> str | None:
    """How the data's authors ask to be cited (free text, often with a DOI)."""
    if text is None:
        return None
    if not text.strip() or len(text) > MAX_CITATION:
        raise InvalidSettingError(
            f"the citation must be 1 to {MAX_CITATION} characters",
            hint="give the reference the data's authors ask for, e.g. its article and DOI",
        )
    return " ".join(text.split())


def check_keywords(keywords: Sequence[str]) -> list[str]:
    """Non-empty keywords of at most 100 characters, each once (first spelling kept)."""
    tidy: dict[str, str] = {}
    for keyword in keywords:
        word = " ".join(keyword.split())
        if not word or len(word) > MAX_KEYWORD:
            raise InvalidSettingError(
                f"invalid keyword {keyword!r}: a keyword has 1 to {MAX_KEYWORD} characters",
                hint="repeat --keyword for each keyword, e.g. --keyword proteomics",
            )
        tidy.setdefault(word.casefold(), word)
    return list(tidy.values())


def check_creators(creators: Sequence[str]) -> list[str]:
    return [_agent_text(text, "creator") for text in creators]


def check_publisher(text: str | None) -> str | None:
    return None if text is None else _agent_text(text, "publisher")


def _agent_text(text: str, role: str) -> str:
    parse_agent(text, role=role)
    return " ".join(text.split())


METADATA_CHECKS: dict[str, Callable[[Any], Any]] = {
    "homepage": check_homepage,
    "citation": check_citation,
    "keywords": check_keywords,
    "creators": check_creators,
    "publisher": check_publisher,
}


def check_metadata(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The FAIR metadata among `fields`, each checked and tidied; other fields left out."""
    return {name: METADATA_CHECKS[name](value) for name, value in fields.items()
            if name in METADATA_CHECKS}  # fmt: skip


def check_endpoint(endpoint: str) -> str:
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise InvalidSettingError(f"invalid endpoint URL {endpoint!r}: {exc}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidSettingError(
            f"invalid endpoint URL {endpoint!r}",
            hint="use the S3 endpoint's http:// or https:// URL, e.g. https://s3.embassy.ebi.ac.uk",
        )
    return endpoint
