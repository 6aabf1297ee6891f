"""Moments a fault is aimed at, rather than a time: "the instant a new table snapshot appears".

A consumer holds a window between two acts: between its table commit and telling Kafka its
offsets, or (for one that acknowledges first) between telling Kafka and its table commit. A crash
at a random time rarely falls inside a window a few milliseconds wide; a crash at the moment the
first act shows from outside always does, if the second act has not followed yet. Each moment is
watched from outside the platform, by polling what any client can see, so it is the same against
any K2 deployment. Polling is fast (`EVERY`) but not instant: a fault lands within one poll (and
the probe's own round trip) of the moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from harness.endpoints import Endpoints
from harness.probes import iceberg
from harness.waiting import eventually

EVERY = 0.02  # seconds between looks: a window held open by a slow link is far wider


@dataclass
class Moment:
    describe: str
    look: Callable[[], object]
    """What the moment's observable is now."""
    baseline: object = None

    def begin(self) -> Moment:
        """From now on: the moment is when the observable differs from what it is now."""
        self.baseline = self.look()
        return self

    def reached(self) -> object | None:
        now = self.look()
        return now if now != self.baseline else None


def new_table_snapshot(endpoints: Endpoints, table: str) -> Moment:
    """A new snapshot of the table is committed (its rows are durable)."""
    catalog = iceberg.catalog(endpoints)  # one catalog for every look: they are frequent

    def current() -> object:
        if not catalog.table_exists(table):
            return None
        snapshot = catalog.load_table(table).current_snapshot()
        return None if snapshot is None else snapshot.snapshot_id

    return Moment(f"a new snapshot of {table}", current)


def group_offsets_move(endpoints: Endpoints, group: str, topic: str) -> Moment:
    """The consumer group's committed offsets on the topic change (it told Kafka it is done)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(
        {"bootstrap.servers": endpoints.kafka.bootstrap, "client.id": f"k2-moment-{uuid.uuid4().hex[:8]}"}
    )

    def committed() -> object:
        request = ConsumerGroupTopicPartitions(group)
        answer = admin.list_consumer_group_offsets([request], request_timeout=5)[group].result(timeout=10)
        partitions: list[TopicPartition] = answer.topic_partitions or []
        return tuple(sorted((tp.partition, tp.offset) for tp in partitions if tp.topic == topic and tp.offset >= 0))

    return Moment(f"the committed offsets of group {group} on {topic} move", committed)


def when(moment: Moment, act: Callable[[], object], within: float) -> object:
    """Wait for the moment (begun earlier), then act at once; returns what the moment showed."""
    seen = eventually(moment.reached, within=within, every=EVERY, describe=moment.describe)
    act()
    return seen
