"""When a batch is committed: the rule, apart from the loop, so it can be tested alone.

A batch's age is counted from when its oldest record was written to Kafka, not from when the
loop took it: records that arrived while the previous commit was running have already waited
that long, and making them wait a full interval more added a whole commit time to the latency
of a trade. When the loop is behind (the last poll came back full), it drains what Kafka has
before committing, so catching up is done in few large commits rather than many small ones.
"""

from __future__ import annotations

CONSUME_BATCH = 5000
"""Records asked for per poll; a poll that returns this many means more are waiting."""


def waited_seconds(timestamp_ms: int | None, now: float) -> float:
    """How long ago a record was written, by its Kafka timestamp (0 when it has none or when the
    writer's clock is ahead of ours: the record then counts as written just now)."""
    if timestamp_ms is None or timestamp_ms <= 0:
        return 0.0
    return max(0.0, now - timestamp_ms / 1000)


def batch_due(age_ms: float, rows: int, caught_up: bool, interval_ms: int, max_rows: int) -> bool:
    """Commit when the batch is full, or when its oldest record has waited `interval_ms` and
    the loop has read everything Kafka had for it."""
    return rows >= max_rows or (caught_up and age_ms >= interval_ms)
