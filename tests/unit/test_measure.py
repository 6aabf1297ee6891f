"""The steady served rate of a flow: what the benchmark's throughput and verdict rest on."""

import pytest

from harness.measure import served_rate


def steady(rate: float, seconds: float, start: float = 100.0) -> list[float]:
    return [start + i / rate for i in range(int(rate * seconds))]


def test_a_steady_flow_is_served_at_its_rate() -> None:
    assert served_rate(steady(100, 10)) == pytest.approx(100, rel=0.01)


def test_one_slow_last_commit_does_not_make_a_pipeline_that_kept_up_look_slow() -> None:
    # 1,000 trades at 100/s; the last 20 wait 2 s more for a slow commit
    times = steady(100, 10)
    times[-20:] = [t + 2.0 for t in times[-20:]]
    assert served_rate(times) == pytest.approx(100, rel=0.01)
    untrimmed = (len(times) - 1) / (max(times) - min(times))
    assert untrimmed < 90  # what the first-to-last rule read


def test_a_pipeline_that_falls_behind_shows_its_own_rate() -> None:
    # offered at 1,000/s, served at 600/s all along
    assert served_rate(steady(600, 10)) == pytest.approx(600, rel=0.01)


def test_batched_serving_still_reads_the_rate() -> None:
    # committed every 0.5 s: each batch of 50 trades is first served at the same instant
    times = [100.0 + (i // 50) * 0.5 for i in range(1000)]
    rate = served_rate(times)
    assert rate is not None and 90 <= rate <= 110


@pytest.mark.parametrize("times", [[], [1.0], [1.0, 2.0], [5.0] * 100])
def test_no_rate_without_a_spread_of_trades(times: list[float]) -> None:
    assert served_rate(times) is None
