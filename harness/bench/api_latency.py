"""API latency over a big table: 1,000,000 synthetic trades appended straight into
market_data.trades, then the same few queries N times each, one after another.

The synthetic trades have an exchange and symbols of their own (BENCH; BENCHAUSDT, BENCHBUSDT,
BENCHCUSDT: upper-case, quote asset USDT, as the contract wants), so they never mix with the
trades of the pipeline ramp. They are spread evenly over the two hours before the load, round
robin over the symbols, in 10 appends of 100,000 rows (one data file each, per day partition).

The appends carry no Kafka offsets in their snapshot summaries. The consumer takes its position
from the newest snapshot of the table's lineage that does carry them (k2/consumer/offsets.py),
so it steps over these snapshots and keeps its place; it expires snapshots only beyond 60 + 20,
far more than the 10 added here. A commit that loses a race with the consumer's is retried.

Timing: the API keeps query results per snapshot (K2_API_CACHE_ROWS, default 2,000,000 rows;
bigger results are never kept), so the first request of a kind after the load ("cold_ms") reads
Iceberg, and repeats ("p50_ms", "p99_ms", over all requests but the first) may be served from
that cache. Its hit and miss counters (from /metrics) are reported beside the timings.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from harness.endpoints import Endpoints
from harness.latency import percentile
from harness.probes.api import iso

Say = Callable[[str], None]

BENCH_EXCHANGE = "BENCH"
BENCH_SYMBOLS = ("BENCHAUSDT", "BENCHBUSDT", "BENCHCUSDT")
ROWS = 1_000_000
BATCHES = 10
SPAN_US = 2 * 3600 * 1_000_000
"""The synthetic trades cover the two hours before the load."""
REQUESTS = 200
QUICK_REQUESTS = 50
BUDGET_S = 300.0
"""Longest one kind of query is repeated; fewer than N requests are then reported as such."""
QUICK_BUDGET_S = 120.0
PLACES = Decimal(1).scaleb(-8)
LOAD_PROPERTY = "k2.bench.load"
"""Snapshot summary key of the bench's appends (what was loaded), never the consumer's offsets key."""
TRADES = "market_data.trades"


# ---------------------------------------------------------------------------- synthetic trades
def synthetic_trades(
    first: int,
    count: int,
    *,
    total: int,
    end_us: int,
    span_us: int = SPAN_US,
    symbols: Sequence[str] = BENCH_SYMBOLS,
    exchange: str = BENCH_EXCHANGE,
    seed: int = 7,
) -> Any:
    """Rows `first` .. `first + count - 1` of `total` synthetic trades, as a pyarrow Table of the
    trades table's Arrow schema. Row i trades at end_us - span_us + i * span_us // total (so the
    rows are in time order and the last one is just before end_us), for symbols[i % n], with
    trade id `{exchange}-{i // n}` (increasing per symbol). The same arguments give the same rows."""
    import pyarrow as pa

    # The bench may import the platform: these rows must be exactly what the platform's table holds.
    from k2.schemas.table import ARROW_SCHEMA

    if count < 0 or first < 0 or first + count > total:
        raise ValueError(f"rows {first}..{first + count - 1} are not within 0..{total - 1}")
    rng = random.Random(f"{seed}:{first}")
    n = len(symbols)
    ids = range(first, first + count)
    stamps = [end_us - span_us + i * span_us // total for i in ids]
    bases = {s: 10_000 + 1_000 * k for k, s in enumerate(symbols)}  # a price level per symbol
    columns: dict[str, list[Any]] = {
        "message_id": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in ids],
        "trade_id": [f"{exchange}-{i // n}" for i in ids],
        "symbol": [symbols[i % n] for i in ids],
        "exchange": [exchange] * count,
        "asset_class": ["crypto"] * count,
        "timestamp": stamps,
        "price": [(Decimal(bases[symbols[i % n]]) + Decimal(rng.randrange(10**10)) * PLACES) for i in ids],
        "quantity": [Decimal(rng.randrange(1, 2 * 10**8)) * PLACES for _ in ids],
        "currency": ["USDT"] * count,
        "side": [rng.choice(("BUY", "SELL")) for _ in ids],
        "trade_conditions": ["[]"] * count,
        "source_sequence": [i // n for i in ids],
        "ingestion_timestamp": [t + 1_000 for t in stamps],
        "platform_sequence": [None] * count,
        "vendor_data": [None] * count,
    }
    return pa.Table.from_pydict(columns, schema=ARROW_SCHEMA)


def batch_bounds(total: int, batches: int) -> list[tuple[int, int]]:
    """(first, count) of each of `batches` near-equal batches covering 0 .. total - 1."""
    if total < 1 or batches < 1:
        raise ValueError(f"need at least one row and one batch, got {total} rows in {batches} batches")
    edges = [total * k // batches for k in range(batches + 1)]
    return [(a, b - a) for a, b in itertools.pairwise(edges) if b > a]


# ---------------------------------------------------------------------------- the bulk load
@dataclass(frozen=True)
class Load:
    rows: int
    batches: int
    seconds: float
    """The whole load: making the rows and appending them."""
    append_seconds: float
    """The appends alone (the commits through the consumer's writer)."""
    end_us: int
    reused: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "batches": self.batches,
            "seconds": round(self.seconds, 1),
            "append_seconds": round(self.append_seconds, 1),
            "append_rows_per_s": round(self.rows / self.append_seconds) if self.append_seconds > 0 else None,
            "newest_trade": iso(self.end_us),
            "reused": self.reused,
        }


