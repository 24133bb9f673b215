"""Settings: the one reader of datamirror's environment variables (CLI flags override them).

    DATAMIRROR_HOME              data folder                       ./datamirror-data
    DATAMIRROR_DB                SQLAlchemy URL of the catalog     sqlite:///$HOME/catalog.db
    DATAMIRROR_STORE             file:///path or s3://bucket/p     $HOME/store
    DATAMIRROR_S3_ENDPOINT       S3 endpoint (Ceph RGW, MinIO)     AWS
    AWS_REGION                   S3 region                         us-east-1
    DATAMIRROR_SECRET            URL-signing key                   a key kept in the catalog
    DATAMIRROR_SOURCE_ALLOWLIST  hosts the curator API may register although not public

AWS credentials are boto3's own business (its chain reads AWS_ACCESS_KEY_ID and friends).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_HOME = "./datamirror-data"
DEFAULT_REGION = "us-east-1"


def parse_allowlist(value: str | None) -> frozenset[str]:
    """Comma-separated host names, lower-cased, without a trailing dot."""
    return frozenset(h.strip().lower().rstrip(".") for h in (value or "").split(",") if h.strip())


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
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @property
    def embedded_db(self) -> bool:
        """The catalog is a SQLite file (one machine, no job queue)."""
        return self.db_url.startswith("sqlite")
