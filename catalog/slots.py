"""Connection slots: a counting semaphore per source host, across every worker of a
cluster, so that `connections N` to a host caps the whole cluster, not each worker.

A host's cap is N rows (host, 0..N-1). A job takes free rows in one transaction (`FOR
UPDATE SKIP LOCKED` on PostgreSQL: two workers never wait on each other's rows), holds
them while it reads from the host and renews them; a holder that dies stops renewing and
its rows lapse after `ttl` seconds (on the same host, a holder whose process is gone is
known dead at once, as with leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.errors import CatalogUnavailableError
from catalog.leases import holder_is_dead, new_holder
from catalog.models import ConnectionSlot

log = logging.getLogger(__name__)
SLOT_SECONDS = 30.0
POLL_SECONDS = 0.25


class HostSlots:
    def __init__(self, db: Database, ttl: float = SLOT_SECONDS) -> None:
        self._db = db
        self.ttl = ttl

    async def take(self, host: str, cap: int, want: int, holder: str) -> int:
        """Take up to `want` of the `cap` slots of `host` for `holder`; how many it got."""
        return await self._db.run(lambda session: self._take(session, host, cap, want, holder))

    def _take(self, session: Session, host: str, cap: int, want: int, holder: str) -> int:
        _ensure_rows(session, host, cap)
        now = datetime.now(UTC)
        held = session.execute(
            select(ConnectionSlot.holder)
            .where(ConnectionSlot.host == host, ConnectionSlot.holder.is_not(None))
            .distinct()
        ).scalars()
        dead = [h for h in held if h is not None and holder_is_dead(h)]
        free = (
            select(ConnectionSlot.slot)
            .where(
                ConnectionSlot.host == host,
                ConnectionSlot.slot < cap,
                or_(
                    ConnectionSlot.holder.is_(None),
                    ConnectionSlot.expires_at < now,
                    ConnectionSlot.holder.in_(dead),
                ),
            )
            .order_by(ConnectionSlot.slot)
            .limit(max(want, 0))
            .with_for_update(skip_locked=True)
        )
        slots = list(session.scalars(free))
        if slots:
            session.execute(
                update(ConnectionSlot)
                .where(ConnectionSlot.host == host, ConnectionSlot.slot.in_(slots))
                .values(holder=holder, expires_at=now + timedelta(seconds=self.ttl))
            )
        return len(slots)

    async def renew(self, host: str, holder: str) -> None:
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl)
        query = (
            update(ConnectionSlot)
            .where(ConnectionSlot.host == host, ConnectionSlot.holder == holder)
            .values(expires_at=expires)
        )
        await self._db.run(lambda session: session.execute(query))

    async def release(self, host: str, holder: str) -> None:
        query = (
            update(ConnectionSlot)
            .where(ConnectionSlot.host == host, ConnectionSlot.holder == holder)
            .values(holder=None, expires_at=None)
        )
        await self._db.run(lambda session: session.execute(query))

    async def in_use(self, host: str) -> int:
        """Slots of `host` held now (by live holders)."""
        now = datetime.now(UTC)
        query = select(ConnectionSlot.slot).where(
            ConnectionSlot.host == host,
            and_(ConnectionSlot.holder.is_not(None), ConnectionSlot.expires_at >= now),
        )
        return await self._db.run(lambda session: len(session.scalars(query).all()))

    @contextlib.asynccontextmanager
    async def hold(
        self, host: str, cap: int, want: int, *, poll: float = POLL_SECONDS
    ) -> AsyncIterator[int]:
        """Hold between 1 and `want` slots of `host` (waiting for one when all `cap` are
        taken) for the block; how many. Renewed in the background, released at the end."""
        holder = new_holder()
        while not (got := await self.take(host, cap, min(want, cap), holder)):  # noqa: ASYNC110
            await asyncio.sleep(poll)  # the slots are rows other processes free
        renewing = asyncio.create_task(self._keep(host, holder))
        try:
            yield got
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(CatalogUnavailableError):
                await asyncio.shield(self.release(host, holder))

    async def _keep(self, host: str, holder: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.renew(host, holder)
            except CatalogUnavailableError as exc:
                log.warning("cannot renew connection slots of %s: %s", host, exc)


def _ensure_rows(session: Session, host: str, cap: int) -> None:
    """Rows 0..cap-1 of `host` (a cap raised later adds rows; rows past a lowered cap are
    never taken)."""
    dialect = session.get_bind().dialect.name
    rows = [{"host": host, "slot": n} for n in range(cap)]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(ConnectionSlot).values(rows).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(ConnectionSlot).values(rows).on_conflict_do_nothing())