def existing_rows(table: Any, exchange: str = BENCH_EXCHANGE) -> tuple[int, int | None]:
    """How many rows of `exchange` the table holds, and the newest one's trade time (µs)."""
    import pyarrow.compute as pc
    from pyiceberg.expressions import EqualTo

    equal: Any = EqualTo  # through Any: mypy misreads pyiceberg's pydantic predicate constructors
    found = table.scan(row_filter=equal("exchange", exchange), selected_fields=("timestamp",)).to_arrow()
    if found.num_rows == 0:
        return 0, None
    newest = pc.max(found["timestamp"].cast("int64")).as_py()
    return found.num_rows, int(newest)


def append_retrying(table: Any, rows: Any, properties: dict[str, str], attempts: int = 5) -> None:
    """One append through the consumer's own commit path (k2.consumer.writer.append); a commit
    that lost a race with the consumer's (the table allows no silent retry) is tried again on
    fresh metadata."""
    from pyiceberg.exceptions import CommitFailedException

    from k2.consumer.writer import append  # the platform's writer: what the bench measures

    for attempt in range(1, attempts + 1):
        try:
            append(table, rows, properties)
            return
        except CommitFailedException:
            if attempt == attempts:
                raise
            table.refresh()


def bulk_load(
    table: Any,
    say: Say,
    rows: int = ROWS,
    batches: int = BATCHES,
    reuse: bool = False,
    now: Callable[[], float] = time.time,
    append: Callable[[Any, Any, dict[str, str]], None] = append_retrying,
) -> Load:
    """Append `rows` synthetic trades in `batches` commits, unless (reuse) they are there already.
    Each commit's snapshot summary says what it loaded (LOAD_PROPERTY) and carries no offsets."""
    held, newest = existing_rows(table)
    if held and reuse and held == rows and newest is not None:
        say(f"[bench] the table already holds the {held:,} bench rows (newest {iso(newest)}): not loading again")
        return Load(held, 0, 0.0, 0.0, newest, reused=True)
    if held:
        raise RuntimeError(
            f"the trades table already holds {held:,} rows of exchange {BENCH_EXCHANGE} (of an "
            f"earlier bench run on this stack); run the bench without --reuse, which starts from "
            f"an empty stack"
        )
    end_us = int(now() * 1_000_000)
    t0 = time.monotonic()
    appending = 0.0
    for k, (first, count) in enumerate(batch_bounds(rows, batches), 1):
        batch = synthetic_trades(first, count, total=rows, end_us=end_us)
        t1 = time.monotonic()
        append(table, batch, {LOAD_PROPERTY: f"batch {k}/{batches} rows {first}..{first + count - 1}"})
        appending += time.monotonic() - t1
        say(
            f"[bench]   appended batch {k}/{batches} ({first + count:,} of {rows:,} rows, "
            f"{time.monotonic() - t0:.0f} s)"
        )
    last = end_us - SPAN_US + (rows - 1) * SPAN_US // rows
    return Load(rows, batches, time.monotonic() - t0, appending, last)


# ---------------------------------------------------------------------------- the queries
@dataclass(frozen=True)
class Query:
    name: str
    path: str
    params: dict[str, Any]


def queries(newest_us: int, symbol: str = BENCH_SYMBOLS[0]) -> list[Query]:
    """The three kinds of request timed: the latest 100 trades of a symbol; one symbol's trades of
    one hour (the middle hour of the loaded two, as many as one page may hold); the table's stats."""
    hour = 3600 * 1_000_000
    start, end = newest_us - hour - hour // 2, newest_us - hour // 2
    return [
        Query("latest_100", "/v1/trades", {"symbol": symbol, "limit": 100}),
        Query(
            "time_range_1h",
            "/v1/trades",
            {"symbol": symbol, "start_time": iso(start), "end_time": iso(end), "limit": 10000},
        ),
        Query("stats", "/v1/stats", {}),
    ]


@dataclass
class Timings:
    query: Query
    ms: list[float] = field(default_factory=list)
    """Every request's time, in order, successful or not."""
    ok: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    matched_rows: int | None = None
    cache_hits: int | None = None
    cache_misses: int | None = None


