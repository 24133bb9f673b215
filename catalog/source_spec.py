"""What a curator registers, checked field by field when it is given (not at the first sync).

`check_source_url` is the one judge of a source URL: scheme, host (a name, an IPv4 address
or a bracketed IPv6 address), port and bucket; `check_schedule` of a cron expression.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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
    """Every field of a spec, checked (the name by `catalog.layout.check_name`)."""
    from catalog.layout import check_name

    check_name(spec.name)
    check_source_url(spec.url)
    if spec.schedule is not None:
        check_schedule(spec.schedule)
    endpoint = spec.options.get("endpoint_url")
    if endpoint is not None:
        check_endpoint(endpoint)
    return spec


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
