"""Kafka side of ingest: topics, the registry subject, the Avro producer, and the resume point."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from k2.ingest.cursor import HEADER, Cursor
from k2.ingest.settings import Settings
from k2.ingest.wire import WireEncoder
from k2.schemas import trade_v2, trade_v2_text
from k2.settings import KAFKA_RECONNECT

log = logging.getLogger("k2.ingest.kafka")
RETENTION_MS = str(7 * 24 * 3600 * 1000)


def ensure_topics(settings: Settings) -> None:
    """Create the trade and dead-letter topics if missing (7-day retention, lz4, K2_TOPIC_REPLICATION
    replicas of which K2_TOPIC_MIN_ISR must have a write)."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    config = {"retention.ms": RETENTION_MS, "compression.type": "lz4", "min.insync.replicas": str(settings.min_isr)}
    wanted = [
        NewTopic(
            t,
            num_partitions=settings.partitions if t == settings.topic else 1,
            replication_factor=settings.replication,
            config=config,
        )
        for t in (settings.topic, settings.dlq_topic)
        if t not in existing
    ]
    for topic, future in admin.create_topics(wanted).items() if wanted else []:
        try:
            future.result(timeout=30)
            log.info("created topic", extra={"topic": topic})
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def subject(settings: Settings) -> str:
    return f"{settings.topic}-value"


def ensure_subject(registry: SchemaRegistryClient, settings: Settings) -> int:
    """Register TradeV2 (named K2_RECORD_NAME) under the topic's subject with BACKWARD compatibility;
    the schema id."""
    from confluent_kafka.schema_registry import Schema

    schema_id: int = registry.register_schema(subject(settings), Schema(trade_v2_text(settings.record_name), "AVRO"))
    registry.set_compatibility(subject(settings), "BACKWARD")
    return schema_id


class TradeProducer:
    """Idempotent Avro producer, key = symbol, writing with the schema id registered at start:
    a registry outage does not stop a running ingest."""

    def __init__(self, settings: Settings, schema_id: int, on_fatal: Callable[[str], None]) -> None:
        self.settings = settings
        self.on_fatal = on_fatal
        self.serialize = WireEncoder(schema_id, trade_v2(settings.record_name))
        self.producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "lz4",
                "linger.ms": 5,
                # Never give up on a record: a broker restart must delay delivery, not drop it.
                "message.timeout.ms": 0,
                **KAFKA_RECONNECT,
            }
        )
        self.delivered = 0
        self.dead_lettered = 0

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            # Idempotent delivery failed for good (fatal): stop; a restart resumes from Kafka.
            self.on_fatal(f"delivery to {msg.topic()} failed: {err}")
        elif msg.topic() == self.settings.topic:
            self.delivered += 1

    def _produce(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, str | bytes | None]] | None = None
    ) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, headers=headers, on_delivery=self._on_delivery)
                return
            except BufferError:  # local queue full (broker away): serve callbacks, then retry
                self.producer.poll(0.1)

    def send(self, record: dict[str, Any], cursor: bytes | None = None) -> None:
        headers: list[tuple[str, str | bytes | None]] | None = None if cursor is None else [(HEADER, cursor)]
        self._produce(self.settings.topic, record["symbol"].encode(), self.serialize(record), headers)

    def dead_letter(self, reason: str, frame: str | bytes, source: str) -> None:
        body = dead_letter_body(reason, frame, source, int(time.time() * 1000))
        self._produce(self.settings.dlq_topic, None, json.dumps(body).encode())
        self.dead_lettered += 1

    def poll(self, timeout: float = 0.0) -> None:
        self.producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        remaining: int = self.producer.flush(timeout)
        return remaining


DEAD_LETTER_FRAME_CHARS = 65536


def dead_letter_body(reason: str, frame: str | bytes, source: str, received_at_ms: int) -> dict[str, Any]:
    """A dead letter: why, from where, and the frame (its first 64 Ki characters; a binary frame
    as text, bytes that are no UTF-8 replaced by U+FFFD, its length in bytes)."""
    raw = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
    return {
        "reason": reason,
        "source": source,
        "received_at_ms": received_at_ms,
        "frame": raw[:DEAD_LETTER_FRAME_CHARS],
        "frame_length": len(frame),
        "frame_type": "text" if isinstance(frame, str) else "binary",
    }


def resume_cursor(settings: Settings, registry: SchemaRegistryClient, window: int = 500) -> Cursor:
    """Where each symbol stands, read back from the last record of each symbol in the topic: its
    trade id, or the cursor it carries (the highest id and the gaps still owed; see cursor.py).

    Kafka is the record of what ingest produced, so a restarted ingest resumes (and backfills)
    from there, with no state file that could disagree with it.
    """
    deserialize = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": "k2-ingest-resume",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    found: dict[str, tuple[int, bytes | None]] = {}
    try:
        md = consumer.list_topics(settings.topic, timeout=10).topics[settings.topic]
        bounds = {
            p: consumer.get_watermark_offsets(TopicPartition(settings.topic, p), timeout=10) for p in md.partitions
        }
        ends = {p: high for p, (_, high) in bounds.items()}
        pending = set(settings.symbols)
        # All partitions one window deeper per round, until every symbol is found: a symbol lives
        # in one partition (key = symbol), so a partition without it must not be read to its start
        # (on a long-lived topic that took seconds on every restart).
        while pending and any(ends[p] > bounds[p][0] for p in ends):
            newest: dict[str, tuple[int, bytes | None]] = {}
            for partition, (low, _) in bounds.items():
                if ends[partition] <= low:
                    continue
                start = max(low, ends[partition] - window)
                for msg in _read_range(consumer, settings.topic, partition, start, ends[partition]):
                    key = (msg.key() or b"").decode()
                    if key not in pending:
                        continue
                    value = deserialize(msg.value(), SerializationContext(settings.topic, MessageField.VALUE))
                    seq = value.get("source_sequence") if value else None
                    if seq is not None:  # in offset order: the last one read is the symbol's last record
                        header = dict(msg.headers() or ()).get(HEADER)
                        newest[key] = (seq, header.encode() if isinstance(header, str) else header)
                ends[partition] = start
            found.update(newest)
            pending -= set(newest)
    finally:
        consumer.close()
    return Cursor.from_records(found)


def _read_range(consumer: Consumer, topic: str, partition: int, start: int, end: int) -> list[Message]:
    consumer.assign([TopicPartition(topic, partition, start)])
    out: list[Message] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                break
            raise KafkaException(err)
        offset = msg.offset() or 0
        if offset >= end:
            break
        out.append(msg)
        if offset >= end - 1:
            break
    else:
        raise TimeoutError(f"reading {topic}[{partition}] {start}..{end} took over 30 s")
    return out
