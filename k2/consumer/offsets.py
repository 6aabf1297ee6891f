"""Kafka offsets as stored in Iceberg snapshot summaries (pure).

The consumer's position is part of the data it commits: each snapshot it writes carries the
next offset of every partition. Whatever crashes, the table and the position cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

Offsets = dict[int, int]


def encode(topic: str, offsets: Offsets) -> str:
    return json.dumps({"topic": topic, "offsets": {str(p): o for p, o in sorted(offsets.items())}}, sort_keys=True)


def decode(text: str, topic: str) -> Offsets:
    data = json.loads(text)
    if data.get("topic") != topic:
        return {}  # written for another topic: not our position
    return {int(p): int(o) for p, o in data["offsets"].items()}


def lineage(current: Any, by_id: Callable[[int], Any]) -> Iterator[Any]:
    """The current snapshot, then its parent, and so on."""
    snapshot = current
    while snapshot is not None:
        yield snapshot
        parent = snapshot.parent_snapshot_id
        snapshot = by_id(parent) if parent is not None else None


def latest(current: Any, by_id: Callable[[int], Any], key: str, topic: str) -> Offsets:
    """Offsets of the newest snapshot in the current lineage that carries them. Snapshots
    without them (a compaction, say) do not reset the position."""
    for snapshot in lineage(current, by_id):
        text = snapshot.summary.get(key) if snapshot.summary is not None else None
        if text:
            return decode(text, topic)
    return {}


def stale_partitions(table: Offsets, base: dict[int, int | None], new: Offsets) -> list[int]:
    """Partitions of a batch whose committed offset is no longer where the batch started:
    another writer moved them, so this batch must not be committed."""
    return sorted(p for p in new if table.get(p) != base.get(p))
