"""The faster JSON paths write what the standard library wrote (or what parses to the same)."""

from __future__ import annotations

import json
import re
import uuid

from fastapi.responses import JSONResponse

from k2.api.app import json_response
from k2.consumer.rows import to_row
from k2.ingest.mapping import message_id

PAGE = {
    "success": True,
    "meta": {"correlation_id": "c-1", "timestamp": "2026-12-07T12:00:00.000Z"},
    "data": [
        {
            "trade_id": "BINANCE-1",
            "price": "0.00000001",
            "vendor_data": {"base_asset": "BTC", "note": 'ünïcode / \u2028 \u001f "quoted"'},
            "trade_conditions": [],
            "source_sequence": 2**53 + 1,
            "platform_sequence": None,
        }
    ],
    "pagination": {"limit": 100, "offset": 0, "total": 1, "has_more": False},
}


def test_a_page_is_the_same_bytes_as_fastapis_json_response() -> None:
    assert json_response(PAGE).body == JSONResponse(PAGE).body
    assert json_response(PAGE).media_type == "application/json"


def test_the_consumer_stores_the_same_json_values() -> None:
    vendor = {"b": "2", "a": "1", "é": "x"}
    row = to_row(
        {
            **dict.fromkeys(
                ("message_id", "trade_id", "symbol", "exchange", "asset_class", "currency", "side", "price", "quantity")
            ),
            "timestamp": 0,
            "ingestion_timestamp": 0,
            "trade_conditions": ["late"],
            "vendor_data": vendor,
        }
    )
    assert json.loads(row["vendor_data"]) == vendor
    assert list(json.loads(row["vendor_data"])) == ["a", "b", "é"]  # keys sorted, as before
    assert json.loads(row["trade_conditions"]) == ["late"]


def test_message_ids_are_version_4_uuids_and_differ() -> None:
    ids = {message_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    for text in list(ids)[:100]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
