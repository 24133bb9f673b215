"""What the curator API marks and demands of the sources it registers: they are public-only
(checked again at every connection), an S3 one reads unsigned or with a key pair named for
it, and the operator's sources stay as the operator registered them until the API points
them elsewhere."""

from __future__ import annotations

from collections.abc import Callable

from catalog.public_address import PUBLIC_ONLY
from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from tests.test_api import PUBLIC_URL, call


async def test_an_s3_source_registered_through_the_api_reads_unsigned_or_with_its_own_keys(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    signed = {"name": "embassy", "url": "s3://idr-public/zarr/"}
    status, _, problem = call(base, "POST", "/api/v1/sources", token, signed)
    assert (status, problem["field"]) == (400, "no_sign_request")
    assert "never with the store's" in problem["detail"]
    assert "DATAMIRROR_CREDENTIALS_<NAME>_ACCESS_KEY_ID" in problem["hint"]
    status, _, made = call(
        base, "POST", "/api/v1/sources", token, {**signed, "no_sign_request": True}
    )
    assert (status, made["public_only"], made["credentials"]) == (201, True, None)
    keyed = {"name": "embassy-keyed", "url": signed["url"], "credentials": "embassy-reader"}
    status, _, made = call(base, "POST", "/api/v1/sources", token, keyed)
    assert (status, made["credentials"], made["no_sign_request"]) == (201, "embassy-reader", False)
    assert (await catalog.datasets.get("embassy-keyed")).options == {
        "credentials": "embassy-reader",
        PUBLIC_ONLY: True,
    }
    bad = {"name": "x", "url": signed["url"], "credentials": "../etc"}
    assert call(base, "POST", "/api/v1/sources", token, bad)[2]["field"] == "credentials"
    unsigned_no_more = {"no_sign_request": False}
    status, _, problem = call(base, "PATCH", "/api/v1/sources/embassy", token, unsigned_no_more)
    assert (status, problem["field"]) == (400, "no_sign_request")


async def test_an_operators_source_becomes_public_only_when_the_api_points_it_elsewhere(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    await catalog.datasets.add(DatasetSpec("local", "http://127.0.0.1:8080/data/"))
    status, _, patched = call(base, "PATCH", "/api/v1/sources/local", token, {"title": "Local"})
    assert (status, patched["public_only"]) == (200, False)
    status, _, patched = call(base, "PATCH", "/api/v1/sources/local", token, {"url": PUBLIC_URL})
    assert (status, patched["public_only"]) == (200, True)
    assert (await catalog.datasets.get("local")).options[PUBLIC_ONLY] is True


async def test_a_nul_character_in_a_source_field_is_a_400_naming_the_field(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    for body, field in [
        ({"name": "x", "url": PUBLIC_URL, "title": "a\x00b"}, "title"),
        ({"name": "x", "url": PUBLIC_URL, "keywords": ["ok", "\x00"]}, "keywords"),
    ]:
        status, _, problem = call(base, "POST", "/api/v1/sources", token, body)
        assert (status, problem["field"]) == (400, field)
        assert "NUL" in problem["detail"]
