"""What a Kafka topic holds, read from the beginning by a throw-away consumer group."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition


def read_all(clients: dict[str, Any], topic: str, timeout: float = 30.0) -> list[Any]:
    """Every message of the topic up to its current end (the high watermark of each partition)."""
    consumer = Consumer({"bootstrap.servers": clients["kafka"]["bootstrap.servers"],
                         "group.id": f"k2-probe-{uuid.uuid4()}", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    try:
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return []
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in md.partitions}
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


def dead_letters(clients: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.value()) for m in read_all(clients, topic)]
