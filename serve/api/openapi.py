"""The curator API's OpenAPI 3.1 description, written by hand (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from catalog.tokens import MAX_ID
from serve.api.jobs_openapi import JOB_PATHS, JOB_SCHEMAS

_NULLABLE_TEXT = {"type": ["string", "null"]}
_GLOBS = {"type": "array", "items": {"type": "string", "minLength": 1}}

_FIELDS: dict[str, Any] = {
    "url": {
        "type": "string",
        "pattern": "^(https?|ftp|s3)://[^\\s/?#]+",
        "description": "http(s)://, ftp:// or s3:// URL of a directory or prefix; its host "
        "must resolve to public addresses unless DATAMIRROR_SOURCE_ALLOWLIST names it",
    },
    "include": {**_GLOBS, "description": "globs of paths to mirror"},
    "exclude": {**_GLOBS, "description": "globs of paths to skip"},
    "checksums": {
        "type": "string",
        "minLength": 1,
        "description": "auto, none, or a checksum file's path",
    },
    "schedule": {**_NULLABLE_TEXT, "description": "cron expression for scheduled syncs"},
    "keep": {"type": ["integer", "null"], "minimum": 1, "description": "releases to retain"},
    "max_delete": {"type": "number", "minimum": 0, "maximum": 100},
    "restricted": {"type": "boolean", "description": "serve only with a token or signed URL"},
    "title": _NULLABLE_TEXT,
    "description": _NULLABLE_TEXT,
    "license": {**_NULLABLE_TEXT, "description": "SPDX id or URL"},
    "homepage": {
        "type": ["string", "null"],
        "format": "uri",
        "description": "http(s) URL of the dataset's page upstream",
    },
    "citation": {
        **_NULLABLE_TEXT,
        "maxLength": 4000,
        "description": "how the data's authors ask to be cited (text, with its DOI)",
    },
    "keywords": {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": "keywords; repeated ones (ignoring case) are kept once",
    },
    "creators": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "description": "'Family, Given' for a person, an organization without a comma; "
        "a URL (an ORCID for a person) may follow in angle brackets",
    },
    "publisher": {
        **_NULLABLE_TEXT,
        "description": "who publishes the data upstream; a URL may follow in angle brackets",
    },
    "endpoint_url": {"type": "string", "description": "S3 endpoint of an s3:// source"},
    "no_sign_request": {"type": "boolean", "description": "read a public S3 bucket unsigned"},
    "credentials": {
        "type": ["string", "null"],
        "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        "description": "an S3 source's key pair, by name: the operator provides it as "
        "DATAMIRROR_CREDENTIALS_<NAME>_ACCESS_KEY_ID and _SECRET_ACCESS_KEY. An S3 source "
        "registered here reads unsigned (no_sign_request) or with these, never with the "
        "store's credentials",
    },
}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"}

_SCHEMAS: dict[str, Any] = {
    "NewSource": {
        "type": "object",
        "required": ["name", "url"],
        "additionalProperties": False,
        "properties": {"name": _NAME, **_FIELDS},
    },
    "SourceChanges": {"type": "object", "additionalProperties": False, "properties": _FIELDS},
    "Source": {
        "type": "object",
        "properties": {
            "name": _NAME,
            **_FIELDS,
            "endpoint_url": _NULLABLE_TEXT,
            "created_at": {"type": "string", "format": "date-time"},
            "current_release": _NULLABLE_TEXT,
            "public_only": {
                "type": "boolean",
                "description": "fetched from public addresses only (sources registered or "
                "pointed elsewhere through this API), checked at every connection",
            },
        },
    },
    "Release": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "state": {"type": "string", "enum": ["building", "published", "failed", "expired"]},
            "current": {"type": "boolean"},
            "files": {"type": "integer"},
            "bytes": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "published_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "NewToken": {
        "type": "object",
        "required": ["scope"],
        "additionalProperties": False,
        "properties": {
            "scope": {
                "type": "string",
                "pattern": "^ *(curator|read:[A-Za-z0-9][A-Za-z0-9._-]{0,99})"
                "( +(curator|read:[A-Za-z0-9][A-Za-z0-9._-]{0,99}))* *$",
                "maxLength": 200,
                "description": "curator, or read:<dataset>; several separated by spaces",
            },
            "label": {"type": ["string", "null"], "maxLength": 200},
        },
    },
    "Token": {
        "type": "object",
        "required": ["id", "scopes", "label", "created_at", "revoked_at"],
        "properties": {
            "id": {"type": "integer"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "label": _NULLABLE_TEXT,
            "created_at": {"type": "string", "format": "date-time"},
            "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "IssuedToken": {
        "allOf": [
            {"$ref": "#/components/schemas/Token"},
            {
                "type": "object",
                "required": ["token"],
                "properties": {
                    "token": {
                        "type": "string",
                        "description": "the bearer secret, shown this once (only its hash is kept)",
                    }
                },
            },
        ]
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; validation errors name the `field`",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "hint": {"type": "string"},
            "field": {"type": "string"},
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


_ERRORS = {
    "401": _problem("no bearer token, or an unknown or revoked one"),
    "403": _problem("the token lacks the curator scope"),
}
_NOT_FOUND = {"404": _problem("no such source")}
_BAD = {"400": _problem("a field is invalid (the problem names it)")}
_NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": _NAME}

_PATHS: dict[str, Any] = {
    "/api/v1/sources": {
        "get": {
            "operationId": "listSources",
            "summary": "Every registered source, restricted ones included",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"sources": {"type": "array", "items": _ref("Source")}},
                    },
                    "the sources",
                ),
                **_ERRORS,
            },
        },
        "post": {
            "operationId": "createSource",
            "summary": "Register a source",
            "requestBody": {"required": True, **_json(_ref("NewSource"), "the source")},
            "responses": {
                "201": _json(_ref("Source"), "registered"),
                **_BAD,
                **_ERRORS,
                "409": _problem("a source of that name exists"),
            },
        },
    },
    "/api/v1/sources/{name}": {
        "parameters": [_NAME_PARAM],
        "get": {
            "operationId": "getSource",
            "summary": "One source",
            "responses": {"200": _json(_ref("Source"), "the source"), **_ERRORS, **_NOT_FOUND},
        },
        "patch": {
            "operationId": "updateSource",
            "summary": "Change some of a source's fields",
            "requestBody": {"required": True, **_json(_ref("SourceChanges"), "the changes")},
            "responses": {
                "200": _json(_ref("Source"), "the changed source"),
                **_BAD,
                **_ERRORS,
                **_NOT_FOUND,
            },
        },
        "delete": {
            "operationId": "deleteSource",
            "summary": "Forget a source and its releases (objects go at the next gc)",
            "responses": {"204": {"description": "removed"}, **_ERRORS, **_NOT_FOUND},
        },
    },
    "/api/v1/sources/{name}/releases": {
        "parameters": [_NAME_PARAM],
        "get": {
            "operationId": "listReleases",
            "summary": "A source's releases, oldest first",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "source": {"type": "string"},
                            "releases": {"type": "array", "items": _ref("Release")},
                        },
                    },
                    "the releases",
                ),
                **_ERRORS,
                **_NOT_FOUND,
            },
        },
    },
}

_TOKEN_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_TOKEN_PATHS: dict[str, Any] = {
    "/api/v1/tokens": {
        "get": {
            "operationId": "listTokens",
            "summary": "Every token, revoked ones included (never their secrets)",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"tokens": {"type": "array", "items": _ref("Token")}},
                    },
                    "the tokens",
                ),
                **_ERRORS,
            },
        },
        "post": {
            "operationId": "createToken",
            "summary": "Make a bearer token; its secret is in this answer only",
            "requestBody": {"required": True, **_json(_ref("NewToken"), "the token")},
            "responses": {
                "201": _json(_ref("IssuedToken"), "made"),
                "400": _problem("the scope or label is invalid, or names no dataset"),
                **_ERRORS,
            },
        },
    },
    "/api/v1/tokens/{id}": {
        "parameters": [_TOKEN_ID],
        "delete": {
            "operationId": "revokeToken",
            "summary": "Revoke a token (it stops working within 5 seconds)",
            "responses": {
                "204": {"description": "revoked"},
                **_ERRORS,
                "404": _problem("no such token"),
            },
        },
    },
}

_PATHS.update(JOB_PATHS)
_SCHEMAS.update(JOB_SCHEMAS)

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "datamirror curator API",
        "version": "1",
        "description": "Register and manage mirror sources, queue their syncs and follow "
        "the jobs. Bearer token with scope curator.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": {**_PATHS, **_TOKEN_PATHS},
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}
