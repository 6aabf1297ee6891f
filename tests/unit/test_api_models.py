"""Serialization of stored rows into the API's Trade: exact decimals, fixed-width UTC times, JSON fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from k2.api.models import (
    Trade,
    decimal_str,
    json_list,
    json_map,
    millis_str,
    timestamp_str,
    trade_from_row,
)


def sample_row(**overrides: Any) -> dict[str, Any]:
    """A row as pyarrow returns it from market_data.trades."""
    row: dict[str, Any] = {
        "message_id": "6f1c1d7e-2a41-4a5e-9b8e-0d7b2f4c9a11",
        "trade_id": "BINANCE-42",
        "symbol": "BTCUSDT",
        "exchange": "BINANCE",
        "asset_class": "crypto",
        "timestamp": datetime(2024, 1, 15, 9, 30, 0, 123456),
        "price": Decimal("42000.12345678"),
        "quantity": Decimal("0.00000001"),
        "currency": "USDT",
        "side": "SELL",
        "trade_conditions": "[]",
        "source_sequence": 42,
        "ingestion_timestamp": datetime(2024, 1, 15, 9, 30, 0, 200000),
        "platform_sequence": None,
        "vendor_data": '{"is_buyer_maker": "true", "event_type": "trade"}',
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("42000.12345678"), "42000.12345678"),
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("12345678.87654321"), "12345678.87654321"),
        (Decimal("9999999999.99999999"), "9999999999.99999999"),
        (Decimal("100"), "100.00000000"),
        (Decimal("100.00000000"), "100.00000000"),
        (Decimal("-3.5"), "-3.50000000"),
        (Decimal("0E-8"), "0.00000000"),
    ],
)
def test_decimals_keep_exactly_eight_places_in_fixed_notation(value: Decimal, text: str) -> None:
    assert decimal_str(value) == text
    assert Decimal(decimal_str(value)) == value


def test_a_float_or_a_ninth_decimal_is_refused_rather_than_rounded() -> None:
    with pytest.raises(TypeError, match="expected a Decimal"):
        decimal_str(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more than 8 decimals"):
        decimal_str(Decimal("0.123456789"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 1, 15, 9, 30, 0, 123456), "2024-01-15T09:30:00.123456Z"),
        (datetime(2024, 1, 15, 9, 30), "2024-01-15T09:30:00.000000Z"),
        (datetime(2024, 1, 15, 10, 30, 0, 1, tzinfo=timezone(timedelta(hours=1))), "2024-01-15T09:30:00.000001Z"),
        (datetime(2024, 1, 15, 9, 30, tzinfo=UTC), "2024-01-15T09:30:00.000000Z"),
        (datetime(5, 1, 1), "0005-01-01T00:00:00.000000Z"),
    ],
)
def test_timestamps_are_utc_with_microseconds_and_z(value: datetime, text: str) -> None:
    assert timestamp_str(value) == text


def test_snapshot_millis_are_converted_without_float_error() -> None:
    assert millis_str(1705311000123) == "2024-01-15T09:30:00.123000Z"
    assert millis_str(0) == "1970-01-01T00:00:00.000000Z"


def test_json_fields_parse_into_a_list_and_an_object() -> None:
    assert json_list('["odd-lot", "late"]', "trade_conditions") == ["odd-lot", "late"]
    assert json_list("[]", "trade_conditions") == []
    assert json_list("", "trade_conditions") == []
    assert json_map('{"a": "1", "b": "x"}', "vendor_data") == {"a": "1", "b": "x"}
    assert json_map(None, "vendor_data") is None
    assert json_map("null", "vendor_data") is None
    # a writer that stored a non-string value is served its JSON text, still a map<string>
    assert json_map('{"n": 5, "t": true}', "vendor_data") == {"n": "5", "t": "true"}


def test_json_fields_of_the_wrong_shape_are_errors() -> None:
    with pytest.raises(ValueError, match="trade_conditions is not a JSON list"):
        json_list('{"a": 1}', "trade_conditions")
    with pytest.raises(ValueError, match="not a JSON list of strings"):
        json_list("[1, 2]", "trade_conditions")
    with pytest.raises(ValueError, match="vendor_data is not a JSON object"):
        json_map("[1]", "vendor_data")


def test_a_row_becomes_a_trade_with_all_fifteen_fields() -> None:
    trade = trade_from_row(sample_row())
    assert trade.model_dump(mode="json") == {
        "message_id": "6f1c1d7e-2a41-4a5e-9b8e-0d7b2f4c9a11",
        "trade_id": "BINANCE-42",
        "symbol": "BTCUSDT",
        "exchange": "BINANCE",
        "asset_class": "crypto",
        "timestamp": "2024-01-15T09:30:00.123456Z",
        "price": "42000.12345678",
        "quantity": "0.00000001",
        "currency": "USDT",
        "side": "SELL",
        "trade_conditions": [],
        "source_sequence": 42,
        "ingestion_timestamp": "2024-01-15T09:30:00.200000Z",
        "platform_sequence": None,
        "vendor_data": {"is_buyer_maker": "true", "event_type": "trade"},
    }
    assert len(Trade.model_fields) == 15


def test_nullable_fields_stay_present_as_null() -> None:
    dumped = trade_from_row(sample_row(source_sequence=None, vendor_data=None)).model_dump(mode="json")
    assert dumped["source_sequence"] is None
    assert dumped["vendor_data"] is None
    assert "platform_sequence" in dumped


def test_the_model_refuses_a_price_that_is_not_an_eight_decimal_string() -> None:
    fields = trade_from_row(sample_row()).model_dump()
    with pytest.raises(ValidationError, match="price"):
        Trade(**{**fields, "price": "42000.1"})
    with pytest.raises(ValidationError, match="timestamp"):
        Trade(**{**fields, "timestamp": "2024-01-15T09:30:00Z"})
