"""What a Kafka topic holds, read from the beginning by a throw-away consumer group."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from harness.endpoints import Endpoints
from harness.probes.dead_letter_files import parse  # one reading of a dead letter, topic or file


def end_offsets(endpoints: Endpoints, topic: str) -> dict[int, int]:
    """The high watermark of each partition now: where messages written from now on will start."""
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.kafka.bootstrap,
            "group.id": f"k2-probe-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return {}
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}
    finally:
        consumer.close()


def read_all(endpoints: Endpoints, topic: str, timeout: float = 30.0, since: dict[int, int] | None = None) -> list[Any]:
    """Every message of the topic up to its current end (the high watermark of each partition),
    from the beginning or from the offsets in `since` (partitions missing there: from the start)."""
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.kafka.bootstrap,
            "group.id": f"k2-probe-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return []
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in md.partitions}
        if since:
            ends = {p: (max(low, since.get(p, low)), high) for p, (low, high) in ends.items()}
        todo = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in todo])
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            partition = msg.partition()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF and partition is not None:
                    todo.discard(partition)
                continue
            if partition is not None and (msg.offset() or 0) < ends[partition][1]:
                out.append(msg)
            if partition is not None and (msg.offset() or 0) >= ends[partition][1] - 1:
                todo.discard(partition)
        if todo:
            raise AssertionError(f"reading {topic} did not reach the end of partitions {sorted(todo)} in {timeout} s")
        return out
    finally:
        consumer.close()


def dead_letters(endpoints: Endpoints, topic: str, since: dict[int, int] | None = None) -> list[dict[str, Any]]:
    return [parse((m.value() or b"").decode(errors="replace")) for m in read_all(endpoints, topic, since=since)]


WIRE_MAGIC = 0
# librdkafka's message timestamp types: the producer's clock at produce() (CreateTime), or the
# broker's when it appended the message (LogAppendTime, a topic setting)
TIMESTAMP_TYPES = {0: "NotAvailable", 1: "CreateTime", 2: "LogAppendTime"}


def wire_header(value: bytes | None) -> tuple[int, int] | None:
    """(magic byte, schema id) of a Confluent wire-format value, or None if it is too short."""
    if value is None or len(value) < 5:
        return None
    return value[0], int.from_bytes(value[1:5], "big")


# Writer schemas by (registry URL, schema id): ids are immutable, so a schema once fetched
# decodes that id's messages for good, also while the registry is down.
_WRITER_SCHEMAS: dict[tuple[str, int], Any] = {}


def writer_schema(registry_url: str, schema_id: int, fallback: str | None = None) -> Any:
    """The parsed schema a message was written with: from the registry (then cached), or, while
    the registry cannot be reached, the given fallback (the target's own copy of the contract)."""
    import fastavro
    from confluent_kafka.schema_registry import SchemaRegistryClient

    key = (registry_url, schema_id)
    if key not in _WRITER_SCHEMAS:
        try:
            text = SchemaRegistryClient({"url": registry_url}).get_schema(schema_id).schema_str or ""
        except Exception:
            if fallback is None:
                raise
            return fastavro.parse_schema(json.loads(fallback))  # not cached: the registry's answer wins later
        _WRITER_SCHEMAS[key] = fastavro.parse_schema(json.loads(text))
    return _WRITER_SCHEMAS[key]


def trades(
    endpoints: Endpoints, topic: str, since: dict[int, int] | None = None, fallback_schema: str | None = None
) -> list[dict[str, Any]]:
    """Every record of the trade topic: its key, partition, wire header, timestamp (type and
    milliseconds since the epoch) and decoded value. `fallback_schema` decodes while the
    registry is down (the message log must stay checkable during a registry outage)."""
    import fastavro

    url = endpoints.registry.url
    out = []
    for msg in read_all(endpoints, topic, since=since):
        value = msg.value()
        header = wire_header(value)
        record = None
        if value is not None and header is not None and header[0] == WIRE_MAGIC:
            schema = writer_schema(url, header[1], fallback_schema)
            record = fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, None)
        kind, millis = msg.timestamp()
        out.append(
            {
                "key": (msg.key() or b"").decode(errors="replace"),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "header": header,
                "record": record,
                "timestamp_type": TIMESTAMP_TYPES.get(kind, str(kind)),
                "timestamp_ms": millis if kind in (1, 2) else None,
            }
        )
    return out
