"""the job queue: procrastinate's schema (PostgreSQL), sync runs by job, batch outcomes,
connection slots per source host

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_sync_runs_job_id", ["job_id"])
    op.create_table(
        "batch_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("transferred", sa.BigInteger(), nullable=False),
        sa.Column("resumed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("retries", sa.JSON(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "batch"),
    )
    op.create_table(
        "connection_slots",
        sa.Column("host", sa.String(length=300), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("host", "slot"),
    )
    if op.get_bind().dialect.name == "postgresql":
        from catalog.queue import apply_queue_schema

        apply_queue_schema(op.get_bind())


def downgrade() -> None:
    op.drop_table("connection_slots")
    op.drop_table("batch_outcomes")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_index("ix_sync_runs_job_id")
        batch.drop_column("job_id")
