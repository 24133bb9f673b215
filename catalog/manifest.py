"""Release manifests: the value objects a release is made of, and their JSON form.

A manifest lists every path of a release with its object key, size, digests and GA4GH DRS
id (`drs_id`), and the release's own DRS bundle id (`drs_bundle_id`). It is written next to
the release in the store, so the catalog can be rebuilt from the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog.drs_ids import bundle_id, object_id

MANIFEST_VERSION = 1


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    key: str
    size: int
    xxh3_128: str
    mtime: datetime | None = None
    md5: str | None = None
    sha256: str | None = None
    source_etag: str | None = None
    # digests verified beyond md5 and sha256 (sha1, sha512, BSD `sum`), by algorithm
    other_digests: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def digests(self) -> dict[str, str]:
        """Every digest known for the bytes but xxh3-128, by algorithm name."""
        known = {"md5": self.md5, "sha256": self.sha256}
        return {**{k: v for k, v in known.items() if v}, **self.other_digests}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "key": self.key,
            "size": self.size,
            "xxh3_128": self.xxh3_128,
            "mtime": self.mtime.isoformat() if self.mtime else None,
            "md5": self.md5,
            "sha256": self.sha256,
            "source_etag": self.source_etag,
            "other_digests": dict(self.other_digests) or None,
        }
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestEntry:
        mtime = data.get("mtime")
        return cls(
            path=data["path"],
            key=data["key"],
            size=int(data["size"]),
            xxh3_128=data["xxh3_128"],
            mtime=datetime.fromisoformat(mtime) if mtime else None,
            md5=data.get("md5"),
            sha256=data.get("sha256"),
            source_etag=data.get("source_etag"),
            other_digests=dict(data.get("other_digests") or {}),
        )


def dump_manifest(
    dataset: str, release: str, source_url: str, entries: Iterable[ManifestEntry]
) -> bytes:
    files = [
        {**e.to_json(), "drs_id": object_id(dataset, e.path, e.xxh3_128)}
        for e in sorted(entries, key=lambda e: e.path)
    ]
    document = {
        "version": MANIFEST_VERSION,
        "dataset": dataset,
        "release": release,
        "source": source_url,
        "drs_bundle_id": bundle_id(dataset, release),
        "files": files,
    }
    return json.dumps(document, indent=1, sort_keys=True).encode()


def load_manifest(raw: bytes) -> tuple[dict[str, Any], list[ManifestEntry]]:
    """The manifest's header fields and its entries."""
    document = json.loads(raw)
    files = [ManifestEntry.from_json(f) for f in document.pop("files")]
    return document, files
