"""The values a benchmark run produces: samples, contenders, workloads, and their ratios."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Metric:
    """What a workload's primary figure is, and which way is better."""

    name: str
    unit: str
    higher_is_better: bool


SECONDS = Metric("time", "s", higher_is_better=False)
REQUESTS = Metric("requests", "req/s", higher_is_better=True)
PEAK_RSS = Metric("peak RSS", "MiB", higher_is_better=False)


@dataclass(frozen=True, slots=True)
class Sample:
    """One run of one contender: its primary figure and secondary details."""

    value: float
    details: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContenderResult:
    """Every run of one tool setting; `error` if a run failed or its bytes were wrong,
    `not_run` if the tool is unavailable."""

    name: str
    is_datamirror: bool
    samples: tuple[Sample, ...] = ()
    error: str | None = None
    not_run: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.not_run is None and bool(self.samples)

    @property
    def median(self) -> float | None:
        return statistics.median(s.value for s in self.samples) if self.ok else None

    @property
    def spread(self) -> tuple[float, float] | None:
        """The lowest and the highest figure of the runs."""
        values = [s.value for s in self.samples]
        return (min(values), max(values)) if values and self.ok else None

    def spread_detail(self, key: str) -> tuple[float, float] | None:
        values = [s.details[key] for s in self.samples if key in s.details]
        return (min(values), max(values)) if values and self.ok else None

    def median_detail(self, key: str) -> float | None:
        values = [s.details[key] for s in self.samples if key in s.details]
        return statistics.median(values) if values and self.ok else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datamirror": self.is_datamirror,
            "median": self.median,
            "spread": self.spread,
            "samples": [{"value": s.value, **s.details} for s in self.samples],
            "error": self.error,
            "not_run": self.not_run,
        }


@dataclass(frozen=True, slots=True)
class WorkloadResult:
    """One workload: its contenders side by side, the ratio, and the limit it runs against."""

    key: str
    title: str
    metric: Metric
    contenders: tuple[ContenderResult, ...]
    bytes_per_run: int = 0
    limit: str | None = None
    target: float | None = None
    notes: str = ""

    @property
    def datamirror(self) -> ContenderResult | None:
        return next((c for c in self.contenders if c.is_datamirror), None)

    @property
    def best_peer(self) -> ContenderResult | None:
        peers = [c for c in self.contenders if not c.is_datamirror and c.median is not None]
        if not peers:
            return None
        pick = max if self.metric.higher_is_better else min
        return pick(peers, key=lambda c: c.median or 0.0)

    @property
    def ratio(self) -> float | None:
        """datamirror against the best peer setting; above 1 means datamirror is better."""
        ours, best = self.datamirror, self.best_peer
        if self.target is not None:
            return None  # judged against its target, not against peers
        if ours is None or best is None or not ours.median or not best.median:
            return None
        if self.metric.higher_is_better:
            return ours.median / best.median
        return best.median / ours.median

    @property
    def failures(self) -> list[str]:
        return [f"{self.key} / {c.name}: {c.error}" for c in self.contenders if c.error]

    def to_json(self) -> dict[str, Any]:
        best = self.best_peer
        return {
            "key": self.key,
            "title": self.title,
            "metric": {
                "name": self.metric.name,
                "unit": self.metric.unit,
                "higher_is_better": self.metric.higher_is_better,
            },
            "bytes_per_run": self.bytes_per_run,
            "limit": self.limit,
            "target": self.target,
            "ratio": self.ratio,
            "best_peer": best.name if best else None,
            "notes": self.notes,
            "contenders": [c.to_json() for c in self.contenders],
        }
