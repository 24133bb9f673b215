"""Sources registered through the curator API connect to public addresses only: the rule of
`catalog.public_address`, applied where each protocol opens its connections, to the very
addresses it connects to (so a name resolved again later, DNS rebinding, or a redirect
cannot lead elsewhere).

- aiohttp (HTTP(S) sources, S3 object reads): `tcp_connector`. Its resolver checks every
  address a name resolves to, on every connection aiohttp opens, redirects included (they
  go through the same connector); its socket factory sees the address of every connection
  attempt and refuses a non-public one that no checked name vouched for, which covers
  URLs and redirects whose host is an address literal (aiohttp resolves none of those).
- FTP: `resolve_checked` once per connection; the client connects to that address and
  aioftp opens its data connections to the same address (it ignores the address in a
  PASV answer), so nothing is resolved again.
- boto3 (S3 listings and HEAD): `guard_boto_client` gives the client's connection pools a
  connection class that resolves, checks and connects to the checked address, keeping
  the host name for TLS (SNI and certificate).

A refusal is `NotPublicAddressError`; the sources translate it into a SourceError.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from catalog.errors import NotPublicAddressError
from catalog.public_address import IPAddress, PublicAddressRule, address_of, is_public

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


class PublicResolver(AbstractResolver):
    """Resolves as aiohttp's threaded resolver does (through the loop's getaddrinfo), then
    refuses a name with any non-public address; allowlisted names vouch for theirs."""

    def __init__(self, rule: PublicAddressRule, vouched: set[IPAddress]) -> None:
        self._rule = rule
        self._vouched = vouched
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        addresses = [address_of(r["host"]) for r in results]
        self._rule.check(host, addresses)
        if self._rule.allows_host(host):
            self._vouched.update(addresses)
        return results

    async def close(self) -> None:
        await self._inner.close()


class PublicSockets:
    """aiohttp's socket factory: a socket for a public address, an allowlisted literal, or
    an address a checked name resolved to; anything else is refused before it connects."""

    def __init__(self, rule: PublicAddressRule, vouched: set[IPAddress]) -> None:
        self._rule = rule
        self._vouched = vouched

    def __call__(self, addr_info: AddrInfo) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = address_of(str(sockaddr[0]))
        if not (
            is_public(address) or address in self._vouched or self._rule.allows_host(str(address))
        ):
            raise NotPublicAddressError(str(address), str(address))
        return socket.socket(family, kind, proto)


def tcp_connector(rule: PublicAddressRule | None, **kwargs: Any) -> aiohttp.TCPConnector:
    """aiohttp's connector; with a rule, one that connects to public peers only."""
    if rule is None:
        return aiohttp.TCPConnector(**kwargs)
    vouched: set[IPAddress] = set()
    return aiohttp.TCPConnector(
        resolver=PublicResolver(rule, vouched),
        socket_factory=PublicSockets(rule, vouched),
        **kwargs,
    )


async def resolve_checked(rule: PublicAddressRule | None, host: str, port: int) -> str:
    """The address to connect to for `host`: itself without a rule, else its first checked
    address (every address it resolves to must pass)."""
    if rule is None:
        return host
    return str((await rule.resolve(host, port))[0])


def guard_boto_client(client: S3Client, rule: PublicAddressRule) -> None:
    """Make every connection of `client` go to checked public addresses only. (botocore
    offers no public hook for its connections: its http session's pool classes are set.)"""
    http_session = client._endpoint.http_session  # type: ignore[attr-defined]
    pools = _pool_classes(rule)
    http_session._pool_classes_by_scheme = pools
    http_session._manager.pool_classes_by_scheme = pools


class _PublicConnection:
    """Mixed into botocore's connection classes: the connection goes to a checked address
    of its host (the host name stays the TLS server name)."""

    rule: PublicAddressRule
    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        self._dns_host = str(self.rule.resolve_blocking(name, self.port)[0])
        try:
            return super()._new_conn()  # type: ignore[misc,no-any-return]
        finally:
            self._dns_host = name


def _pool_classes(rule: PublicAddressRule) -> dict[str, type]:
    # Imported here: HTTP and FTP sources use this module too, and botocore with what it
    # loads costs some 0.1 s of CPU at every start.
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    pools: dict[str, type] = {}
    for scheme, pool, connection in (
        ("http", AWSHTTPConnectionPool, AWSHTTPConnection),
        ("https", AWSHTTPSConnectionPool, AWSHTTPSConnection),
    ):
        checked = type(
            f"Public{connection.__name__}", (_PublicConnection, connection), {"rule": rule}
        )
        pools[scheme] = type(f"Public{pool.__name__}", (pool,), {"ConnectionCls": checked})
    return pools
