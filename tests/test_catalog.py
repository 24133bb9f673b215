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
from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec


def entry(path: str, size: int = 3) -> ManifestEntry:
    return ManifestEntry(path=path, key=f"objects/ds/r/{path}", size=size, xxh3_128="0" * 32)


def test_migrations_create_every_table_on_first_use(catalog: Catalog) -> None:
    tables = set(inspect(catalog.db.engine).get_table_names())
    assert {"datasets", "releases", "entries", "sync_runs", "transfers", "tokens"} <= tables
    assert "alembic_version" in tables


async def test_opening_a_migrated_catalog_again_is_a_no_op(catalog: Catalog, db_url: str) -> None:
    await catalog.datasets.add(DatasetSpec("ebi", "https://ftp.ebi.ac.uk/pub/databases/"))
    again = await Catalog.open(db_url)
    assert [d.name for d in await again.datasets.list()] == ["ebi"]
    await again.close()


async def test_a_registered_dataset_keeps_its_settings_and_metadata(catalog: Catalog) -> None:
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
    await catalog.datasets.add(spec)
    ds = await catalog.datasets.get("uniprot")
    assert (ds.include, ds.exclude, ds.keep, ds.restricted) == (
        ["*.fasta.gz"],
        ["*/old/*"],
        3,
        True,
    )
    assert (ds.title, ds.license, ds.options) == ("UniProt", "CC-BY-4.0", {"no_sign_request": True})


async def test_a_duplicate_dataset_name_is_refused(catalog: Catalog) -> None:
    await catalog.datasets.add(DatasetSpec("ebi", "https://example.org/a/"))
    with pytest.raises(DuplicateDatasetError, match="already exists"):
        await catalog.datasets.add(DatasetSpec("ebi", "https://example.org/b/"))


@pytest.mark.parametrize("url", ["gopher://x/y", "file:///etc", "example.org/data", "https://"])
async def test_a_source_url_must_be_http_ftp_or_s3_with_a_host(catalog: Catalog, url: str) -> None:
    with pytest.raises(InvalidSourceURLError):
        await catalog.datasets.add(DatasetSpec("x", url))


@pytest.mark.parametrize("name", ["", "../x", "a/b", "latest", ".hidden", "x" * 101])
async def test_a_dataset_name_must_be_a_plain_word(catalog: Catalog, name: str) -> None:
    with pytest.raises(InvalidNameError):
        await catalog.datasets.add(DatasetSpec(name, "https://example.org/"))


async def test_an_unknown_dataset_is_a_clear_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'nope'") as info:
        await catalog.datasets.get("nope")
    assert "datamirror source list" in info.value.cli_hint
    assert "datamirror" not in info.value.hint


async def test_releases_are_named_by_day_and_counted_within_the_day(catalog: Catalog) -> None:
    await catalog.datasets.add(DatasetSpec("ds", "https://example.org/"))
    day = datetime(2026, 11, 25, 12, tzinfo=UTC)
    names = [(await catalog.releases.new("ds", now=day)).name for _ in range(3)]
    assert names == ["2026-11-25.1", "2026-11-25.2", "2026-11-25.3"]


async def test_nothing_is_current_until_a_release_is_published(catalog: Catalog) -> None:
    await catalog.datasets.add(DatasetSpec("ds", "https://example.org/"))
    building = await catalog.releases.new("ds")
    await catalog.releases.add_entries(building.id, [entry("a.fa", 10), entry("b/c.vcf", 5)])
    with pytest.raises(NoReleaseError):
        await catalog.releases.current("ds")
    with pytest.raises(UnknownReleaseError):
        await catalog.releases.get("ds", building.name)
    assert (await catalog.releases.building("ds")) is not None


async def test_publishing_flips_the_current_release_and_counts_its_files(catalog: Catalog) -> None:
    await catalog.datasets.add(DatasetSpec("ds", "https://example.org/"))
    first = await catalog.releases.new("ds")
    await catalog.releases.add_entries(first.id, [entry("a.fa", 10)])
    await catalog.releases.publish(first.id)
    second = await catalog.releases.new("ds")
    await catalog.releases.add_entries(second.id, [entry("a.fa", 10), entry("b.fa", 7)])
    assert (await catalog.releases.current("ds")).name == first.name
    published = await catalog.releases.publish(second.id)
    assert (published.file_count, published.total_bytes) == (2, 17)
    assert (await catalog.releases.get("ds", "latest")).name == second.name
    assert (await catalog.releases.get("ds", first.name)).state == ReleaseState.PUBLISHED
    assert (await catalog.releases.building("ds")) is None


async def test_recording_an_entry_again_replaces_it(catalog: Catalog) -> None:
    await catalog.datasets.add(DatasetSpec("ds", "https://example.org/"))
    release = await catalog.releases.new("ds")
    await catalog.releases.add_entries(release.id, [entry("a.fa", 10)])
    await catalog.releases.add_entries(release.id, [entry("a.fa", 12)])
    assert [(e.path, e.size) for e in (await catalog.releases.entries(release.id))] == [
        ("a.fa", 12)
    ]
    assert (await catalog.releases.remove_entries(release.id, keep_paths=set())) == 1


async def test_removing_a_dataset_forgets_its_releases(catalog: Catalog) -> None:
    await catalog.datasets.add(DatasetSpec("ds", "https://example.org/"))
    release = await catalog.releases.new("ds")
    await catalog.releases.add_entries(release.id, [entry("a.fa")])
    await catalog.releases.publish(release.id)
    await catalog.datasets.remove("ds")
    with pytest.raises(UnknownDatasetError):
        await catalog.releases.list("ds")
    await catalog.datasets.add(DatasetSpec("ds", "https://example.org/"))
    assert (await catalog.releases.list("ds")) == []


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
        f"Catalog({db_url!r}).db.dispose(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_catalog_of_the_first_schema_with_releases_is_upgraded_in_place(
    db_url: str,
) -> None:
    """An operator's existing catalog: migrations that copy tables (SQLite's batch mode)
    must not trip over the foreign keys its rows hold."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from catalog.db import _alembic_config, current_revision

    plain = create_engine(db_url)
    with plain.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        connection.execute(
            text("INSERT INTO datasets (id, name, url, include, exclude, checksums, max_delete,"
                 " restricted, options, created_at) VALUES (1, 'ebi', 'https://e.org/', '[]',"
                 " '[]', 'auto', 50, false, '{}', :now)"), {"now": now},
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO releases (id, dataset_id, name, state, created_at, file_count,"
                 " total_bytes) VALUES (7, 1, '2026-01-01.1', 'published', :now, 0, 0)"),
            {"now": now},
        )  # fmt: skip
        connection.execute(text("UPDATE datasets SET current_release_id = 7"))
    plain.dispose()
    upgraded = await Catalog.open(db_url)
    try:
        assert current_revision(upgraded.db.engine) == HEAD
        ds = await upgraded.datasets.get("ebi")
        assert (ds.url, ds.current_release_name) == ("https://e.org/", "2026-01-01.1")
    finally:
        await upgraded.close()