def summarize_ms(t: Timings, budget_s: float | None = None) -> dict[str, Any]:
    """cold_ms: the first request; p50_ms/p99_ms/max_ms: the successful requests after it."""
    warm = sorted(ms for ms, ok in zip(t.ms[1:], t.ok[1:], strict=True) if ok)
    cold = t.ms[0] if t.ms and t.ok[0] else None
    out: dict[str, Any] = {
        "path": t.query.path,
        "params": t.query.params,
        "requests": len(t.ms),
        "cold_ms": None if cold is None else round(cold, 1),
        "p50_ms": round(percentile(warm, 50), 1) if warm else None,
        "p99_ms": round(percentile(warm, 99), 1) if warm else None,
        "max_ms": round(warm[-1], 1) if warm else None,
        "warm_requests": len(warm),
        "errors": len(t.ok) - sum(t.ok),
        "matched_rows": t.matched_rows,
        "cache_hits": t.cache_hits,
        "cache_misses": t.cache_misses,
    }
    if t.errors:
        out["first_error"] = t.errors[0]
    if budget_s is not None:
        out["budget_s"] = budget_s
    return out


def metric_value(text: str, name: str) -> float | None:
    """The value of an unlabelled metric in Prometheus text format, or None if absent."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            try:
                return float(parts[1])
            except ValueError:
                return None
    return None


def matched(body: Mapping[str, Any]) -> int | None:
    """Rows the query matched: the trades' total, or the stats' total rows."""
    if isinstance(body.get("pagination"), Mapping):
        return int(body["pagination"]["total"])
    data = body.get("data")
    if isinstance(data, Mapping) and "total_rows" in data:
        return int(data["total_rows"])
    return None


def time_query(
    http: httpx.Client, query: Query, requests: int, budget_s: float, clock: Callable[[], float] = time.perf_counter
) -> Timings:
    """`requests` sequential requests (fewer if `budget_s` runs out; always at least two)."""
    t = Timings(query)
    deadline = clock() + budget_s
    for n in range(requests):
        if n >= 2 and clock() > deadline:
            break
        t0 = clock()
        try:
            r = http.get(query.path, params=query.params)
            ms = (clock() - t0) * 1000
            good = r.status_code == 200
            if good and t.matched_rows is None:
                t.matched_rows = matched(r.json())
            if not good:
                t.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
        except httpx.HTTPError as exc:
            ms, good = (clock() - t0) * 1000, False
            t.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        t.ms.append(ms)
        t.ok.append(good)
    return t


def cache_counters(http: httpx.Client) -> tuple[float | None, float | None]:
    try:
        text = http.get("/metrics").text
    except httpx.HTTPError:
        return None, None
    return metric_value(text, "k2_api_cache_hits_total"), metric_value(text, "k2_api_cache_misses_total")


def _delta(a: float | None, b: float | None) -> int | None:
    return None if a is None or b is None else int(b - a)


def measure_api(
    endpoints: Endpoints,
    say: Say,
    requests: int = REQUESTS,
    budget_s: float = BUDGET_S,
    rows: int = ROWS,
    batches: int = BATCHES,
    reuse: bool = False,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """Load the synthetic trades, then time each kind of query; bench.json's "api" section.
    `http`: a client of the API with its key (by default one to endpoints.api, kept alive)."""
    from harness.probes.iceberg import catalog
    from k2.catalog import ensure_table  # the platform's table, created as the consumer would

    say(
        f"[bench] api: loading {rows:,} synthetic trades ({BENCH_EXCHANGE}: {', '.join(BENCH_SYMBOLS)}) "
        f"into {TRADES} in {batches} appends ..."
    )
    table = ensure_table(catalog(endpoints))
    load = bulk_load(table, say, rows=rows, batches=batches, reuse=reuse)
    if not load.reused:
        say(f"[bench]   loaded in {load.seconds:.1f} s")
    out: dict[str, Any] = {
        "load": load.as_dict(),
        "notes": "cold_ms: the first request of its kind after the load (the snapshot is new, so nothing of "
        "it is in the API's result cache; manifests read by an earlier kind may be). p50_ms, p99_ms, "
        "max_ms: the repeats after it (warm), nearest rank. cache_hits/misses: the API's per-snapshot "
        "result cache during the repeats (results over K2_API_CACHE_ROWS, default 2,000,000 rows, are "
        "never cached). matched_rows: rows the query matched before its limit.",
    }
    if http is None:
        api = endpoints.api
        http = httpx.Client(base_url=api.url, headers={"X-API-Key": api.api_key}, timeout=60.0)
    with http:
        for q in queries(load.end_us):
            say(f"[bench] api: {q.name}: {requests} requests of {q.path} {q.params} ...")
            hits0, misses0 = cache_counters(http)
            t = time_query(http, q, requests, budget_s)
            hits1, misses1 = cache_counters(http)
            t.cache_hits, t.cache_misses = _delta(hits0, hits1), _delta(misses0, misses1)
            out[q.name] = summary = summarize_ms(t, budget_s)
            say(
                f"[bench]   {q.name}: cold {summary['cold_ms']} ms, warm p50 {summary['p50_ms']} ms, "
                f"p99 {summary['p99_ms']} ms over {summary['warm_requests']} requests"
                + (f", {summary['errors']} errors (first: {summary['first_error']})" if summary["errors"] else "")
            )
    return out
