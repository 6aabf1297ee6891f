"""The ingest's Avro wire format: Confluent's framing around the Avro binary encoding."""

import io
import json
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader

from k2.ingest.mapping import parse_frame, to_trade_v2, validate
from k2.ingest.wire import WireEncoder
from k2.schemas import trade_v2

FRAME = json.dumps(
    {
        "e": "trade",
        "E": 1709251200001,
        "s": "BTCUSDT",
        "t": 42,
        "p": "64000.12345678",
        "q": "0.00100000",
        "T": 1709251200000,
        "m": False,
        "M": True,
    }
)


def test_frame_is_magic_byte_schema_id_then_the_avro_record() -> None:
    record = to_trade_v2(validate(parse_frame(FRAME)), ingestion_micros=1709251200100000)
    frame = WireEncoder(7, trade_v2())(record)
    assert frame[0] == 0 and int.from_bytes(frame[1:5], "big") == 7
    decoded: Any = schemaless_reader(io.BytesIO(frame[5:]), parse_schema(trade_v2()), None)
    assert decoded["trade_id"] == "BINANCE-42" and str(decoded["price"]) == "64000.12345678"
    assert decoded.keys() == record.keys()


@pytest.mark.parametrize("schema_id", [-1, 2**31])
def test_an_id_the_frame_cannot_hold_is_refused(schema_id: int) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        WireEncoder(schema_id, trade_v2())
