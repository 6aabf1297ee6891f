"""k2.consumer.wire: reads what k2.ingest.wire writes, and refuses what is not the wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from k2.consumer.loop import ConsumerLoop, Stopped
from k2.consumer.rows import micros
from k2.consumer.settings import Settings
from k2.consumer.wire import WireDecoder, WireError, plain_micros, registry_lookup
from k2.ingest.mapping import to_trade_v2
from k2.ingest.wire import WireEncoder
from k2.schemas import trade_v2
from tests.unit.test_consumer_loop import ENV


def test_round_trip_and_one_registry_lookup_per_id() -> None:
    lookups: list[int] = []

    def schema_text(schema_id: int) -> str:
        lookups.append(schema_id)
        return json.dumps(trade_v2())

    encode, decode = WireEncoder(7, trade_v2()), WireDecoder(schema_text)
    full = full_record()
    for _ in range(3):
        out = decode(encode(full))
    assert out["price"] == full["price"]
    assert out["timestamp"] == full["timestamp"] and isinstance(out["timestamp"], int)
    assert micros(out["ingestion_timestamp"]) == full["ingestion_timestamp"]
    assert out["trade_id"] == full["trade_id"]
    assert lookups == [7]


def full_record() -> dict[str, object]:
    """A TradeV2 record as the ingest makes it from a Binance trade."""
    payload = {
        "e": "trade",
        "E": 1767323045006,
        "s": "BTCUSDT",
        "t": 42,
        "p": "123.45",
        "q": "0.5",
        "T": 1767323045006,
        "m": True,
    }
    return to_trade_v2(payload, 1767323045007000)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "shorter than"),
        (b"\x00\x00", "shorter than"),
        (b"\x01\x00\x00\x00\x07abc", "magic byte 1"),
    ],
)
def test_what_is_not_the_wire_format_is_refused(value: bytes | None, words: str) -> None:
    with pytest.raises(WireError, match=words):
        WireDecoder(lambda _id: json.dumps(trade_v2()))(value)


def test_only_timestamp_micros_is_left_plain() -> None:
    schema: dict[str, Any] = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "a", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "b", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
            {"name": "c", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 8}},
        ],
    }
    fields = plain_micros(schema)["fields"]
    assert fields[0]["type"] == {"type": "long"}
    assert fields[1]["type"] == ["null", {"type": "long"}]
    assert fields[2]["type"] == schema["fields"][2]["type"]
    assert fields[3]["type"] == schema["fields"][3]["type"]


class _Registry:
    def __init__(self, status: int) -> None:
        self.status = status

    def get_schema(self, schema_id: int) -> Schema:
        if self.status != 200:
            raise SchemaRegistryError(self.status, self.status * 100 + 3, f"no luck with {schema_id}")
        return Schema(json.dumps(trade_v2()), "AVRO")


def test_an_unknown_id_is_a_bad_record_but_a_failing_registry_is_not() -> None:
    assert json.loads(registry_lookup(_Registry(200))(7) or "")["name"] == "TradeV2"  # type: ignore[arg-type]
    assert registry_lookup(_Registry(404))(7) is None  # type: ignore[arg-type]
    with pytest.raises(SchemaRegistryError):
        registry_lookup(_Registry(503))(7)  # type: ignore[arg-type]
    with pytest.raises(WireError, match="no schema text for id 7"):
        WireDecoder(lambda _id: None)(WireEncoder(7, trade_v2())(full_record()))


# ------------------------------------------------------------------ in the consumer's loop (on fakes)
class _Message:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset, self._value = offset, value

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 1, 1767323045006

    def value(self) -> bytes:
        return self._value


class _Dlq:
    def __init__(self) -> None:
        self.letters: list[dict[str, Any]] = []

    def produce(self, topic: str, value: bytes) -> None:
        self.letters.append(json.loads(value))


def _loop_with_registry(lookup: Any) -> tuple[Any, WireDecoder, _Dlq]:
    loop = ConsumerLoop(Settings.from_env(ENV))
    decode = WireDecoder(lambda schema_id: loop._until_stopped(lambda: lookup(schema_id), f"fetch schema {schema_id}"))
    return loop, decode, _Dlq()


def test_a_registry_outage_holds_the_record_instead_of_dead_lettering_it() -> None:
    loop, decode, dlq = _loop_with_registry(registry_lookup(_Registry(503)))  # type: ignore[arg-type]
    loop.stopping.set()  # else it would retry until the registry answers
    with pytest.raises(Stopped, match="fetch schema 7"):
        loop._take(_Message(5, WireEncoder(7, trade_v2())(full_record())), decode, dlq)
    assert dlq.letters == [] and loop._next == {} and loop._rows == []
    assert "SchemaRegistryError" in loop.stats.last_error


def test_an_id_the_registry_does_not_know_is_dead_lettered_and_passed() -> None:
    loop, decode, dlq = _loop_with_registry(registry_lookup(_Registry(404)))  # type: ignore[arg-type]
    loop._take(_Message(5, WireEncoder(7, trade_v2())(full_record())), decode, dlq)
    loop._take(_Message(6, b"\x01garbage"), decode, dlq)
    assert [letter["offset"] for letter in dlq.letters] == [5, 6]
    assert "no schema text for id 7" in dlq.letters[0]["reason"] and "magic byte 1" in dlq.letters[1]["reason"]
    assert loop._next == {0: 7} and loop._rows == [] and loop.stats.dead_lettered == 2
