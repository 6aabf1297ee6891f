from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from k2.consumer import offsets
from k2.consumer.rows import to_row, to_table

KEY = "k2.kafka.offsets"
TOPIC = "market.crypto.trades.binance"


@dataclass
class Snap:
    snapshot_id: int
    parent_snapshot_id: int | None
    summary: dict[str, str] = field(default_factory=dict)


def chain(*summaries: dict[str, str]) -> tuple[Snap, dict[int, Snap]]:
    snaps = {i + 1: Snap(i + 1, i or None, s) for i, s in enumerate(summaries)}
    return snaps[len(summaries)], snaps


def test_offsets_round_trip_through_the_summary_text() -> None:
    text = offsets.encode(TOPIC, {2: 40, 0: 7})
    assert offsets.decode(text, TOPIC) == {0: 7, 2: 40}
    assert offsets.decode(text, "other.topic") == {}


def test_the_newest_snapshot_with_offsets_wins_and_others_are_skipped() -> None:
    current, snaps = chain(
        {KEY: offsets.encode(TOPIC, {0: 5})}, {KEY: offsets.encode(TOPIC, {0: 9, 1: 3})}, {"operation": "replace"}
    )  # a compaction carries no offsets
    assert offsets.latest(current, snaps.get, KEY, TOPIC) == {0: 9, 1: 3}


def test_an_empty_table_has_no_offsets() -> None:
    assert offsets.latest(None, lambda snapshot_id: None, KEY, TOPIC) == {}


def test_a_batch_is_stale_when_another_writer_moved_its_partitions() -> None:
    assert offsets.stale_partitions({0: 10, 1: 4}, {0: 10, 1: 4}, {0: 20, 1: 8}) == []
    assert offsets.stale_partitions({0: 15, 1: 4}, {0: 10, 1: 4}, {0: 20, 1: 8}) == [0]
    # a partition never committed before: base None, table has none -> fine; table has one -> stale
    assert offsets.stale_partitions({}, {2: None}, {2: 5}) == []
    assert offsets.stale_partitions({2: 5}, {2: None}, {2: 5}) == [2]


def test_records_become_rows_with_exact_decimals_and_json_fields() -> None:
    record: dict[str, Any] = {
        "message_id": "m",
        "trade_id": "BINANCE-1",
        "symbol": "BTCUSDT",
        "exchange": "BINANCE",
        "asset_class": "crypto",
        "timestamp": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "price": Decimal("0.00000001"),
        "quantity": Decimal("9999999999.99999999"),
        "currency": "USDT",
        "side": "BUY",
        "trade_conditions": [],
        "source_sequence": 1,
        "ingestion_timestamp": datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        "platform_sequence": None,
        "vendor_data": {"b": "2", "a": "1"},
    }
    row = to_row(record)
    assert row["timestamp"] == 1767323045123456
    assert row["trade_conditions"] == "[]"
    assert row["vendor_data"] == '{"a":"1","b":"2"}'
    table = to_table([row])
    back = table.to_pylist()[0]
    assert back["price"] == Decimal("0.00000001")
    assert back["quantity"] == Decimal("9999999999.99999999")
    assert back["timestamp"] == datetime(2026, 1, 2, 3, 4, 5, 123456)
