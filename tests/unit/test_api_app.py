"""The HTTP layer over a fake store: auth, envelopes, parameter validation, correlation ids,
health status codes, metrics and the OpenAPI document. No services."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from k2.api.app import create_app
from k2.api.models import (
    DependencyHealth,
    ErrorResponse,
    HealthResponse,
    Snapshot,
    SnapshotsResponse,
    StatsResponse,
    SymbolsResponse,
    TableStats,
    TradesResponse,
)
from k2.api.queries import StoreUnavailable, TradePage, TradeQuery
from k2.api.settings import ApiSettings
from k2.schemas.table import ARROW_SCHEMA
from tests.unit.test_api_models import sample_row

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}
ENV = {
    "K2_API_KEY": KEY,
    "K2_API_VERSION": "9.9.9",
    "K2_CATALOG_URI": "postgresql+psycopg2://u:p@127.0.0.1:1/db",
    "K2_S3_ENDPOINT": "http://127.0.0.1:1",
    "K2_S3_ACCESS_KEY": "a",
    "K2_S3_SECRET_KEY": "b",
}


class FakeStore:
    """Holds rows in memory and pages them like the real store (newest first)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.queries: list[TradeQuery] = []
        self.fail: Exception | None = None

    def trades(self, query: TradeQuery) -> TradePage:
        self.queries.append(query)
        if self.fail is not None:
            raise self.fail
        found = [r for r in self.rows if query.symbol in (None, r["symbol"])]
        found.sort(key=lambda r: (r["timestamp"], r["trade_id"]), reverse=True)
        page = pa.Table.from_pylist(found[query.offset : query.offset + query.limit], schema=ARROW_SCHEMA)
        return TradePage(page, len(found))

    def symbols(self, exchange: str | None) -> list[str]:
        return sorted({r["symbol"] for r in self.rows if exchange in (None, r["exchange"])})

    def stats(self) -> TableStats:
        if self.fail is not None:
            raise self.fail
        return TableStats(
            table="market_data.trades",
            exists=True,
            total_rows=len(self.rows),
            rows_per_symbol={"BTCUSDT": 2, "ETHUSDT": 1},
            snapshot_count=2,
            current_snapshot_id=7,
            total_data_files=3,
            last_updated="2024-01-15T09:30:00.000000Z",
        )

    def snapshots(self, limit: int, offset: int) -> tuple[list[Snapshot], int]:
        snaps = [
            Snapshot(
                snapshot_id=i,
                parent_snapshot_id=i - 1 if i > 1 else None,
                sequence_number=i,
                timestamp="2024-01-15T09:30:00.000000Z",
                timestamp_ms=1705311000000 + i,
                operation="append",
                summary={"added-records": "1"},
            )
            for i in (3, 2, 1)
        ]
        return snaps[offset : offset + limit], len(snaps)


class FakeHealth:
    def __init__(self) -> None:
        self.states: dict[str, Any] = {"catalog": "healthy", "object-store": "healthy"}

    def check(self) -> list[DependencyHealth]:
        return [DependencyHealth(name=n, status=s, latency_ms=1.5, message=f"{n} {s}") for n, s in self.states.items()]


ROWS = [
    sample_row(
        trade_id="BINANCE-1", symbol="BTCUSDT", timestamp=datetime(2024, 1, 14, 9, 0), price=Decimal("0.00000001")
    ),
    sample_row(
        trade_id="BINANCE-2",
        symbol="BTCUSDT",
        timestamp=datetime(2024, 1, 15, 9, 0),
        price=Decimal("12345678.87654321"),
    ),
    sample_row(
        trade_id="BINANCE-3",
        symbol="ETHUSDT",
        timestamp=datetime(2024, 1, 16, 9, 0),
        trade_conditions='["late"]',
        vendor_data=None,
        source_sequence=None,
    ),
]


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(list(ROWS))


@pytest.fixture
def health() -> FakeHealth:
    return FakeHealth()


@pytest.fixture
def client(store: FakeStore, health: FakeHealth) -> TestClient:
    app = create_app(ApiSettings.from_env(ENV), store=store, health=health)
    return TestClient(app, raise_server_exceptions=False)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ErrorResponse.model_validate(body)
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["meta"]["correlation_id"] == response.headers["X-Correlation-ID"]
    return body


# ------------------------------------------------------------------ auth
V1_ROUTES = ["/v1/trades", "/v1/symbols", "/v1/stats", "/v1/snapshots"]


