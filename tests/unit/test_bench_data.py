import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pyarrow as pa
import pytest

from harness.bench import api_latency, commit_cost
from harness.bench.api_latency import (
    BENCH_EXCHANGE,
    BENCH_SYMBOLS,
    LOAD_PROPERTY,
    Query,
    Timings,
    batch_bounds,
    bulk_load,
    matched,
    metric_value,
    queries,
    summarize_ms,
    synthetic_trades,
    time_query,
)
from harness.bench.commit_cost import schedule, summarize_commits, time_commits
from harness.endpoints import Endpoints
from harness.probes.api import micros
from k2.schemas.table import ARROW_SCHEMA, OFFSETS_PROPERTY

END = 1_800_000_000_000_000  # µs
HOUR = 3600 * 1_000_000


# ---------------------------------------------------------------------------- synthetic trades
def test_synthetic_trades_have_exactly_the_tables_arrow_schema_and_no_nulls_where_required() -> None:
    rows = synthetic_trades(0, 300, total=3000, end_us=END)
    assert rows.schema.equals(ARROW_SCHEMA, check_metadata=False)
    assert rows.num_rows == 300
    for f in ARROW_SCHEMA:
        if not f.nullable:
            assert rows[f.name].null_count == 0, f.name
    # what the table does with them: a cast to the table's own schema changes nothing
    assert rows.cast(ARROW_SCHEMA).equals(rows)


def test_synthetic_trades_follow_the_contract_with_a_naming_of_their_own() -> None:
    rows = synthetic_trades(0, 300, total=300, end_us=END).to_pylist()
    assert {r["exchange"] for r in rows} == {BENCH_EXCHANGE} != {"BINANCE"}
    assert {r["symbol"] for r in rows} == set(BENCH_SYMBOLS)
    assert all(s == s.upper() and s.endswith("USDT") for s in BENCH_SYMBOLS)
    assert {r["currency"] for r in rows} == {"USDT"} and {r["asset_class"] for r in rows} == {"crypto"}
    assert {r["side"] for r in rows} <= {"BUY", "SELL"} and {r["trade_conditions"] for r in rows} == {"[]"}
    for r in rows:
        assert uuid.UUID(r["message_id"]).version == 4
        assert r["trade_id"] == f"{BENCH_EXCHANGE}-{r['source_sequence']}"
        for d in (r["price"], r["quantity"]):
            assert d > 0 and d == d.quantize(Decimal("0.00000001")) and d < Decimal(10) ** 10
        assert r["ingestion_timestamp"] > r["timestamp"]


