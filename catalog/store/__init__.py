"""Object stores: `open_store(url)` picks the backend from the URL scheme."""

from __future__ import annotations

from urllib.parse import urlsplit

from catalog.errors import ConfigError
from catalog.store.base import (
    ByteRange,
    LandedPart,
    ObjectInfo,
    PartWriter,
    Store,
    SupportsLocalPath,
    SupportsPresign,
    SupportsWriteAt,
)

__all__ = [
    "ByteRange",
    "LandedPart",
    "ObjectInfo",
    "PartWriter",
    "Store",
    "SupportsLocalPath",
    "SupportsPresign",
    "SupportsWriteAt",
    "open_store",
]


def open_store(url: str, *, s3_endpoint: str | None = None, region: str = "us-east-1") -> Store:
    """`file:///path` -> LocalStore, `s3://bucket/prefix` -> S3Store."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from catalog.store.local import LocalStore

        return LocalStore.from_url(url)
    if scheme == "s3":
        from catalog.store.s3 import S3Store

        return S3Store.from_url(url, endpoint_url=s3_endpoint, region=region)
    raise ConfigError(
        f"unsupported store URL {url!r}",
        hint="set DATAMIRROR_STORE to file:///path or s3://bucket/prefix",
    )
