"""Opening the body sender of a store object, by a rule chosen once at start-up from what
the store can do:

- a local store (`SupportsLocalPath`): its files, held open in `OpenFiles`, sent by
  sendfile (or by reads with `--no-sendfile`);
- any other store: objects up to 64 KiB (indexes, zarr metadata) from an LRU bounded in
  bytes; larger ones by presigned HTTP reads when the store presigns (`remote_reads`), else
  streamed through `Store.stream`.

Objects under a key never change (copy-on-change releases), so nothing cached goes stale.
"""

from __future__ import annotations

from typing import Protocol

from cachetools import LRUCache

from catalog.errors import StoreError
from catalog.store.base import Store, SupportsLocalPath, SupportsPresign
from serve.bodies import BytesSender, LocalFileSender, Sender, StreamSender
from serve.open_files import OpenFiles
from serve.remote_reads import PresignedUrls, RemoteReader

SMALL_OBJECT = 64 * 1024
DEFAULT_HOT_BYTES = 64 * 1024 * 1024


class ObjectSenders(Protocol):
    async def open(self, key: str, size: int) -> Sender:
        """The sender of object `key`, which the catalog says has `size` bytes."""
        ...

    async def close(self) -> None:
        """At shutdown: close held files and sessions."""
        ...


def object_senders(
    store: Store, *, sendfile: bool, hot_bytes: int = DEFAULT_HOT_BYTES
) -> ObjectSenders:
    if isinstance(store, SupportsLocalPath):
        return LocalSenders(store, sendfile=sendfile)
    return StoreSenders(store, hot_bytes=hot_bytes)


class LocalSenders:
    def __init__(self, store: SupportsLocalPath, *, sendfile: bool) -> None:
        self.files = OpenFiles(store.local_path)
        self.sendfile = sendfile

    async def open(self, key: str, size: int) -> Sender:
        handle = await self.files.acquire(key, size)
        return LocalFileSender(self.files, handle, sendfile=self.sendfile)

    async def close(self) -> None:
        self.files.close()


class StoreSenders:
    def __init__(self, store: Store, *, hot_bytes: int, small: int = SMALL_OBJECT) -> None:
        self.store = store
        self.small = min(small, hot_bytes)  # every cached object fits the cache
        self.hot: LRUCache[str, bytes] = LRUCache(hot_bytes, getsizeof=len)
        self.remote: RemoteReader | None = None
        if isinstance(store, SupportsPresign):
            self.remote = RemoteReader(store, PresignedUrls(store))

    async def open(self, key: str, size: int) -> Sender:
        if size <= self.small:
            return BytesSender(await self._small(key, size))
        if self.remote is not None:
            return self.remote.sender(key)
        return StreamSender(self.store, key)

    async def _small(self, key: str, size: int) -> bytes:
        try:
            return self.hot[key]
        except KeyError:
            pass
        data = await self.store.get(key)
        if len(data) != size:
            raise StoreError(f"object {key} has {len(data)} bytes, the catalog says {size}")
        self.hot[key] = data
        return data

    async def close(self) -> None:
        if self.remote is not None:
            await self.remote.close()
