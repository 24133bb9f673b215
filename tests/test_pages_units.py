"""The pure parts of the pages: negotiation among HTML, JSON and JSON-LD, creators as
curators write them, licenses, the JSON-LD description's bounds, a release's outline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.agents import Agent, parse_agent
from catalog.errors import InvalidSettingError
from catalog.manifest import ManifestEntry
from serve.catalog_view import DatasetInfo
from serve.http.negotiation import choose
from serve.licenses import license_url, spdx_id
from serve.pages import PAGE_TYPES
from serve.release_index import ReleaseIndex
from serve.release_outline import MAX_NODES, ReleaseOutline
from serve.schema_org import description


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        ("application/json", "application/json"),
        ("application/ld+json", "application/ld+json"),
        ("application/ld+json, application/json;q=0.9", "application/ld+json"),
        ("application/*", "application/json"),
        ("application/json;q=0.5, text/html;q=0.4", "application/json"),
        ("image/png", "text/html"),
        ("application/ld+json;q=0, */*", "text/html"),
    ],
)
def test_a_page_answers_the_type_the_client_ranks_highest(accept: str | None, chosen: str) -> None:
    assert choose(accept, PAGE_TYPES) == chosen


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("The UniProt Consortium", Agent("The UniProt Consortium")),
        ("Doe, Jane", Agent("Doe, Jane", "Doe", "Jane")),
        ("Doe,", Agent("Doe,", "Doe", None)),
        (
            "Doe, Jane <https://orcid.org/0000-0002-1825-0097>",
            Agent("Doe, Jane", "Doe", "Jane", "https://orcid.org/0000-0002-1825-0097"),
        ),
        ("EMBL-EBI <https://www.ebi.ac.uk>", Agent("EMBL-EBI", url="https://www.ebi.ac.uk")),
    ],
)
def test_creators_read_as_people_with_a_comma_and_organizations_without(
    text: str, agent: Agent
) -> None:
    assert parse_agent(text) == agent


@pytest.mark.parametrize("text", ["", " ", ", Jane", "A, B, C", "<https://x.org>", "X <ftp://x>"])
def test_malformed_creators_are_refused(text: str) -> None:
    with pytest.raises(InvalidSettingError):
        parse_agent(text)


def test_licenses_get_an_spdx_id_and_url_when_they_have_them() -> None:
    assert (spdx_id("CC-BY-4.0"), license_url("CC0-1.0")) == (
        "CC-BY-4.0", "https://spdx.org/licenses/CC0-1.0.html")  # fmt: skip
    assert license_url("https://example.org/terms") == "https://example.org/terms"
    assert (spdx_id("Ensembl terms"), license_url("Ensembl terms")) == (None, None)


def info(text: str | None) -> DatasetInfo:
    return DatasetInfo("d", "https://example.org/d/", None, text, None, False, None,
                       datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize("text", [None, "Short.", "word " * 2000])
def test_the_json_ld_description_is_50_to_5000_characters(text: str | None) -> None:
    assert 50 <= len(description(info(text))) <= 5000


def entry(path: str, size: int = 1) -> ManifestEntry:
    return ManifestEntry(path=path, key=f"k/{path}", size=size, xxh3_128="0" * 32)


def test_an_outline_caps_the_tree_and_finds_the_top_zarr_stores() -> None:
    paths = [f"many/f{n:04}" for n in range(MAX_NODES + 50)]
    paths += ["a.zarr/zarr.json", "a.zarr/x/zarr.json", "a.zarr-b/.zgroup", "big.bin"]
    entries = [entry(p, 10 if p == "big.bin" else 1) for p in paths]
    outline = ReleaseOutline.build(ReleaseIndex.build("d", "r", 1, None, entries))
    assert outline.zarr_stores == ("a.zarr", "a.zarr-b")
    assert outline.example is not None
    assert outline.example.path == "big.bin"
    many = next(node for node in outline.tree if node.name == "many")
    assert len(many.children) + many.more == MAX_NODES + 50
    assert outline.shown == MAX_NODES
    assert not outline.open