def test_batches_make_one_run_of_unique_time_ordered_trades_over_the_span() -> None:
    total = 3000
    batches = [synthetic_trades(first, count, total=total, end_us=END) for first, count in batch_bounds(total, 7)]
    rows = [r for b in batches for r in b.to_pylist()]
    assert len(rows) == total
    keys = {(r["symbol"], r["trade_id"]) for r in rows}
    assert len(keys) == total and len({r["message_id"] for r in rows}) == total
    stamps = [micros(r["timestamp"].isoformat() + "Z") for r in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == total
    assert stamps[0] >= END - 2 * HOUR and stamps[-1] < END
    per_symbol: dict[str, list[int]] = {}
    for r in rows:
        per_symbol.setdefault(r["symbol"], []).append(r["source_sequence"])
    assert all(ids == list(range(len(ids))) for ids in per_symbol.values())  # increasing per symbol, no gap


def test_the_same_arguments_give_the_same_rows() -> None:
    assert synthetic_trades(10, 50, total=100, end_us=END).equals(synthetic_trades(10, 50, total=100, end_us=END))


def test_rows_outside_the_run_are_refused() -> None:
    with pytest.raises(ValueError):
        synthetic_trades(90, 20, total=100, end_us=END)


def test_batch_bounds_cover_every_row_once() -> None:
    assert batch_bounds(1_000_000, 10) == [(k * 100_000, 100_000) for k in range(10)]
    assert batch_bounds(10, 3) == [(0, 3), (3, 3), (6, 4)]
    assert batch_bounds(2, 5) == [(0, 1), (1, 1)]
    with pytest.raises(ValueError):
        batch_bounds(0, 10)


# ---------------------------------------------------------------------------- the bulk load
class FakeScan:
    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def to_arrow(self) -> pa.Table:
        return self.table


class FakeTable:
    def __init__(self, held: pa.Table | None = None) -> None:
        self.held = held if held is not None else pa.table({"timestamp": pa.array([], pa.timestamp("us"))})

    def scan(self, row_filter: Any, selected_fields: tuple[str, ...]) -> FakeScan:
        assert "exchange" in repr(row_filter) and BENCH_EXCHANGE in repr(row_filter)
        return FakeScan(self.held)


def test_the_load_appends_every_batch_without_the_consumers_offsets() -> None:
    appended: list[tuple[int, dict[str, str]]] = []
    load = bulk_load(
        FakeTable(),
        lambda _: None,
        rows=3000,
        batches=3,
        now=lambda: END / 1e6,
        append=lambda t, rows, props: appended.append((rows.num_rows, props)),
    )
    assert [n for n, _ in appended] == [1000, 1000, 1000]
    assert all(OFFSETS_PROPERTY not in props and LOAD_PROPERTY in props for _, props in appended)
    assert load.rows == 3000 and not load.reused
    assert load.end_us == END - 2 * HOUR + 2999 * (2 * HOUR) // 3000  # the newest trade loaded
    assert load.as_dict()["newest_trade"].endswith("Z")


def test_reuse_keeps_a_complete_earlier_load_and_refuses_a_partial_one() -> None:
    stamps = pa.table({"timestamp": pa.array([END - 5, END - 1, END - 3], pa.timestamp("us"))})

    def append(*_: Any) -> None:
        raise AssertionError("must not append")

    load = bulk_load(FakeTable(stamps), lambda _: None, rows=3, batches=1, reuse=True, append=append)
    assert load.reused and load.end_us == END - 1
    with pytest.raises(RuntimeError, match="without --reuse"):
        bulk_load(FakeTable(stamps), lambda _: None, rows=3, batches=1, append=append)
    with pytest.raises(RuntimeError, match="already holds 3 rows"):
        bulk_load(FakeTable(stamps), lambda _: None, rows=1000, batches=1, reuse=True, append=append)


# ---------------------------------------------------------------------------- the queries and their timing
def test_the_queries_are_the_latest_100_one_hour_and_the_stats() -> None:
    latest, hour, stats = queries(END)
    assert (latest.name, latest.path, latest.params) == (
        "latest_100",
        "/v1/trades",
        {"symbol": BENCH_SYMBOLS[0], "limit": 100},
    )
    assert hour.params["limit"] <= 10000 and hour.params["symbol"] == BENCH_SYMBOLS[0]
    start, end = micros(hour.params["start_time"]), micros(hour.params["end_time"])
    assert end - start == HOUR and start >= END - 2 * HOUR and end <= END  # inside the loaded span
    assert (stats.name, stats.path, stats.params) == ("stats", "/v1/stats", {})


def test_cold_is_the_first_request_and_warm_figures_are_over_the_rest() -> None:
    t = Timings(
        Query("q", "/v1/trades", {}),
        ms=[900.0] + [float(v) for v in range(1, 101)] + [5000.0],
        ok=[True] * 101 + [False],
        errors=["HTTP 503: busy"],
        matched_rows=333_334,
        cache_hits=100,
    )
    s = summarize_ms(t, budget_s=300)
    assert s["cold_ms"] == 900.0
    assert (s["p50_ms"], s["p99_ms"], s["max_ms"]) == (50.0, 99.0, 100.0)  # the failed request is not a timing
    assert (s["requests"], s["warm_requests"], s["errors"]) == (102, 100, 1)
    assert s["first_error"] == "HTTP 503: busy" and s["matched_rows"] == 333_334 and s["budget_s"] == 300


def test_a_failed_first_request_has_no_cold_time_and_nothing_warm_has_no_percentiles() -> None:
    s = summarize_ms(Timings(Query("q", "/", {}), ms=[10.0], ok=[False]))
    assert s["cold_ms"] is None and s["p50_ms"] is None and s["p99_ms"] is None and s["warm_requests"] == 0


def fake_api(status: int = 200) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "key"
        if request.url.path == "/v1/stats":
            return httpx.Response(status, json={"data": {"total_rows": 1_000_123}})
        return httpx.Response(status, json={"data": [], "pagination": {"total": 333_334, "has_more": True}})

    return httpx.Client(base_url="http://api", headers={"X-API-Key": "key"}, transport=httpx.MockTransport(answer))


def test_time_query_makes_n_sequential_requests_and_notes_the_rows_matched() -> None:
    with fake_api() as http:
        t = time_query(http, Query("latest_100", "/v1/trades", {"symbol": "BENCHAUSDT", "limit": 100}), 5, 60)
        s = time_query(http, Query("stats", "/v1/stats", {}), 3, 60)
    assert len(t.ms) == 5 and all(t.ok) and t.matched_rows == 333_334
    assert s.matched_rows == 1_000_123


def test_time_query_stops_at_its_budget_but_makes_at_least_two_requests() -> None:
    ticks = iter(float(n) for n in range(1000))
    with fake_api() as http:
        t = time_query(http, Query("q", "/v1/trades", {}), 200, budget_s=4, clock=lambda: next(ticks))
    assert 2 <= len(t.ms) < 200


def test_time_query_counts_error_answers() -> None:
    with fake_api(503) as http:
        t = time_query(http, Query("q", "/v1/trades", {}), 3, 60)
    assert t.ok == [False] * 3 and t.errors[0].startswith("HTTP 503")


def test_prometheus_values_and_rows_matched() -> None:
    text = "# TYPE k2_api_cache_hits_total counter\nk2_api_cache_hits_total 41\nk2_api_cache_misses_total 3.0\n"
    assert metric_value(text, "k2_api_cache_hits_total") == 41
    assert metric_value(text, "k2_api_cache_misses_total") == 3
    assert metric_value(text, "k2_api_cache_rows") is None
    assert matched({"pagination": {"total": 5}}) == 5
    assert matched({"data": {"total_rows": 7}}) == 7
    assert matched({"data": []}) is None


# ---------------------------------------------------------------------------- commit cost
def test_sizes_take_turns_so_snapshot_growth_weighs_on_each_alike() -> None:
    assert schedule([100, 1000], 3) == [100, 1000, 100, 1000, 100, 1000]
    with pytest.raises(ValueError):
        schedule([100], 0)


def test_commit_timings_are_summarised_per_size_by_their_median() -> None:
    out = summarize_commits({1000: [30.0, 10.0, 20.0], 100: [5.0, 7.0, 6.0, 100.0]})
    assert [c["rows"] for c in out] == [100, 1000]
    assert out[0] == {"rows": 100, "ms": 6.5, "min_ms": 5.0, "max_ms": 100.0, "repeats": 4, "rows_per_s": 15385}
    assert out[1]["ms"] == 20.0 and out[1]["rows_per_s"] == 50000


def test_only_the_commit_is_timed() -> None:
    ticks = iter([0.0, 0.010, 1.0, 1.250])  # seconds: 10 ms then 250 ms
    done: list[tuple[int, int]] = []
    batches = {100: "rows-100", 50000: "rows-50000"}
    timings = time_commits(
        lambda rows, k: done.append((len(rows), k)), batches, [100, 50000], lambda _: None, clock=lambda: next(ticks)
    )
    assert done == [(8, 1), (10, 2)]
    assert timings == {100: [pytest.approx(10.0)], 50000: [pytest.approx(250.0)]}


def test_the_defaults_match_the_brief() -> None:
    assert commit_cost.SIZES == (100, 1_000, 10_000, 50_000) and commit_cost.REPEATS == 10
    assert api_latency.ROWS == 1_000_000 and api_latency.BATCHES == 10
    assert (api_latency.REQUESTS, api_latency.QUICK_REQUESTS) == (200, 50)


# ---------------------------------------------------------------------------- on a real (local, sqlite) catalog
@pytest.fixture
def endpoints(tmp_path: Path) -> Endpoints:
    return Endpoints.from_json(
        {
            "catalog": {
                "name": "k2",
                "properties": {
                    "type": "sql",
                    "uri": f"sqlite:///{tmp_path}/catalog.db",
                    "warehouse": f"file://{tmp_path}/warehouse",
                },
            }
        }
    )


def test_the_load_lands_in_the_trades_table_and_the_consumer_keeps_its_place(endpoints: Endpoints) -> None:
    from harness.probes.iceberg import catalog
    from k2.catalog import ensure_table
    from k2.consumer import offsets
    from k2.consumer.writer import append

    table = ensure_table(catalog(endpoints))
    topic = "market.crypto.trades.binance"
    consumer_rows = synthetic_trades(0, 3, total=3, end_us=END, symbols=("BTCUSDT",), exchange="BINANCE")
    append(table, consumer_rows, {OFFSETS_PROPERTY: offsets.encode(topic, {0: 42, 1: 7})})
    load = bulk_load(table, lambda _: None, rows=300, batches=3, now=lambda: END / 1e6)
    table = catalog(endpoints).load_table("market_data.trades")
    assert api_latency.existing_rows(table) == (300, load.end_us)
    assert len(table.scan().to_arrow()) == 303
    # the consumer reads its position from the newest snapshot that has one: still its own
    assert offsets.latest(table.current_snapshot(), table.snapshot_by_id, OFFSETS_PROPERTY, topic) == {0: 42, 1: 7}
    summaries = [s.summary for s in table.metadata.snapshots][-3:]
    assert all(
        OFFSETS_PROPERTY not in s.additional_properties and LOAD_PROPERTY in s.additional_properties
        for s in summaries
        if s is not None
    )


def test_commit_cost_on_a_scratch_table_that_is_dropped_afterwards(endpoints: Endpoints) -> None:
    from harness.probes.iceberg import catalog

    catalog(endpoints).create_namespace("market_data")
    said: list[str] = []
    out = commit_cost.measure_commits(endpoints, said.append, sizes=(10, 100), repeats=2)
    assert [(c["rows"], c["repeats"]) for c in out] == [(10, 2), (100, 2)] and all(c["ms"] > 0 for c in out)
    assert not catalog(endpoints).table_exists(commit_cost.SCRATCH_TABLE)
    assert any("dropped" in line for line in said)
    assert "[bench]   file IO FewerRoundTripsFileIO" in said  # the consumer's, not pyiceberg's default


def test_the_api_phase_end_to_end_on_the_platforms_own_api(endpoints: Endpoints, tmp_path: Path) -> None:
    """The real k2 API in process (its result cache and /metrics included) over the SQLite catalog:
    every query the bench makes is one the API accepts, and the figures come out as reported."""
    from fastapi.testclient import TestClient

    from k2.api.app import create_app
    from k2.api.settings import ApiSettings
    from tests.unit.test_api_app import ENV, KEY, FakeHealth

    env = {
        **ENV,
        "K2_CATALOG_TYPE": "sql",
        "K2_CATALOG_URI": endpoints.catalog.properties["uri"],
        "K2_API_MANIFEST_CACHE_ENTRIES": "0",
        "K2_API_CACHE_ROWS": "150",
    }
    app = create_app(ApiSettings.from_env(env), health=FakeHealth())
    said: list[str] = []
    with TestClient(app, headers={"X-API-Key": KEY}) as http:
        out = api_latency.measure_api(
            endpoints, said.append, requests=4, budget_s=60, rows=600, batches=2, http=cast(httpx.Client, http)
        )
    latest, hour, stats = out["latest_100"], out["time_range_1h"], out["stats"]
    assert out["load"]["rows"] == 600 and out["load"]["batches"] == 2
    for q in (latest, hour, stats):
        assert q["errors"] == 0 and q["requests"] == 4 and q["warm_requests"] == 3, q
        assert q["cold_ms"] > 0 and q["p50_ms"] is not None and q["p99_ms"] >= q["p50_ms"]
    assert latest["matched_rows"] == 200  # one symbol of three
    assert hour["matched_rows"] == 100  # half the span, one symbol
    assert stats["matched_rows"] == 600
    # a page is two reads (every matching row's sort keys, then the page's rows): the symbol's 200
    # keys are over the cache's 150, never kept; its page of 100 is, after the cold request. The
    # hour's 100 keys and its 100-row page do not fit together in 150 rows: each evicts the other.
    assert (latest["cache_hits"], latest["cache_misses"]) == (3, 5)
    assert (hour["cache_hits"], hour["cache_misses"]) == (0, 8)
    assert any("latest_100: cold" in line for line in said)
