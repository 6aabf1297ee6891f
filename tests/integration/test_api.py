"""The query API as a real process (`python -m k2.api`) over a real catalog (PostgreSQL) and
object store (SeaweedFS): exact values, filters, order, pagination, auth, and health while the
object store and the catalog database go away and come back.

The stack (.stack-api-it, ports shifted by 300) is shared with test_api_fuzz.py through the
fixtures `api_stack`, `api` and `table` of conftest.py (tests/integration/api_service.py), and
nobody else's is touched. Tests run in file order: the table does not exist for the first one,
the last ones stop and restart services.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from harness.probes.openapi import check_routes, requests_for
from harness.stack.local import LocalDriver
from harness.targets import Target
from harness.waiting import eventually
from k2.schemas.table import ARROW_SCHEMA
from tests.integration.api_service import ALL, AUTH, COMMITS, KEY, SYMBOLS, Api, trade

pytestmark = pytest.mark.integration


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expected_json(row: dict[str, Any], price: str, quantity: str) -> dict[str, Any]:
    """What the API must serve for a row: written out here, not borrowed from k2.api.models."""
    return {
        "message_id": row["message_id"],
        "trade_id": row["trade_id"],
        "symbol": row["symbol"],
        "exchange": "BINANCE",
        "asset_class": "crypto",
        "timestamp": iso(row["timestamp"]),
        "price": price,
        "quantity": quantity,
        "currency": "USDT",
        "side": row["side"],
        "trade_conditions": ["odd-lot"] if row["trade_conditions"] != "[]" else [],
        "source_sequence": row["source_sequence"],
        "ingestion_timestamp": iso(row["ingestion_timestamp"]),
        "platform_sequence": row["platform_sequence"],
        "vendor_data": None
        if row["vendor_data"] is None
        else {"is_buyer_maker": "true" if row["side"] == "SELL" else "false", "event_type": "trade"},
    }


NEWEST_FIRST = sorted(ALL, key=lambda r: (r["timestamp"], r["trade_id"]), reverse=True)


def trades(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("/v1/trades", AUTH, **params)
    assert response.status_code == 200, f"{response.status_code} {response.text}\n{api.tail()}"
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------ tests, in order
def test_before_the_table_exists_health_is_degraded_and_trades_are_empty(api: Api) -> None:
    health = api.get("/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "degraded"
    assert body["version"] == "it-1"
    deps = {d["name"]: d for d in body["dependencies"]}
    assert deps["catalog"]["status"] == "degraded"
    assert "does not exist yet" in deps["catalog"]["message"]
    assert deps["object-store"]["status"] == "healthy"
    assert api.get("/health/ready").status_code == 200

    empty = trades(api)
    assert empty["data"] == []
    assert empty["pagination"] == {"limit": 100, "offset": 0, "total": 0, "has_more": False}
    assert api.get("/v1/symbols", AUTH).json()["data"] == []
    assert api.get("/v1/stats", AUTH).json()["data"]["exists"] is False


def test_committed_rows_are_served_at_once_with_exact_values(api: Api, table: Any) -> None:
    # no restart of the API: every request reloads the table metadata
    body = trades(api, limit=10000)
    assert body["success"] is True
    assert body["pagination"] == {"limit": 10000, "offset": 0, "total": len(ALL), "has_more": False}
    served = body["data"]
    assert [t["trade_id"] for t in served] == [r["trade_id"] for r in NEWEST_FIRST]
    by_id = {t["trade_id"]: t for t in served}
    assert len(by_id) == len(ALL), "each trade once"
    for row in ALL:
        price = f"{row['price']:.8f}"
        quantity = f"{row['quantity']:.8f}"
        assert by_id[row["trade_id"]] == expected_json(row, price, quantity)
    # the special prices, spelled out
    assert by_id["BINANCE-1000000"]["price"] == "0.00000001"
    assert by_id["BINANCE-1000000"]["quantity"] == "12345678.87654321"
    assert by_id["BINANCE-1000001"]["price"] == "12345678.87654321"
    assert by_id["BINANCE-1000002"]["price"] == "9999999999.99999999"
    assert by_id["BINANCE-1000005"]["price"] == "42000.10000000"
    assert by_id["BINANCE-1000001"]["quantity"] == "0.00000001"


def test_symbol_exchange_and_time_filters(api: Api, table: Any) -> None:
    btc = trades(api, symbol="BTCUSDT", limit=10000)
    expected_btc = [r["trade_id"] for r in NEWEST_FIRST if r["symbol"] == "BTCUSDT"]
    assert btc["pagination"]["total"] == len(expected_btc) == 1000
    assert [t["trade_id"] for t in btc["data"]] == expected_btc
    assert trades(api, symbol="ethusdt")["pagination"]["total"] == 1000  # case-insensitive
    assert trades(api, symbol="XRPUSDT")["pagination"]["total"] == 0
    assert trades(api, exchange="BINANCE")["pagination"]["total"] == len(ALL)
    assert trades(api, exchange="NYSE")["pagination"]["total"] == 0

    # a window inside day 2, bounds inclusive: the bounds are exact trade times
    start, end = ALL[1200]["timestamp"], ALL[1500]["timestamp"]
    window = trades(api, start_time=iso(start), end_time=iso(end), limit=10000)
    assert window["pagination"]["total"] == 301
    assert [t["trade_id"] for t in window["data"]] == [
        r["trade_id"] for r in NEWEST_FIRST if start <= r["timestamp"] <= end
    ]
    # the same instant written with an offset selects the same rows
    plus2 = (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f+02:00")
    assert trades(api, start_time=plus2, end_time=iso(end))["pagination"]["total"] == 301
    both = trades(api, symbol="BNBUSDT", start_time=iso(start), end_time=iso(end), limit=10000)
    assert [t["trade_id"] for t in both["data"]] == [
        r["trade_id"] for r in NEWEST_FIRST if r["symbol"] == "BNBUSDT" and start <= r["timestamp"] <= end
    ]
    later = trades(api, start_time=iso(ALL[-1]["timestamp"] + timedelta(microseconds=1)))
    assert later["pagination"]["total"] == 0


def test_pages_cover_every_row_once(api: Api, table: Any) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = trades(api, symbol="ETHUSDT", limit=300, offset=offset)
        assert page["pagination"]["total"] == 1000
        seen += [t["trade_id"] for t in page["data"]]
        if not page["pagination"]["has_more"]:
            break
        offset += 300
    assert offset == 900
    assert seen == [r["trade_id"] for r in NEWEST_FIRST if r["symbol"] == "ETHUSDT"]


def test_symbols_stats_and_snapshots(api: Api, table: Any) -> None:
    assert api.get("/v1/symbols", AUTH).json()["data"] == sorted(SYMBOLS)
    stats = api.get("/v1/stats", AUTH).json()["data"]
    assert stats["total_rows"] == len(ALL)
    assert stats["rows_per_symbol"] == {s: 1000 for s in SYMBOLS}
    assert stats["snapshot_count"] == COMMITS
    snaps = api.get("/v1/snapshots", AUTH).json()
    assert snaps["pagination"]["total"] == COMMITS
    ids = [s["snapshot_id"] for s in snaps["data"]]
    assert ids[0] == stats["current_snapshot_id"] == table.current_snapshot().snapshot_id
    assert [s["parent_snapshot_id"] for s in snaps["data"]] == [*ids[1:], None]
    assert [s["summary"]["total-records"] for s in snaps["data"]] == ["3000", "2000", "1000"]
    assert {s["operation"] for s in snaps["data"]} == {"append"}
    assert [s["snapshot_id"] for s in api.get("/v1/snapshots", AUTH, limit=1, offset=1).json()["data"]] == [ids[1]]


def test_auth_and_bad_parameters(api: Api, table: Any) -> None:
    missing = api.get("/v1/trades")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "UNAUTHORIZED"
    wrong = api.get("/v1/trades", {"X-API-Key": KEY + "!"})
    assert wrong.status_code == 403
    assert wrong.json()["success"] is False
    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"start_time": "not-a-time"}, "start_time"),
        ({"start_time": "2024-03-02T00:00:00Z", "end_time": "2024-03-01T00:00:00Z"}, "start_time"),
    ]
    for params, name in cases:
        response = api.get("/v1/trades", AUTH, **params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == "INVALID_PARAMETER"
        assert error["message"].startswith(f"{name}:"), error
    echoed = api.get("/v1/trades", {**AUTH, "X-Correlation-ID": "it-corr-1"}, limit=1)
    assert echoed.headers["X-Correlation-ID"] == "it-corr-1"
    assert echoed.json()["meta"]["correlation_id"] == "it-corr-1"


def test_metrics_and_openapi(api: Api, table: Any) -> None:
    text = api.get("/metrics").text
    assert 'k2_api_requests_total{method="GET",route="/v1/trades",status="200"}' in text
    assert 'k2_api_requests_total{method="GET",route="/v1/trades",status="422"}' in text
    doc = api.get("/openapi.json").json()
    assert doc["paths"]["/v1/trades"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/TradesResponse")


def test_every_route_answers_as_its_openapi_document_says(api: Api, table: Any) -> None:
    # the rows are there, so the trade schemas are checked on real trades, not on empty lists
    assert trades(api, symbol="BTCUSDT", limit=10)["data"]
    requests = requests_for(Target.load())
    verdict = check_routes(api.url, KEY, "X-API-Key", requests)
    assert verdict.valid, f"{verdict}\n{api.tail()}"
    assert verdict.counts["validated"] == verdict.counts["requests"] == len(requests)


def measure(api: Api, params: list[dict[str, Any]]) -> tuple[float, float]:
    timings = []
    for p in params:
        t0 = time.perf_counter()
        body = trades(api, **p)
        timings.append((time.perf_counter() - t0) * 1000)
        assert len(body["data"]) == 100
        assert body["pagination"]["total"] == 1000
    timings.sort()
    return statistics.median(timings), timings[math.ceil(len(timings) * 0.99) - 1]  # nearest rank


def test_point_query_latency(api: Api, table: Any) -> None:
    # the same query 50 times: after the first, served from the per-snapshot cache
    repeated = measure(api, [{"symbol": "BTCUSDT", "limit": 100}] * 50)
    # 50 different end times (all after the last trade, so the same rows): every one a cache miss,
    # i.e. a full Iceberg scan
    last = ALL[-1]["timestamp"]
    distinct = measure(
        api, [{"symbol": "BTCUSDT", "limit": 100, "end_time": iso(last + timedelta(seconds=i))} for i in range(50)]
    )
    print(
        f"\n/v1/trades?symbol=BTCUSDT&limit=100 over {len(ALL)} rows in {COMMITS} commits, 50 requests each: "
        f"repeated p50 {repeated[0]:.1f} ms p99 {repeated[1]:.1f} ms; "
        f"distinct (uncached) p50 {distinct[0]:.1f} ms p99 {distinct[1]:.1f} ms",
        flush=True,
    )
    assert repeated[0] < 1000 and distinct[0] < 2000  # generous: two shared cores; the numbers are the point


def test_a_new_commit_is_served_on_the_next_request(api: Api, table: Any) -> None:
    assert trades(api, symbol="XRPUSDT")["pagination"]["total"] == 0
    extra = [{**trade(10_000 + i), "symbol": "XRPUSDT", "trade_id": f"BINANCE-9{i}"} for i in range(5)]
    table.append(pa.Table.from_pylist(extra, schema=ARROW_SCHEMA))
    served = trades(api, symbol="XRPUSDT")
    assert served["pagination"]["total"] == 5
    assert [t["trade_id"] for t in served["data"]] == [
        "BINANCE-94",
        "BINANCE-93",
        "BINANCE-92",
        "BINANCE-91",
        "BINANCE-90",
    ]
    stats = api.get("/v1/stats", AUTH).json()["data"]
    assert (stats["total_rows"], stats["snapshot_count"]) == (len(ALL) + 5, COMMITS + 1)
    assert trades(api, symbol="BTCUSDT")["pagination"]["total"] == 1000
    assert "k2_api_cache_hits_total" in api.get("/metrics").text


def healthy(api: Api) -> bool:
    response = api.get("/health")
    return response.status_code == 200 and response.json()["status"] == "healthy"


def commit_unseen(table: Any, symbol: str) -> None:
    """A commit the API has not read yet: serving it needs the object store (the API keeps the
    files it has read, k2/api/filecache.py)."""
    rows = [{**trade(20_000 + i), "symbol": symbol, "trade_id": f"BINANCE-8{i}"} for i in range(3)]
    table.append(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA))


def test_a_snapshot_read_before_is_served_while_the_object_store_is_down(
    api: Api, table: Any, api_stack: LocalDriver
) -> None:
    before = trades(api, symbol="ETHUSDT")
    assert before["pagination"]["total"] == 1000
    api_stack.stop("object-store")
    try:
        eventually(lambda: api.get("/health").status_code == 503, within=10, describe="/health 503")
        during = api.get("/v1/trades", AUTH, symbol="ETHUSDT")
        assert during.status_code == 200, during.text  # Iceberg's files never change: the kept bytes are current
        assert during.json()["data"] == before["data"]
    finally:
        api_stack.start("object-store")
    eventually(lambda: healthy(api), within=30, describe="/health healthy again")


def test_health_follows_the_object_store_down_and_up(api: Api, table: Any, api_stack: LocalDriver) -> None:
    assert healthy(api)
    commit_unseen(table, "ADAUSDT")
    api_stack.stop("object-store")
    try:

        def unhealthy() -> dict[str, Any]:
            t0 = time.monotonic()
            response = api.get("/health")
            assert time.monotonic() - t0 < 3, "health must answer within its budget"
            assert response.status_code == 503, response.text
            body: dict[str, Any] = response.json()
            assert body["status"] == "unhealthy"
            return body

        body = eventually(unhealthy, within=10, describe="/health 503 unhealthy with the object store down")
        deps = {d["name"]: d["status"] for d in body["dependencies"]}
        assert deps == {"catalog": "healthy", "object-store": "unhealthy"}
        eventually(lambda: api.get("/health/ready").status_code == 503, within=10, describe="/health/ready 503")
        assert api.get("/health/live").status_code == 200
        during = api.get("/v1/trades", AUTH, symbol="ADAUSDT")
        assert during.status_code == 503, during.text  # a dependency failure, not a 500
        assert during.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        api_stack.start("object-store")
    eventually(lambda: healthy(api), within=30, describe="/health healthy again")
    assert api.get("/health/ready").status_code == 200
    assert trades(api, symbol="BTCUSDT")["pagination"]["total"] == 1000
    assert trades(api, symbol="ADAUSDT")["pagination"]["total"] == 3


def test_a_hanging_object_store_costs_bounded_time(api: Api, table: Any, api_stack: LocalDriver) -> None:
    assert healthy(api)
    commit_unseen(table, "DOTUSDT")
    api_stack.pause("object-store")  # SIGSTOP: connections are accepted, nothing is answered
    try:
        t0 = time.monotonic()
        health = api.get("/health")
        assert time.monotonic() - t0 < 3, "the check's budget bounds /health"
        assert health.status_code == 503, health.text
        deps = {d["name"]: d for d in health.json()["dependencies"]}
        assert deps["object-store"]["status"] == "unhealthy"
        assert deps["object-store"]["message"].startswith("no answer within")
        assert deps["catalog"]["status"] == "healthy"
        assert api.get("/health/live").status_code == 200
        t0 = time.monotonic()
        stuck = api.get("/v1/trades", AUTH, symbol="DOTUSDT")
        assert time.monotonic() - t0 < 7, "K2_API_QUERY_TIMEOUT_MS bounds a /v1 request"
        assert stuck.status_code == 503, stuck.text
    finally:
        api_stack.resume("object-store")
    eventually(lambda: healthy(api), within=30, describe="/health healthy after the object store resumed")
    assert trades(api, symbol="BTCUSDT")["pagination"]["total"] == 1000


def test_health_follows_the_catalog_database_down_and_up(api: Api, table: Any, api_stack: LocalDriver) -> None:
    assert healthy(api)
    api_stack.stop("postgres")
    try:
        body = eventually(
            lambda: (r := api.get("/health")).status_code == 503 and r.json(),
            within=10,
            describe="/health 503 with the catalog database down",
        )
        deps = {d["name"]: d["status"] for d in body["dependencies"]}
        assert deps["catalog"] == "unhealthy"
        assert api.get("/health/ready").status_code == 503
        assert api.get("/health/live").status_code == 200
        assert api.get("/v1/trades", AUTH).status_code == 503
    finally:
        api_stack.start("postgres")
    # pooled connections to the old server are dead; the pool must notice and reconnect
    eventually(lambda: healthy(api), within=30, describe="/health healthy after PostgreSQL restarted")
    assert trades(api, symbol="BNBUSDT")["pagination"]["total"] == 1000
