"""GA4GH DRS ids of entries and releases, indexed, so that resolving one never scans

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:00:00

Rows from before this revision get their ids here, computed as `catalog.drs_ids` does
(those functions never change: the ids are identifiers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from catalog.drs_ids import bundle_id, object_id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
BATCH = 5000

datasets = sa.table("datasets", sa.column("id", sa.Integer), sa.column("name", sa.String))
releases = sa.table(
    "releases",
    sa.column("id", sa.Integer),
    sa.column("dataset_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("drs_id", sa.String),
)
entries = sa.table(
    "entries",
    sa.column("id", sa.Integer),
    sa.column("release_id", sa.Integer),
    sa.column("path", sa.Text),
    sa.column("xxh3_128", sa.String),
    sa.column("drs_id", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("drs_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_releases_drs_id", ["drs_id"], unique=True)
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("drs_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_entries_drs_id", ["drs_id"])
    _fill_ids(op.get_bind())


def _fill_ids(connection: sa.Connection) -> None:
    names = dict(connection.execute(sa.select(datasets.c.id, datasets.c.name)).all())
    owners: dict[int, str] = {}
    rows = connection.execute(sa.select(releases.c.id, releases.c.dataset_id, releases.c.name))
    for release_id, dataset_id, name in rows.all():
        owners[release_id] = names[dataset_id]
        connection.execute(
            releases.update()
            .where(releases.c.id == release_id)
            .values(drs_id=bundle_id(names[dataset_id], name))
        )
    query = sa.select(entries.c.id, entries.c.release_id, entries.c.path, entries.c.xxh3_128)
    found = connection.execute(query.order_by(entries.c.id)).all()
    update = (
        entries.update().where(entries.c.id == sa.bindparam("row")).values(drs_id=sa.bindparam("d"))
    )
    for start in range(0, len(found), BATCH):
        batch = [
            {"row": row, "d": object_id(owners[release], path, xxh3)}
            for row, release, path, xxh3 in found[start : start + BATCH]
        ]
        connection.execute(update, batch)


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.drop_index("ix_entries_drs_id")
        batch.drop_column("drs_id")
    with op.batch_alter_table("releases") as batch:
        batch.drop_index("ix_releases_drs_id")
        batch.drop_column("drs_id")
