"""The server's pure parts: the release index, the hot cache, negotiation, URL splitting."""

from __future__ import annotations

import base64

import pytest

from catalog.errors import InvalidPathError
from catalog.manifest import ManifestEntry
from serve.hot_cache import HotCache
from serve.http.digests import repr_digest
from serve.http.negotiation import prefers_json
from serve.http.url_paths import DatasetPath, split_dataset_path
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


def test_the_hot_cache_evicts_the_least_recently_used_within_its_byte_budget() -> None:
    cache = HotCache(capacity=10, max_item=4)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"
    cache.put("c", b"cccc")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"aaaa", None, b"cccc")
    cache.put("big", b"12345")
    assert cache.get("big") is None
    assert cache.size <= 10


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
