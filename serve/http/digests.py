"""`Repr-Digest` (RFC 9530 §3) from the digests a release records for each file."""

from __future__ import annotations

import base64
import re

from catalog.manifest import ManifestEntry

_PREFERENCE = ("sha-256", "md5")
_WANT_ITEM = re.compile(r"\s*([a-z0-9-]+)\s*=\s*([0-9]+)\s*")


def known_digests(entry: ManifestEntry) -> dict[str, str]:
    """Algorithm (RFC 9530 registry name) -> hex digest, for those the entry has."""
    found = {"sha-256": entry.sha256, "md5": entry.md5}
    return {algorithm: value for algorithm, value in found.items() if value}


def _structured(algorithm: str, hex_digest: str) -> str:
    raw = bytes.fromhex(hex_digest)
    return f"{algorithm}=:{base64.b64encode(raw).decode()}:"


def repr_digest(digests: dict[str, str], want: str | None = None) -> str | None:
    """The `Repr-Digest` value: every known digest, or the ones `Want-Repr-Digest` ranks > 0."""
    if not digests:
        return None
    if want is None:
        chosen = [a for a in _PREFERENCE if a in digests]
    else:
        ranked = _wanted(want)
        chosen = sorted((a for a in digests if ranked.get(a, 0) > 0), key=lambda a: -ranked[a])
        if not chosen:
            return None
    return ", ".join(_structured(a, digests[a]) for a in chosen)


def _wanted(header: str) -> dict[str, int]:
    """`Want-Repr-Digest: sha-256=10, md5=3` -> {"sha-256": 10, "md5": 3} (§4)."""
    ranked: dict[str, int] = {}
    for item in header.lower().split(","):
        match = _WANT_ITEM.fullmatch(item)
        if match:
            ranked[match.group(1)] = min(int(match.group(2)), 10)
    return ranked
