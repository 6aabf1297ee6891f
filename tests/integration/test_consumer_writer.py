"""The consumer's Iceberg writer on a real catalog (PostgreSQL) and object store: a stale writer
cannot commit, neither by a late check nor by a lost race."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from pyiceberg.exceptions import CommitFailedException

from harness.endpoints import Endpoints
from k2.catalog import CatalogSettings
from k2.consumer.rows import to_row, to_table
from k2.consumer.writer import IcebergWriter, StaleWriter

pytestmark = pytest.mark.integration
TOPIC = "it.writer.topic"


def settings(endpoints: Endpoints) -> CatalogSettings:
    p, s3 = endpoints.catalog.properties, endpoints.object_store
    return CatalogSettings(
        catalog_name="k2",
        type="sql",
        uri=SecretStr(p["uri"]),
        warehouse=p["warehouse"],
        s3_endpoint=s3.endpoint,
        s3_access_key=s3.access_key,
        s3_secret_key=SecretStr(s3.secret_key),
        s3_region=s3.region,
    )


def rows(first: int, n: int) -> Any:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return to_table(
        [
            to_row(
                {
                    "message_id": f"m-{i}",
                    "trade_id": f"BINANCE-{i}",
                    "symbol": "ITWRITER",
                    "exchange": "BINANCE",
                    "asset_class": "crypto",
                    "timestamp": now,
                    "price": Decimal("1.00000001"),
                    "quantity": Decimal("2"),
                    "currency": "USDT",
                    "side": "BUY",
                    "trade_conditions": [],
                    "source_sequence": i,
                    "ingestion_timestamp": now,
                    "platform_sequence": None,
                    "vendor_data": None,
                }
            )
            for i in range(first, first + n)
        ]
    )


def writer_rows(w: IcebergWriter) -> list[str]:
    table = w.table.refresh()
    return [r["trade_id"] for r in table.scan(row_filter="symbol == 'ITWRITER'").to_arrow().to_pylist()]


def test_a_stale_writer_cannot_commit(endpoints: Endpoints) -> None:
    a, b = IcebergWriter(settings(endpoints), TOPIC), IcebergWriter(settings(endpoints), TOPIC)
    base: dict[int, int | None] = {0: a.committed().get(0)}
    start = base[0] or 0
    assert a.commit(rows(start, 10), base, {0: start + 10})[0] == start + 10
    # b read the same messages (same base) but is late: its batch must be refused
    with pytest.raises(StaleWriter, match=r"partitions \[0\] moved"):
        b.commit(rows(start, 10), base, {0: start + 10})
    assert b.committed()[0] == start + 10
    ids = writer_rows(a)
    assert len(ids) == len(set(ids)) == start + 10


def test_a_commit_that_loses_a_race_fails_instead_of_being_retried(endpoints: Endpoints) -> None:
    a, b = IcebergWriter(settings(endpoints), TOPIC), IcebergWriter(settings(endpoints), TOPIC)
    start = a.committed()[0]
    b.table = b.table.refresh()  # b has looked: the table is at `start`
    a.commit(rows(start, 5), {0: start}, {0: start + 5})
    # b's append on its stale view must fail: pyiceberg's silent retry is off for this table
    with pytest.raises(CommitFailedException):
        b.table.append(rows(start, 5))
    ids = writer_rows(a)
    assert len(ids) == len(set(ids)) == start + 5


def test_a_commit_is_one_snapshot_on_top_of_the_last_with_its_rows_and_offsets(endpoints: Endpoints) -> None:
    # the writer commits through its own memoising transaction: the snapshot must be what
    # pyiceberg's plain append makes
    w = IcebergWriter(settings(endpoints), TOPIC)
    start = w.committed().get(0) or 0
    before = w.table.current_snapshot()
    w.commit(rows(start, 7), {0: start or None}, {0: start + 7})
    after = w.table.refresh().current_snapshot()
    assert after.parent_snapshot_id == (before.snapshot_id if before else None)
    summary = after.summary.additional_properties
    assert summary["added-records"] == "7"
    total_before = int(before.summary.additional_properties["total-records"]) if before else 0
    assert int(summary["total-records"]) == total_before + 7
    assert w.committed()[0] == start + 7
    added = {f"BINANCE-{i}" for i in range(start, start + 7)}
    assert sorted(i for i in writer_rows(w) if i in added) == sorted(added)


def commit_small_files(w: IcebergWriter, rows_each: int) -> int:
    """Commit enough small batches for a compaction to be due; returns the first offset."""
    from k2.consumer import compaction

    start = w.committed().get(0) or 0
    for i in range(compaction.MIN_FILES):
        at = start + rows_each * i
        w.commit(rows(at, rows_each), {0: at or None}, {0: at + rows_each})
    return start


def test_compaction_rewrites_small_files_into_one_with_every_row_once_and_the_offsets_kept(
    endpoints: Endpoints,
) -> None:
    from k2.consumer import compaction

    w = IcebergWriter(settings(endpoints), TOPIC)
    start = commit_small_files(w, 3)
    before_rows = int(w.table.current_snapshot().summary.additional_properties["total-records"])
    before_files = len(compaction.data_files(w.table.metadata, w.table.io))
    prepared = w.prepare_compaction()
    assert prepared is not None and w.swap(prepared)
    plan = prepared.plan
    assert len(plan.files) >= compaction.MIN_FILES
    after = w.table.refresh()
    summary = after.current_snapshot().summary
    assert summary.operation.value == "overwrite"
    assert int(summary.additional_properties["total-records"]) == before_rows
    assert len(compaction.data_files(after.metadata, after.io)) == before_files - len(plan.files) + 1
    assert w.committed()[0] == start + 3 * compaction.MIN_FILES  # the newest snapshot still holds the offsets
    ids = writer_rows(w)
    assert len(ids) == len(set(ids))
    assert {f"BINANCE-{i}" for i in range(start, start + 3 * compaction.MIN_FILES)} <= set(ids)


def test_a_compaction_whose_files_were_rewritten_meanwhile_is_let_go_and_no_row_is_doubled(
    endpoints: Endpoints,
) -> None:
    from k2.consumer import compaction

    w = IcebergWriter(settings(endpoints), TOPIC)
    start = commit_small_files(w, 2)
    first, second = w.prepare_compaction(), w.prepare_compaction()  # both from the same table
    assert first is not None and second is not None and first.plan == second.plan
    assert w.swap(first)
    assert not w.swap(second)  # its files are gone: swapping it in would write their rows twice
    ids = writer_rows(w)
    assert len(ids) == len(set(ids))
    assert {f"BINANCE-{i}" for i in range(start, start + 2 * compaction.MIN_FILES)} <= set(ids)


def test_old_snapshots_expire_in_the_commit_that_makes_them_due(endpoints: Endpoints) -> None:
    w = IcebergWriter(settings(endpoints), TOPIC)
    at, keep = w.committed().get(0) or 0, 10
    for _ in range(40):  # at most keep + 20 commits until expiry is due, from any table
        before = len(w.table.metadata.snapshots)
        w.commit(rows(at, 1), {0: at or None}, {0: at + 1}, keep=keep)
        at += 1
        if w.expired:
            break
    assert before >= keep + 20 and w.expired == before - keep
    table = w.table.refresh()
    assert len(table.metadata.snapshots) == keep + 1  # the kept ones and this commit's own
    assert w.committed()[0] == at
    summary = table.current_snapshot().summary
    assert summary.operation.value == "append" and summary.additional_properties["added-records"] == "1"
