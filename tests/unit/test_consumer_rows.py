"""k2.consumer.rows: a decoded TradeV2 record becomes one row of the table, values unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from k2.consumer.rows import to_row, to_table
from tests.unit.test_consumer_wire import full_record


def _record(**changes: object) -> dict[str, object]:
    return {**full_record(), **changes}


def test_timestamps_as_datetimes_or_micros_give_the_same_row() -> None:
    plain = to_row(_record())
    as_datetime = to_row(_record(timestamp=datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)))
    assert plain["timestamp"] == 1767323045006000 == as_datetime["timestamp"]
    assert plain["ingestion_timestamp"] == 1767323045007000


def test_conditions_and_vendor_data_are_json_text() -> None:
    assert to_row(_record(trade_conditions=[]))["trade_conditions"] == "[]"
    assert json.loads(to_row(_record(trade_conditions=["X", "Y"]))["trade_conditions"]) == ["X", "Y"]
    row = to_row(_record(vendor_data={"b": "2", "a": "1"}))
    assert row["vendor_data"] == '{"a":"1","b":"2"}'
    assert to_row(_record(vendor_data=None))["vendor_data"] is None


def test_a_table_keeps_every_value() -> None:
    rows = [to_row(_record(trade_id=f"BINANCE-{i}", price=Decimal("91234.12345678"))) for i in range(3)]
    table = to_table(rows)
    assert table.num_rows == 3
    assert table.column("trade_id").to_pylist() == ["BINANCE-0", "BINANCE-1", "BINANCE-2"]
    assert table.column("price").to_pylist() == [Decimal("91234.12345678")] * 3
