"""Schemathesis against the curator API of a real `datamirror serve`, from the OpenAPI
document the server publishes: every operation, with a curator token, a fixed number of
generated examples each (valid and invalid bodies, paths and parameters), and a time
limit. No answer may be a 5xx, undocumented, or outside its schema, and data the schema
refuses must be refused. (Data the schema allows may still be refused, with a documented
400: whether a URL's host is public, a cron expression parses or a scope's dataset exists
is for the server to say, not for JSON Schema; so schemathesis's check that schema-valid
data is accepted is left out.)

Generated source URLs never make the server resolve a name: a host name in a generated
`url` or `endpoint_url` becomes a literal public address (the tests of the public-address
rule use names on purpose; here no DNS traffic leaves the machine). The curator token the
test runs with is never revoked by a generated DELETE.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.fixtures.datamirror_server import _site_db, start_server

EXAMPLES = 50
PUBLIC = "93.184.215.14"


@pytest.fixture(scope="module")
def curator_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(base URL, curator token) of a server on a fresh catalog."""
    home = tmp_path_factory.mktemp("schemathesis")
    with ExitStack() as stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMIRROR_")}
        env.update(DATAMIRROR_HOME=str(home), PYTHONUNBUFFERED="1")
        env.update(DATAMIRROR_DB=_site_db(request, stack, home))
        made = subprocess.run(
            [sys.executable, "-m", "datamirror", "token", "create", "--scope", "curator"],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        token = made.stdout.strip().rsplit(" ", 1)[1]
        yield start_server(env, home / "serve.log", stack), token


@pytest.fixture(scope="module")
def api_schema(curator_api: tuple[str, str]) -> Any:
    base, _ = curator_api
    return schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")


OPERATIONS = [
    ("GET", "/api/v1/sources"),
    ("POST", "/api/v1/sources"),
    ("GET", "/api/v1/sources/{name}"),
    ("PATCH", "/api/v1/sources/{name}"),
    ("DELETE", "/api/v1/sources/{name}"),
    ("GET", "/api/v1/sources/{name}/releases"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{id}"),
]


def _literal_host(value: Any) -> Any:
    """A URL whose host is a name gets a literal public address instead."""
    if not isinstance(value, str):
        return value
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return value
    if not host:
        return value
    try:
        ipaddress.ip_address(host)
    except ValueError:
        netloc = PUBLIC if port is None else f"{PUBLIC}:{port}"
        return urlunsplit(parts._replace(netloc=netloc))
    return value


def without_name_lookups(case: Any, own_token_id: int) -> None:
    if isinstance(case.body, dict):
        for field in ("url", "endpoint_url"):
            if field in case.body:
                case.body[field] = _literal_host(case.body[field])
    parameters = case.path_parameters or {}
    if case.method == "DELETE" and parameters.get("id") == own_token_id:
        parameters["id"] = own_token_id + 1_000_000


def test_the_document_names_the_operations_tested_here(api_schema: Any) -> None:
    found = {(o.ok().method.upper(), o.ok().path) for o in api_schema.get_all_operations()}
    assert found >= set(OPERATIONS)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_curator_api_answers_as_its_openapi_document_says(
    api_schema: Any, curator_api: tuple[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    base, token = curator_api
    operation = api_schema[path][method]

    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_documented(case: Any) -> None:
        without_name_lookups(case, own_token_id=1)
        case.call_and_validate(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            excluded_checks=[positive_data_acceptance],
        )

    answers_as_documented()
