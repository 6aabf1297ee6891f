"""The consumer's loop logic on fakes (no Kafka, no Iceberg): where it seeks, what it commits and
tells Kafka, and how it replaces a Kafka consumer that hit a fatal error."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from k2.consumer.loop import ConsumerLoop, is_fatal
from k2.consumer.rows import to_row
from k2.consumer.settings import Settings
from k2.consumer.writer import StaleWriter

TOPIC = "market.crypto.trades.binance"
ENV = {
    "K2_SCHEMA_REGISTRY_URL": "http://127.0.0.1:1",
    "K2_CATALOG_URI": "postgresql+psycopg2://u:p@127.0.0.1:1/db",
    "K2_S3_ENDPOINT": "http://127.0.0.1:1",
    "K2_S3_ACCESS_KEY": "a",
    "K2_S3_SECRET_KEY": "b",
}


# ------------------------------------------------------------------ the loop, on fakes
class FakeWriter:
    """Keeps commits in memory, with the real writer's stale check."""

    def __init__(self, table: dict[int, int]) -> None:
        self.table = dict(table)
        self.appends: list[int] = []  # rows per append

    def committed(self) -> dict[int, int]:
        return dict(self.table)

    def commit(self, rows: Any, base: dict[int, int | None], new: dict[int, int]) -> dict[int, int]:
        if any(self.table.get(p) != base.get(p) for p in new):
            raise StaleWriter(f"table at {self.table}, batch began at {base}")
        self.table.update(new)
        self.appends.append(rows.num_rows)
        return dict(self.table)


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned: list[TopicPartition] = []
        self.commits: list[list[TopicPartition]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = partitions

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.commits.append(offsets)


def loop_with(table: dict[int, int]) -> tuple[ConsumerLoop, FakeWriter, FakeConsumer]:
    loop = ConsumerLoop(Settings.from_env(ENV))
    writer = FakeWriter(table)
    loop.writer = writer  # type: ignore[assignment]
    loop._base = {p: o for p, o in table.items()}  # as after an assignment
    return loop, writer, FakeConsumer()


def record(i: int) -> dict[str, Any]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return to_row(
        {
            "message_id": f"m-{i}",
            "trade_id": f"BINANCE-{i}",
            "symbol": "BTCUSDT",
            "exchange": "BINANCE",
            "asset_class": "crypto",
            "timestamp": now,
            "price": Decimal("1.5"),
            "quantity": Decimal("2"),
            "currency": "USDT",
            "side": "BUY",
            "trade_conditions": [],
            "source_sequence": i,
            "ingestion_timestamp": now,
            "platform_sequence": None,
            "vendor_data": None,
        }
    )


def commit_batches(loop: ConsumerLoop, consumer: FakeConsumer, batches: int, size: int = 3) -> None:
    offset = loop._base.get(0) or 0
    for _ in range(batches):
        loop._rows = [record(offset + i) for i in range(size)]
        offset += size
        loop._next = {0: offset}
        loop._commit(consumer)  # type: ignore[arg-type]


def test_the_correct_consumer_seeks_to_the_table_offsets() -> None:
    loop, _writer, consumer = loop_with({0: 42})
    loop._base = {}
    loop._on_assign(consumer, [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])  # type: ignore[arg-type]
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 42), (1, OFFSET_BEGINNING)]
    assert loop._base == {0: 42, 1: None}


def test_the_correct_consumer_commits_each_batch_once_then_tells_kafka() -> None:
    loop, writer, consumer = loop_with({0: 0})
    commit_batches(loop, consumer, 10)
    assert writer.appends == [3] * 10
    assert writer.table == {0: 30}
    assert len(consumer.commits) == 10


class FatalError:
    def fatal(self) -> bool:
        return True

    def str(self) -> str:
        return "Broker: Static consumer fenced by other consumer with same group.instance.id"


class ClosingConsumer(FakeConsumer):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_fatal_error_is_known_by_its_flag_or_by_the_fatal_event_code() -> None:
    assert is_fatal(KafkaError(KafkaError._FATAL))  # how consume() delivers it: flag not set
    assert is_fatal(KafkaError(KafkaError.FENCED_INSTANCE_ID, fatal=True))
    assert not is_fatal(KafkaError(KafkaError._TRANSPORT))
    assert not is_fatal(KafkaError(KafkaError._PARTITION_EOF))


def test_a_consumer_that_hit_a_fatal_error_is_replaced_and_its_uncommitted_batch_dropped() -> None:
    loop, writer, _ = loop_with({0: 10})
    old, new = ClosingConsumer(), ClosingConsumer()
    loop._new_consumer = lambda: cast(Consumer, new)  # type: ignore[method-assign]
    loop._rows, loop._next = [record(10), record(11)], {0: 12}
    replaced: object = loop._replace(cast(Consumer, old), cast(KafkaError, FatalError()))
    assert replaced is new and old.closed
    assert (loop._rows, loop._next) == ([], {})  # read again from the table's offsets by the new consumer
    assert writer.appends == [] and writer.table == {0: 10}
    assert loop.stats.consumer_replaced == 1 and "fenced" in loop.stats.last_error
