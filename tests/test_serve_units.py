"""The server's pure parts: the release index, the hot cache, negotiation, URL splitting."""

from __future__ import annotations

import asyncio
import base64

import pytest

from catalog.errors import InvalidPathError
from catalog.manifest import ManifestEntry
from catalog.store.base import ByteRange
from serve.http.digests import repr_digest
from serve.http.negotiation import prefers_json
from serve.http.url_paths import DatasetPath, split_dataset_path
from serve.object_senders import StoreSenders
from serve.release_index import ReleaseIndex


def _entry(path: str, size: int = 1) -> ManifestEntry:
    return ManifestEntry(path=path, key=f"objects/d/r/{path}", size=size, xxh3_128="0" * 32)


def test_the_index_derives_every_directory_from_the_paths() -> None:
    paths = ["a/b/c.txt", "a/d.txt", "e.txt", "a/b/f/g.bin"]
    index = ReleaseIndex.build("d", "r", 1, None, [_entry(p) for p in paths])
    assert [c.href for c in index.listing("") or ()] == ["a/", "e.txt"]
    assert [c.href for c in index.listing("a") or ()] == ["b/", "d.txt"]
    assert [c.href for c in index.listing("a/b") or ()] == ["c.txt", "f/"]
    assert index.listing("a/b/c.txt") is None
    assert index.file("a/d.txt") == _entry("a/d.txt")
    assert index.total_bytes == 4


class _Objects:
    """The part of a store the hot cache reads (`get`), counting the reads."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.reads: list[str] = []

    async def get(self, key: str) -> bytes:
        self.reads.append(key)
        return self.objects[key]


def test_the_hot_cache_evicts_the_least_recently_used_within_its_byte_budget() -> None:
    store = _Objects({"a": b"aaaa", "b": b"bbbb", "c": b"cccc", "big": b"12345"})
    senders = StoreSenders(store, hot_bytes=10, small=4)  # type: ignore[arg-type]

    async def read(key: str) -> bytes | None:
        sender = await senders.open(key, len(store.objects[key]))
        data = sender.read_now(ByteRange(0, len(store.objects[key])))
        return None if data is None else bytes(data)

    async def scenario() -> None:
        for key in ("a", "b", "a", "c", "a", "b"):
            assert await read(key) == store.objects[key]
        assert await read("big") is None  # above the size kept: streamed, not cached

    asyncio.run(scenario())
    assert store.reads == ["a", "b", "c", "b"]  # b was least recently used when c came
    assert "big" not in senders.hot
    assert senders.hot.currsize <= 10


@pytest.mark.parametrize(
    ("accept", "wants_json"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", True),
        ("text/html,application/xhtml+xml,*/*;q=0.8", False),
        ("application/json, text/html;q=0.5", True),
        ("text/html, application/json;q=0.9", False),
        ("application/json;q=0, */*", False),
        ("application/json;q=bogus", True),
    ],
)
def test_json_is_chosen_only_when_ranked_above_html(accept: str | None, wants_json: bool) -> None:
    assert prefers_json(accept) is wants_json


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/datasets/", DatasetPath("", None, "", True)),
        ("/datasets/ds", DatasetPath("ds", None, "", False)),
        ("/datasets/ds/", DatasetPath("ds", None, "", True)),
        ("/datasets/ds/latest", DatasetPath("ds", "latest", "", False)),
        ("/datasets/ds/r1/a/b%20c.txt", DatasetPath("ds", "r1", "a/b c.txt", False)),
        ("/datasets/ds/r1/a/", DatasetPath("ds", "r1", "a", True)),
    ],
)
def test_dataset_paths_split_into_their_parts(raw: str, expected: DatasetPath) -> None:
    assert split_dataset_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["/datasets/ds/r/..", "/datasets/ds/r/%2e%2e/x", "/datasets/ds/r/a%2fb", "/datasets/ds//x"],
)
def test_dot_segments_and_encoded_slashes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPathError):
        split_dataset_path(raw)


def test_want_repr_digest_picks_the_preferred_known_algorithms() -> None:
    digests = {"sha-256": "00" * 32, "md5": "11" * 16}
    assert repr_digest(digests, "md5=2, sha-256=5").startswith("sha-256=:")  # type: ignore[union-attr]
    assert repr_digest(digests, "sha-512=9") is None
    assert repr_digest({}, None) is None
    sha, md5 = (base64.b64encode(bytes.fromhex(digests[a])).decode() for a in ("sha-256", "md5"))
    assert repr_digest(digests) == f"sha-256=:{sha}:, md5=:{md5}:"
