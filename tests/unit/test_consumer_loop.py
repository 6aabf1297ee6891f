"""The consumer's loop logic on fakes (no Kafka, no Iceberg): where it seeks, what it commits and
tells Kafka, and how it replaces a Kafka consumer that hit a fatal error."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from k2.consumer import compaction
from k2.consumer.committer import Committer
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
    """Keeps commits in memory, with the real writer's stale check. A commit waits for `gate`."""

    def __init__(self, table: dict[int, int]) -> None:
        self.table = dict(table)
        self.appends: list[int] = []  # rows per append
        self.expired = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.failures = 0  # the next commits that fail as if the object store were away

    def committed(self) -> dict[int, int]:
        return dict(self.table)

    def commit(
        self, rows: Any, base: dict[int, int | None], new: dict[int, int], keep: int | None = None
    ) -> dict[int, int]:
        self.entered.set()
        assert self.gate.wait(10), "the test never let the commit through"
        if self.failures:
            self.failures -= 1
            raise OSError("object store unreachable")
        if any(self.table.get(p) != base.get(p) for p in new):
            raise StaleWriter(f"table at {self.table}, batch began at {base}")
        self.table.update(new)
        self.appends.append(rows.num_rows)
        return dict(self.table)


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned: list[TopicPartition] = []
        self.commits: list[list[TopicPartition]] = []
        self.seeks: list[tuple[int, int]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = partitions

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.commits.append(offsets)

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.partition, tp.offset))


def loop_with(table: dict[int, int]) -> tuple[ConsumerLoop, FakeWriter, FakeConsumer]:
    loop = ConsumerLoop(Settings.from_env(ENV))
    writer = FakeWriter(table)
    loop.writer = writer  # type: ignore[assignment]
    loop.committer = Committer(writer, loop.stats, 60, loop.stopping)  # type: ignore[arg-type]
    loop._base = {p: o for p, o in table.items()}  # as after an assignment
    loop.stats.assignment = sorted(table)
    return loop, writer, FakeConsumer()


def read(loop: ConsumerLoop, size: int = 3) -> None:
    """The loop takes `size` records of partition 0 after those it has."""
    offset = loop._next.get(0) or loop._base.get(0) or 0
    loop._rows += [record(offset + i) for i in range(size)]
    loop._next = {0: offset + size}


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
    for _ in range(batches):
        read(loop, size)
        loop._hand_over()
        loop._settle(consumer)  # type: ignore[arg-type]


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
    assert (loop.stats.commits, loop.stats.committed_rows, loop.stats.committed_offsets) == (10, 30, {0: 30})


def hold_in_flight(loop: ConsumerLoop, writer: FakeWriter) -> None:
    """Hand a batch of 3 over and hold its commit until the test opens `writer.gate`."""
    writer.gate.clear()
    read(loop)
    loop._hand_over()
    assert writer.entered.wait(5)


def test_the_next_batch_is_read_while_one_is_in_flight_and_begins_where_it_ends() -> None:
    loop, writer, consumer = loop_with({0: 0})
    hold_in_flight(loop, writer)
    read(loop)  # the loop goes on reading while the commit runs
    assert loop._in_flight is not None and not loop._in_flight.done()
    assert loop._next == {0: 6} and len(loop._rows) == 3 and loop._base == {0: 3}
    writer.gate.set()
    loop._settle(consumer)  # type: ignore[arg-type]
    loop._hand_over()
    loop._settle(consumer)  # type: ignore[arg-type]
    assert writer.appends == [3, 3] and writer.table == {0: 6}
    assert [[(tp.partition, tp.offset) for tp in c] for c in consumer.commits] == [[(0, 3)], [(0, 6)]]


def test_a_stale_batch_in_flight_takes_the_batch_read_since_with_it_and_reading_starts_at_the_table() -> None:
    loop, writer, consumer = loop_with({0: 0})
    hold_in_flight(loop, writer)
    read(loop)
    writer.table[0] = 3  # another writer committed the same records first
    writer.gate.set()
    loop._settle(consumer)  # type: ignore[arg-type]
    assert writer.appends == [] and loop.stats.stale_batches == 1
    assert (loop._rows, loop._next, loop._base) == ([], {}, {0: 3})
    assert consumer.seeks == [(0, 3)] and consumer.commits == []


def test_a_failed_commit_is_retried_until_it_lands_and_nothing_after_it_goes_first() -> None:
    loop, writer, consumer = loop_with({0: 0})
    writer.failures = 1
    read(loop)
    loop._hand_over()
    read(loop)
    loop._settle(consumer)  # type: ignore[arg-type]
    assert writer.appends == [3] and loop.stats.failed_commit_attempts == 1 and not loop.failing
    loop._hand_over()
    loop._settle(consumer)  # type: ignore[arg-type]
    assert writer.appends == [3, 3] and writer.table == {0: 6}


