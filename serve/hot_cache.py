"""A least-recently-used cache of small immutable objects, bounded in bytes.

Objects under a key never change (copy-on-change releases), so entries never go stale.
"""

from __future__ import annotations

from collections import OrderedDict

SMALL_OBJECT = 64 * 1024
DEFAULT_CAPACITY = 64 * 1024 * 1024


class HotCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, max_item: int = SMALL_OBJECT) -> None:
        self.capacity = capacity
        self.max_item = max_item
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, key: str) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_item or len(data) > self.capacity or key in self._items:
            return
        self._items[key] = data
        self._size += len(data)
        while self._size > self.capacity:
            _, evicted = self._items.popitem(last=False)
            self._size -= len(evicted)

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._items)
