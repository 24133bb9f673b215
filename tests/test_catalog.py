"""The catalog's data model and operations, on SQLite and on PostgreSQL (`--db`)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from catalog.db import head_revision
from catalog.errors import (
    DuplicateDatasetError,
    InvalidNameError,
    InvalidSourceURLError,
    NoReleaseError,
    UnknownDatasetError,
    UnknownReleaseError,
)
from catalog.manifest import ManifestEntry, dump_manifest, load_manifest
from catalog.migrations import HEAD
from catalog.models import ReleaseState
from catalog.repository import Catalog, DatasetSpec


def entry(path: str, size: int = 3) -> ManifestEntry:
    return ManifestEntry(path=path, key=f"objects/ds/r/{path}", size=size, xxh3_128="0" * 32)


def test_migrations_create_every_table_on_first_use(catalog: Catalog) -> None:
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"datasets", "releases", "entries", "sync_runs", "transfers", "tokens"} <= tables
    assert "alembic_version" in tables


def test_opening_a_migrated_catalog_again_is_a_no_op(catalog: Catalog, db_url: str) -> None:
    catalog.add_dataset(DatasetSpec("ebi", "https://ftp.ebi.ac.uk/pub/databases/"))
    again = Catalog(db_url)
    assert [d.name for d in again.list_datasets()] == ["ebi"]
    again.close()


def test_a_registered_dataset_keeps_its_settings_and_metadata(catalog: Catalog) -> None:
    spec = DatasetSpec(
        "uniprot",
        "https://ftp.ebi.ac.uk/pub/databases/uniprot/current_release/",
        include=("*.fasta.gz",),
        exclude=("*/old/*",),
        keep=3,
        restricted=True,
        title="UniProt",
        license="CC-BY-4.0",
        options={"no_sign_request": True},
    )
    catalog.add_dataset(spec)
    ds = catalog.get_dataset("uniprot")
    assert (ds.include, ds.exclude, ds.keep, ds.restricted) == (
        ["*.fasta.gz"],
        ["*/old/*"],
        3,
        True,
    )
    assert (ds.title, ds.license, ds.options) == ("UniProt", "CC-BY-4.0", {"no_sign_request": True})


def test_a_duplicate_dataset_name_is_refused(catalog: Catalog) -> None:
    catalog.add_dataset(DatasetSpec("ebi", "https://example.org/a/"))
    with pytest.raises(DuplicateDatasetError, match="already exists"):
        catalog.add_dataset(DatasetSpec("ebi", "https://example.org/b/"))


@pytest.mark.parametrize("url", ["gopher://x/y", "file:///etc", "example.org/data", "https://"])
def test_a_source_url_must_be_http_ftp_or_s3_with_a_host(catalog: Catalog, url: str) -> None:
    with pytest.raises(InvalidSourceURLError):
        catalog.add_dataset(DatasetSpec("x", url))


@pytest.mark.parametrize("name", ["", "../x", "a/b", "latest", ".hidden", "x" * 101])
def test_a_dataset_name_must_be_a_plain_word(catalog: Catalog, name: str) -> None:
    with pytest.raises(InvalidNameError):
        catalog.add_dataset(DatasetSpec(name, "https://example.org/"))


def test_an_unknown_dataset_is_a_clear_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'nope'") as info:
        catalog.get_dataset("nope")
    assert "datamirror source list" in info.value.hint


def test_releases_are_named_by_day_and_counted_within_the_day(catalog: Catalog) -> None:
    catalog.add_dataset(DatasetSpec("ds", "https://example.org/"))
    day = datetime(2026, 11, 25, 12, tzinfo=UTC)
    names = [catalog.new_release("ds", now=day).name for _ in range(3)]
    assert names == ["2026-11-25.1", "2026-11-25.2", "2026-11-25.3"]


def test_nothing_is_current_until_a_release_is_published(catalog: Catalog) -> None:
    catalog.add_dataset(DatasetSpec("ds", "https://example.org/"))
    building = catalog.new_release("ds")
    catalog.add_entries(building.id, [entry("a.fa", 10), entry("b/c.vcf", 5)])
    with pytest.raises(NoReleaseError):
        catalog.current_release("ds")
    with pytest.raises(UnknownReleaseError):
        catalog.get_release("ds", building.name)
    assert catalog.building_release("ds") is not None


def test_publishing_flips_the_current_release_and_counts_its_files(catalog: Catalog) -> None:
    catalog.add_dataset(DatasetSpec("ds", "https://example.org/"))
    first = catalog.new_release("ds")
    catalog.add_entries(first.id, [entry("a.fa", 10)])
    catalog.publish(first.id)
    second = catalog.new_release("ds")
    catalog.add_entries(second.id, [entry("a.fa", 10), entry("b.fa", 7)])
    assert catalog.current_release("ds").name == first.name
    published = catalog.publish(second.id)
    assert (published.file_count, published.total_bytes) == (2, 17)
    assert catalog.get_release("ds", "latest").name == second.name
    assert catalog.get_release("ds", first.name).state == ReleaseState.PUBLISHED
    assert catalog.building_release("ds") is None


def test_recording_an_entry_again_replaces_it(catalog: Catalog) -> None:
    catalog.add_dataset(DatasetSpec("ds", "https://example.org/"))
    release = catalog.new_release("ds")
    catalog.add_entries(release.id, [entry("a.fa", 10)])
    catalog.add_entries(release.id, [entry("a.fa", 12)])
    assert [(e.path, e.size) for e in catalog.release_entries(release.id)] == [("a.fa", 12)]
    assert catalog.remove_entries(release.id, keep_paths=set()) == 1


def test_removing_a_dataset_forgets_its_releases(catalog: Catalog) -> None:
    catalog.add_dataset(DatasetSpec("ds", "https://example.org/"))
    release = catalog.new_release("ds")
    catalog.add_entries(release.id, [entry("a.fa")])
    catalog.publish(release.id)
    catalog.remove_dataset("ds")
    with pytest.raises(UnknownDatasetError):
        catalog.list_releases("ds")
    catalog.add_dataset(DatasetSpec("ds", "https://example.org/"))
    assert catalog.list_releases("ds") == []


def test_a_manifest_round_trips_through_json() -> None:
    entries = [
        ManifestEntry(
            "b.vcf",
            "objects/ds/r1/b.vcf",
            5,
            "f" * 32,
            mtime=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            md5="a" * 32,
        ),
        entry("a.fa"),
    ]
    header, loaded = load_manifest(dump_manifest("ds", "r1", "https://example.org/", entries))
    assert header["dataset"] == "ds"
    assert loaded == sorted(entries, key=lambda e: e.path)


def test_the_recorded_head_revision_is_the_newest_migration() -> None:
    assert head_revision() == HEAD


def test_a_current_schema_is_opened_without_importing_alembic(
    catalog: Catalog, db_url: str
) -> None:
    probe = (
        "import sys; from catalog.repository import Catalog; "
        f"Catalog({db_url!r}).close(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
