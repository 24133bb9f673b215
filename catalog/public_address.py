"""The public-address rule, in one place: a source registered through the curator API may
only be fetched from public addresses, so the API cannot aim the sync workers (or the
server, at registration) at the cluster's own services (SSRF).

A host passes when `DATAMIRROR_SOURCE_ALLOWLIST` names it (host names compared without
case or a trailing dot; an address literal is its own name), or when every address it
resolves to is public: not loopback, private, link-local (cloud metadata at
169.254.169.254), shared (100.64/10), multicast, reserved or unspecified; an IPv4-mapped
IPv6 address is judged as the IPv4 address it maps.

The server checks at registration (`serve.api.source_guard`); the sources check again
when they connect, on every connection and every redirect, against the very addresses
they connect to (`mirror.sources.public_peers`), so a name that resolved public at
registration and resolves to loopback later (DNS rebinding) is refused then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from catalog.errors import NotPublicAddressError, UnresolvableHostError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_SECONDS = 5.0
PUBLIC_ONLY = "public_only"
"""The dataset option that marks a source registered through the API."""


def parse_allowlist(value: str | None) -> frozenset[str]:
    """Comma-separated host names, lower-cased, without a trailing dot."""
    return frozenset(_name(h) for h in (value or "").split(",") if h.strip())


def _name(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def address_of(text: str) -> IPAddress:
    """An address as getaddrinfo or a socket spells it (an IPv6 zone dropped)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


@dataclass(frozen=True, slots=True)
class PublicAddressRule:
    """Public addresses only, unless the allowlist names the host."""

    allowlist: frozenset[str] = frozenset()

    def allows_host(self, host: str) -> bool:
        return _name(host) in self.allowlist

    def check(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Raise NotPublicAddressError unless the host is allowlisted or every address is
        public."""
        if self.allows_host(host):
            return
        for address in addresses:
            if not is_public(address) and not self.allows_host(str(address)):
                raise NotPublicAddressError(host, str(address))

    async def resolve(self, host: str, port: int | None = None) -> list[IPAddress]:
        """Every address of `host`, checked (a literal is its own only address)."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(RESOLVE_SECONDS):
                    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, TimeoutError) as exc:
                raise UnresolvableHostError(host, str(exc) or type(exc).__name__) from None
            found = _addresses(host, infos)
        self.check(host, found)
        return found

    def resolve_blocking(self, host: str, port: int | None = None) -> list[IPAddress]:
        """`resolve` for code already in a thread (botocore's connections)."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise UnresolvableHostError(host, str(exc)) from None
            found = _addresses(host, infos)
        self.check(host, found)
        return found


def _literal(host: str) -> IPAddress | None:
    try:
        return address_of(host.strip("[]"))
    except ValueError:
        return None


def _addresses(host: str, infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found = list(dict.fromkeys(address_of(str(info[4][0])) for info in infos))  # type: ignore[index]
    if not found:
        raise UnresolvableHostError(host, "no address")
    return found
