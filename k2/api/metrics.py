"""Request counts and latencies in the Prometheus text format (0.0.4), without a client library.

Labels use the route template (`/v1/trades`), never the raw path, so a scan of random URLs
cannot grow the series without bound: unmatched paths all count under route="unmatched".
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(**labels: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


def _num(v: float) -> str:
    return repr(float(v)) if v != int(v) else f"{int(v)}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        # per (method, route): counts per bucket (non-cumulative; summed when rendered), sum, count
        self._buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sum: dict[tuple[str, str], float] = defaultdict(float)
        self._collectors: list[Callable[[], list[str]]] = []

    def add_collector(self, collect: Callable[[], list[str]]) -> None:
        """More exposition lines, computed at scrape time (e.g. cache counters)."""
        self._collectors.append(collect)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        index = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            self._buckets[(method, route)][index] += 1
            self._sum[(method, route)] += seconds

    def render(self) -> str:
        with self._lock:
            requests = dict(self._requests)
            buckets = {k: list(v) for k, v in self._buckets.items()}
            sums = dict(self._sum)
        out = [
            "# HELP k2_api_requests_total HTTP requests served, by method, route and status.",
            "# TYPE k2_api_requests_total counter",
        ]
        for (method, route, status), n in sorted(requests.items()):
            out.append(f"k2_api_requests_total{_labels(method=method, route=route, status=status)} {n}")
        out += [
            "# HELP k2_api_request_duration_seconds Time to serve a request, by method and route.",
            "# TYPE k2_api_request_duration_seconds histogram",
        ]
        for (method, route), counts in sorted(buckets.items()):
            cumulative = 0
            for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                cumulative += n
                le = "+Inf" if bound == float("inf") else _num(bound)
                out.append(
                    f"k2_api_request_duration_seconds_bucket{_labels(method=method, route=route, le=le)} {cumulative}"
                )
            labels = _labels(method=method, route=route)
            out.append(f"k2_api_request_duration_seconds_sum{labels} {sums[(method, route)]!r}")
            out.append(f"k2_api_request_duration_seconds_count{labels} {cumulative}")
        for collect in self._collectors:
            out += collect()
        return "\n".join(out) + "\n"
