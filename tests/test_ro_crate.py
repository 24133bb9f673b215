"""The RO-Crate of a release: RO-Crate 1.2 that roc-validator passes at REQUIRED level
(offline, metadata-only) even from a bare name and URL, read back by the `rocrate` library
exactly as written, written at publish by a real sync and served at the release root as
application/ld+json."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import xxhash

from catalog.manifest import ManifestEntry
from catalog.ro_crate import CONTEXT, TERMS, UNKNOWN_LICENSE, CrateFacts, ro_crate, tool_version
from mirror.sample_data import write_sample_tree
from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.ro_crate_validator import check_crate, seed_cache

WHEN = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
BARE = CrateFacts(
    dataset="ebi-bare", source_url="https://ftp.example.org/pub/bare/", release="2026-11-30.1",
    published=WHEN,
)  # fmt: skip


def entry(path: str, data: bytes, **digests: str) -> ManifestEntry:
    return ManifestEntry(
        path=path, key=f"objects/ebi/r/{path}", size=len(data),
        xxh3_128=xxhash.xxh3_128_hexdigest(data), md5=digests.pop("md5", None),
        sha256=digests.pop("sha256", None), other_digests=digests, mtime=WHEN,
    )  # fmt: skip


ENTRIES = [
    entry("README", b"readme\n", md5=hashlib.md5(b"readme\n").hexdigest()),
    entry("genome/chr1.fa.gz", b"\x1f\x8b gz", sha256=hashlib.sha256(b"\x1f\x8b gz").hexdigest()),
    entry("odd dir/ünïcode & spaces #1%.txt", b"odd", sha1=hashlib.sha1(b"odd").hexdigest()),
    entry("CHECKSUMS", b"x", sum="00120     1"),
    entry("empty.txt", b""),
]


@pytest.fixture(scope="module")
def validator_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_cache(tmp_path_factory.mktemp("roc-cache") / "http-cache")


def by_id(crate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["@id"]: e for e in crate["@graph"]}


def test_a_crate_of_only_a_name_and_a_url_passes_roc_validator_at_required_level(
    validator_cache: Path, tmp_path: Path
) -> None:
    crate = ro_crate(BARE, ENTRIES)
    reports = check_crate(crate, tmp_path / "bare", validator_cache)
    assert reports.issues == []
    assert reports.folder["passed"]
    assert reports.document["passed"]
    # the document mode runs the checks of the file's format (its @context, flattening,
    # unique ids) that folder mode skips in metadata-only mode
    skipped = [{c["identifier"] for c in r["skipped_check_details"]} for r in reports.both]
    assert {"ro-crate-1.2_4.2", "ro-crate-1.2_4.4", "ro-crate-1.2_4.8"} <= skipped[0] - skipped[1]
    root = by_id(crate)["./"]
    assert root["description"] == "Mirror of https://ftp.example.org/pub/bare/ taken 2026-11-30"
    assert root["license"] == UNKNOWN_LICENSE
    assert root["datePublished"] == "2026-11-30T08:15:00+00:00"
    assert by_id(crate)[root["publisher"]["@id"]]["@type"] == "Organization"


def test_the_curators_creators_publisher_and_keywords_are_in_the_crate_and_it_validates(
    validator_cache: Path, tmp_path: Path
) -> None:
    orcid = "https://orcid.org/0000-0002-1825-0097"
    facts = replace(
        BARE,
        creators=(f"Doe, Jane <{orcid}>", "The Genome Consortium"),
        publisher="EMBL-EBI <https://www.ebi.ac.uk>",
        keywords=("genomics", "variants"),
        homepage="https://genomes.example.org/about",
        citation="Doe J. Two model genomes. 2026.",
    )
    crate = ro_crate(facts, ENTRIES)
    assert check_crate(crate, tmp_path / "curated", validator_cache).issues == []
    entities = by_id(crate)
    root = entities["./"]
    assert [c["@id"] for c in root["creator"]] == [orcid, "#creator-2"]
    assert entities[orcid] == {
        "@id": orcid, "@type": "Person", "name": "Jane Doe", "familyName": "Doe",
        "givenName": "Jane", "sameAs": orcid,
    }  # fmt: skip
    assert entities["#creator-2"]["@type"] == "Organization"
    publisher = entities[root["publisher"]["@id"]]
    assert (publisher["name"], publisher["url"]) == ("EMBL-EBI", "https://www.ebi.ac.uk")
    assert root["keywords"] == ["genomics", "variants"]
    assert root["url"] == "https://genomes.example.org/about"
    assert root["creditText"] == "Doe J. Two model genomes. 2026."
    doi = replace(facts, citation="https://doi.org/10.5281/zenodo.1234")
    assert by_id(ro_crate(doi, ENTRIES))["./"]["citation"] == {"@id": doi.citation}


def test_roc_validator_fails_a_crate_without_its_required_root_properties(
    validator_cache: Path, tmp_path: Path
) -> None:
    crate = ro_crate(BARE, ENTRIES)
    for entity in crate["@graph"]:
        if entity["@id"] == "./":
            del entity["license"], entity["datePublished"]
    messages = " ".join(check_crate(crate, tmp_path / "broken", validator_cache).issues)
    assert "`license`" in messages
    assert "`datePublished`" in messages


def test_the_rocrate_library_reads_the_crate_back_exactly_as_written(tmp_path: Path) -> None:
    from rocrate.rocrate import ROCrate

    facts = replace(BARE, license="cc-by-4.0", run_started=WHEN)
    written = ro_crate(facts, ENTRIES)
    (tmp_path / "ro-crate-metadata.json").write_text(json.dumps(written))
    crate = ROCrate(tmp_path)
    assert crate.version == "1.2"
    assert by_id(crate.metadata.generate()) == by_id(written)
    # rocrate does not parse a crate's @context (it writes its own): given the ad hoc terms
    # back, it writes the very document
    crate.metadata.extra_terms = written["@context"][1]
    rewritten = crate.metadata.generate()
    assert rewritten["@context"] == written["@context"]
    assert sorted(rewritten["@graph"], key=lambda e: e["@id"]) == sorted(
        written["@graph"], key=lambda e: e["@id"])  # fmt: skip
    assert {e.id for e in crate.data_entities} == {
        f["@id"] for f in by_id(written)["./"]["hasPart"]
    }


def test_every_file_is_a_file_entity_with_its_size_media_type_and_verified_checksums() -> None:
    crate = ro_crate(BARE, ENTRIES)
    entities = by_id(crate)
    assert entities["./"]["hasPart"] == [{"@id": e} for e in sorted(
        ["README", "genome/chr1.fa.gz", "odd%20dir/%C3%BCn%C3%AFcode%20%26%20spaces%20%231%25.txt",
         "CHECKSUMS", "empty.txt"])]  # fmt: skip
    readme, gz = entities["README"], entities["genome/chr1.fa.gz"]
    assert (readme["@type"], readme["contentSize"], readme["encodingFormat"]) == (
        "File", "7", "text/plain; charset=utf-8")  # fmt: skip
    assert readme["md5"] == ENTRIES[0].md5
    assert (gz["encodingFormat"], gz["sha256"]) == ("application/gzip", ENTRIES[1].sha256)
    odd = entities["odd%20dir/%C3%BCn%C3%AFcode%20%26%20spaces%20%231%25.txt"]
    assert odd["sha1"] == hashlib.sha1(b"odd").hexdigest()
    assert entities["CHECKSUMS"]["bsdSum"] == "00120     1"
    assert "md5" not in entities["empty.txt"]
    # ad hoc terms: in the local context and defined in the crate; sha256 is the context's
    context, terms = crate["@context"]
    assert context == CONTEXT
    assert terms == {t: TERMS + t for t in ("bsdSum", "md5", "sha1")}
    assert all(entities[TERMS + t]["@type"] == "rdf:Property" for t in terms)


@pytest.mark.parametrize(
    ("given", "license_value", "entity"),
    [
        ("CC-BY-4.0", {"@id": "http://spdx.org/licenses/CC-BY-4.0"}, "CC-BY-4.0"),
        ("cc0-1.0", {"@id": "http://spdx.org/licenses/CC0-1.0"}, "CC0-1.0"),
        ("https://www.ebi.ac.uk/licencing", {"@id": "https://www.ebi.ac.uk/licencing"},
         "https://www.ebi.ac.uk/licencing"),
        ("Ensembl terms", "Ensembl terms", None),
        ("MIT OR Apache-2.0", "MIT OR Apache-2.0", None),
        (None, UNKNOWN_LICENSE, None),
        ("  ", UNKNOWN_LICENSE, None),
    ],
)  # fmt: skip
def test_a_license_is_an_spdx_or_url_entity_else_the_curators_words_else_unknown(
    given: str | None, license_value: Any, entity: str | None
) -> None:
    crate = ro_crate(replace(BARE, license=given), ENTRIES)
    entities = by_id(crate)
    assert entities["./"]["license"] == license_value
    if entity is not None:
        assert entities[license_value["@id"]]["name"] == entity


def fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


@pytest.mark.nginx
def test_a_synced_release_serves_its_ro_crate_at_its_root_and_it_passes_roc_validator(
    cli: CLI,
    nginx_server: NginxFactory,
    datamirror_server: Callable[..., str],
    validator_cache: Path,
    tmp_path: Path,
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root, seed=5)
    source = nginx_server(root).url
    cli("source", "add", "ebi", source)
    cli("sync", "ebi")
    base = datamirror_server(cli.env)
    kind, data = fetch(f"{base}/datasets/ebi/latest/ro-crate-metadata.json")
    assert kind == "application/ld+json"
    assert fetch(f"{base}/datasets/ebi/latest/.datamirror/ro-crate-metadata.json") == (kind, data)
    stored = next((cli.cwd / "store" / "releases" / "ebi").glob("*/ro-crate-metadata.json"))
    assert stored.read_bytes() == data
    reports = check_crate(data, tmp_path / "synced", validator_cache)
    assert reports.issues == []
    crate = json.loads(data)
    entities = by_id(crate)
    action = next(e for e in crate["@graph"] if e["@type"] == "CreateAction")
    assert action["startTime"] <= action["endTime"] <= entities["./"]["datePublished"]
    tool = entities[action["instrument"]["@id"]]
    assert (tool["name"], tool["version"]) == ("datamirror", tool_version())
    assert entities["./"]["isBasedOn"] == {"@id": source}
    manifest = json.loads(fetch(f"{base}/datasets/ebi/latest/.datamirror/manifest.json")[1])
    for item in manifest["files"]:
        file = entities[urllib.request.quote(item["path"])]
        assert file["contentSize"] == str(item["size"])
        if "md5" in item:
            assert file["md5"] == item["md5"]
