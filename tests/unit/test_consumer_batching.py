"""When the consumer commits a batch."""

from __future__ import annotations

import pytest

from k2.consumer.batching import batch_due, waited_seconds


@pytest.mark.parametrize(
    ("timestamp_ms", "now", "waited"),
    [
        (1_000_000, 1_000.25, 0.25),  # written 250 ms ago
        (1_000_000, 999.0, 0.0),  # writer's clock ahead of ours: counts as just written
        (None, 1_000.0, 0.0),  # no timestamp
        (-1, 1_000.0, 0.0),  # librdkafka's "not available"
    ],
)
def test_a_record_has_waited_since_its_kafka_timestamp(timestamp_ms: int | None, now: float, waited: float) -> None:
    assert waited_seconds(timestamp_ms, now) == pytest.approx(waited)


def test_a_caught_up_batch_is_due_once_its_oldest_record_has_waited_the_interval() -> None:
    assert not batch_due(age_ms=499, rows=10, caught_up=True, interval_ms=500, max_rows=1000)
    assert batch_due(age_ms=500, rows=10, caught_up=True, interval_ms=500, max_rows=1000)


def test_a_loop_that_is_behind_drains_before_committing() -> None:
    assert not batch_due(age_ms=60_000, rows=10, caught_up=False, interval_ms=500, max_rows=1000)


def test_a_full_batch_is_due_at_once_even_when_behind() -> None:
    assert batch_due(age_ms=0, rows=1000, caught_up=False, interval_ms=500, max_rows=1000)
