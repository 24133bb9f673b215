"""What a job and a server work with: the settings, the catalog database and the object
store, opened together (by the composition root) and closed together."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.config import Settings
from catalog.repository import Catalog
from catalog.store.base import Store


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    catalog: Catalog
    store: Store

    async def signing_key(self) -> bytes:
        """The key that signs expiring URLs: DATAMIRROR_SECRET, else the one the catalog
        keeps for every process."""
        if self.settings.secret:
            return self.settings.secret.encode()
        return await self.catalog.tokens.signing_key()
