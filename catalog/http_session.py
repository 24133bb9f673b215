"""One pooled aiohttp session per event loop, made on first use inside it.

A session is bound to the loop it was made in. Objects that outlive one `asyncio.run`
(a store or a source used by tests, or by a CLI command that runs twice) get a new session
in a new loop; the old loop's session went with its loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp


class SessionPerLoop:
    def __init__(self, make: Callable[[], aiohttp.ClientSession]) -> None:
        self._make = make
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            self._session, self._loop = self._make(), loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = self._loop = None
