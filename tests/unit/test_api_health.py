"""Dependency checks: a hard time budget per check, one in-flight check per dependency, and the
overall status derived from the worst dependency. No services: hangs are simulated with events."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pyiceberg.exceptions import NoSuchNamespaceError

from k2.api.health import CheckResult, DependencyChecks, TimedCheck, overall, report
from k2.api.models import DependencyHealth
from k2.api.queries import CatalogHandle
from k2.api.settings import ApiSettings
from tests.unit.test_api_app import ENV


def dep(status: Any) -> DependencyHealth:
    return DependencyHealth(name="x", status=status, latency_ms=0.0, message="")


def test_overall_status_is_the_worst_dependency() -> None:
    assert overall([dep("healthy"), dep("healthy")]) == "healthy"
    assert overall([dep("healthy"), dep("degraded")]) == "degraded"
    assert overall([dep("degraded"), dep("unhealthy")]) == "unhealthy"
    assert overall([]) == "healthy"
    body = report("1.2.3", [dep("degraded")])
    assert (body.status, body.version) == ("degraded", "1.2.3")
    assert body.timestamp.endswith("Z")


def test_a_hanging_check_answers_unhealthy_within_its_budget() -> None:
    release = threading.Event()
    calls = []

    def hang() -> CheckResult:
        calls.append(1)
        release.wait(10)
        return "healthy", "finally"

    check = TimedCheck("slow", hang, timeout_s=0.2)
    try:
        t0 = time.monotonic()
        result = check()
        assert time.monotonic() - t0 < 1.0
        assert result.status == "unhealthy"
        assert result.message.startswith("no answer within 0.2 s")
        assert 150 <= result.latency_ms < 1000
        # a second request waits on the same stuck check instead of starting another thread
        assert check().status == "unhealthy"
        assert len(calls) == 1
        release.set()
        assert check().status == "healthy"
    finally:
        release.set()
        check.close()


def test_a_failing_check_reports_the_error_briefly() -> None:
    def fail() -> CheckResult:
        raise ConnectionError("connection refused\nsecond line with details")

    check = TimedCheck("db", fail, timeout_s=1)
    try:
        result = check()
    finally:
        check.close()
    assert result.status == "unhealthy"
    assert result.message == "ConnectionError: connection refused"
    assert result.name == "db"


class FakeCatalog:
    def __init__(self, tables: list[tuple[str, str]] | Exception) -> None:
        self.tables = tables

    def list_tables(self, namespace: str) -> list[tuple[str, str]]:
        if isinstance(self.tables, Exception):
            raise self.tables
        return self.tables


class FixedHandle(CatalogHandle):
    def __init__(self, catalog: FakeCatalog) -> None:
        self.catalog = catalog

    def get(self) -> Any:
        return self.catalog


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:  # bound but not listening: connections are refused at once
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.mark.parametrize(
    ("tables", "status", "message"),
    [
        ([("market_data", "trades")], "healthy", "table market_data.trades found"),
        ([("market_data", "other")], "degraded", "table market_data.trades does not exist yet"),
        (NoSuchNamespaceError("market_data"), "degraded", "namespace market_data does not exist yet"),
        (OSError("could not connect to server"), "unhealthy", "OSError: could not connect to server"),
    ],
)
def test_catalog_check(closed_port: int, tables: Any, status: str, message: str) -> None:
    settings = ApiSettings.from_env(
        {**ENV, "K2_S3_ENDPOINT": f"http://127.0.0.1:{closed_port}", "K2_API_HEALTH_TIMEOUT_MS": "1000"}
    )
    checks = DependencyChecks(settings, FixedHandle(FakeCatalog(tables)))
    try:
        catalog, store = checks.check()
    finally:
        checks.close()
    assert (catalog.name, catalog.status, catalog.message) == ("catalog", status, message)
    # nothing listens on the S3 port: the object store is down, and says so within the budget
    assert (store.name, store.status) == ("object-store", "unhealthy")
    assert store.latency_ms < 1500
