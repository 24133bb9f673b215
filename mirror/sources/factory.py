"""Pick the source reader for a URL by its scheme.

Options are the dataset's stored options (see `datamirror source add`): `endpoint_url`,
`no_sign_request` and `credentials` (the name of a key pair in the settings) for S3,
`username` / `password` for FTP, `connections` for all, and `public_only`, which the
curator API sets on the sources it registers: their readers connect to public addresses
only (unless DATAMIRROR_SOURCE_ALLOWLIST names the host), and an S3 source among them
never signs with the store's credentials (boto3's chain): unsigned, or with its own.
Readers are imported when chosen, so an HTTP mirror never loads boto3 or aioftp.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from catalog.config import CREDENTIALS_PREFIX, KeyPair, Settings, credentials_variable
from catalog.errors import InvalidSourceURLError, SourceError
from catalog.public_address import PUBLIC_ONLY, PublicAddressRule
from mirror.sources.base import Source

SCHEMES = ("http", "https", "ftp", "s3")
# the sync's --parallel is the real bound; this only must not be the tighter one
HTTP_CONNECTIONS = 64  # HTTP(S) sources, and S3 sources' object reads


def open_source(
    url: str,
    options: dict[str, Any] | None = None,
    *,
    region: str | None = None,
    settings: Settings | None = None,
) -> Source:
    """The reader of `url`; `settings` give the region, the allowlist and named key pairs."""
    options = options or {}
    scheme = urlsplit(url).scheme.lower()
    connections = options.get("connections")
    rule = None
    if options.get(PUBLIC_ONLY):
        allowlist = settings.source_allowlist if settings is not None else frozenset()
        rule = PublicAddressRule(allowlist)
    if scheme in {"http", "https"}:
        from mirror.sources.http import HTTPSource

        return HTTPSource(
            url, connections_per_host=int(connections or HTTP_CONNECTIONS), address_rule=rule
        )
    if scheme == "ftp":
        from mirror.sources.ftp import FTPSource

        return FTPSource(
            url,
            connections=int(connections or 4),
            username=options.get("username"),
            password=options.get("password"),
            address_rule=rule,
        )
    if scheme == "s3":
        from mirror.sources.s3 import S3Source

        key_pair = _key_pair(url, options, settings)
        return S3Source(
            url,
            endpoint_url=options.get("endpoint_url"),
            region=region or (settings.aws_region if settings is not None else "us-east-1"),
            # a public-only source without a key pair of its own reads unsigned
            no_sign_request=bool(options.get("no_sign_request"))
            or (rule is not None and not key_pair),
            connections=int(connections or HTTP_CONNECTIONS),
            address_rule=rule,
            key_pair=key_pair,
        )
    raise InvalidSourceURLError(
        url, f"no reader for {scheme or 'scheme-less'} URLs ({', '.join(SCHEMES)})"
    )


def _key_pair(url: str, options: dict[str, Any], settings: Settings | None) -> KeyPair | None:
    name = options.get("credentials")
    if not name:
        return None
    found = settings.key_pair(str(name)) if settings is not None else None
    if found is None:
        variable = credentials_variable(str(name))
        raise SourceError(
            url,
            f"no credentials named {name!r} in this process's environment",
            hint=f"set {variable}_ACCESS_KEY_ID and {variable}_SECRET_ACCESS_KEY "
            f"(every {CREDENTIALS_PREFIX}* pair is read at start-up)",
        )
    return found
