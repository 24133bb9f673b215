"""GA4GH DRS 1.5 documents (pure): a file as a `DrsObject`, its checksums and access
methods, the service-info, and the `Error` body. Releases and folders as bundles are
`serve.api.drs_bundles`.

Checksum types are the IANA Named Information names where one exists (`sha-256`,
`sha-384`, `sha-512`) and DRS's own names otherwise (`md5`, `sha1`); `xxh3-128`, the
digest datamirror computes of every byte it stores, is listed last, so every object has
one. BSD `sum` is no hex digest and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from posixpath import basename
from typing import Any
from urllib.parse import quote

from catalog.drs_ids import drs_uri, object_id
from catalog.manifest import ManifestEntry
from catalog.media_types import content_type

DRS_VERSION = "1.5.0"
ACCESS_ID = "https"
XXH3 = "xxh3-128"
CHECKSUM_TYPES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha-224",
    "sha256": "sha-256",
    "sha384": "sha-384",
    "sha512": "sha-512",
}
MAX_BULK = 100


@dataclass(frozen=True, slots=True)
class Site:
    """How this server is reached: `base` for URLs, `hostname` for drs:// URIs."""

    base: str
    hostname: str

    def uri(self, drs_id: str) -> str:
        return drs_uri(self.hostname, drs_id)

    def dataset_url(self, dataset: str, release: str, path: str = "") -> str:
        return f"{self.base}/datasets/{quote(dataset)}/{quote(release)}/{quote(path)}"


@dataclass(frozen=True, slots=True)
class FileFacts:
    """A file of a published release, as DRS describes it."""

    dataset: str
    release: str
    published_at: datetime
    entry: ManifestEntry
    restricted: bool

    @property
    def drs_id(self) -> str:
        return object_id(self.dataset, self.entry.path, self.entry.xxh3_128)


def rfc3339(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def checksums(entry: ManifestEntry) -> list[dict[str, str]]:
    """Every hex digest known for the bytes, named as DRS names them."""
    found = [
        {"type": CHECKSUM_TYPES[algorithm], "checksum": value}
        for algorithm, value in sorted(entry.digests.items())
        if algorithm in CHECKSUM_TYPES
    ]
    return [*found, {"type": XXH3, "checksum": entry.xxh3_128}]


def file_object(site: Site, facts: FileFacts) -> dict[str, Any]:
    entry = facts.entry
    drs_id = facts.drs_id
    created = rfc3339(entry.mtime or facts.published_at)
    return {
        "id": drs_id,
        "name": basename(entry.path),
        "self_uri": site.uri(drs_id),
        "size": entry.size,
        "created_time": created,
        "updated_time": created,
        "mime_type": content_type(entry.path),
        "checksums": checksums(entry),
        "access_methods": access_methods(site, facts),
        "aliases": [f"{facts.dataset}/{entry.path}"],
        "description": f"{entry.path} of the dataset {facts.dataset}",
    }


def access_methods(site: Site, facts: FileFacts) -> list[dict[str, Any]]:
    """Public files: their URL under /datasets/ (and the same through `access_id`).
    Restricted ones: only an `access_id`, which a bearer token turns into a signed URL."""
    if facts.restricted:
        authorizations = {"drs_object_id": facts.drs_id, "supported_types": ["BearerAuth"]}
        return [{"type": "https", "access_id": ACCESS_ID, "authorizations": authorizations}]
    url = site.dataset_url(facts.dataset, facts.release, facts.entry.path)
    return [{"type": "https", "access_url": {"url": url}, "access_id": ACCESS_ID}]


def service_info(site: Site, version: str) -> dict[str, Any]:
    """GA4GH service-info (v1.0.0) with DRS's own members."""
    return {
        "id": service_id(site.hostname),
        "name": "datamirror DRS",
        "type": {"group": "org.ga4gh", "artifact": "drs", "version": DRS_VERSION},
        "description": (
            "GA4GH DRS over the releases this server mirrors: every file of a release is a "
            "DRS object, every release a bundle of them."
        ),
        "organization": {"name": site.hostname, "url": site.base},
        "version": version,
        "maxBulkRequestLength": MAX_BULK,
        "drs": {"maxBulkRequestLength": MAX_BULK},
    }


def service_id(hostname: str) -> str:
    """Reverse domain notation of the host (`org.example.data.drs`); hosts that are no
    domain names (addresses, single labels) get `local.<host>.drs`."""
    labels = hostname.lower().split(".")
    if len(labels) < 2 or labels[-1].isdigit() or ":" in hostname:
        return f"local.{hostname.replace(':', '-').replace('.', '-')}.drs"
    return ".".join(reversed(labels)) + ".drs"


def error_body(status: int, detail: str, hint: str | None) -> dict[str, object]:
    """The DRS `Error`: `msg` (with the hint, if any) and `status_code`."""
    return {"msg": f"{detail}; {hint}" if hint else detail, "status_code": status}
