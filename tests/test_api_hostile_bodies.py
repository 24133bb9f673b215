"""Hostile JSON bodies sent to the curator API and to DRS's POST of a running server: each
is a 400 problem that says what was wrong, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from catalog.repository import Catalog
from tests.test_api import call

BODIES = [
    ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ("an integer of 5,000 digits", b'{"keep": ' + b"9" * 5000 + b"}", "not JSON"),
    ("not UTF-8", b'{"name": "\xff\xfe"}', "not JSON"),
    ("a lone surrogate", b'{"name": "\\ud800", "url": "https://93.184.215.14/"}', "field"),
    ("NUL in a field", b'{"name": "a\\u0000b", "url": "https://93.184.215.14/"}', "NUL"),
    ("a JSON string, not an object", b'"sources"', "object"),
    ("an empty body", b"", "not JSON"),
]


async def test_a_hostile_body_is_a_400_problem_naming_what_is_wrong(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog
) -> None:
    """Regression: the first two were 500s (RecursionError, and ValueError for ints over
    Python's 4300-digit limit, neither a JSONDecodeError)."""
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    for what, body, detail in BODIES:
        for path in ("/api/v1/sources", "/ga4gh/drs/v1/objects"):
            if path.startswith("/ga4gh") and (detail in {"field", "NUL", "object"} or not body):
                continue  # DRS reads no such fields, and an empty body as {}
            status, _, problem = call(base, "POST", path, token, body)
            assert status == 400, (what, path, problem)
            assert detail in problem.get("detail", problem.get("msg", "")), (what, path, problem)
