"""GA4GH DRS ids: fixed forever (pinned values), stable for identical bytes at the same
path, distinct otherwise; the catalog records them as entries land and migration 0003
gives rows recorded before it theirs, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text

from catalog.db import _alembic_config
from catalog.drs_ids import bundle_id, folder_id, object_id, split_folder_id
from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from tests.fixtures.datamirror_server import entry_for

XXH3 = "0123456789abcdef0123456789abcdef"


def test_ids_are_pinned_so_that_they_never_change() -> None:
    assert object_id("ebi", "genome/chr1.fa", XXH3) == "fe145699c282d39b4d4426c74f05a662"
    assert bundle_id("ebi", "2026-12-01.1") == "5668795c8457b99a17abf1b5cb997d0f"


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (("ebi", "genome/chr1.fa", "f" * 32), "other bytes"),
        (("ebi", "genome/chr2.fa", XXH3), "another path"),
        (("sanger", "genome/chr1.fa", XXH3), "another dataset"),
    ],
)
def test_a_file_id_changes_with_its_bytes_path_or_dataset(
    other: tuple[str, str, str], why: str
) -> None:
    assert object_id(*other) != object_id("ebi", "genome/chr1.fa", XXH3), why


def test_a_folder_id_names_its_release_and_splits_back() -> None:
    bundle = bundle_id("ebi", "2026-12-01.1")
    folder = folder_id(bundle, "genome/fasta")
    assert split_folder_id(folder) == (bundle, folder.split(".")[1])
    assert folder_id(bundle, "genome") != folder
    assert split_folder_id(bundle) is None
    assert split_folder_id("../" + folder) is None


async def test_recorded_entries_and_new_releases_carry_their_drs_ids(catalog: Catalog) -> None:
    async def record() -> tuple[str | None, str | None, str]:
        await catalog.datasets.add(DatasetSpec("ebi", "https://ftp.example.org/pub/"))
        release = await catalog.releases.new("ebi")
        entry = entry_for("ebi", release.name, "a/b.txt", b"bytes")
        await catalog.releases.add_entries(release.id, [entry])
        await catalog.releases.publish(release.id)
        found = await catalog.drs.file(object_id("ebi", "a/b.txt", entry.xxh3_128))
        bundle = await catalog.drs.bundle(bundle_id("ebi", release.name))
        assert found is not None
        assert bundle is not None
        assert found.entry is not None
        assert (found.entry.path, found.entry.xxh3_128) == (entry.path, entry.xxh3_128)
        return release.drs_id, bundle.release, release.name

    drs_id, bundle_release, name = await record()
    assert drs_id == bundle_id("ebi", name)
    assert bundle_release == name


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    found = create_engine(db_url)
    yield found
    found.dispose()


def alembic(engine: Engine, command: str, revision: str) -> None:
    from alembic import command as commands

    with engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        getattr(commands, command)(config, revision)


def test_migration_0003_gives_rows_recorded_before_it_their_drs_ids(engine: Engine) -> None:
    alembic(engine, "upgrade", "head")
    alembic(engine, "downgrade", "0002")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as db:
        db.execute(text("INSERT INTO datasets (id, name, url, include, exclude, checksums, "
                        "max_delete, restricted, options, created_at) VALUES (1, 'ebi', 'u', "
                        "'[]', '[]', 'auto', 50, false, '{}', :now)"), {"now": now})  # fmt: skip
        db.execute(text("INSERT INTO releases (id, dataset_id, name, state, created_at, "
                        "file_count, total_bytes) VALUES (7, 1, 'r1', 'published', :now, 2, 2)"),
                   {"now": now})  # fmt: skip
        for row, path in enumerate(["a.txt", "b/c.txt"], start=1):
            db.execute(text("INSERT INTO entries (id, release_id, path, size, object_key, "
                            "xxh3_128) VALUES (:id, 7, :path, 1, 'k', :x)"),
                       {"id": row, "path": path, "x": XXH3})  # fmt: skip
    alembic(engine, "upgrade", "head")
    with engine.connect() as db:
        assert db.execute(text("SELECT drs_id FROM releases")).scalar() == bundle_id("ebi", "r1")
        ids = dict(db.execute(text("SELECT path, drs_id FROM entries")).all())
    assert ids == {p: object_id("ebi", p, XXH3) for p in ("a.txt", "b/c.txt")}
