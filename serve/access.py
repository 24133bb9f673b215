"""Who may read what: bearer tokens and signed URLs, resolved once per request.

`access_middleware` puts an `Access` on every request under `ACCESS`. Token lookups are
cached (token hash -> scopes) for `ttl` seconds, so a request costs no database round trip;
a revoked token keeps working for at most `ttl` seconds in each serve process. A request
with `expires` or `signature` in its query under /datasets/ is a signed request: a bad or
expired one is answered 403 before the path is even looked at, so the answer says nothing
about whether the dataset exists.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import hdrs, web
from cachetools import TTLCache

from catalog.repository import Catalog
from catalog.tokens import CURATOR, READ_PREFIX, hash_token
from serve.http.problems import ProblemError
from serve.http.url_paths import split_dataset_path
from serve.signing import DATASETS, EXPIRES, SIGNATURE, SignedQuery, Verdict, verify

DEFAULT_TOKEN_TTL = 5.0
MAX_CACHED_TOKENS = 10_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Access:
    """`shown`: a bearer token came with the request (`scopes` is empty if it is invalid)."""

    scopes: frozenset[str] = frozenset()
    shown: bool = False
    signed_dataset: str | None = None

    @property
    def curator(self) -> bool:
        return CURATOR in self.scopes

    def can_read(self, dataset: str) -> bool:
        return (
            self.curator
            or f"{READ_PREFIX}{dataset}" in self.scopes
            or self.signed_dataset == dataset
        )


ACCESS = web.RequestKey("access", Access)
ANONYMOUS = Access()


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TokenCache:
    def __init__(
        self,
        catalog: Catalog,
        ttl: float = DEFAULT_TOKEN_TTL,
        *,
        max_entries: int = MAX_CACHED_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self._entries: TTLCache[str, frozenset[str]] = TTLCache(max_entries, ttl, timer=clock)

    async def scopes(self, secret: str) -> frozenset[str]:
        """The token's scopes; empty for an unknown or revoked token (cached too)."""
        key = hash_token(secret)
        try:
            return self._entries[key]
        except KeyError:
            pass
        scopes = self._entries[key] = await self.catalog.tokens.check(secret) or frozenset()
        return scopes


class Gatekeeper:
    """Resolves a request's access from its bearer token and signed-URL query."""

    def __init__(self, tokens: TokenCache, key: Callable[[], Awaitable[bytes]]) -> None:
        self.tokens = tokens
        self._key_source = key
        self._key: bytes | None = None

    async def signing_key(self) -> bytes:
        if self._key is None:
            self._key = await self._key_source()
        return self._key

    async def access(self, request: web.Request) -> Access:
        secret = bearer_token(request.headers.get(hdrs.AUTHORIZATION))
        scopes = frozenset[str]() if secret is None else await self.tokens.scopes(secret)
        signed = await self._signed_dataset(request)
        if secret is None and signed is None:
            return ANONYMOUS
        return Access(scopes, secret is not None, signed)

    async def _signed_dataset(self, request: web.Request) -> str | None:
        if not request.rel_url.raw_query_string:
            return None
        query = request.rel_url.query
        if not request.path.startswith(DATASETS) or not (EXPIRES in query or SIGNATURE in query):
            return None
        signed = SignedQuery(query.get(EXPIRES, ""), query.get(SIGNATURE, ""))
        verdict = verify(await self.signing_key(), request.path, signed, time.time())
        if verdict is not Verdict.VALID:
            raise _refusal(verdict, signed)
        return split_dataset_path(request.rel_url.raw_path).dataset or None


def _refusal(verdict: Verdict, signed: SignedQuery) -> ProblemError:
    if verdict is Verdict.EXPIRED:
        when = datetime.fromtimestamp(int(signed.expires), UTC).isoformat()
        return ProblemError(403, f"this signed URL expired at {when}", hint=_NEW_URL)
    if verdict is Verdict.BAD_SIGNATURE:
        return ProblemError(403, "the signature does not match this URL", hint=_NEW_URL)
    detail = "a signed URL needs expires=<unix seconds> and signature=<64 hex digits>"
    return ProblemError(403, detail, hint=_NEW_URL)


_NEW_URL = "ask the data's curator for a new link (`datamirror token sign PATH`)"


GATE = web.AppKey("gatekeeper", Gatekeeper)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[ACCESS] = await request.app[GATE].access(request)
    return await handler(request)
