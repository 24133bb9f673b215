"""Sources registered through the API must be public (`catalog.public_address` holds the
rule): checked here at registration (POST, and PATCH of a URL or an S3 option), as a 400
problem naming the field; the sources check again at every connection they make, since a
name may resolve elsewhere by then. The local CLI is trusted and skips it.

S3 sources registered through the API never sign with the store's credentials: they read
unsigned (`no_sign_request`) or with credentials named for them (`credentials`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from catalog.errors import NotPublicAddressError, UnresolvableHostError
from catalog.public_address import PublicAddressRule
from serve.api.fields import field_error

SIGNING_HINT = (
    "set no_sign_request: true for a public bucket, or credentials: NAME for a key pair the "
    "operator provides as DATAMIRROR_CREDENTIALS_<NAME>_ACCESS_KEY_ID and _SECRET_ACCESS_KEY"
)


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


async def check_public(url: str, options: Mapping[str, Any], allowlist: frozenset[str]) -> None:
    rule = PublicAddressRule(allowlist)
    for field, host in hosts_to_check(url, options):
        try:
            await rule.resolve(host)
        except (NotPublicAddressError, UnresolvableHostError) as exc:
            raise field_error(field, exc.message, exc.hint) from None
    if urlsplit(url).scheme == "s3" and not (
        options.get("no_sign_request") or options.get("credentials")
    ):
        raise field_error(
            "no_sign_request",
            "an S3 source registered through the API reads unsigned or with credentials "
            "named for it, never with the store's",
            SIGNING_HINT,
        )
