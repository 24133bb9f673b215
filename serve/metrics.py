"""Prometheus metrics in the text exposition format (0.0.4), written by hand.

Per process: with `datamirror serve --workers N` each worker keeps its own numbers and
`/metrics` reports the worker that answered the scrape. Scrape each pod (one worker per pod
in Kubernetes, the HPA adds pods) or sum with PromQL; on one machine with several workers
the numbers of a single scrape cover one worker only.

`metrics_middleware` is the outermost middleware: it finishes writing the response itself,
so the latency covers the whole body and the byte count what was sent.

The `kind` label is the name of the route that answered, up to its first dot (`api.sources`
counts as `api`, `health.ready` as `health`); `preflight` for OPTIONS, `unmatched` for a
path no route answers.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import hdrs, web

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


@dataclass(slots=True)
class Metrics:
    requests: defaultdict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    sent: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    latency: defaultdict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    in_flight: int = 0
    # route name -> its kind, worked out once per name
    _kinds: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def kind(self, request: web.Request) -> str:
        route = request.match_info.route
        name = route.name
        if name is None:
            return "unmatched"
        if route.method == hdrs.METH_OPTIONS:
            return "preflight"
        kind = self._kinds.get(name)
        if kind is None:
            kind = self._kinds[name] = name.partition(".")[0]
        return kind

    def record(self, kind: str, status: int, sent: int, seconds: float) -> None:
        self.requests[(kind, f"{status // 100}xx")] += 1
        self.sent[kind] += sent
        self.latency[kind].observe(seconds)

    def exposition(self) -> str:
        lines = [
            "# HELP datamirror_http_requests_total HTTP requests answered, by route kind and status class.",  # noqa: E501
            "# TYPE datamirror_http_requests_total counter",
        ]
        for (kind, status), count in sorted(self.requests.items()):
            lines.append(
                f'datamirror_http_requests_total{{kind="{kind}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP datamirror_http_response_bytes_total Response body bytes sent, by route kind.",
            "# TYPE datamirror_http_response_bytes_total counter",
        ]
        lines += [
            f'datamirror_http_response_bytes_total{{kind="{k}"}} {n}'
            for k, n in sorted(self.sent.items())
        ]
        lines += _histogram_lines(self.latency)
        lines += [
            "# HELP datamirror_http_requests_in_flight Requests being answered now.",
            "# TYPE datamirror_http_requests_in_flight gauge",
            f"datamirror_http_requests_in_flight {self.in_flight}",
        ]
        return "\n".join(lines) + "\n"


def _histogram_lines(latency: dict[str, Histogram]) -> list[str]:
    name = "datamirror_http_request_duration_seconds"
    lines = [
        f"# HELP {name} Time from the request to the last byte of the answer, by route kind.",
        f"# TYPE {name} histogram",
    ]
    for kind, histogram in sorted(latency.items()):
        cumulative = 0
        for bound, count in zip((*BUCKETS, "+Inf"), histogram.counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{kind="{kind}",le="{bound}"}} {cumulative}')
        lines.append(f'{name}_sum{{kind="{kind}"}} {histogram.total}')
        lines.append(f'{name}_count{{kind="{kind}"}} {cumulative}')
    return lines


METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    metrics.in_flight += 1
    status, sent = 500, 0
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            status = exc.status
            raise
        status = response.status
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            return response  # the client left mid-answer: aiohttp drops the connection quietly
        sent = _body_bytes(request, response)
        return response
    finally:
        metrics.in_flight -= 1
        metrics.record(metrics.kind(request), status, sent, time.perf_counter() - started)


def _body_bytes(request: web.Request, response: web.StreamResponse) -> int:
    if request.method == "HEAD" or response.status in {204, 304}:
        return 0
    return response.content_length or 0


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    response = web.Response(text=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = CONTENT_TYPE
    return response
