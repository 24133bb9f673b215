"""Settings from the environment (CLI flags override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_HOME = "./datamirror-data"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    db_url: str
    store_url: str
    s3_endpoint: str | None = None

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("DATAMIRROR_HOME") or DEFAULT_HOME).resolve()
        return cls(
            home=home,
            db_url=env.get("DATAMIRROR_DB") or f"sqlite:///{home / 'catalog.db'}",
            store_url=env.get("DATAMIRROR_STORE") or (home / "store").as_uri(),
            s3_endpoint=env.get("DATAMIRROR_S3_ENDPOINT") or None,
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
