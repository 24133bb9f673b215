"""open_source picks the reader by scheme and passes the dataset's options on."""

from __future__ import annotations

import pytest

from catalog.errors import InvalidSourceURLError
from mirror.sources.factory import open_source
from mirror.sources.ftp import FTPSource
from mirror.sources.http import HTTPSource
from mirror.sources.s3 import S3Source


@pytest.mark.parametrize(
    ("url", "options", "kind", "normalised"),
    [
        ("http://h/pub", {}, HTTPSource, "http://h/pub/"),
        ("HTTPS://h/pub/", {"connections": 4}, HTTPSource, "HTTPS://h/pub/"),
        ("ftp://ftp.ebi.ac.uk/pub/databases", {}, FTPSource, "ftp://ftp.ebi.ac.uk/pub/databases/"),
        ("ftp://u:p@h:2121/x/", {}, FTPSource, "ftp://h:2121/x/"),
        ("s3://bucket/prefix", {"no_sign_request": True}, S3Source, "s3://bucket/prefix/"),
        ("s3://bucket", {"endpoint_url": "http://127.0.0.1:9"}, S3Source, "s3://bucket/"),
    ],
)
async def test_each_scheme_gets_its_reader(
    url: str, options: dict[str, object], kind: type, normalised: str
) -> None:
    source = open_source(url, options)
    try:
        assert isinstance(source, kind)
        assert source.url == normalised
    finally:
        await source.close()


@pytest.mark.parametrize("url", ["gopher://h/x", "/local/path", "file:///data", "s3:///nobucket"])
def test_other_urls_are_refused_with_a_hint(url: str) -> None:
    with pytest.raises(InvalidSourceURLError) as caught:
        open_source(url, {})
    assert "s3://" in caught.value.hint


def test_ftp_credentials_never_show_in_the_url() -> None:
    source = open_source("ftp://user:hunter2@h/x/", {})
    assert "hunter2" not in source.url
