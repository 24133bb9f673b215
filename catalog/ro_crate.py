"""A release's RO-Crate 1.2 metadata document (`ro-crate-metadata.json`), built by hand as
a pure function; tests/test_ro_crate.py proves it equal to what the `rocrate` library
reads back, and valid for roc-validator at REQUIRED level.

The crate's root is the release folder (`/datasets/<ds>/<release>/`), so every file is a
`File` entity whose `@id` is its percent-encoded dataset path. What RO-Crate requires is
always there, even when the curator gave only a name and a URL:

- `description`: the curator's, or "Mirror of <source> taken <date>";
- `datePublished`: when the release was published (written just before the flip);
- `license`: a contextual entity for a URL or an SPDX identifier, the curator's words
  for anything else, or a sentence saying that it is unknown (RO-Crate 1.2 allows a
  textual description);
- `publisher`: the organization at the source's host (an `Organization`, its origin as
  `url`).

The source is `isBasedOn`; the sync run is a `CreateAction` (start and end time, the
source as `object`, the crate as `result`) with datamirror and its version as
`instrument`. Checksums: `sha256` is a term of the RO-Crate context; the other verified
digests (md5, sha1, sha512, BSD `sum`) are ad hoc terms, added to the local context and
defined in the crate as RO-Crate's appendix on ad hoc terms asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from posixpath import basename
from typing import Any
from urllib.parse import quote, urlsplit

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from catalog.agents import Agent, parse_agent
from catalog.manifest import ManifestEntry
from catalog.media_types import content_type

VERSION = "1.2"
CONTEXT = f"https://w3id.org/ro/crate/{VERSION}/context"
PROFILE = f"https://w3id.org/ro/crate/{VERSION}"
METADATA_ID = "ro-crate-metadata.json"
TOOL = "datamirror"
# datamirror's public home, which the crate names as the tool's `url`: set it when the
# project has one (RO-Crate requires a `url` on every SoftwareApplication)
TOOL_URL = "https://datamirror.invalid/"
TERMS = "https://w3id.org/ro/terms/datamirror#"
UNKNOWN_LICENSE = (
    "Unknown: neither the source nor the curator of this mirror stated a license; "
    "the terms of the source apply, ask its publisher before reuse."
)
# verified digests other than sha256 (a term of the RO-Crate context): crate term, meaning
AD_HOC_DIGESTS = {
    "md5": ("md5", "The MD5 digest of the file's bytes, as lowercase hex."),
    "sha1": ("sha1", "The SHA-1 digest of the file's bytes, as lowercase hex."),
    "sha224": ("sha224", "The SHA-224 digest of the file's bytes, as lowercase hex."),
    "sha384": ("sha384", "The SHA-384 digest of the file's bytes, as lowercase hex."),
    "sha512": ("sha512", "The SHA-512 digest of the file's bytes, as lowercase hex."),
    "sum": ("bsdSum", "The BSD `sum` checksum and 1 KiB block count of the file."),
}
_TERM_NAMES = dict(AD_HOC_DIGESTS.values())


@dataclass(frozen=True, slots=True)
class CrateFacts:
    """What the crate says about the release besides its files."""

    dataset: str
    source_url: str
    release: str
    published: datetime
    title: str | None = None
    description: str | None = None
    license: str | None = None
    run_started: datetime | None = None
    run_ended: datetime | None = None
    creators: tuple[str, ...] = ()
    publisher: str | None = None
    keywords: tuple[str, ...] = ()
    homepage: str | None = None
    citation: str | None = None


def ro_crate(facts: CrateFacts, entries: Sequence[ManifestEntry]) -> dict[str, Any]:
    """The RO-Crate metadata document of a release with `entries`."""
    files = [file_entity(e) for e in sorted(entries, key=lambda e: e.path)]
    terms = sorted({t for f in files for t in f if t in _TERM_NAMES})
    license_value, license_entities = license_of(facts.license)
    publisher = publisher_of(facts)
    creators = [
        agent_entity(parse_agent(text), f"#creator-{number}")
        for number, text in enumerate(facts.creators, start=1)
    ]
    tool = tool_entity()
    root: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "name": facts.title or facts.dataset,
        "description": facts.description or derived_description(facts),
        "datePublished": iso(facts.published),
        "license": license_value,
        "publisher": {"@id": publisher["@id"]},
        "isBasedOn": {"@id": facts.source_url},
        "identifier": f"{facts.dataset}/{facts.release}",
        "version": facts.release,
        "contentSize": str(sum(e.size for e in entries)),
        "hasPart": [{"@id": f["@id"]} for f in files],
    }
    if creators:
        root["creator"] = [{"@id": c["@id"]} for c in creators]
    if facts.keywords:
        root["keywords"] = list(facts.keywords)
    if facts.homepage:
        root["url"] = facts.homepage
    if facts.citation:
        # RO-Crate's `citation` names a work by its absolute URI; words go in `creditText`
        is_uri = urlsplit(facts.citation).scheme in {"http", "https"} and " " not in facts.citation
        root["citation" if is_uri else "creditText"] = (
            {"@id": facts.citation} if is_uri else facts.citation
        )
    graph = [
        {
            "@id": METADATA_ID,
            "@type": "CreativeWork",
            "conformsTo": {"@id": PROFILE},
            "about": {"@id": "./"},
        },
        root,
        *_unique([publisher, *creators]),
        {
            "@id": facts.source_url,
            "@type": "CreativeWork",
            "name": f"Source of {facts.dataset}",
            "url": facts.source_url,
        },
        create_action(facts, tool["@id"]),
        tool,
        *license_entities,
        *(_term_entity(t) for t in terms),
        *files,
    ]
    context: Any = CONTEXT
    if terms:
        context = [CONTEXT, {t: TERMS + t for t in terms}]
    return {"@context": context, "@graph": graph}


def file_entity(entry: ManifestEntry) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "@id": quote(entry.path),
        "@type": "File",
        "name": basename(entry.path),
        "contentSize": str(entry.size),
        "encodingFormat": content_type(entry.path),
    }
    if entry.mtime:
        entity["dateModified"] = iso(entry.mtime)
    for algorithm, value in sorted(entry.digests.items()):
        if algorithm == "sha256":
            entity["sha256"] = value
        elif algorithm in AD_HOC_DIGESTS:
            entity[AD_HOC_DIGESTS[algorithm][0]] = value
    return entity


def derived_description(facts: CrateFacts) -> str:
    taken = facts.run_started or facts.published
    return f"Mirror of {facts.source_url} taken {taken.astimezone(UTC).date().isoformat()}"


def license_of(text: str | None) -> tuple[Any, list[dict[str, Any]]]:
    """The root's `license` and the contextual entities it refers to."""
    if not text or not text.strip():
        return UNKNOWN_LICENSE, []
    text = text.strip()
    if urlsplit(text).scheme in {"http", "https"}:
        entity = {"@id": text, "@type": "CreativeWork", "name": text, "url": text}
        return {"@id": text}, [entity]
    spdx = spdx_id(text)
    if spdx is None:
        return text, []
    url = f"http://spdx.org/licenses/{spdx}"
    entity = {
        "@id": url,
        "@type": "CreativeWork",
        "name": spdx,
        "identifier": spdx,
        "description": f"The SPDX license {spdx}, as the curator of this mirror stated it.",
        "url": f"https://spdx.org/licenses/{spdx}.html",
    }
    return {"@id": url}, [entity]


