"""The FAIR metadata a curator gives: `datamirror source add --homepage --citation
--keyword --creator --publisher` and the curator API's fields (POST and PATCH), each checked
when given, with one error naming the field."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.conftest import CLI
from tests.test_cli_sources import assert_clean_error

PUBLIC_URL = "https://93.184.215.14/pub/genomes/"  # a literal public address: no DNS needed
METADATA = {
    "homepage": "https://www.uniprot.org/",
    "citation": "The UniProt Consortium (2023) NAR 51:D523. doi:10.1093/nar/gkac1052",
    "keywords": ["proteins", "sequences"],
    "creators": ["The UniProt Consortium", "Bateman, Alex <https://orcid.org/0000-0002-6982-4660>"],
    "publisher": "EMBL-EBI <https://www.ebi.ac.uk>",
}


def test_source_add_keeps_the_fair_metadata_it_is_given(cli: CLI) -> None:
    cli("source", "add", "uniprot", PUBLIC_URL, "--homepage", METADATA["homepage"],
        "--citation", METADATA["citation"], "--keyword", "proteins", "--keyword", " sequences ",
        "--keyword", "Proteins", "--creator", METADATA["creators"][0],
        "--creator", METADATA["creators"][1], "--publisher", METADATA["publisher"])  # fmt: skip
    shown = json.loads(cli("source", "show", "uniprot").stdout)
    assert {k: shown[k] for k in METADATA} == METADATA


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (("--homepage", "ftp://example.org/"), "the homepage is not an http:// or https:// URL"),
        (("--homepage", "uniprot.org"), "the homepage is not an http:// or https:// URL"),
        (("--keyword", "  "), "invalid keyword"),
        (("--creator", "Doe, Jane, Jr"), "invalid creator"),
        (("--creator", "Doe, Jane <orcid>"), "the URL of creator"),
        (("--publisher", "<https://www.ebi.ac.uk>"), "invalid publisher"),
        (("--citation", " "), "the citation must be"),
    ],
)
def test_source_add_refuses_malformed_metadata_with_one_error(
    cli: CLI, flags: tuple[str, ...], fragment: str
) -> None:
    proc = cli("source", "add", "x", PUBLIC_URL, *flags, check=False)
    assert proc.returncode != 0
    assert_clean_error(proc.stderr, fragment)
    assert "hint: " in proc.stderr


def call(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json"}  # fmt: skip
    request = urllib.request.Request(base + path, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_curator_api_takes_edits_and_checks_the_metadata(
    cli: CLI, dm_env: dict[str, str], datamirror_server: Callable[..., str]
) -> None:
    token = cli("token", "create", "--scope", "curator").stdout.strip().rsplit(" ", 1)[-1]
    base = datamirror_server(dm_env)
    status, created = call(base, "POST", "/api/v1/sources", token,
                           {"name": "uniprot", "url": PUBLIC_URL, **METADATA})  # fmt: skip
    assert status == 201
    assert {k: created[k] for k in METADATA} == METADATA
    change = {"keywords": ["proteomics"], "homepage": None,
              "creators": ["Doe, Jane"], "publisher": "SIB"}  # fmt: skip
    status, patched = call(base, "PATCH", "/api/v1/sources/uniprot", token, change)
    assert status == 200
    assert {k: patched[k] for k in change} == change
    assert patched["citation"] == METADATA["citation"]
    assert json.loads(cli("source", "show", "uniprot").stdout)["keywords"] == ["proteomics"]
    for body, field in [
        ({"homepage": "javascript:alert(1)"}, "homepage"),
        ({"keywords": "proteins"}, "keywords"),
        ({"keywords": [""]}, "keywords"),
        ({"creators": ["<https://x.org>"]}, "creators"),
        ({"citation": ""}, "citation"),
    ]:
        status, problem = call(base, "PATCH", "/api/v1/sources/uniprot", token, body)
        assert (status, problem["field"]) == (400, field), body
    status, openapi = call(base, "GET", "/api/v1/openapi.json", token)
    validate(openapi)
    fields = openapi["components"]["schemas"]["SourceChanges"]["properties"]
    assert set(METADATA) <= set(fields)
