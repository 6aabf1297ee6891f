"""k2.api.trades_json: a page's JSON built from its columns is exactly what the Trade model gives."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from k2.api.models import trade_from_row
from k2.api.trades_json import decimal_strings, trades_json
from k2.schemas.table import ARROW_SCHEMA
from tests.unit.test_api_models import sample_row


def _as_the_model_dumps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [trade_from_row(r).model_dump(mode="json") for r in rows]


def _random_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    places = Decimal("0.00000001")
    conditions = ["[]", '["late"]', '["a", "b"]']
    vendors = [None, '{"is_buyer_maker": "true"}', '{"b": "2", "a": "1"}', '{"n": 5}', "null"]
    return [
        sample_row(
            trade_id=f"BINANCE-{i}",
            symbol=rng.choice(["BTCUSDT", "ETHUSDT"]),
            side=rng.choice(["BUY", "SELL"]),
            timestamp=start + timedelta(microseconds=rng.randrange(10**12)),
            ingestion_timestamp=start + timedelta(microseconds=rng.randrange(10**12)),
            price=Decimal(rng.randrange(-(10**18) + 1, 10**18)) * places,
            quantity=Decimal(rng.choice([0, 1, 9, 10, 99, 100, 10**6, 10**17])) * places,
            trade_conditions=rng.choice(conditions),
            vendor_data=rng.choice(vendors),
            source_sequence=rng.choice([None, 0, rng.randrange(2**62)]),
            platform_sequence=rng.choice([None, 7]),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_json_as_the_model_row_by_row(seed: int) -> None:
    rows = _random_rows(500, seed)
    served = trades_json(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA))
    assert len(served) == 500
    assert served == _as_the_model_dumps(rows)
    assert json.dumps(served) == json.dumps(_as_the_model_dumps(rows))  # same key order too


def test_a_table_of_several_chunks_and_an_empty_one() -> None:
    rows = _random_rows(30, 4)
    chunked = pa.concat_tables(
        [pa.Table.from_pylist(rows[:10], schema=ARROW_SCHEMA), pa.Table.from_pylist(rows[10:], schema=ARROW_SCHEMA)]
    )
    assert trades_json(chunked) == _as_the_model_dumps(rows)
    assert trades_json(ARROW_SCHEMA.empty_table()) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.00000001", "0.00000001"),
        ("-0.00000010", "-0.00000010"),
        ("0", "0.00000000"),
        ("0.000001", "0.00000100"),
        ("1.5", "1.50000000"),
        ("-9999999999.99999999", "-9999999999.99999999"),
    ],
)
def test_small_decimals_are_fixed_point_too(value: str, text: str) -> None:
    assert decimal_strings(pa.array([Decimal(value)], pa.decimal128(18, 8))) == [text]


def test_bad_json_in_a_row_is_an_error_not_a_served_value() -> None:
    rows = [sample_row(trade_conditions='{"not": "a list"}')]
    with pytest.raises(ValueError, match="trade_conditions is not a JSON list"):
        trades_json(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA))
