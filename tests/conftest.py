"""Core fixtures: a catalog on SQLite (default) or PostgreSQL (`--db=postgresql`), a data
home, and the `datamirror` command run as a user runs it (a subprocess).

Server fixtures live in tests/fixtures/ (one module per kind of server).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.db import upgrade
from catalog.repository import Catalog

pytest_plugins = [
    "tests.fixtures.session_loop",
    "tests.fixtures.s3_servers",
    "tests.fixtures.http_sources",
    "tests.fixtures.ftp_server",
    "tests.fixtures.datamirror_server",
    "tests.fixtures.sources",
    "tests.fixtures.fair_site",
    "tests.fixtures.browser",
    "tests.fixtures.cluster",
    "tests.fixtures.own_postgres",
]

PG_ADMIN_URL = os.environ.get("DATAMIRROR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="catalog database the suite runs on",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, run only the tests that reach a catalog (through `db_kind`): the
    others do not depend on the database and have run on SQLite already."""
    if config.getoption("--db") != "postgresql":
        return
    uses_db = [i for i in items if "db_kind" in getattr(i, "fixturenames", ())]
    if len(uses_db) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in set(uses_db)])
        items[:] = uses_db


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


def _pg_admin() -> object:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        engine.connect().close()
    except sqlalchemy.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc.orig}")
    return engine


@pytest.fixture(scope="session")
def pg_admin(db_kind: str) -> Iterator[object]:
    """One AUTOCOMMIT engine for CREATE and DROP DATABASE (with `--db=postgresql`), its
    connections closed when the session ends."""
    if db_kind != "postgresql":
        yield None
        return
    admin = _pg_admin()
    yield admin
    admin.dispose()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def pg_template(db_kind: str, pg_admin: object) -> Iterator[str | None]:
    """A migrated template database; each test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    if db_kind != "postgresql":
        yield None
        return
    from sqlalchemy import text

    admin = pg_admin
    name = f"dm_template_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    yield name
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_url(
    db_kind: str, pg_admin: object, pg_template: str | None, tmp_path: Path
) -> Iterator[str]:
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    from sqlalchemy import text

    admin = pg_admin
    name = f"dm_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def catalog(db_url: str) -> AsyncIterator[Catalog]:
    cat = await Catalog.open(db_url)
    yield cat
    await cat.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def dm_env(home: Path, db_url: str) -> dict[str, str]:
    """The environment a user's shell would have: home, database, default local store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMIRROR_")}
    env.update(
        DATAMIRROR_HOME=str(home),
        DATAMIRROR_DB=db_url,
        DATAMIRROR_STORE=(home / "store").as_uri(),
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class CLI:
    """Runs `datamirror` as a subprocess, as a user would."""

    env: dict[str, str]
    cwd: Path

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "datamirror", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"datamirror {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def cli(dm_env: dict[str, str], home: Path) -> CLI:
    return CLI(env=dm_env, cwd=home)
