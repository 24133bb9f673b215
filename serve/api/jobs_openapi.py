"""The OpenAPI 3.1 description of the curator API's jobs (`serve.api.jobs`), merged into
the document of `serve.api.openapi`."""

from __future__ import annotations

from typing import Any

_TIME = {"type": ["string", "null"], "format": "date-time"}
_STATES = ["queued", "running", "stalled", "succeeded", "failed", "cancelled"]

JOB_SCHEMAS: dict[str, Any] = {
    "Job": {
        "type": "object",
        "required": ["id", "task", "state", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "task": {"type": "string", "enum": ["sync", "batch", "parts", "verify", "gc"]},
            "dataset": {"type": ["string", "null"]},
            "state": {
                "type": "string",
                "enum": _STATES,
                "description": "stalled: running on a worker whose heartbeat stopped; "
                "another worker takes it up",
            },
            "attempts": {"type": "integer", "minimum": 0},
            "queued_at": _TIME,
            "started_at": _TIME,
            "finished_at": _TIME,
            "progress": {
                "type": ["object", "null"],
                "description": "a running sync's progress",
                "properties": {
                    "files": {"type": "integer"},
                    "files_done": {"type": "integer"},
                    "bytes": {"type": "integer"},
                    "bytes_done": {"type": "integer"},
                    "jobs": {"type": "integer"},
                    "jobs_pending": {"type": "integer"},
                },
            },
            "report": {
                "type": ["object", "null"],
                "description": "a finished sync's report: counts, bytes, errors with their "
                "expected and actual digests",
            },
            "error": {"type": ["string", "null"]},
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
_NO_QUEUE = {"409": _problem("there is no job queue (the catalog is SQLite)")}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"}

JOB_PATHS: dict[str, Any] = {
    "/api/v1/sources/{name}/sync": {
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": _NAME}],
        "post": {
            "operationId": "syncSource",
            "summary": "Queue a sync of the source; the job answers, and Location names it",
            "responses": {
                "202": {
                    **_json(_ref("Job"), "queued"),
                    "headers": {
                        "Location": {
                            "description": "/api/v1/jobs/<id>",
                            "schema": {"type": "string"},
                        }
                    },
                },
                **_ERRORS,
                "404": _problem("no such source"),
                **_NO_QUEUE,
            },
        },
    },
    "/api/v1/jobs": {
        "get": {
            "operationId": "listJobs",
            "summary": "Jobs, newest first, with a sync's progress and report",
            "parameters": [
                {"name": "dataset", "in": "query", "required": False, "schema": _NAME},
                {
                    "name": "state",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": _STATES},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"jobs": {"type": "array", "items": _ref("Job")}},
                    },
                    "the jobs",
                ),
                "400": _problem("an unknown state"),
                **_ERRORS,
                "404": _problem("no such dataset"),
                **_NO_QUEUE,
            },
        },
    },
    "/api/v1/jobs/{id}": {
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            }
        ],
        "get": {
            "operationId": "getJob",
            "summary": "A job: state, attempts, times, a sync's progress and report",
            "responses": {
                "200": _json(_ref("Job"), "the job"),
                **_ERRORS,
                "404": _problem("no such job"),
                **_NO_QUEUE,
            },
        },
    },
}
