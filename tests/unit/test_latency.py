import pytest

from harness.latency import percentile, summarize


def test_nearest_rank_percentiles_are_values_that_occurred() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([0.7], 99) == 0.7


def test_summary_of_unsorted_values() -> None:
    s = summarize([3.0, 1.0, 2.0, 10.0])
    assert (s.count, s.p50, s.p99, s.max) == (4, 2.0, 10.0, 10.0)
    assert "p99=10.000s" in str(s)


def test_no_values_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError):
        summarize([])
