"""Curator tokens through the API: made with the secret shown once, listed without secrets,
revoked (and then refused), and only for a curator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from tests.test_api import PUBLIC_URL, call


async def test_a_curator_makes_a_token_whose_secret_is_shown_once_and_works(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    curator = await catalog.tokens.create("curator", "admin")
    status, headers, made = call(
        base, "POST", "/api/v1/tokens", curator, {"scope": "curator", "label": "ci robot"}
    )
    assert status == 201
    assert headers["Location"] == f"/api/v1/tokens/{made['id']}"
    assert headers["Cache-Control"] == "no-store"
    assert made["scopes"] == ["curator"]
    assert made["label"] == "ci robot"
    assert made["revoked_at"] is None
    assert made["created_at"].endswith("+00:00")
    assert len(made["token"]) >= 40
    assert call(base, "GET", "/api/v1/sources", made["token"])[0] == 200
    status, _, listed = call(base, "GET", "/api/v1/tokens", curator)
    assert status == 200
    assert [t["label"] for t in listed["tokens"]] == ["admin", "ci robot"]
    assert all("token" not in t for t in listed["tokens"])
    assert made["token"] not in str(listed)


async def test_a_read_token_is_made_for_a_registered_dataset_only(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    curator = await catalog.tokens.create("curator")
    await catalog.datasets.add(DatasetSpec("genomes", PUBLIC_URL, restricted=True))
    status, _, made = call(base, "POST", "/api/v1/tokens", curator, {"scope": "read:genomes"})
    assert (status, made["scopes"], made["label"]) == (201, ["read:genomes"], None)
    assert await catalog.tokens.check(made["token"]) == frozenset({"read:genomes"})
    status, _, problem = call(base, "POST", "/api/v1/tokens", curator, {"scope": "read:nope"})
    assert (status, problem["field"]) == (400, "scope")
    assert "unknown dataset 'nope'" in problem["detail"]


async def test_malformed_token_requests_are_400_problems_naming_the_field(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    curator = await catalog.tokens.create("curator")
    cases = [
        ({}, "scope"),
        ({"scope": "admin"}, "scope"),
        ({"scope": ""}, "scope"),
        ({"scope": 7}, "scope"),
        ({"scope": "curator", "label": 3}, "label"),
        ({"scope": "curator", "label": "x" * 201}, "label"),
        ({"scope": "curator", "label": "a\x00b"}, "label"),
        ({"scope": "curator", "colour": "red"}, "colour"),
        ({"scope": " ".join(f"read:d{i:03}" for i in range(30))}, "scope"),
        (["curator"], "scope"),
    ]
    for body, field in cases:
        status, _, problem = call(base, "POST", "/api/v1/tokens", curator, body)
        assert (status, problem.get("field")) == (400, field), body
    assert len(await catalog.tokens.list()) == 1


async def test_a_revoked_token_is_refused_and_unknown_ids_are_404(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    curator = await catalog.tokens.create("curator")
    _, _, made = call(base, "POST", "/api/v1/tokens", curator, {"scope": "curator"})
    assert call(base, "GET", "/api/v1/tokens", made["token"])[0] == 200
    status, headers, _ = call(base, "DELETE", f"/api/v1/tokens/{made['id']}", curator)
    assert status == 204
    assert headers["Cache-Control"] == "no-store"
    [row] = [t for t in await catalog.tokens.list() if t.id == made["id"]]
    assert row.revoked_at is not None
    for _ in range(80):  # the server's token cache lets it live at most 5 s more
        if call(base, "GET", "/api/v1/tokens", made["token"])[0] == 401:
            break
        await asyncio.sleep(0.1)
    assert call(base, "GET", "/api/v1/tokens", made["token"])[0] == 401
    for unknown in ("999", "0", str(2**31), str(2**63), "x1"):
        status, _, problem = call(base, "DELETE", f"/api/v1/tokens/{unknown}", curator)
        assert status == 404, unknown
        assert problem["status"] == 404


async def test_tokens_are_for_curators_only(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    base = datamirror_server(dm_env)
    await catalog.datasets.add(DatasetSpec("genomes", PUBLIC_URL))
    reader = await catalog.tokens.create("read:genomes")
    for method, path, body in [
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", {"scope": "curator"}),
        ("DELETE", "/api/v1/tokens/1", None),
    ]:
        assert call(base, method, path, None, body)[0] == 401
        assert call(base, method, path, reader, body)[0] == 403
    assert len(await catalog.tokens.list()) == 1
