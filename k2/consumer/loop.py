"""The consume -> batch -> commit loop, on a thread of its own; commits run on the committer's
(committer.py), one batch in flight while the loop reads the next."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from k2.consumer.batching import CONSUME_BATCH, batch_due, waited_seconds
from k2.consumer.committer import Batch, Committer, Outcome
from k2.consumer.rows import to_row
from k2.consumer.settings import Settings
from k2.consumer.wire import WireDecoder, registry_lookup
from k2.consumer.writer import IcebergWriter
from k2.settings import KAFKA_RECONNECT

log = logging.getLogger("k2.consumer")
T = TypeVar("T")


class Stopped(Exception):
    """The loop was stopped while waiting on a service a record needs (the registry)."""


@dataclass
class Stats:
    consumed: int = 0
    committed_rows: int = 0
    commits: int = 0
    stale_batches: int = 0
    expired_snapshots: int = 0
    failed_commit_attempts: int = 0
    consumer_replaced: int = 0
    compactions: int = 0
    compacted_files: int = 0
    dead_lettered: int = 0
    last_commit_ms: float = 0.0
    last_error: str = ""
    assignment: list[int] = field(default_factory=list)
    committed_offsets: dict[int, int] = field(default_factory=dict)
    lag: dict[int, int] = field(default_factory=dict)


def is_fatal(error: KafkaError) -> bool:
    """An error after which this Kafka consumer instance never consumes again. A fatal error comes
    to consume() as an error event of code _FATAL, whose own fatal() flag is not set."""
    return bool(error.fatal() or error.code() == KafkaError._FATAL)


class ConsumerLoop:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.kafka_ok = False
        self.writer: IcebergWriter | None = None
        self.committer: Committer | None = None
        self._rows: list[dict[str, Any]] = []
        self._next: dict[int, int] = {}
        self._base: dict[int, int | None] = {}
        """Where the next batch begins, per partition: the table's offset, or the end of the batch in flight."""
        self._batch_started = 0.0
        self._in_flight: Future[Outcome] | None = None
        self._admin: AdminClient | None = None
        """The readiness watcher's own Kafka client (see `_watch`)."""

    @property
    def failing(self) -> bool:
        """The last attempt to commit failed: not ready until one succeeds."""
        return self.committer is not None and self.committer.failing

    # ------------------------------------------------------------------ set-up
    def _connect(self) -> tuple[Consumer, WireDecoder, Producer]:
        s = self.settings
        self.writer = self._retry(lambda: IcebergWriter(s.catalog, s.topic, s.table), "open the table")
        self.committer = Committer(self.writer, self.stats, s.snapshots_kept, self.stopping)
        lookup = registry_lookup(SchemaRegistryClient({"url": self.settings.registry_url}))
        deserialize = WireDecoder(
            lambda schema_id: self._until_stopped(lambda: lookup(schema_id), f"fetch schema {schema_id}")
        )
        dlq = Producer(
            {"bootstrap.servers": self.settings.bootstrap, "enable.idempotence": True, "acks": "all", **KAFKA_RECONNECT}
        )
        return self._new_consumer(), deserialize, dlq

    def _new_consumer(self) -> Consumer:
        config: dict[str, Any] = {
            "bootstrap.servers": self.settings.bootstrap,
            "group.id": self.settings.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # a long object-store outage must not make the group evict us mid-retry
            "max.poll.interval.ms": 600000,
            # Static membership: a restarted consumer takes its old place at once instead of
            # waiting for the dead member's session to expire, and a zombie with the same id is fenced.
            "group.instance.id": self.settings.instance_id,
            # Kafka's default. A static member is replaced at once by its own restart whatever this
            # is; it only decides how long an outage may last before the group drops the member.
            # At 10 s a broker restart outlasted it, and the consumer's rejoin then fenced itself.
            "session.timeout.ms": 45000,
            **KAFKA_RECONNECT,
        }
        consumer = Consumer(config)
        consumer.subscribe([self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        return consumer

    def _replace(self, consumer: Consumer, error: KafkaError) -> Consumer:
        """A new Kafka consumer in place of one that hit a fatal error.

        librdkafka makes some errors fatal: the instance never consumes again. One met here: after a
        cut network link the group session timed out, the consumer rejoined under its static id,
        and the monitoring offset commit still in flight from before was fenced by its own rejoin.
        The uncommitted batch is dropped (its records are read again: the new consumer seeks to
        the table's offsets on assignment), so nothing is lost or written twice.
        """
        self.stats.consumer_replaced += 1
        self.stats.last_error = f"kafka: fatal: {error.str()}"
        log.warning(
            "kafka consumer hit a fatal error; replacing it",
            extra={"error": error.str(), "dropped_rows": len(self._rows)},
        )
        self._settle(consumer, reseek=False)
        self._reset_batch()
        self.stats.assignment = []
        with contextlib.suppress(Exception):  # a fatal instance may refuse to leave cleanly
            consumer.close()
        return self._new_consumer()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Seek every assigned partition to the offset stored in the table: the only truth."""
        assert self.writer is not None
        self._settle(consumer, reseek=False)  # the table must be read after the batch in flight lands
        committed = self._retry(self.writer.committed, "read committed offsets")
        self._reset_batch()
        for tp in partitions:
            stored = committed.get(tp.partition)
            tp.offset = stored if stored is not None else OFFSET_BEGINNING
            self._base[tp.partition] = stored
        consumer.assign(partitions)
        self.stats.assignment = sorted(tp.partition for tp in partitions)
        self.stats.committed_offsets = dict(committed)
        log.info("assigned", extra={"partitions": self.stats.assignment, "from": self._base})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The batch in flight lands (or is refused by the table's offsets if the next owner was
        # faster); the rows not yet handed over are read again by the partitions' next owner.
        self._settle(consumer, reseek=False)
        self._reset_batch()
        self.stats.assignment = []

    def _reset_batch(self) -> None:
        self._rows, self._next = [], {}

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        consumer, deserialize, dlq = self._connect()
        assert self.committer is not None
        self._admin = AdminClient({"bootstrap.servers": self.settings.bootstrap, **KAFKA_RECONNECT})
        threading.Thread(target=self._watch, name="k2-kafka-watch", daemon=True).start()
        self.started.set()
        last_lag = 0.0
        caught_up = True  # the last poll brought all Kafka had
        try:
            while not self.stopping.is_set():
                if self._in_flight is not None and (
                    self._in_flight.done() or len(self._rows) >= self.settings.commit_max_rows
                ):
                    self._settle(consumer)  # waits only when the next batch is already full
                if self._next and self._in_flight is None and self._due(caught_up):
                    self._hand_over()
                polled = consumer.consume(num_messages=CONSUME_BATCH, timeout=self._poll_timeout())
                fatal = next((e for e in (m.error() for m in polled) if e is not None and is_fatal(e)), None)
                if fatal is not None:
                    consumer = self._replace(consumer, fatal)
                    continue
                try:
                    for msg in polled:
                        self._take(msg, deserialize, dlq)
                except Stopped:
                    break  # what was taken before is committed below; the rest is read again
                caught_up = len(polled) < CONSUME_BATCH  # the next turn hands the batch over if it is due
                if time.monotonic() - last_lag > 2:
                    self._observe_lag(consumer)
                    last_lag = time.monotonic()
                dlq.poll(0)
            self._settle(consumer, reseek=False)
            if self._next:
                self._hand_over()  # one last attempt; if it fails the rows are read again
                self._settle(consumer, reseek=False)
        finally:
            self.stopping.set()  # also after a crash: a commit retrying in flight gives up
            self.committer.close()
            dlq.flush(10)
            consumer.close()

    def _hand_over(self) -> None:
        """Give the batch to the committer; the next batch begins where it ends."""
        assert self.committer is not None
        new = dict(self._next)
        age_ms = round((time.monotonic() - self._batch_started) * 1000, 1)
        batch = Batch(self._rows, {p: self._base.get(p) for p in new}, new, age_ms)
        self._base.update(new)
        self._reset_batch()
        self._in_flight = self.committer.submit(batch)

    def _settle(self, consumer: Consumer, reseek: bool = True) -> None:
        """Wait for the batch in flight, if any, and act on how it ended."""
        future, self._in_flight = self._in_flight, None
        if future is None:
            return
        outcome = future.result()
        if outcome.committed is None:
            # The batch read since rests on it: it goes too, and reading starts again at the table.
            self._reset_batch()
            if outcome.stale and reseek and not self.stopping.is_set():
                self._reseek(consumer)
            return
        self.stats.committed_offsets = dict(outcome.committed)
        # Kafka's own committed offsets are for monitoring tools only; the table is the truth.
        try:
            consumer.commit(
                offsets=[TopicPartition(self.settings.topic, p, o) for p, o in outcome.batch.new.items()],
                asynchronous=True,
            )
        except KafkaException as exc:  # e.g. the instance was fenced: the next poll says so, and it is replaced
            log.warning("kafka offset commit (monitoring only) failed", extra={"error": str(exc)})

    def _poll_timeout(self) -> float:
        """How long a poll may wait for records: until the batch is due, or the commit in flight
        may have landed, so neither waits on an idle poll."""
        if self._in_flight is not None:
            return 0.02
        if not self._next:
            return 0.1
        due_in = self.settings.commit_interval_ms / 1000 - (time.monotonic() - self._batch_started)
        return min(0.1, max(0.005, due_in))

    def _due(self, caught_up: bool) -> bool:
        age_ms = (time.monotonic() - self._batch_started) * 1000
        return batch_due(
            age_ms, len(self._rows), caught_up, self.settings.commit_interval_ms, self.settings.commit_max_rows
        )

    def _take(self, msg: Message, deserialize: WireDecoder, dlq: Producer) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error", extra={"error": str(err)})
            return
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        self.stats.consumed += 1
        if not self._next:
            _kind, written_ms = msg.timestamp()
            self._batch_started = time.monotonic() - waited_seconds(written_ms, time.time())
        try:
            self._rows.append(to_row(deserialize(msg.value())))
        except Stopped:
            raise
        except Exception as exc:  # not a TradeV2 record: dead-letter it, keep the position moving
            body = {
                "reason": f"{type(exc).__name__}: {exc}",
                "source": "consumer",
                "partition": partition,
                "offset": offset,
                "value_hex": (msg.value() or b"")[:4096].hex(),
            }
            dlq.produce(self.settings.dlq_topic, value=json.dumps(body).encode())
            self.stats.dead_lettered += 1
        self._next[partition] = offset + 1

    def _reseek(self, consumer: Consumer) -> None:
        assert self.writer is not None
        committed = self._retry(self.writer.committed, "read committed offsets")
        self._reset_batch()
        for p in self.stats.assignment:
            stored = committed.get(p)
            self._base[p] = stored
            consumer.seek(TopicPartition(self.settings.topic, p, stored if stored is not None else OFFSET_BEGINNING))

    def _watch(self, every_s: float = 2.0) -> None:
        """Ask Kafka whether it is reachable (for readiness) now and every `every_s` seconds, on a
        thread and a client of its own. Not through the consumer: the broker answers a
        connection's requests in order, so while the topic was idle the request waited behind the
        consumer's pending fetch (up to fetch.wait.max.ms), and confluent-kafka lets one call at a
        time use a client: the loop waited with it, and the last batch of a flow was handed over
        2 s late."""
        while True:
            assert self._admin is not None
            try:
                self._admin.list_topics(self.settings.topic, timeout=2)
                self.kafka_ok = True
            except Exception as exc:
                self.kafka_ok = False
                self.stats.last_error = f"kafka: {type(exc).__name__}: {exc}"
            if self.stopping.wait(every_s):
                return

    def _observe_lag(self, consumer: Consumer) -> None:
        """Lag behind the table's offsets (for status), from the high watermarks the consumer's
        own fetches brought: no request to the broker, so nothing for the loop to wait on. (An
        admin client's ListOffsets kept failing with a stale leader epoch after a broker of a
        cluster crashed.)"""
        lag = {}
        for p in self.stats.assignment:
            _low, high = consumer.get_watermark_offsets(TopicPartition(self.settings.topic, p), cached=True)
            if high >= 0:  # negative: no fetch has brought it yet
                lag[p] = max(0, high - (self._base.get(p) or 0))
        self.stats.lag = lag

    def _until_stopped(self, fn: Callable[[], T], what: str) -> T:
        """`_retry`, but stopping raises Stopped, which no record-level handler takes for a bad record."""
        try:
            return self._retry(fn, what)
        except Exception as exc:
            raise Stopped(what) from exc

    def _retry(self, fn: Callable[[], T], what: str) -> T:
        delay = 0.5
        while True:
            try:
                return fn()
            except Exception as exc:
                self.stats.last_error = f"{what}: {type(exc).__name__}: {exc}"
                log.warning("retrying", extra={"error": self.stats.last_error})
                if self.stopping.wait(delay):
                    raise
                delay = min(delay * 2, 5.0)
