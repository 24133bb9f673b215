"""Curator tokens through the API (bearer token with scope `curator`), as `datamirror token`
makes them:

    GET    /api/v1/tokens        every token: id, scopes, label, created, revoked (no secrets)
    POST   /api/v1/tokens        {"scope", "label"} -> 201 with the secret, shown this once
    DELETE /api/v1/tokens/<id>   revoke it (204; 404 for an unknown id)

A revoked token stops working within the token cache's TTL (5 s) in every serve process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import hdrs, web

from catalog.errors import InvalidScopeError, UnknownDatasetError, UnknownTokenError
from catalog.releases import iso_utc
from catalog.tokens import TokenInfo
from serve.api.curator import JSON_HEADERS, PREFIX, curator_api, json_body
from serve.api.fields import field_error
from serve.http.cors import add_resource

TOKENS = f"{PREFIX}/tokens"
MAX_LABEL = 200
FIELDS = ("scope", "label")


def add_routes(router: web.UrlDispatcher) -> None:
    add_resource(router, TOKENS, "api.tokens", {"GET": list_tokens, "POST": create_token})
    add_resource(router, f"{TOKENS}/{{id}}", "api.token", {"DELETE": revoke_token})


async def list_tokens(request: web.Request) -> web.Response:
    rows = await curator_api(request).catalog.tokens.list()
    return web.json_response({"tokens": [token_json(r) for r in rows]}, headers=JSON_HEADERS)


async def create_token(request: web.Request) -> web.Response:
    api = curator_api(request)
    scope, label = _new_token(await json_body(request))
    try:
        issued = await api.catalog.tokens.issue(scope, label)
    except (InvalidScopeError, UnknownDatasetError) as exc:
        raise field_error("scope", exc.message, exc.hint) from None
    body = {**token_json(issued.info), "token": issued.secret}
    headers = {**JSON_HEADERS, hdrs.LOCATION: f"{TOKENS}/{issued.info.id}"}
    return web.json_response(body, status=201, headers=headers)


async def revoke_token(request: web.Request) -> web.Response:
    api = curator_api(request)
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit()):
        raise UnknownTokenError(0)
    await api.catalog.tokens.revoke(int(text))  # an id out of the column's range is unknown
    return web.Response(status=204, headers=JSON_HEADERS)


def token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "scopes": list(info.scopes),
        "label": info.label,
        "created_at": iso_utc(info.created_at),
        "revoked_at": iso_utc(info.revoked_at) if info.revoked_at else None,
    }


def _new_token(body: Any) -> tuple[str, str | None]:
    """The scope and label of a POST body, checked (the scope's form by `catalog.tokens`)."""
    if not isinstance(body, Mapping):
        raise field_error("scope", "the body must be a JSON object with a scope")
    for name in body:
        if name not in FIELDS:
            raise field_error(str(name), "is not a field of a token", "fields: scope, label")
    scope, label = body.get("scope"), body.get("label")
    if not isinstance(scope, str) or not scope.strip():
        raise field_error("scope", "must be `curator` or `read:<dataset>`, several with spaces")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
        raise field_error("label", f"must be a string of at most {MAX_LABEL} characters, or null")
    for name, value in (("scope", scope), ("label", label)):
        if value is not None and "\x00" in value:
            raise field_error(name, "must not contain NUL characters")
    return scope, label
