"""Reading the trades table (K2_TABLE) through pyiceberg (the HTTP layer sees only TradeStore).

The catalog is opened once (lazily, so the API starts and reports "unhealthy" while the catalog
database is down); the table's metadata is loaded again for every request, which costs one
catalog lookup and one small metadata read, so a snapshot committed a moment ago is visible
at once. Filters go into the scan's `row_filter`, where pyiceberg prunes partitions (day of
`timestamp`) and data files (column min/max) before reading any row. What a scan of a given
snapshot returned is kept in a SnapshotCache (snapshots are immutable, so it is never stale).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError, RESTError
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    LessThanOrEqual,
)

from k2.api import filecache
from k2.api.cache import SnapshotCache
from k2.api.models import Snapshot, TableStats, millis_str
from k2.catalog import CatalogSettings
from k2.names import DEFAULT_TABLE, TableId
from k2.schemas import table as trades_table

log = logging.getLogger("k2.api")

COLUMNS = tuple(trades_table.ARROW_SCHEMA.names)
# The order of pages (newest_first), and all a page's first pass reads. A total order: Binance
# numbers trades per symbol, so two symbols can share a trade_id, and within a millisecond a
# timestamp too; symbol tells them apart.
SORT_KEYS = ("timestamp", "trade_id", "symbol")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Budgets for the clients under the catalog, so a request against a dead dependency fails
# instead of hanging a worker thread.
CONNECT_TIMEOUT_S = 2


class StoreUnavailable(Exception):
    """The catalog database or the object store did not answer: a 503, not a bug."""


@dataclass(frozen=True)
class TradeQuery:
    symbol: str | None = None
    exchange: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # inclusive
    limit: int = 100
    offset: int = 0

    def row_filter(self) -> BooleanExpression:
        terms: list[BooleanExpression] = []
        if self.symbol is not None:
            terms.append(predicate(EqualTo, "symbol", self.symbol))
        if self.exchange is not None:
            terms.append(predicate(EqualTo, "exchange", self.exchange))
        if self.start is not None:
            terms.append(predicate(GreaterThanOrEqual, "timestamp", epoch_micros(self.start)))
        if self.end is not None:
            terms.append(predicate(LessThanOrEqual, "timestamp", epoch_micros(self.end)))
        expr: BooleanExpression = AlwaysTrue()
        for term in terms:
            expr = term if isinstance(expr, AlwaysTrue) else And(expr, term)
        return expr


@dataclass(frozen=True)
class TradePage:
    rows: pa.Table  # the table's columns (trades_table.ARROW_SCHEMA), newest first
    total: int


class TradeStore(Protocol):
    """What the HTTP layer needs from storage; tests pass a fake."""

    def trades(self, query: TradeQuery) -> TradePage: ...

    def symbols(self, exchange: str | None) -> list[str]: ...

    def stats(self) -> TableStats: ...

    def snapshots(self, limit: int, offset: int) -> tuple[list[Snapshot], int]: ...


def predicate(kind: Any, column: str, value: object) -> BooleanExpression:
    """`kind(column, value)`. Through Any because mypy takes pyiceberg's pydantic predicate classes
    for dataclasses and misreads their constructor."""
    built: BooleanExpression = kind(column, value)
    return built


def as_read(found: pa.Table) -> pa.Table:
    return found


def newest_first(found: pa.Table) -> pa.Table:
    # ties of timestamp broken by the other keys, so pages never overlap or skip a row
    order = pc.sort_indices(found, sort_keys=[(key, "descending") for key in SORT_KEYS])
    return found.take(order)


def page_of(window: pa.Table, page_keys: pa.Table) -> pa.Table:
    """The rows of `page_keys`, out of `window`: the rows of the page's time span, sorted the same
    way. Rows sharing the page's first or last timestamp can lie outside the page, so the page is
    the run of `window` that starts at the page's first key."""
    at = pc.equal(window[SORT_KEYS[0]], page_keys[SORT_KEYS[0]][0])
    for key in SORT_KEYS[1:]:
        at = pc.and_(at, pc.equal(window[key], page_keys[key][0]))
    starts = pc.indices_nonzero(at)
    if len(starts) != 1:
        raise StoreUnavailable(f"the page's first row is {len(starts)} times in its window")  # a snapshot mix-up
    found = window.slice(starts[0].as_py(), page_keys.num_rows)
    if not all(found[key].equals(page_keys[key]) for key in SORT_KEYS):
        raise StoreUnavailable("the page's rows differ from its keys")
    return found


