"""The catalog database: engine creation, migrations that run on first use, and `Database`,
which runs each unit of work in a thread so that no caller blocks its event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import CatalogSchemaError, CatalogUnavailableError, ConfigError
from catalog.migrations import HEAD

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_catalog_engine(url: str) -> Engine:
    """An engine for the catalog URL; a SQLite file's folder is created when missing."""
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(
            f"cannot use database URL {url!r}: {exc}",
            hint="set DATAMIRROR_DB to a SQLAlchemy URL such as postgresql://host/db",
        ) from exc


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    with unavailable_as_error():
        revision = current_revision(engine)
    if revision == HEAD:
        return
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                # Batch migrations copy a table, drop it and rename the copy; with foreign
                # keys on, dropping a table that rows refer to fails. The pragma has no
                # effect inside a transaction, so it goes first, and back on after.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    config = _alembic_config()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    except DBAPIError as exc:
        raise CatalogSchemaError(revision, HEAD, _first_line(exc.orig)) from exc


def upgrade(url: str) -> None:
    """Migrate the database at `url` and let go of it (blocking)."""
    engine = create_catalog_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """A database that cannot be reached becomes one clear, transient error."""
    try:
        yield
    except OperationalError as exc:
        raise CatalogUnavailableError(_first_line(exc.orig)) from exc


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a new database."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError) as exc:
            if "alembic_version" not in str(exc.orig):
                raise
            return None


def head_revision() -> str | None:
    """The newest revision in versions/, as alembic reads it."""
    from alembic.script import ScriptDirectory

    head: str | None = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    return head


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error else "unknown error"


class Database:
    """An engine and its sessions. `run` executes one unit of work (a function of a
    session, in one transaction) in a worker thread; ORM objects come back detached
    (`expire_on_commit=False`), so callers may read their columns afterwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_catalog_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def transact(self, work: Callable[[Session], T]) -> T:
        """`work` in one transaction, in the calling thread."""
        with unavailable_as_error(), self._sessions.begin() as session:
            return work(session)

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work` in one transaction, in a worker thread."""
        return await asyncio.to_thread(self.transact, work)

    def ping(self) -> None:
        with unavailable_as_error(), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
