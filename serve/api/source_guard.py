"""Sources registered through the API must be public: their host may not resolve to a
loopback, private, link-local (cloud metadata), shared, multicast or reserved address, so
the API cannot aim the sync workers at the cluster's own services (SSRF).

`DATAMIRROR_SOURCE_ALLOWLIST` (comma-separated host names) names hosts allowed anyway. The
check runs at registration (POST, and PATCH of a URL); the local CLI is trusted and skips it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from serve.api.fields import field_error
from serve.http.problems import ProblemError

RESOLVE_SECONDS = 5.0
ALLOWLIST_HINT = "an operator may allow the host with DATAMIRROR_SOURCE_ALLOWLIST=<host>"


def parse_allowlist(value: str | None) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in (value or "").split(",") if h.strip())


def hosts_to_check(url: str, options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, host) pairs: the URL's host, or for S3 the endpoint's (AWS itself is public)."""
    parts = urlsplit(url)
    found: list[tuple[str, str]] = []
    if parts.scheme != "s3" and parts.hostname:
        found.append(("url", parts.hostname))
    endpoint = options.get("endpoint_url")
    if isinstance(endpoint, str) and urlsplit(endpoint).hostname:
        found.append(("endpoint_url", str(urlsplit(endpoint).hostname)))
    return found


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def check_public(url: str, options: Mapping[str, Any], allowlist: frozenset[str]) -> None:
    for field, host in hosts_to_check(url, options):
        if host.lower().rstrip(".") in allowlist:
            continue
        for address in await _resolve(field, host):
            if not is_public(address):
                raise field_error(
                    field,
                    f"{host} resolves to {address}, which is not a public address "
                    "(loopback, private, link-local and metadata addresses are refused)",
                    ALLOWLIST_HINT,
                )


async def _resolve(field: str, host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise field_error(field, f"the host {host} does not resolve ({exc})") from None
    if not infos:
        raise ProblemError(400, f"the host {host} resolves to no address")
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
