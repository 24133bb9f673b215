"""Leases: one job at a time holds a dataset (a sync, a gc), across processes and machines.

A lease is a row (name, holder, job, expires_at) taken in one transaction and renewed while
its job runs. A holder that dies stops renewing and its lease lapses after `ttl` seconds;
on the same host a holder whose process is gone is known dead at once. The job queue of a
cluster takes the same leases, so a sync enqueued twice or a gc beside a sync waits here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.errors import CatalogUnavailableError, DatasetBusyError
from catalog.models import Lease

log = logging.getLogger(__name__)
LEASE_SECONDS = 60.0
POLL_SECONDS = 1.0


def dataset_lease(dataset: str) -> str:
    return f"dataset:{dataset}"


def new_holder() -> str:
    """`host:pid:token`, unique to one hold."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def holder_is_dead(holder: str) -> bool:
    """A holder on this host whose process no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Leases:
    def __init__(self, db: Database, ttl: float = LEASE_SECONDS) -> None:
        self._db = db
        self.ttl = ttl

    async def try_take(self, name: str, holder: str, job: str) -> Lease | None:
        """Take the lease for `holder`; None when taken, else the lease that holds it."""
        try:
            return await self._db.run(lambda session: self._take(session, name, holder, job))
        except IntegrityError:  # another process inserted it first
            return await self._db.run(lambda session: session.get(Lease, name))

    def _take(self, session: Session, name: str, holder: str, job: str) -> Lease | None:
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self.ttl)
        row = session.get(Lease, name, with_for_update=True)
        if row is None:
            session.add(Lease(name=name, holder=holder, job=job, acquired_at=now,
                              expires_at=expires))  # fmt: skip
            session.flush()
            return None
        if row.holder != holder and _aware(row.expires_at) > now and not holder_is_dead(row.holder):
            return row
        row.holder, row.job, row.acquired_at, row.expires_at = holder, job, now, expires
        return None

    async def renew(self, name: str, holder: str) -> bool:
        """Extend a held lease; False when it is no longer this holder's."""
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl)
        query = (
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=expires)
        )
        result = await self._db.run(lambda session: session.execute(query))
        return bool(getattr(result, "rowcount", 0))

    async def release(self, name: str, holder: str) -> None:
        query = delete(Lease).where(Lease.name == name, Lease.holder == holder)
        await self._db.run(lambda session: session.execute(query))

    @contextlib.asynccontextmanager
    async def hold(
        self,
        name: str,
        job: str,
        *,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> AsyncIterator[str]:
        """Hold lease `name` for `job` for the duration of the block (its holder id).
        Busy: wait for it (telling `on_wait` once) or, with `wait=False`, raise
        DatasetBusyError. Renewed in the background; released at the end."""
        holder = new_holder()
        told = False
        while (busy := await self.try_take(name, holder, job)) is not None:
            if not wait:
                raise DatasetBusyError(name.partition(":")[2] or name, busy.holder, busy.job)
            if on_wait is not None and not told:
                on_wait(f"waiting for the {busy.job} of {busy.holder} to finish")
                told = True
            await asyncio.sleep(POLL_SECONDS)
        renewing = asyncio.create_task(self._keep(name, holder, asyncio.current_task()))
        try:
            yield holder
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(CatalogUnavailableError):
                await self.release(name, holder)

    async def _keep(self, name: str, holder: str, owner: asyncio.Task[object] | None) -> None:
        """Renew every third of the ttl; a lease taken over by another holder cancels its
        job (the database was unreachable longer than the ttl)."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                held = await self.renew(name, holder)
            except CatalogUnavailableError as exc:
                log.warning("cannot renew lease %s: %s", name, exc)
                continue
            if not held:
                log.error("lease %s was taken over; stopping its job", name)
                if owner is not None:
                    owner.cancel(f"lease {name} lost")
                return