@pytest.mark.parametrize("route", V1_ROUTES)
def test_every_v1_route_wants_the_key(client: TestClient, route: str) -> None:
    body = assert_error(client.get(route), 401, "UNAUTHORIZED")
    assert "X-API-Key" in body["error"]["message"]
    assert_error(client.get(route, headers={"X-API-Key": ""}), 401, "UNAUTHORIZED")
    assert_error(client.get(route, headers={"X-API-Key": KEY + "x"}), 403, "FORBIDDEN")
    assert_error(client.get(route, headers={"X-API-Key": KEY.upper()}), 403, "FORBIDDEN")
    assert client.get(route, headers=AUTH).status_code == 200


def test_auth_is_checked_before_parameters(client: TestClient, store: FakeStore) -> None:
    assert_error(client.get("/v1/trades?limit=0"), 401, "UNAUTHORIZED")
    assert_error(client.get("/v1/trades?limit=0", headers={"X-API-Key": "wrong"}), 403, "FORBIDDEN")
    assert store.queries == []


@pytest.mark.parametrize("route", ["/health", "/health/live", "/health/ready", "/metrics", "/openapi.json"])
def test_health_metrics_and_openapi_need_no_key(client: TestClient, route: str) -> None:
    assert client.get(route).status_code == 200


# ------------------------------------------------------------------ /v1/trades
def test_trades_envelope_carries_exact_values_newest_first(client: TestClient) -> None:
    response = client.get("/v1/trades", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    TradesResponse.model_validate(body)
    assert body["success"] is True
    assert body["meta"]["correlation_id"] == response.headers["X-Correlation-ID"]
    assert body["meta"]["timestamp"].endswith("Z")
    assert [t["trade_id"] for t in body["data"]] == ["BINANCE-3", "BINANCE-2", "BINANCE-1"]
    assert [t["price"] for t in body["data"]] == ["42000.12345678", "12345678.87654321", "0.00000001"]
    assert body["data"][0]["trade_conditions"] == ["late"]
    assert body["data"][0]["vendor_data"] is None
    assert body["data"][0]["source_sequence"] is None
    assert body["data"][1]["timestamp"] == "2024-01-15T09:00:00.000000Z"
    assert body["data"][1]["vendor_data"] == {"is_buyer_maker": "true", "event_type": "trade"}
    assert body["pagination"] == {"limit": 100, "offset": 0, "total": 3, "has_more": False}


def test_trades_pagination_reports_total_and_has_more(client: TestClient) -> None:
    first = client.get("/v1/trades?limit=2", headers=AUTH).json()
    assert [t["trade_id"] for t in first["data"]] == ["BINANCE-3", "BINANCE-2"]
    assert first["pagination"] == {"limit": 2, "offset": 0, "total": 3, "has_more": True}
    second = client.get("/v1/trades?limit=2&offset=2", headers=AUTH).json()
    assert [t["trade_id"] for t in second["data"]] == ["BINANCE-1"]
    assert second["pagination"] == {"limit": 2, "offset": 2, "total": 3, "has_more": False}
    beyond = client.get("/v1/trades?offset=10", headers=AUTH).json()
    assert beyond["data"] == []
    assert beyond["pagination"]["total"] == 3


def test_trades_filters_reach_the_store_normalised(client: TestClient, store: FakeStore) -> None:
    response = client.get(
        "/v1/trades",
        headers=AUTH,
        params={
            "symbol": "btcusdt",
            "exchange": "binance",
            "start_time": "2024-01-15T10:00:00+01:00",
            "end_time": "2024-01-15T09:00:00",
            "limit": 10000,
            "offset": 5,
            "unknown": "ignored",
        },
    )
    assert response.status_code == 200, response.text
    (query,) = store.queries
    assert query.symbol == "BTCUSDT"
    assert query.exchange == "BINANCE"
    assert query.start == datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
    assert query.end == datetime(2024, 1, 15, 9, 0, tzinfo=UTC)  # no offset means UTC
    assert (query.limit, query.offset) == (10000, 5)


def test_z_suffix_times_are_accepted(client: TestClient, store: FakeStore) -> None:
    response = client.get("/v1/trades?start_time=2024-01-15T09:00:00.5Z", headers=AUTH)
    assert response.status_code == 200
    assert store.queries[0].start == datetime(2024, 1, 15, 9, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("start_time=yesterday", "start_time"),
        ("end_time=2024-13-01T00:00:00", "end_time"),
        ("start_time=2024-01-02T00:00:00Z&end_time=2024-01-01T00:00:00Z", "start_time"),
        ("symbol=", "symbol"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    client: TestClient, store: FakeStore, query: str, parameter: str
) -> None:
    body = assert_error(client.get(f"/v1/trades?{query}", headers=AUTH), 422, "INVALID_PARAMETER")
    assert body["error"]["message"].startswith(f"{parameter}:"), body
    assert store.queries == []


# Found by schemathesis (tests/integration/test_api_fuzz.py): pydantic reads a number as Unix time,
# so `start_time=0.5` was read as 1970-01-01T00:00:00.5Z (epoch seconds and milliseconds alike) and
# answered 200, where the document (string, date-time) and the contract (ISO-8601) call for a 422.
@pytest.mark.parametrize(
    "query", ["start_time=0.5", "start_time=0", "start_time=-1", "end_time=1709251200", "end_time=1709251200000"]
)
def test_times_must_be_iso_8601_not_unix_time(client: TestClient, store: FakeStore, query: str) -> None:
    body = assert_error(client.get(f"/v1/trades?{query}", headers=AUTH), 422, "INVALID_PARAMETER")
    assert body["error"]["message"].startswith(query.split("=")[0] + ":"), body
    assert "ISO-8601" in body["error"]["message"]
    assert store.queries == []


def test_snapshot_limit_is_validated_too(client: TestClient) -> None:
    body = assert_error(client.get("/v1/snapshots?limit=0", headers=AUTH), 422, "INVALID_PARAMETER")
    assert "limit" in body["error"]["message"]


# ------------------------------------------------------------------ other /v1 routes
def test_symbols_stats_and_snapshots(client: TestClient) -> None:
    symbols = client.get("/v1/symbols", headers=AUTH).json()
    SymbolsResponse.model_validate(symbols)
    assert symbols["data"] == ["BTCUSDT", "ETHUSDT"]
    assert client.get("/v1/symbols?exchange=nyse", headers=AUTH).json()["data"] == []

    stats = client.get("/v1/stats", headers=AUTH).json()
    StatsResponse.model_validate(stats)
    assert stats["data"]["total_rows"] == 3
    assert stats["data"]["rows_per_symbol"] == {"BTCUSDT": 2, "ETHUSDT": 1}
    assert stats["data"]["snapshot_count"] == 2

    snaps = client.get("/v1/snapshots?limit=2", headers=AUTH).json()
    SnapshotsResponse.model_validate(snaps)
    assert [s["snapshot_id"] for s in snaps["data"]] == [3, 2]
    assert snaps["data"][1]["parent_snapshot_id"] == 1
    assert snaps["pagination"] == {"limit": 2, "offset": 0, "total": 3, "has_more": True}


# ------------------------------------------------------------------ errors and correlation ids
def test_an_unhandled_error_is_a_500_envelope_without_internals(client: TestClient, store: FakeStore) -> None:
    store.fail = RuntimeError("secret internals: password=hunter2")
    response = client.get("/v1/trades", headers=AUTH)
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["X-Correlation-ID"] in body["error"]["message"]


def test_a_dependency_failure_is_a_503_envelope(client: TestClient, store: FakeStore) -> None:
    store.fail = StoreUnavailable("trades query: storage did not answer")
    body = assert_error(client.get("/v1/stats", headers=AUTH), 503, "SERVICE_UNAVAILABLE")
    assert body["error"]["message"] == "trades query: storage did not answer"


def test_unknown_routes_and_methods_use_the_envelope(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing", headers=AUTH), 404, "NOT_FOUND")
    assert_error(client.post("/health"), 405, "METHOD_NOT_ALLOWED")


def test_correlation_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/v1/trades", headers={**AUTH, "X-Correlation-ID": "abc-123"})
    assert given.headers["X-Correlation-ID"] == "abc-123"
    assert given.json()["meta"]["correlation_id"] == "abc-123"

    generated = client.get("/health/live")
    assert uuid.UUID(generated.headers["X-Correlation-ID"])
    other = client.get("/health/live")
    assert other.headers["X-Correlation-ID"] != generated.headers["X-Correlation-ID"]

    unsafe = client.get("/health/live", headers={"X-Correlation-ID": 'a b" <script>'})
    assert uuid.UUID(unsafe.headers["X-Correlation-ID"])

    error = client.get("/v1/trades", headers={"X-Correlation-ID": "err-1"})
    assert error.headers["X-Correlation-ID"] == "err-1"
    assert error.json()["meta"]["correlation_id"] == "err-1"


# ------------------------------------------------------------------ health
@pytest.mark.parametrize(
    ("catalog", "store_state", "overall", "health_code", "ready_code"),
    [
        ("healthy", "healthy", "healthy", 200, 200),
        ("degraded", "healthy", "degraded", 200, 200),
        ("healthy", "unhealthy", "unhealthy", 503, 503),
        ("degraded", "unhealthy", "unhealthy", 503, 503),
    ],
)
def test_health_status_code_matches_the_body(
    client: TestClient,
    health: FakeHealth,
    catalog: str,
    store_state: str,
    overall: str,
    health_code: int,
    ready_code: int,
) -> None:
    health.states = {"catalog": catalog, "object-store": store_state}
    response = client.get("/health")
    assert response.status_code == health_code
    body = response.json()
    HealthResponse.model_validate(body)
    assert body["status"] == overall
    assert body["version"] == "9.9.9"
    assert [(d["name"], d["status"]) for d in body["dependencies"]] == [
        ("catalog", catalog),
        ("object-store", store_state),
    ]
    assert client.get("/health/ready").status_code == ready_code
    live = client.get("/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "alive"


# ------------------------------------------------------------------ metrics and openapi
def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    for _ in range(3):
        client.get("/v1/trades", headers=AUTH)
    client.get("/v1/trades")
    client.get("/no/such/path")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'k2_api_requests_total{method="GET",route="/v1/trades",status="200"} 3.0' in text
    assert 'k2_api_requests_total{method="GET",route="/v1/trades",status="401"} 1.0' in text
    assert 'k2_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "_created" not in text
    assert 'k2_api_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/trades"} 4.0' in text
    assert 'k2_api_request_duration_seconds_count{method="GET",route="/v1/trades"} 4.0' in text
    assert "# TYPE k2_api_request_duration_seconds histogram" in text


def test_openapi_describes_the_real_response_models(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    trades = doc["paths"]["/v1/trades"]["get"]
    assert trades["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TradesResponse")
    for code in ("401", "403", "422", "500", "503"):
        assert trades["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert {p["name"] for p in trades["parameters"]} == {
        "symbol",
        "exchange",
        "start_time",
        "end_time",
        "limit",
        "offset",
    }
    limit = next(p for p in trades["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 10000, 100)
    trade = doc["components"]["schemas"]["Trade"]
    assert len(trade["required"]) == 15
    assert trade["additionalProperties"] is False
    assert trade["properties"]["price"]["type"] == "string"
    assert doc["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "the key the service was started with (K2_API_KEY)",
    }
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    health = doc["paths"]["/health"]["get"]["responses"]
    assert health["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/HealthResponse")


class HangingStore(FakeStore):
    """A store whose dependency stops answering until released."""

    def __init__(self) -> None:
        super().__init__(list(ROWS))
        self.release = threading.Event()

    def trades(self, query: TradeQuery) -> TradePage:
        self.release.wait(10)
        return super().trades(query)


def test_a_hung_store_is_a_503_within_the_query_timeout(health: FakeHealth) -> None:
    store = HangingStore()
    app = create_app(ApiSettings.from_env({**ENV, "K2_API_QUERY_TIMEOUT_MS": "300"}), store=store, health=health)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            t0 = time.monotonic()
            body = assert_error(client.get("/v1/trades", headers=AUTH), 503, "SERVICE_UNAVAILABLE")
            assert time.monotonic() - t0 < 2
            assert body["error"]["message"] == "trades query: storage did not answer within 0.3 s"
            # other routes of the same store still answer
            assert client.get("/v1/stats", headers=AUTH).status_code == 200
            store.release.set()
            assert client.get("/v1/trades", headers=AUTH).json()["pagination"]["total"] == 3
    finally:
        store.release.set()


def test_the_published_document_requires_what_every_answer_carries(client: TestClient) -> None:
    """A field the API always sends must be required in its document, or a client's validation
    would pass an answer that lacks it."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    enveloped = [name for name, s in schemas.items() if "success" in s.get("properties", {})]
    assert enveloped
    assert all("success" in schemas[name].get("required", []) for name in enveloped)


def test_the_health_routes_declare_the_500_the_middleware_may_answer(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert all("500" in paths[p]["get"]["responses"] for p in ("/health", "/health/live", "/health/ready", "/metrics"))


def test_the_published_trade_is_the_contracts_record_field_by_field(client: TestClient) -> None:
    import json

    from harness.checks.schema import published_diff
    from harness.probes.openapi import item_schema
    from harness.targets import Target

    target = Target.load()
    item = item_schema(client.get("/openapi.json").json(), target.api["trades"], target.api["envelope"]["rows"])
    assert not isinstance(item, str), item
    verdict = published_diff("the API's trade", json.loads(target.record_schema()), item)
    assert verdict.valid, verdict
