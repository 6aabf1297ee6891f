"""Dependency checks behind the health and readiness routes, each with a hard time budget.

Every check runs in a worker thread of its own and the request waits at most the budget for
it, so a health route answers in about that time even when a dependency hangs (a paused process, a
dropped packet). While a check is still running, later requests wait on that same check
instead of starting another: a hung dependency costs one stuck thread, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from k2.api.models import DependencyHealth, HealthResponse, Status, now_str
from k2.api.queries import CatalogHandle
from k2.api.settings import ApiSettings
from k2.catalog import warehouse_bucket

log = logging.getLogger("k2.api")

CheckResult = tuple[Status, str]


class HealthProbe(Protocol):
    def check(self) -> list[DependencyHealth]: ...


def overall(dependencies: list[DependencyHealth]) -> Status:
    states = {d.status for d in dependencies}
    if "unhealthy" in states:
        return "unhealthy"
    return "degraded" if "degraded" in states else "healthy"


def report(version: str, dependencies: list[DependencyHealth]) -> HealthResponse:
    return HealthResponse(status=overall(dependencies), version=version, timestamp=now_str(), dependencies=dependencies)


def short(exc: BaseException) -> str:
    """First line of an error, bounded: health routes want no key, so it shows what failed, not internals."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class TimedCheck:
    def __init__(self, name: str, run: Callable[[], CheckResult], timeout_s: float) -> None:
        self.name = name
        self._run = run
        self._timeout = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"health-{name}")
        self._lock = threading.Lock()
        self._inflight: Future[CheckResult] | None = None
        self._started = 0.0

    def __call__(self) -> DependencyHealth:
        t0 = time.perf_counter()
        with self._lock:
            if self._inflight is None or self._inflight.done():
                self._inflight = self._pool.submit(self._run)
                self._started = t0
            future, started = self._inflight, self._started
        try:
            status, message = future.result(timeout=self._timeout)
        except FutureTimeout:
            status, message = (
                "unhealthy",
                (f"no answer within {self._timeout:.1f} s (check running for {time.perf_counter() - started:.1f} s)"),
            )
        except Exception as exc:
            status, message = "unhealthy", short(exc)
        latency = round((time.perf_counter() - t0) * 1000, 1)
        if status != "healthy":
            log.warning("dependency %s is %s: %s", self.name, status, message)
        return DependencyHealth(name=self.name, status=status, latency_ms=latency, message=message)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class DependencyChecks:
    """The real checks: the catalog answers (and knows the table), the warehouse bucket answers."""

    def __init__(self, settings: ApiSettings, catalog: CatalogHandle) -> None:
        self._catalog = catalog
        self._table = settings.table
        self._bucket = warehouse_bucket(settings.catalog.warehouse)
        self._s3 = _s3_client(settings, timeout_s=settings.health_timeout_s)
        self._checks = [
            TimedCheck("catalog", self._check_catalog, settings.health_timeout_s),
            TimedCheck("object-store", self._check_object_store, settings.health_timeout_s),
        ]
        # both checks in parallel: the budget is per request, not per dependency
        self._fan_out = ThreadPoolExecutor(max_workers=len(self._checks), thread_name_prefix="health")

    def check(self) -> list[DependencyHealth]:
        return list(self._fan_out.map(lambda c: c(), self._checks))

    def _check_catalog(self) -> CheckResult:
        from pyiceberg.exceptions import NoSuchNamespaceError

        # list_tables asks only the catalog (SQL or REST), not the object store, so the two
        # checks tell apart which dependency is down.
        try:
            tables = self._catalog.get().list_tables(self._table.namespace)
        except NoSuchNamespaceError:
            return "degraded", f"namespace {self._table.namespace} does not exist yet"
        if self._table.parts not in [tuple(t) for t in tables]:
            return "degraded", f"table {self._table} does not exist yet"
        return "healthy", f"table {self._table} found"

    def _check_object_store(self) -> CheckResult:
        self._s3.head_bucket(Bucket=self._bucket)
        return "healthy", f"bucket {self._bucket} answers"

    def close(self) -> None:
        for c in self._checks:
            c.close()
        self._fan_out.shutdown(wait=False, cancel_futures=True)


def _s3_client(settings: ApiSettings, timeout_s: float) -> Any:
    import boto3
    from botocore.config import Config

    c = settings.catalog
    return boto3.client(
        "s3",
        endpoint_url=c.s3_endpoint,
        aws_access_key_id=c.s3_access_key,
        aws_secret_access_key=c.s3_secret_key.get_secret_value(),
        region_name=c.s3_region,
        config=Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path"},
        ),
    )
