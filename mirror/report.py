"""The sync report: what one run did, as a value stored in SyncRun.report and printed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from catalog.sizes import human_bytes
from mirror.retry import retries_summary
from mirror.sources.base import Skipped


@dataclass(frozen=True, slots=True)
class FileError:
    path: str
    error: str
    expected: str | None = None
    actual: str | None = None
    algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class SyncReport:
    dataset: str
    release: str | None
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    resumed: int = 0
    bytes_transferred: int = 0
    total_bytes: int = 0
    seconds: float = 0.0
    published: bool = False
    up_to_date: bool = False
    errors: tuple[FileError, ...] = field(default_factory=tuple)
    retries: dict[str, int] = field(default_factory=dict)
    whole_files: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)

    @property
    def rate(self) -> float:
        """Bytes per second over the whole run."""
        return self.bytes_transferred / self.seconds if self.seconds > 0 else 0.0

    @property
    def summary(self) -> str:
        if self.up_to_date:
            outcome = f"nothing changed; {self.release} stays current"
        else:
            outcome = "published" if self.published else "not published"
        line = (
            f"{self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.failed} failed; "
            f"{human_bytes(self.bytes_transferred)} in {self.seconds:.1f}s "
            f"({human_bytes(self.rate)}/s); {outcome}"
        )
        if self.resumed:
            line += f"; {self.resumed} resumed"
        if retried := retries_summary(self.retries):
            line += f"; {retried}"
        if self.skipped:
            line += f"; {len(self.skipped)} skipped"
        return line

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [
            {k: v for k, v in asdict(e).items() if v is not None} for e in self.errors
        ]
        data["rate"] = round(self.rate, 1)
        data["seconds"] = round(self.seconds, 3)
        data["whole_files"] = list(self.whole_files)
        data["summary"] = self.summary
        return data

    def lines(self) -> list[str]:
        """What the CLI prints at the end of a run."""
        where = f"{self.dataset} {self.release}" if self.release else self.dataset
        out = [f"{where}: {self.summary}"]
        if self.whole_files:
            out.append(
                f"  {len(self.whole_files)} file(s) fetched as one stream each: the server "
                f"ignores Range requests ({', '.join(self.whole_files[:3])}"
                f"{', ...' if len(self.whole_files) > 3 else ''})"
            )
        for err in self.errors:
            out.append(f"  failed {err.path}: {err.error}")
        for skip in self.skipped:
            out.append(f"  skipped {skip.path!r}: {skip.reason}")
        return out
