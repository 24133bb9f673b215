"""Bearer tokens: random secrets kept only as SHA-256 hashes, each with its scopes; and the
server's URL-signing key, shared by every serve process through the database.

Scopes: `curator` (the curator API and every restricted dataset) and `read:<dataset>`. A
token may carry several, separated by spaces (as OAuth spells them).

The signing key is a row of the `tokens` table with scope `internal:url-signing-key`, its
`token_hash` column holding the key itself (64 hex digits). It is never a bearer token:
`check_token` skips that scope, and no secret hashes to a chosen value anyway.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import Database
from catalog.errors import (
    InvalidNameError,
    InvalidScopeError,
    UnknownDatasetError,
    UnknownTokenError,
)
from catalog.layout import check_name
from catalog.models import Dataset, Token, utcnow

CURATOR = "curator"
READ_PREFIX = "read:"
SIGNING_KEY_SCOPE = "internal:url-signing-key"
MAX_SCOPE = 200  # the column's width
MAX_ID = 2**31 - 1  # the id column's range (a 32-bit INTEGER in PostgreSQL)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    scopes: tuple[str, ...]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Token) -> TokenInfo:
        return cls(row.id, tuple(row.scope.split()), row.label, row.created_at, row.revoked_at)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: what is kept of it, and its secret (shown once, never stored)."""

    info: TokenInfo
    secret: str = field(repr=False)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scope: str) -> tuple[str, ...]:
    """The scopes of a space-separated scope string, each checked for its form."""
    scopes = tuple(dict.fromkeys(scope.split()))
    if not scopes or len(" ".join(scopes)) > MAX_SCOPE:
        raise InvalidScopeError(scope if scopes else "")
    for one in scopes:
        if one == CURATOR:
            continue
        if not one.startswith(READ_PREFIX):
            raise InvalidScopeError(one)
        try:
            check_name(one.removeprefix(READ_PREFIX))
        except InvalidNameError:
            raise InvalidScopeError(one) from None
    return scopes


class Tokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, scope: str, label: str | None = None) -> str:
        """A new token's secret (shown once; only its hash is stored); its datasets must
        exist (`UnknownDatasetError` otherwise)."""
        return (await self.issue(scope, label)).secret

    async def issue(self, scope: str, label: str | None = None) -> IssuedToken:
        """`create`, with what is kept of the token (its id, scopes, label, creation)."""
        scopes = parse_scopes(scope)
        return await self._db.run(lambda session: _create(session, scopes, label))

    async def check(self, secret: str) -> frozenset[str] | None:
        """The scopes of a live token, or None for an unknown or revoked one."""
        return await self._db.run(lambda session: _check(session, secret))

    async def revoke(self, token_id: int) -> TokenInfo:
        return await self._db.run(lambda session: _revoke(session, token_id))

    async def list(self) -> builtins.list[TokenInfo]:
        def rows(session: Session) -> builtins.list[TokenInfo]:
            query = select(Token).where(Token.scope != SIGNING_KEY_SCOPE).order_by(Token.id)
            return [TokenInfo.from_row(r) for r in session.scalars(query)]

        return await self._db.run(rows)

    async def signing_key(self) -> bytes:
        """The URL-signing key; made on first use. Racing processes all settle on the
        oldest."""
        key = await self._db.run(_oldest_key)
        if key is None:
            await self._db.run(
                lambda session: session.add(
                    Token(token_hash=secrets.token_hex(32), scope=SIGNING_KEY_SCOPE)
                )
            )
            key = await self._db.run(_oldest_key)
            assert key is not None
        return bytes.fromhex(key)


def _create(session: Session, scopes: tuple[str, ...], label: str | None) -> IssuedToken:
    for name in (s.removeprefix(READ_PREFIX) for s in scopes if s != CURATOR):
        if session.scalar(select(Dataset.id).where(Dataset.name == name)) is None:
            raise UnknownDatasetError(name)
    secret = secrets.token_urlsafe(32)
    row = Token(token_hash=hash_token(secret), scope=" ".join(scopes), label=label)
    session.add(row)
    session.flush()
    session.refresh(row)
    return IssuedToken(TokenInfo.from_row(row), secret)


def _check(session: Session, secret: str) -> frozenset[str] | None:
    row = session.scalar(
        select(Token).where(
            Token.token_hash == hash_token(secret), Token.scope != SIGNING_KEY_SCOPE
        )
    )
    if row is None or row.revoked_at is not None:
        return None
    return frozenset(row.scope.split())


def _revoke(session: Session, token_id: int) -> TokenInfo:
    if not 0 < token_id <= MAX_ID:
        raise UnknownTokenError(token_id)
    row = session.get(Token, token_id)
    if row is None or row.scope == SIGNING_KEY_SCOPE:
        raise UnknownTokenError(token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return TokenInfo.from_row(row)


def _oldest_key(session: Session) -> str | None:
    return session.scalar(
        select(Token.token_hash).where(Token.scope == SIGNING_KEY_SCOPE).order_by(Token.id).limit(1)
    )
