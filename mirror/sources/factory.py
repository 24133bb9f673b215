"""Pick the source reader for a URL by its scheme.

Options are the dataset's stored options (see `datamirror source add`): `endpoint_url`
and `no_sign_request` for S3, `username` / `password` for FTP, `connections` for all.
Readers are imported when chosen, so an HTTP mirror never loads boto3 or aioftp.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from catalog.errors import InvalidSourceURLError
from mirror.sources.base import Source

SCHEMES = ("http", "https", "ftp", "s3")
# the sync's --parallel is the real bound; this only must not be the tighter one
HTTP_CONNECTIONS = 64  # HTTP(S) sources, and S3 sources' object reads


def open_source(
    url: str, options: dict[str, Any] | None = None, *, region: str = "us-east-1"
) -> Source:
    options = options or {}
    scheme = urlsplit(url).scheme.lower()
    connections = options.get("connections")
    if scheme in {"http", "https"}:
        from mirror.sources.http import HTTPSource

        return HTTPSource(url, connections_per_host=int(connections or HTTP_CONNECTIONS))
    if scheme == "ftp":
        from mirror.sources.ftp import FTPSource

        return FTPSource(
            url,
            connections=int(connections or 4),
            username=options.get("username"),
            password=options.get("password"),
        )
    if scheme == "s3":
        from mirror.sources.s3 import S3Source

        return S3Source(
            url,
            endpoint_url=options.get("endpoint_url"),
            region=region,
            no_sign_request=bool(options.get("no_sign_request", False)),
            connections=int(connections or HTTP_CONNECTIONS),
        )
    raise InvalidSourceURLError(
        url, f"no reader for {scheme or 'scheme-less'} URLs ({', '.join(SCHEMES)})"
    )
