"""The curator API against a running server: bearer auth, a source's round trip, field
validation, the public-address rule and its allowlist, the OpenAPI document.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any

from openapi_spec_validator import validate

from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec

REFUSED = [
    "http://127.0.0.1:8080/data/",
    "http://localhost/data/",
    "ftp://10.1.2.3/pub/",
    "http://169.254.169.254/latest/",  # cloud metadata
    "http://[::1]/x/",
    "https://192.168.0.7/d/",
]
PUBLIC_URL = "https://93.184.215.14/pub/genomes/"  # a literal public address: no DNS needed


def call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Message, Any]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, json.loads(exc.read())


async def test_the_api_refuses_requests_without_a_curator_token(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    status, headers, body = call(base, "GET", "/api/v1/sources")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert body["status"] == 401
    status, headers, _ = call(base, "POST", "/api/v1/sources", "forged", {"name": "x"})
    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    await catalog.datasets.add(DatasetSpec("open", PUBLIC_URL))
    reader = await catalog.tokens.create("read:open")
    status, headers, _ = call(base, "GET", "/api/v1/sources", reader)
    assert status == 403
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]


async def test_the_api_round_trips_a_source(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    new = {"name": "genomes", "url": PUBLIC_URL, "include": ["*.fa.gz"], "keep": 3,
           "restricted": True, "title": "Genomes", "license": "CC0-1.0"}  # fmt: skip
    status, headers, created = call(base, "POST", "/api/v1/sources", token, new)
    assert status == 201
    assert headers["Location"] == "/api/v1/sources/genomes"
    assert {k: created[k] for k in new} == new
    assert call(base, "GET", "/api/v1/sources/genomes", token)[2] == created
    listed = call(base, "GET", "/api/v1/sources", token)[2]
    assert [s["name"] for s in listed["sources"]] == ["genomes"]
    assert (await catalog.datasets.get("genomes")).restricted
    change = {"title": "Reference genomes", "keep": None, "exclude": ["tmp/*"]}
    status, _, patched = call(base, "PATCH", "/api/v1/sources/genomes", token, change)
    assert status == 200
    assert {k: patched[k] for k in change} == change
    assert patched["url"] == PUBLIC_URL
    assert call(base, "GET", "/api/v1/sources/genomes/releases", token)[2] == {
        "source": "genomes",
        "releases": [],
    }
    assert call(base, "POST", "/api/v1/sources", token, new)[0] == 409
    assert call(base, "DELETE", "/api/v1/sources/genomes", token)[0] == 204
    status, _, body = call(base, "GET", "/api/v1/sources/genomes", token)
    assert status == 404
    assert "unknown dataset 'genomes'" in body["detail"]


async def test_validation_errors_are_400_problems_naming_the_field(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    cases = [
        ({"name": "x", "url": PUBLIC_URL, "keep": 0}, "keep"),
        ({"name": "x", "url": PUBLIC_URL, "colour": "red"}, "colour"),
        ({"name": "x"}, "url"),
        ({"name": "../x", "url": PUBLIC_URL}, "name"),
        ({"name": "x", "url": "file:///etc/"}, "url"),
        ({"name": "x", "url": PUBLIC_URL, "include": "*.fa"}, "include"),
        ({"name": "x", "url": PUBLIC_URL, "max_delete": 101}, "max_delete"),
    ]
    for body, field in cases:
        status, headers, problem = call(base, "POST", "/api/v1/sources", token, body)
        assert (status, problem["field"]) == (400, field), body
        assert headers["Content-Type"].startswith("application/problem+json")
        assert f"field {field!r}" in problem["detail"]
    status, _, problem = call(base, "POST", "/api/v1/sources", token, b"{not json")
    assert status == 400
    assert "not JSON" in problem["detail"]
    assert (await catalog.datasets.list()) == []


async def test_sources_on_loopback_private_or_metadata_addresses_are_refused(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    for url in REFUSED:
        status, _, problem = call(base, "POST", "/api/v1/sources", token, {"name": "x", "url": url})
        assert (status, problem["field"]) == (400, "url"), url
        assert "not a public address" in problem["detail"]
        assert "DATAMIRROR_SOURCE_ALLOWLIST" in problem["hint"]
    s3 = {"name": "x", "url": "s3://bucket/p/", "endpoint_url": "http://127.0.0.1:9000"}
    status, _, problem = call(base, "POST", "/api/v1/sources", token, s3)
    assert (status, problem["field"]) == (400, "endpoint_url")
    call(base, "POST", "/api/v1/sources", token, {"name": "ok", "url": PUBLIC_URL})
    moved = {"url": "http://127.0.0.1/data/"}
    assert call(base, "PATCH", "/api/v1/sources/ok", token, moved)[0] == 400
    assert (await catalog.datasets.get("ok")).url == PUBLIC_URL


async def test_an_allowlisted_loopback_host_may_be_registered(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server({**dm_env, "DATAMIRROR_SOURCE_ALLOWLIST": "localhost, 127.0.0.1"})
    token = await catalog.tokens.create("curator")
    body = {"name": "local", "url": "http://127.0.0.1:8080/data/"}
    assert call(base, "POST", "/api/v1/sources", token, body)[0] == 201
    other = {"name": "other", "url": "http://10.0.0.1/data/"}
    assert call(base, "POST", "/api/v1/sources", token, other)[0] == 400


def test_the_openapi_document_is_valid_openapi_3_1_and_names_every_route(
    datamirror_server: Callable[..., str], dm_env: dict[str, str]
) -> None:
    base = datamirror_server(dm_env)
    status, _, document = call(base, "GET", "/api/v1/openapi.json")
    assert status == 200
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/v1/sources",
        "/api/v1/sources/{name}",
        "/api/v1/sources/{name}/releases",
        "/api/v1/sources/{name}/sync",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
    }
