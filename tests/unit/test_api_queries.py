"""The Iceberg read path on a real pyiceberg table (SQLite catalog, local files; no services):
filters pushed into the scan, newest-first order with trade_id as tie-breaker, totals, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import AlwaysTrue, And
from pyiceberg.expressions import EqualTo as _Eq
from pyiceberg.expressions import GreaterThanOrEqual as _Ge
from pyiceberg.expressions import LessThanOrEqual as _Le

from k2.api.cache import SnapshotCache
from k2.api.queries import IcebergStore, TradeQuery, catalog_properties, epoch_micros, with_query_default
from k2.api.settings import ApiSettings
from k2.catalog import ensure_table
from k2.schemas.table import ARROW_SCHEMA, IDENTIFIER
from tests.unit.test_api_app import ENV
from tests.unit.test_api_models import sample_row

DAY0 = datetime(2024, 1, 15)
# Any: mypy misreads the constructors of pyiceberg's pydantic predicates (see queries.predicate)
EqualTo: Any = _Eq
GreaterThanOrEqual: Any = _Ge
LessThanOrEqual: Any = _Le


def test_epoch_micros_treats_naive_as_utc() -> None:
    assert epoch_micros(datetime(1970, 1, 1, 0, 0, 0, 1)) == 1
    assert epoch_micros(datetime(2024, 1, 15, tzinfo=UTC)) == 1705276800_000000
    assert epoch_micros(datetime(2024, 1, 15, 1, tzinfo=timezone(timedelta(hours=1)))) == 1705276800_000000


def test_row_filter_has_one_term_per_given_parameter() -> None:
    assert TradeQuery().row_filter() == AlwaysTrue()
    assert TradeQuery(symbol="BTCUSDT").row_filter() == EqualTo("symbol", "BTCUSDT")
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert TradeQuery(symbol="BTCUSDT", exchange="BINANCE", start=start, end=end).row_filter() == And(
        And(
            And(EqualTo("symbol", "BTCUSDT"), EqualTo("exchange", "BINANCE")),
            GreaterThanOrEqual("timestamp", epoch_micros(start)),
        ),
        LessThanOrEqual("timestamp", epoch_micros(end)),
    )


def test_catalog_properties_bound_connect_times() -> None:
    props = catalog_properties(ApiSettings.from_env(ENV).catalog)
    assert props["uri"] == "postgresql+psycopg2://u:p@127.0.0.1:1/db?connect_timeout=2"
    assert props["pool_pre_ping"] == "true"
    assert props["s3.connect-timeout"] == "2"
    assert with_query_default("postgresql://h/db?connect_timeout=9", "connect_timeout", "2").endswith(
        "connect_timeout=9"
    )


class Source:
    """The table source IcebergStore reads from: here a SQLite catalog instead of PostgreSQL."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def load_table(self) -> Any | None:
        return self.catalog.load_table(IDENTIFIER) if self.catalog.table_exists(IDENTIFIER) else None


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    return SqlCatalog("k2", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")


def rows() -> list[dict[str, Any]]:
    out = []
    for i in range(30):
        out.append(
            sample_row(
                message_id=f"m-{i}",
                trade_id=f"BINANCE-{i}",
                symbol=("BTCUSDT", "ETHUSDT", "BNBUSDT")[i % 3],
                # three days; trades 10 and 11 share a timestamp, so trade_id decides their order
                timestamp=DAY0 + timedelta(hours=2 * min(i, 10) + 2 * max(i - 11, 0)),
                price=Decimal(i) + Decimal("0.00000001"),
                quantity=Decimal("12345678.87654321"),
                source_sequence=i,
            )
        )
    return out


@pytest.fixture
def store(catalog: SqlCatalog) -> IcebergStore:
    table = ensure_table(catalog)
    data = rows()
    table.append(pa.Table.from_pylist(data[:13], schema=ARROW_SCHEMA))
    table.append(pa.Table.from_pylist(data[13:], schema=ARROW_SCHEMA))
    return IcebergStore(Source(catalog))


def test_a_missing_or_empty_table_is_an_empty_answer(catalog: SqlCatalog) -> None:
    store = IcebergStore(Source(catalog))
    assert store.trades(TradeQuery()).total == 0
    assert store.symbols(None) == []
    assert store.stats().exists is False
    assert store.snapshots(10, 0) == ([], 0)
    ensure_table(catalog)
    assert store.trades(TradeQuery()).rows.num_rows == 0
    assert store.stats().exists is True
    assert store.stats().total_rows == 0


def test_newest_first_with_trade_id_breaking_ties(store: IcebergStore) -> None:
    page = store.trades(TradeQuery(limit=100))
    assert page.total == 30
    ids = [r["trade_id"] for r in page.rows.to_pylist()]
    assert ids[:3] == ["BINANCE-29", "BINANCE-28", "BINANCE-27"]
    # 10 and 11 share a timestamp: "BINANCE-11" > "BINANCE-10"
    assert ids.index("BINANCE-11") == ids.index("BINANCE-10") - 1
    stamps = [r["timestamp"] for r in page.rows.to_pylist()]
    assert stamps == sorted(stamps, reverse=True)


def test_two_symbols_may_share_a_trade_id_and_a_timestamp(catalog: SqlCatalog) -> None:
    # Binance numbers trades per symbol: BTCUSDT and ETHUSDT both have a trade 7, and in the
    # same millisecond it can happen. Pages of one row each must still give each once.
    table = ensure_table(catalog)
    twins = [
        sample_row(trade_id="BINANCE-7", symbol=s, timestamp=DAY0, message_id=f"m-{s}")
        for s in ("BTCUSDT", "ETHUSDT", "BNBUSDT")
    ]
    table.append(pa.Table.from_pylist(twins, schema=ARROW_SCHEMA))
    store = IcebergStore(Source(catalog))
    pages = [store.trades(TradeQuery(limit=1, offset=n)) for n in range(3)]
    assert [p.total for p in pages] == [3, 3, 3]
    assert [p.rows.to_pylist()[0]["symbol"] for p in pages] == ["ETHUSDT", "BTCUSDT", "BNBUSDT"]


def test_values_come_back_exactly(store: IcebergStore) -> None:
    (row,) = store.trades(TradeQuery(symbol="BTCUSDT", limit=1, offset=9)).rows.to_pylist()
    assert row["trade_id"] == "BINANCE-0"
    assert row["price"] == Decimal("0.00000001")
    assert row["quantity"] == Decimal("12345678.87654321")
    assert row["timestamp"] == DAY0
    assert row["vendor_data"] == sample_row()["vendor_data"]


def test_filters_and_pages(store: IcebergStore) -> None:
    btc = store.trades(TradeQuery(symbol="BTCUSDT", limit=4))
    assert btc.total == 10
    assert [r["trade_id"] for r in btc.rows.to_pylist()] == ["BINANCE-27", "BINANCE-24", "BINANCE-21", "BINANCE-18"]
    page3 = store.trades(TradeQuery(symbol="BTCUSDT", limit=4, offset=8))
    assert [r["trade_id"] for r in page3.rows.to_pylist()] == ["BINANCE-3", "BINANCE-0"]
    assert store.trades(TradeQuery(symbol="BTCUSDT", offset=10)).rows.num_rows == 0
    assert store.trades(TradeQuery(exchange="NYSE")).total == 0

    start, end = DAY0 + timedelta(hours=4), DAY0 + timedelta(hours=8)  # both bounds inclusive
    window = store.trades(TradeQuery(start=start.replace(tzinfo=UTC), end=end.replace(tzinfo=UTC)))
    assert [r["trade_id"] for r in window.rows.to_pylist()] == ["BINANCE-4", "BINANCE-3", "BINANCE-2"]
    shifted = store.trades(TradeQuery(start=(start + timedelta(hours=1)).replace(tzinfo=timezone(timedelta(hours=1)))))
    assert shifted.total == 28


def test_symbols_stats_snapshots(store: IcebergStore) -> None:
    assert store.symbols(None) == ["BNBUSDT", "BTCUSDT", "ETHUSDT"]
    assert store.symbols("BINANCE") == ["BNBUSDT", "BTCUSDT", "ETHUSDT"]
    assert store.symbols("NYSE") == []
    stats = store.stats()
    assert stats.total_rows == 30
    assert stats.rows_per_symbol == {"BNBUSDT": 10, "BTCUSDT": 10, "ETHUSDT": 10}
    assert stats.snapshot_count == 2
    snaps, total = store.snapshots(10, 0)
    assert total == 2
    assert [s.operation for s in snaps] == ["append", "append"]
    assert snaps[0].parent_snapshot_id == snaps[1].snapshot_id
    assert snaps[0].snapshot_id == stats.current_snapshot_id
    assert snaps[0].summary["total-records"] == "30"
    assert snaps[1].summary["added-records"] == "13"
    assert store.snapshots(1, 1)[0] == [snaps[1]]


def test_the_cache_serves_a_snapshot_and_a_new_commit_is_seen_at_once(catalog: SqlCatalog) -> None:
    table = ensure_table(catalog)
    table.append(pa.Table.from_pylist(rows()[:10], schema=ARROW_SCHEMA))
    cache = SnapshotCache(max_rows=1000)
    store = IcebergStore(Source(catalog), cache)
    # a page is two reads: the sort keys of every matching row, then the rows of the page's window
    assert store.trades(TradeQuery(symbol="BTCUSDT")).total == 4
    assert (cache.hits, cache.misses) == (0, 2)
    assert store.trades(TradeQuery(symbol="BTCUSDT")).total == 4
    assert (cache.hits, cache.misses) == (2, 2)
    assert store.trades(TradeQuery(symbol="BTCUSDT", offset=2)).total == 4  # same keys, another window
    assert (cache.hits, cache.misses) == (3, 3)
    table.append(pa.Table.from_pylist(rows()[10:], schema=ARROW_SCHEMA))
    page = store.trades(TradeQuery(symbol="BTCUSDT", limit=1))
    assert page.total == 10
    assert page.rows.to_pylist()[0]["trade_id"] == "BINANCE-27"
    assert cache.misses == 5
    assert store.stats().total_rows == 30  # a different key: the symbol column only
