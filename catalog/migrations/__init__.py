"""Alembic migrations of the catalog schema."""

# The newest revision. `catalog.db.migrate` compares the database with it before importing
# alembic, so a command whose schema is current never pays for alembic's import;
# tests/test_catalog.py keeps it equal to the head of versions/.
HEAD = "0005"
