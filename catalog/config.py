"""Settings: the one reader of datamirror's environment variables (CLI flags override them).

    DATAMIRROR_HOME              data folder                       ./datamirror-data
    DATAMIRROR_DB                SQLAlchemy URL of the catalog     sqlite:///$HOME/catalog.db
    DATAMIRROR_STORE             file:///path or s3://bucket/p     $HOME/store
    DATAMIRROR_S3_ENDPOINT       S3 endpoint (Ceph RGW, MinIO)     AWS
    AWS_REGION                   S3 region                         us-east-1
    DATAMIRROR_SECRET            URL-signing key                   a key kept in the catalog
    DATAMIRROR_SOURCE_ALLOWLIST  hosts the curator API may register although not public
    DATAMIRROR_CREDENTIALS_<NAME>_ACCESS_KEY_ID, _SECRET_ACCESS_KEY (and _SESSION_TOKEN)
                                 the key pair of S3 sources with the option `credentials: NAME`

The store's AWS credentials are boto3's own business (its chain reads AWS_ACCESS_KEY_ID
and friends); sources registered through the curator API never use them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from catalog.public_address import parse_allowlist

DEFAULT_HOME = "./datamirror-data"
DEFAULT_REGION = "us-east-1"


CREDENTIALS_PREFIX = "DATAMIRROR_CREDENTIALS_"
CREDENTIALS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
CREDENTIALS_VARIABLE = re.compile(
    r"^DATAMIRROR_CREDENTIALS_(?P<name>[A-Z0-9_]+?)_(?P<part>ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$"
)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """S3 credentials named for a source (never the store's)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def credentials_variable(name: str) -> str:
    """The environment name under which the key pair `name` is looked up (its prefix)."""
    return f"{CREDENTIALS_PREFIX}{name.upper().replace('-', '_')}"


def parse_credentials(env: Mapping[str, str]) -> dict[str, KeyPair]:
    """The named key pairs of the environment, by their upper-case name; a name with only
    half a pair is left out."""
    parts: dict[str, dict[str, str]] = {}
    for variable, value in env.items():
        match = CREDENTIALS_VARIABLE.match(variable)
        if match and value:
            parts.setdefault(match.group("name"), {})[match.group("part")] = value
    return {
        name: KeyPair(p["ACCESS_KEY_ID"], p["SECRET_ACCESS_KEY"], p.get("SESSION_TOKEN"))
        for name, p in parts.items()
        if "ACCESS_KEY_ID" in p and "SECRET_ACCESS_KEY" in p
    }


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    db_url: str
    store_url: str
    s3_endpoint: str | None = None
    aws_region: str = DEFAULT_REGION
    secret: str | None = field(default=None, repr=False)
    source_allowlist: frozenset[str] = frozenset()
    home_from_default: bool = False
    source_credentials: Mapping[str, KeyPair] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("DATAMIRROR_HOME") or DEFAULT_HOME).resolve()
        return cls(
            home=home,
            db_url=env.get("DATAMIRROR_DB") or f"sqlite:///{home / 'catalog.db'}",
            store_url=env.get("DATAMIRROR_STORE") or (home / "store").as_uri(),
            s3_endpoint=env.get("DATAMIRROR_S3_ENDPOINT") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            secret=env.get("DATAMIRROR_SECRET") or None,
            source_allowlist=parse_allowlist(env.get("DATAMIRROR_SOURCE_ALLOWLIST")),
            home_from_default=not env.get("DATAMIRROR_HOME"),
            source_credentials=parse_credentials(env),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    def key_pair(self, name: str) -> KeyPair | None:
        """The key pair named `name` (as a source's `credentials` option spells it)."""
        return self.source_credentials.get(name.upper().replace("-", "_"))

    @property
    def embedded_db(self) -> bool:
        """The catalog is a SQLite file (one machine, no job queue)."""
        return self.db_url.startswith("sqlite")
