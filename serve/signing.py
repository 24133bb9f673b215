"""Expiring signed URLs: `?expires=<unix seconds>&signature=<hex>`.

The signature is HMAC-SHA256 over the decoded request path, a newline and `expires`, with
the server secret; the method is not part of it, so one URL serves GET and HEAD alike. The
secret is `DATAMIRROR_SECRET` when set, else a key kept in the catalog database (so every
serve process and pod agrees on it without shared files).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, unquote

EXPIRES = "expires"
SIGNATURE = "signature"
DATASETS = "/datasets/"


class Verdict(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad signature"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class SignedQuery:
    expires: str
    signature: str


def signature(key: bytes, path: str, expires: int) -> str:
    message = f"{path}\n{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def dataset_path(path: str) -> str:
    """`ds/rel/file` or `/datasets/ds/rel/file` as the decoded absolute request path."""
    path = unquote(path)
    return path if path.startswith(DATASETS) else DATASETS + path.lstrip("/")


def signed_url_path(key: bytes, path: str, expires: int) -> str:
    """The URL path with its query, percent-encoded, ready to append to the server's base."""
    decoded = dataset_path(path)
    query = f"{EXPIRES}={expires}&{SIGNATURE}={signature(key, decoded, expires)}"
    return f"{quote(decoded)}?{query}"


def verify(key: bytes, path: str, query: SignedQuery, now: float) -> Verdict:
    """Checks the signature first (in constant time), then the expiry."""
    sig = query.signature
    if not query.expires.isdigit() or len(sig) != 64 or not sig.isascii():
        return Verdict.MALFORMED
    expected = signature(key, path, int(query.expires))
    if not hmac.compare_digest(expected, query.signature.lower()):
        return Verdict.BAD_SIGNATURE
    if int(query.expires) <= now:
        return Verdict.EXPIRED
    return Verdict.VALID
