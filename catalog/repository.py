"""`Catalog`: the database half of the catalog (the store is the other half), as one
object per aggregate. Every operation is a coroutine that runs its transaction in a worker
thread, so no caller blocks its event loop and none calls `to_thread` itself.

    catalog.datasets    registered sources and their metadata   (catalog.datasets)
    catalog.releases    releases, their entries, publishing      (catalog.releases)
    catalog.runs        sync runs and their reports              (catalog.runs)
    catalog.transfers   chunked uploads and their landed parts   (catalog.transfers)
    catalog.tokens      bearer tokens and the URL-signing key    (catalog.tokens)
    catalog.leases      one job per dataset at a time            (catalog.leases)
    catalog.drs         which release holds a GA4GH DRS id       (catalog.drs)
    catalog.batches     what each job of a fanned-out sync did   (catalog.batches)
    catalog.slots       connections to a source host, clusterwide (catalog.slots)
"""

from __future__ import annotations

import asyncio

from catalog.batches import Batches
from catalog.datasets import Datasets
from catalog.db import Database, migrate
from catalog.drs import DrsIndex
from catalog.leases import Leases
from catalog.releases import Releases
from catalog.runs import Runs
from catalog.slots import HostSlots
from catalog.tokens import Tokens
from catalog.transfers import Transfers


class Catalog:
    def __init__(self, db_url: str) -> None:
        """Connect and migrate (blocking: outside an event loop, or use `open`)."""
        self.db = Database(db_url)
        migrate(self.db.engine)
        self.datasets = Datasets(self.db)
        self.releases = Releases(self.db)
        self.runs = Runs(self.db)
        self.transfers = Transfers(self.db)
        self.tokens = Tokens(self.db)
        self.leases = Leases(self.db)
        self.drs = DrsIndex(self.db)
        self.batches = Batches(self.db)
        self.slots = HostSlots(self.db)

    @classmethod
    async def open(cls, db_url: str) -> Catalog:
        return await asyncio.to_thread(cls, db_url)

    @property
    def url(self) -> str:
        return self.db.url

    async def ping(self) -> None:
        """Raise CatalogUnavailableError unless the database answers."""
        await asyncio.to_thread(self.db.ping)

    async def close(self) -> None:
        await asyncio.to_thread(self.db.dispose)
