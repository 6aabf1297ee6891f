from collections.abc import Hashable
from pathlib import Path

import pytest

from harness import plots
from harness.checks.latency import every_trade_within, p99_within
from harness.latency import commit_times, figures, merge_report, per_trade, percentile, summarize, write_report
from harness.probes.api import AgeSample
from harness.probes.iceberg import Commit


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


# ---------------------------------------------------------------- per-stage latency
A, B, C = ("BTCUSDT", "BINANCE-1"), ("BTCUSDT", "BINANCE-2"), ("BTCUSDT", "BINANCE-3")
FIRST_SEEN: dict[str, dict[Hashable, float]] = {
    "emitted": {A: 100.0, B: 100.5, C: 101.0},
    "produced": {A: 100.01, B: 100.52, C: 101.0},
    "committed": {A: 101.0, B: 101.0},  # C never reached the table
    "served": {A: 101.4, B: 101.7},
}


def test_each_span_is_the_difference_of_its_stages_times() -> None:
    spans = per_trade(FIRST_SEEN, [A, B, C])
    assert spans["exchange_to_kafka"][A] == pytest.approx(0.01)
    assert spans["kafka_to_iceberg"][B] == pytest.approx(0.48)
    assert spans["iceberg_to_api"][B] == pytest.approx(0.7)
    assert spans["end_to_end"] == pytest.approx({A: 1.4, B: 1.2})
    assert C not in spans["end_to_end"] and C in spans["exchange_to_kafka"]


def test_figures_count_the_trades_a_stage_never_showed() -> None:
    fig = figures(FIRST_SEEN, [A, B, C])
    assert fig.trades == 3
    assert fig.unmeasured == {"exchange_to_kafka": 0, "kafka_to_iceberg": 1, "iceberg_to_api": 1, "end_to_end": 1}
    assert fig.spans["end_to_end"].max == pytest.approx(1.4)
    assert "end_to_end" in fig.table() and "kafka_to_iceberg" in fig.table()


def test_every_trade_within_fails_on_an_unmeasured_trade_and_names_slow_ones() -> None:
    fig = figures(FIRST_SEEN, [A, B, C])
    verdict = every_trade_within(fig, 30)
    assert not verdict.valid and verdict.counts["unmeasured"] == 1
    both = figures(FIRST_SEEN, [A, B])
    assert every_trade_within(both, 30).valid
    slow = every_trade_within(both, 1.3)
    assert not slow.valid and slow.counts["over"] == 1 and str(A) in slow.mismatched[0]


def test_nothing_measured_never_passes() -> None:
    empty = figures({}, [A])
    assert not every_trade_within(empty, 30).valid
    assert not p99_within(empty, 30).valid
    assert not every_trade_within(figures({}, []), 30).valid


def test_p99_target() -> None:
    fig = figures(FIRST_SEEN, [A, B])
    assert p99_within(fig, 1.5).valid
    verdict = p99_within(fig, 1.0)
    assert not verdict.valid and "p99=1.400s" in verdict.check
    assert (
        "at most 2 s (the compose stack's floor; the sentence says 1 s);"
        in p99_within(fig, 2.0, "the compose stack's floor; the sentence says 1 s").check
    )


# ---------------------------------------------------------------- snapshot -> commit time
def test_a_trade_is_committed_when_the_oldest_snapshot_that_added_it_was() -> None:
    files = {"f1": [A, ("ETHUSDT", "BINANCE-9")], "f2": [B], "f3": [A]}  # f3: A again (a duplicate)
    commits = [Commit(3, 3000, ("f3",)), Commit(1, 1000, ("f1",)), Commit(2, 2000, ("f2",)), Commit(4, 4000, ())]
    read: list[str] = []

    def keys_in(path: str) -> list[Hashable]:
        read.append(path)
        return list(files[path])

    assert commit_times(commits, keys_in, {A, B, C}) == {A: 1.0, B: 2.0}
    assert sorted(read) == ["f1", "f2", "f3"]  # each added file read once


def test_no_commits_no_times() -> None:
    assert commit_times([], lambda path: [], {A}) == {}


# ---------------------------------------------------------------- latency.json
def test_rates_merge_into_one_report() -> None:
    fig = figures(FIRST_SEEN, [A, B])
    merged = merge_report({"10": {"end_to_end": {"p50": 9.0}}, "50": {}}, 10, fig)
    assert set(merged) == {"10", "50"}
    assert merged["10"]["end_to_end"] == {"p50": 1.2, "p95": 1.4, "p99": 1.4, "max": 1.4, "count": 2}
    assert set(merged["10"]) == {"exchange_to_kafka", "kafka_to_iceberg", "iceberg_to_api", "end_to_end"}
    assert merge_report({}, 1000.0, fig).keys() == {"1000"}


def test_a_report_of_an_earlier_run_is_replaced_one_of_this_run_merged(tmp_path: Path) -> None:
    import json
    import os

    path = tmp_path / "reports" / "latency.json"
    fig = figures(FIRST_SEEN, [A, B])
    write_report(path, 10, fig, run_started=0)
    os.utime(path, (1000, 1000))  # written long before this run
    write_report(path, 50, fig, run_started=2000)
    assert set(json.loads(path.read_text())) == {"50"}
    write_report(path, 100, fig, run_started=0)
    assert set(json.loads(path.read_text())) == {"50", "100"}


# ---------------------------------------------------------------- plots
def test_plots_are_non_empty_pngs() -> None:
    fig = figures(FIRST_SEEN, [A, B, C])
    samples = [AgeSample("BTCUSDT", 100.0 + i / 10, 99.5 + i / 20) for i in range(20)]
    for png in (
        plots.latency_over_time(fig, FIRST_SEEN["emitted"], "latency"),
        plots.histogram(list(fig.values["end_to_end"].values()), fig.spans["end_to_end"], "e2e"),
        plots.histogram([], None, "nothing"),
        plots.ages_over_time(samples, 5, "ages"),
    ):
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_live_trades_fail_when_one_is_slow_missing_or_served_after_the_deadline() -> None:
    from harness.checks.latency import live_in_time

    keys = [("BNBUSDT", f"B-{i}") for i in range(4)]
    delays = {keys[0]: 0.4, keys[1]: 0.9, keys[2]: 6.0}
    served = {keys[0]: 100.0, keys[1]: 101.0, keys[2]: 130.0}
    verdict = live_in_time(delays, served, keys, seconds=5, before=120.0, before_what="before X")
    assert not verdict.valid
    assert (
        verdict.counts["served"],
        verdict.counts["missing"],
        verdict.counts["over"],
        verdict.counts["served after"],
    ) == (3, 1, 1, 1)
    assert any("not served while watched" in m for m in verdict.mismatched)
    fine = live_in_time({k: 0.5 for k in keys}, {k: 100.0 for k in keys}, keys, 5, 120.0, "before X")
    assert fine.valid and fine.counts["seconds to spare"] == 20
    assert not live_in_time({}, {}, [], 5, 120.0, "before X").valid  # nothing expected proves nothing