def test_stopping_while_a_commit_retries_gives_up_its_batch_and_the_one_read_since() -> None:
    loop, writer, consumer = loop_with({0: 0})
    writer.failures = 1000
    read(loop)
    loop._hand_over()
    assert writer.entered.wait(5)
    read(loop)
    loop.stopping.set()
    loop._settle(consumer, reseek=False)  # type: ignore[arg-type]
    assert writer.appends == [] and writer.table == {0: 0}
    assert (loop._rows, loop._next) == ([], {})  # both are read again after a restart


class CompactingWriter(FakeWriter):
    """A writer whose compaction is prepared only when the test lets it."""

    def __init__(self, table: dict[int, int]) -> None:
        super().__init__(table)
        self.prepare_gate = threading.Event()
        self.swaps: list[int] = []  # commits made when each swap ran

    def prepare_compaction(self) -> compaction.Prepared:
        assert self.prepare_gate.wait(10)
        return compaction.Prepared(compaction.Plan(()), ())

    def swap(self, prepared: compaction.Prepared) -> bool:
        self.swaps.append(len(self.appends))
        return True


def test_a_compaction_being_prepared_never_holds_up_a_commit_and_is_swapped_in_after_one() -> None:
    loop, _, consumer = loop_with({0: 0})
    writer = CompactingWriter({0: 0})
    loop.writer = writer  # type: ignore[assignment]
    loop.committer = Committer(writer, loop.stats, 60, loop.stopping)  # type: ignore[arg-type]
    commit_batches(loop, consumer, 5)  # the first commit starts preparing one: it waits on its gate
    assert writer.appends == [3] * 5 and writer.swaps == []
    writer.prepare_gate.set()
    assert loop.committer._prepared is not None
    loop.committer._prepared.result(timeout=5)
    commit_batches(loop, consumer, 1)
    assert writer.swaps == [6] and loop.stats.compactions == 1
    loop.committer.close()


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


def test_the_committer_thread_runs_calls_in_order_and_hands_back_their_errors() -> None:
    from k2.consumer.committer import Worker

    worker, done = Worker("test"), list[int]()

    def step(n: int) -> int:
        done.append(n)
        return n

    first = worker.submit(lambda: step(1))
    failed = worker.submit(lambda: 1 / 0)
    last = worker.submit(lambda: step(3))
    assert last.result(timeout=5) == 3 and first.result() == 1
    assert isinstance(failed.exception(), ZeroDivisionError) and done == [1, 3]
    worker.close(5)
    assert worker._thread.daemon and not worker._thread.is_alive()


class WatchedAdmin:
    """Answers the watcher's metadata request, or fails it while Kafka is away."""

    def __init__(self) -> None:
        self.away = False
        self.asked = threading.Semaphore(0)

    def list_topics(self, topic: str, timeout: float) -> object:
        self.asked.release()
        if self.away:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return object()


def test_the_watcher_says_whether_kafka_answers_off_the_loop_and_stops_with_it() -> None:
    loop, _, _ = loop_with({0: 30})
    admin = WatchedAdmin()
    loop._admin = cast(AdminClient, admin)
    watcher = threading.Thread(target=loop._watch, args=(0.01,), daemon=True)
    watcher.start()
    assert admin.asked.acquire(timeout=5)
    admin.away = True
    for _ in range(2):  # the one that may have begun before, then one that saw Kafka away
        assert admin.asked.acquire(timeout=5)
    loop.stopping.set()
    watcher.join(5)
    assert not watcher.is_alive()
    assert not loop.kafka_ok and "kafka: KafkaException" in loop.stats.last_error


class FetchedConsumer(FakeConsumer):
    """High watermarks as the consumer's fetches brought them (-1001 before any fetch)."""

    def __init__(self, highs: dict[int, int]) -> None:
        super().__init__()
        self.highs = highs

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool) -> tuple[int, int]:
        assert cached, "the loop must never wait on the broker for lag"
        return 0, self.highs.get(tp.partition, -1001)


def test_lag_is_the_fetched_high_watermark_past_where_the_next_batch_begins() -> None:
    loop, _, _ = loop_with({0: 30, 1: 5})
    loop.stats.assignment = [0, 1, 2]
    loop._observe_lag(cast(Consumer, FetchedConsumer({0: 42, 1: 5})))
    assert loop.stats.lag == {0: 12, 1: 0}  # partition 2 not fetched yet: no figure rather than a wrong one