def spdx_id(text: str) -> str | None:
    """The SPDX License List identifier `text` names (any case), or None."""
    try:
        canonical = canonicalize_license_expression(text)
    except InvalidLicenseExpression:
        return None
    if " " in canonical or canonical.startswith("LicenseRef-"):
        return None
    return str(canonical)


def publisher_of(facts: CrateFacts) -> dict[str, Any]:
    """The publisher the curator named, else the organization at the source's host: what
    published the bytes mirrored (a local id: its origin may be the source's own URL,
    which is the `isBasedOn` entity)."""
    if facts.publisher:
        return agent_entity(parse_agent(facts.publisher, role="publisher"), "#publisher")
    parts = urlsplit(facts.source_url)
    origin = f"{parts.scheme}://{parts.netloc}/"
    return {"@id": "#source-publisher", "@type": "Organization",
            "name": parts.hostname or parts.netloc, "url": origin}  # fmt: skip


def agent_entity(agent: Agent, local_id: str) -> dict[str, Any]:
    """A Person or Organization entity, identified by its URL (an ORCID) when it has one."""
    return {"@id": agent.url or local_id, **agent.schema_org()}


def _unique(entities: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entity once (a creator may also be the publisher)."""
    return list({entity["@id"]: entity for entity in reversed(entities)}.values())[::-1]


def tool_entity() -> dict[str, Any]:
    version = tool_version()
    return {
        "@id": f"#{TOOL}-{version}",
        "@type": "SoftwareApplication",
        "name": TOOL,
        "version": version,
        "url": TOOL_URL,
    }


def tool_version() -> str:
    try:
        return metadata.version(TOOL)
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def create_action(facts: CrateFacts, tool_id: str) -> dict[str, Any]:
    action: dict[str, Any] = {
        "@id": f"#sync-{facts.release}",
        "@type": "CreateAction",
        "name": f"datamirror sync of {facts.dataset} into release {facts.release}",
        "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
        "instrument": {"@id": tool_id},
        "object": {"@id": facts.source_url},
        "result": {"@id": "./"},
        "endTime": iso(facts.run_ended or facts.published),
    }
    if facts.run_started:
        action["startTime"] = iso(facts.run_started)
    return action


def _term_entity(term: str) -> dict[str, Any]:
    meaning = _TERM_NAMES[term]
    return {
        "@id": TERMS + term,
        "@type": "rdf:Property",
        "name": term,
        "rdfs:label": term,
        "description": meaning,
        "rdfs:comment": meaning,
        "domainIncludes": {"@id": "http://schema.org/MediaObject"},
    }


def iso(when: datetime) -> str:
    """ISO 8601 in UTC, to the second (SQLite hands back naive datetimes, in UTC)."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")
