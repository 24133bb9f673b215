"""FAIR metadata of a dataset: homepage, citation, keywords, creators, publisher

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("homepage", sa.Text(), nullable=True))
        batch.add_column(sa.Column("citation", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("keywords", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(
            sa.Column("creators", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("publisher", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        for column in ("publisher", "creators", "keywords", "citation", "homepage"):
            batch.drop_column(column)
