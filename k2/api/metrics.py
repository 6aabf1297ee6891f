"""Request counts and latencies for /metrics, in the Prometheus text format, by prometheus_client.

Labels use the route template (`/v1/trades`), never the raw path, so a scan of random URLs
cannot grow the series without bound: unmatched paths all count under route="unmatched".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
disable_created_metrics()  # type: ignore[no-untyped-call]  # a *_created series per counter says when the process started: noise here


class _Scraped(Collector):
    """Metric families computed at scrape time (the caches' counters and sizes)."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        yield from self._collect()


class Metrics:
    """One registry per app: two apps in one process (the tests) never share a series."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = Counter(
            "k2_api_requests",
            "HTTP requests served, by method, route and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "k2_api_request_duration_seconds",
            "Time to serve a request, by method and route.",
            ("method", "route"),
            buckets=BUCKETS,
            registry=self.registry,
        )

    def add_collector(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """More metric families, computed at scrape time (e.g. cache counters)."""
        self.registry.register(_Scraped(collect))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
