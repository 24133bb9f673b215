"""The S3 presigner: URLs equal to botocore's for the same time and credentials, accepted
by moto and `rclone serve s3` for keys with awkward characters, signed with the client's
own credentials, and plain for unsigned clients."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import aiohttp
import botocore.auth
import pytest
from yarl import URL

from catalog.config import KeyPair
from catalog.store.s3_client import Presigner, make_client
from tests.fixtures.s3_servers import S3Endpoint

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
AWKWARD_KEYS = [
    "plain/object.bin",
    "a b/c d.txt",
    "+~=;,()!'*.dat",
    "unicodé/ünï/碱基.fa",
    "mixed/+ ~=;,()!'* ü.gz",
]


@pytest.mark.parametrize(
    "endpoint_url", ["http://127.0.0.1:9000", None, "https://s3.example.org:443"]
)
@pytest.mark.parametrize("token", [None, "session/to+ken="])
@pytest.mark.parametrize("key", [*AWKWARD_KEYS, "dir//double"])
@pytest.mark.parametrize(
    ("operation", "method", "params", "query"),
    [
        ("get_object", "GET", {}, {}),
        ("put_object", "PUT", {}, {}),
        (
            "upload_part",
            "PUT",
            {"UploadId": "up/+=1", "PartNumber": 7},
            {"uploadId": "up/+=1", "partNumber": 7},
        ),
    ],
)
def test_a_presigned_url_equals_botocores_for_the_same_time_and_credentials(
    monkeypatch: pytest.MonkeyPatch, endpoint_url: str | None, token: str | None, key: str,
    operation: str, method: str, params: dict[str, str | int], query: dict[str, str | int],
) -> None:  # fmt: skip
    client = make_client(
        endpoint_url, "eu-west-2", key_pair=KeyPair("AKIDEXAMPLE", "se/cr+et", token)
    )
    with closing(client):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
        want = client.generate_presigned_url(
            operation, Params={"Bucket": "bucket", "Key": key, **params}, ExpiresIn=900
        )
        got = Presigner(client).url("bucket", key, 900, method=method, query=query, now=NOW)
    assert got == want


@pytest.mark.s3
async def test_presigned_gets_and_puts_are_accepted_for_awkward_keys(
    s3_endpoint: S3Endpoint,
) -> None:
    bucket = s3_endpoint.new_bucket()
    client = make_client(
        s3_endpoint.endpoint_url, s3_endpoint.region,
        key_pair=KeyPair(s3_endpoint.access_key, s3_endpoint.secret_key, None),
    )  # fmt: skip
    presigner = Presigner(client)
    with closing(client), closing(s3_endpoint.client()) as direct:
        async with aiohttp.ClientSession() as session:
            for number, key in enumerate(AWKWARD_KEYS):
                body = f"object {number} at {key}".encode()
                put = URL(presigner.url(bucket, key, 600, method="PUT"), encoded=True)
                async with session.put(put, data=body) as response:
                    assert response.status == 200, await response.text()
                assert direct.get_object(Bucket=bucket, Key=key)["Body"].read() == body
                get = URL(presigner.url(bucket, key, 600), encoded=True)
                async with session.get(get) as response:
                    assert response.status == 200, await response.text()
                    assert await response.read() == body


@pytest.mark.s3
async def test_a_url_signed_with_the_wrong_secret_is_refused(rclone_endpoint: S3Endpoint) -> None:
    """rclone checks signatures (moto does not), so its acceptance above proves them."""
    s3_endpoint = rclone_endpoint
    bucket = s3_endpoint.new_bucket()
    with closing(s3_endpoint.client()) as direct:
        direct.put_object(Bucket=bucket, Key="a b+c", Body=b"x")
    client = make_client(
        s3_endpoint.endpoint_url, s3_endpoint.region,
        key_pair=KeyPair(s3_endpoint.access_key, "not-the-secret", None),
    )  # fmt: skip
    with closing(client):
        url = URL(Presigner(client).url(bucket, "a b+c", 600), encoded=True)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 403


def test_a_source_key_pair_signs_instead_of_the_environments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVIRONMENTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    client = make_client(
        "http://127.0.0.1:9000", "us-east-1", key_pair=KeyPair("SOURCEKEY", "s", None)
    )
    with closing(client):
        query = parse_qs(urlsplit(Presigner(client).url("bucket", "k", 60)).query)
    assert query["X-Amz-Credential"][0].startswith("SOURCEKEY/")


def test_an_unsigned_client_gives_plain_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVIRONMENTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    client = make_client("http://127.0.0.1:9000", "us-east-1", unsigned=True)
    with closing(client):
        url = Presigner(client).url("bucket", "a b/ü+.txt", 60)
    assert url == "http://127.0.0.1:9000/bucket/a%20b/%C3%BC%2B.txt"