def epoch_micros(value: datetime) -> int:
    """Microseconds since the epoch, the table's `timestamp` unit. Naive means UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // timedelta(microseconds=1)


def catalog_properties(settings: CatalogSettings) -> dict[str, str]:
    props = settings.properties()
    # A pooled connection to a restarted PostgreSQL is dead: test it before use.
    props["pool_pre_ping"] = "true"
    props["py-io-impl"] = filecache.FILE_IO  # reads through the file cache once app.py installs it
    props["s3.connect-timeout"] = str(CONNECT_TIMEOUT_S)
    if settings.type == "sql" and props["uri"].startswith("postgresql"):
        props["uri"] = with_query_default(props["uri"], "connect_timeout", str(CONNECT_TIMEOUT_S))
    return props


def with_query_default(uri: str, key: str, value: str) -> str:
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def unavailable_as_503(what: str) -> Iterator[None]:
    """Dependency failures (network, database, S3) become StoreUnavailable; bugs stay bugs."""
    from sqlalchemy.exc import SQLAlchemyError  # installed with pyiceberg[sql-postgres]

    try:
        yield
    except (OSError, SQLAlchemyError, RESTError) as exc:
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        log.warning("%s failed: %s: %s", what, type(exc).__name__, first)
        raise StoreUnavailable(f"{what}: storage did not answer") from exc


class TableSource(Protocol):
    def load_table(self) -> Any | None: ...


class CatalogHandle:
    """One catalog for the process, opened on first use and retried until that succeeds."""

    def __init__(self, settings: CatalogSettings, identifier: TableId) -> None:
        self._settings = settings
        self.identifier = identifier
        self._lock = threading.Lock()
        self._catalog: Any = None

    def get(self) -> Any:
        with self._lock:
            if self._catalog is None:
                from pyiceberg.catalog import load_catalog

                self._catalog = load_catalog(self._settings.catalog_name, **catalog_properties(self._settings))
            return self._catalog

    def load_table(self) -> Any | None:
        """The trades table with fresh metadata, or None while it does not exist yet."""
        try:
            return self.get().load_table(str(self.identifier))
        except (NoSuchTableError, NoSuchNamespaceError):
            return None


class IcebergStore:
    def __init__(
        self, catalog: TableSource, cache: SnapshotCache | None = None, identifier: TableId = DEFAULT_TABLE
    ) -> None:
        """`identifier`: the name stats report; `catalog` is what loads the table."""
        self._catalog = catalog
        self._identifier = str(identifier)
        self._cache = cache if cache is not None else SnapshotCache(max_rows=0)  # an empty cache is falsy

    def _read(
        self,
        table: Any,
        row_filter: BooleanExpression,
        columns: tuple[str, ...],
        prepare: Callable[[pa.Table], pa.Table] = as_read,
    ) -> pa.Table:
        """The rows of the current snapshot matching row_filter, after `prepare`, through the cache."""
        snapshot = table.current_snapshot()
        if snapshot is None:
            return trades_table.ARROW_SCHEMA.empty_table().select(list(columns))
        key = (str(table.metadata.table_uuid), snapshot.snapshot_id, columns, repr(row_filter), prepare.__qualname__)

        def scan() -> pa.Table:
            # snapshot_id pinned: the cache key must describe exactly what was read
            found: pa.Table = table.scan(
                row_filter=row_filter, selected_fields=columns, snapshot_id=snapshot.snapshot_id
            ).to_arrow()
            return prepare(found)

        return self._cache.get_or_compute(key, scan)

    def trades(self, query: TradeQuery) -> TradePage:
        """One page, newest first, read in two passes: first only the sort keys of every matching
        row (the total, and which rows the page holds), then every column of just the page's time
        window. Reading every column of every matching row to return 100 of them made a symbol's
        latest trades cost a scan of the whole symbol."""
        with unavailable_as_503("trades query"):
            table = self._catalog.load_table()
            if table is None:
                return TradePage(trades_table.ARROW_SCHEMA.empty_table(), 0)
            row_filter = query.row_filter()
            keys = self._read(table, row_filter, SORT_KEYS, prepare=newest_first)
            total = keys.num_rows
            if query.offset >= total:
                return TradePage(trades_table.ARROW_SCHEMA.empty_table(), total)
            page = keys.slice(query.offset, query.limit)
            window = And(
                row_filter,
                And(
                    predicate(GreaterThanOrEqual, "timestamp", page["timestamp"][-1].value),
                    predicate(LessThanOrEqual, "timestamp", page["timestamp"][0].value),
                ),
            )
            rows = self._read(table, window, COLUMNS, prepare=newest_first)
        return TradePage(page_of(rows, page), total)

    def symbols(self, exchange: str | None) -> list[str]:
        with unavailable_as_503("symbols query"):
            table = self._catalog.load_table()
            if table is None:
                return []
            row_filter = predicate(EqualTo, "exchange", exchange) if exchange is not None else AlwaysTrue()
            found = self._read(table, row_filter, ("symbol",))
        return sorted(str(s) for s in pc.unique(found["symbol"]).to_pylist())

    def stats(self) -> TableStats:
        with unavailable_as_503("stats query"):
            table = self._catalog.load_table()
            if table is None:
                return TableStats(
                    table=self._identifier,
                    exists=False,
                    total_rows=0,
                    rows_per_symbol={},
                    snapshot_count=0,
                    current_snapshot_id=None,
                    total_data_files=None,
                    last_updated=None,
                )
            current = table.current_snapshot()
            found = self._read(table, AlwaysTrue(), ("symbol",))
        counts = sorted(
            found.group_by("symbol").aggregate([("symbol", "count")]).to_pylist(), key=lambda c: str(c["symbol"])
        )
        files = current.summary.additional_properties.get("total-data-files") if current and current.summary else None
        return TableStats(
            table=self._identifier,
            exists=True,
            total_rows=found.num_rows,
            rows_per_symbol={str(c["symbol"]): int(c["symbol_count"]) for c in counts},
            snapshot_count=len(table.metadata.snapshots),
            current_snapshot_id=current.snapshot_id if current is not None else None,
            total_data_files=int(files) if files is not None else None,
            last_updated=millis_str(table.metadata.last_updated_ms),
        )

    def snapshots(self, limit: int, offset: int) -> tuple[list[Snapshot], int]:
        with unavailable_as_503("snapshots query"):
            table = self._catalog.load_table()
        if table is None:
            return [], 0
        ordered = sorted(table.metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0), reverse=True)
        page = [
            Snapshot(
                snapshot_id=s.snapshot_id,
                parent_snapshot_id=s.parent_snapshot_id,
                sequence_number=s.sequence_number,
                timestamp=millis_str(s.timestamp_ms),
                timestamp_ms=s.timestamp_ms,
                operation=str(s.summary.operation.value) if s.summary is not None else "unknown",
                summary=dict(s.summary.additional_properties) if s.summary is not None else {},
            )
            for s in ordered[offset : offset + limit]
        ]
        return page, len(ordered)
