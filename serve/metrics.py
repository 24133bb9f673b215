"""Prometheus metrics through prometheus-client, covering every process of the server.

`datamirror serve` runs prometheus-client's multiprocess mode (`serve.metrics_dir` sets
PROMETHEUS_MULTIPROC_DIR before the workers start): each worker writes its numbers to its
own files in that folder, and `/metrics`, whichever worker answers it, reads them all, so
one scrape covers the pod. The in-flight gauge sums the live workers only (`livesum`);
counters and histograms of a worker that died stay counted (counters never go back). An
application made without that folder (in-process tests) keeps its numbers in memory.

prometheus-client is imported when the first `Metrics` is made, not with this module, so
that the folder is set before it chooses where its values live.

`metrics_middleware` is the outermost middleware: it finishes writing the response itself,
so the latency covers the whole body and the byte count what was sent.

The `kind` label is the name of the route that answered, up to its first dot (`api.sources`
counts as `api`, `health.ready` as `health`); `preflight` for OPTIONS, `unmatched` for a
path no route answers.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from serve.capacity import current_connections
from serve.metrics_dir import MULTIPROC_ENV

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    """The server's metrics (names and labels as they have always been):

    datamirror_http_requests_total{kind,status}       answers, by route kind and status class
    datamirror_http_response_bytes_total{kind}        body bytes sent
    datamirror_http_request_duration_seconds{kind}    histogram, to the last byte
    datamirror_http_requests_in_flight                being answered now
    datamirror_http_connection_capacity               connections the live workers can hold
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        owner = None if self.multiprocess else self.registry
        if self.multiprocess:
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self._requests = Counter(
            "datamirror_http_requests",
            "HTTP requests answered, by route kind and status class.",
            ["kind", "status"],
            registry=owner,
        )
        self._sent = Counter(
            "datamirror_http_response_bytes",
            "Response body bytes sent, by route kind.",
            ["kind"],
            registry=owner,
        )
        self._latency = Histogram(
            "datamirror_http_request_duration_seconds",
            "Time from the request to the last byte of the answer, by route kind.",
            ["kind"],
            buckets=BUCKETS,
            registry=owner,
        )
        self.in_flight = Gauge(
            "datamirror_http_requests_in_flight",
            "Requests being answered now.",
            multiprocess_mode="livesum",
            registry=owner,
        )
        self.capacity = Gauge(
            "datamirror_http_connection_capacity",
            "Connections the server can hold at once, under its open-files limit.",
            multiprocess_mode="livesum",
            registry=owner,
        )
        self.capacity.set(current_connections())
        # labelled children, looked up once per label values
        self._by_status: dict[tuple[str, str], Any] = {}
        self._by_kind: dict[str, tuple[Any, Any]] = {}
        self._kinds: dict[str, str] = {}  # route name -> its kind

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
        key = (kind, f"{status // 100}xx")
        counter = self._by_status.get(key)
        if counter is None:
            counter = self._by_status[key] = self._requests.labels(*key)
        children = self._by_kind.get(kind)
        if children is None:
            children = self._by_kind[kind] = (self._sent.labels(kind), self._latency.labels(kind))
        counter.inc()
        children[0].inc(sent)
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        """The text format of every process's numbers (reads files: call it in a thread)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    metrics.in_flight.inc()
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
        metrics.in_flight.dec()
        metrics.record(metrics.kind(request), status, sent, time.perf_counter() - started)


def _body_bytes(request: web.Request, response: web.StreamResponse) -> int:
    if request.method == "HEAD" or response.status in {204, 304}:
        return 0
    return response.content_length or 0


async def metrics_handler(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(request.app[METRICS].exposition)
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = CONTENT_TYPE
    return response
