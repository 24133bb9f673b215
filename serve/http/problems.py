"""Error answers: a short problem body (RFC 9457), JSON or text by `Accept`; no tracebacks.

`problem_middleware` turns every `DatamirrorError` and aiohttp HTTP error into one, and any
unexpected exception into a plain 500 (logged server-side, never shown). Errors carry a
`hint` for visitors and a `cli_hint` for the terminal: only `hint` is ever answered.

An API whose standard fixes its own error body (GA4GH DRS: `{"msg", "status_code"}`)
registers it for its path prefix under `ERROR_BODIES`; errors under that prefix, a path no
route matches included, are then that JSON body whatever the request accepts. An API
whose errors are RFC 9457 problems whatever the request accepts (the curator API, as its
OpenAPI document says) registers its prefix under `PROBLEM_PREFIXES`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

from aiohttp import web

from catalog.errors import DatamirrorError
from serve.http.negotiation import prefers_json

log = logging.getLogger(__name__)
NO_ROUTE_HINT = "the index at / lists the datasets this server offers"
NESTED_TOO_DEEP = "the body is not JSON datamirror reads: it nests too deeply"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorBody = Callable[[int, str, str | None], dict[str, object]]
"""(status, detail, hint) -> the JSON error body of an API"""
ERROR_BODIES = web.AppKey("error_bodies", dict[str, ErrorBody])
"""path prefix -> the error body of the API there"""
PROBLEM_PREFIXES = web.AppKey("problem_prefixes", tuple[str, ...])
"""path prefixes whose errors are application/problem+json whatever the request accepts"""


class ProblemError(Exception):
    """An HTTP error answered with a problem body; raise it from a handler."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})
        self.detail = detail
        self.hint = hint
        self.extensions = dict(extensions or {})


def problem_response(
    request: web.Request,
    status: int,
    detail: str,
    *,
    hint: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, object] | None = None,
) -> web.Response:
    """`extensions`: RFC 9457 §3.2 members (such as the `field` a validation error names)."""
    title = HTTPStatus(status).phrase
    own_body = _own_error_body(request)
    if own_body is not None:
        text = json.dumps({**own_body(status, detail, hint), **(extensions or {})})
        content_type = "application/json"
    elif _always_problem_json(request) or prefers_json(request.headers.get("Accept")):
        body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
        body["detail"] = detail
        if hint:
            body["hint"] = hint
        body.update(extensions or {})
        text = json.dumps(body)
        content_type = "application/problem+json"
    else:
        text = f"{status} {title}: {detail}\n" + (f"hint: {hint}\n" if hint else "")
        content_type = "text/plain"
    response = web.Response(
        status=status, text=text, content_type=content_type, headers=dict(headers or {})
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _always_problem_json(request: web.Request) -> bool:
    return any(request.path.startswith(p) for p in request.app.get(PROBLEM_PREFIXES, ()))


def _own_error_body(request: web.Request) -> ErrorBody | None:
    for prefix, body in request.app.get(ERROR_BODIES, {}).items():
        if request.path.startswith(prefix):
            return body
    return None


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProblemError as exc:
        return problem_response(
            request,
            exc.status,
            exc.detail,
            hint=exc.hint,
            headers=exc.headers,
            extensions=exc.extensions,
        )
    except DatamirrorError as exc:
        return problem_response(request, exc.status, exc.public_message, hint=exc.hint or None)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-type"}
        if exc is request.match_info.http_exception and exc.status == 404:
            detail = f"nothing is served at {request.path}"
            return problem_response(request, 404, detail, hint=NO_ROUTE_HINT, headers=headers)
        return problem_response(request, exc.status, exc.reason, headers=headers)
    except (ConnectionResetError, OSError) as exc:
        log.info("client went away: %s %s: %s", request.method, request.path, exc)
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(request, 500, "internal error; see the server log")
