from collections.abc import Hashable

import pytest

from harness.checks.freshness import id_gaps, never_older_than, no_gaps
from harness.freshness import flow_windows, freshness, symbols_in
from harness.probes.api import AgeSample, SymbolWatch, iso, micros
from harness.workload.exchange import Emission


# ---------------------------------------------------------------- gaps
def test_contiguous_ids_have_no_gaps() -> None:
    assert id_gaps([3, 1, 2, 4], 1, 4) == []


def test_gaps_are_the_missing_runs_at_the_start_middle_and_end() -> None:
    assert id_gaps([3, 4, 7, 9], 1, 11) == [(1, 2), (5, 6), (8, 8), (10, 11)]


def test_nothing_served_is_one_gap_and_ids_outside_the_range_do_not_count() -> None:
    assert id_gaps([], 5, 9) == [(5, 9)]
    assert id_gaps([1, 2, 20], 5, 9) == [(5, 9)]


def test_no_gaps_verdict_counts_per_emission() -> None:
    emissions = [Emission("BTCUSDT", 10, 14, 5), Emission("ETHUSDT", 1, 3, 3)]
    ok = no_gaps(emissions, {"BTCUSDT": {10, 11, 12, 13, 14, 99}, "ETHUSDT": {1, 2, 3}})
    assert ok.valid and ok.counts == {"symbols": 2, "expected": 8, "served": 8, "gaps": 0, "missing ids": 0}
    holed = no_gaps(emissions, {"BTCUSDT": {10, 14}, "ETHUSDT": {1, 2, 3}})
    assert not holed.valid and holed.counts["gaps"] == 1 and holed.counts["missing ids"] == 3
    assert holed.mismatched == ["BTCUSDT 11..13 (3 ids)"]


def test_no_gaps_never_passes_on_nothing() -> None:
    assert not no_gaps([], {"BTCUSDT": {1}}).valid
    assert not no_gaps([Emission("BTCUSDT", 1, 2, 2)], {}).valid


# ---------------------------------------------------------------- freshness ages
A, B = ("BTCUSDT", "BINANCE-1"), ("BTCUSDT", "BINANCE-2")
E = ("ETHUSDT", "BINANCE-1")
FIRST_SEEN: dict[str, dict[Hashable, float]] = {
    "emitted": {A: 100.0, B: 110.0, E: 105.0},
    "served": {A: 101.5, B: 111.0},  # E never served: no window for ETHUSDT
}


def test_a_symbols_window_runs_from_its_first_served_trade_to_its_last_trade_time() -> None:
    assert flow_windows(FIRST_SEEN, [A, B, E]) == {"BTCUSDT": (101.5, 110.0)}


def test_ages_are_judged_inside_the_window_only() -> None:
    samples = [
        AgeSample("BTCUSDT", at, newest)
        for at, newest in ((100.0, 90.0), (102.0, 101.0), (102.4, 101.0), (103.0, 102.5), (120.0, 110.0))
    ]
    samples.append(AgeSample("ETHUSDT", 104.0, 50.0))  # no window: not counted
    fresh = freshness(samples, flow_windows(FIRST_SEEN, [A, B, E]))
    assert [s.at for s in fresh.samples] == [102.0, 102.4, 103.0]
    assert fresh.percentiles is not None and fresh.percentiles.max == pytest.approx(1.4)
    assert fresh.widest_interval == pytest.approx(0.6)
    verdict = never_older_than(fresh, 5)
    assert verdict.valid and verdict.counts == {"samples": 3, "symbols": 1, "over budget": 0}
    assert "max 1.400 s" in verdict.check and "more than" in verdict.check  # 0.6 s apart > 0.5 s


def test_a_stale_sample_fails_with_its_age() -> None:
    fresh = freshness(
        [AgeSample("BTCUSDT", 102.0, 101.0), AgeSample("BTCUSDT", 108.0, 101.0)], {"BTCUSDT": (101.0, 110.0)}
    )
    verdict = never_older_than(fresh, 5)
    assert not verdict.valid and verdict.counts["over budget"] == 1
    assert verdict.mismatched == ["BTCUSDT at +6.00 s: 7.000 s old"]


def test_no_samples_never_passes() -> None:
    verdict = never_older_than(freshness([], {"BTCUSDT": (1.0, 2.0)}), 5)
    assert not verdict.valid and "no samples" in verdict.check


# ---------------------------------------------------------------- one symbol's polls
def trade(trade_id: str, ts: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "trade_id": trade_id, "timestamp": ts}


def test_a_watch_keeps_the_first_served_time_moves_its_cursor_and_samples_the_newest() -> None:
    watch = SymbolWatch("BTCUSDT", cursor=0)
    t1, t2 = "2026-01-01T00:00:01.000000Z", "2026-01-01T00:00:02.500000Z"
    assert watch.observe([trade("BINANCE-2", t2), trade("BINANCE-1", t1)], sent=10.0, received=10.05) == [
        ("BTCUSDT", "BINANCE-2"),
        ("BTCUSDT", "BINANCE-1"),
    ]
    assert watch.cursor == micros(t2) and iso(watch.cursor) == t2
    # the next poll starts at the cursor, inclusive: the newest trade comes again, with a new one
    t3 = "2026-01-01T00:00:03.000000Z"
    assert watch.observe([trade("BINANCE-3", t3), trade("BINANCE-2", t2)], sent=10.1, received=10.2) == [
        ("BTCUSDT", "BINANCE-3")
    ]
    assert watch.first_served[("BTCUSDT", "BINANCE-2")] == 10.05
    assert watch.first_served[("BTCUSDT", "BINANCE-3")] == 10.2
    assert watch.samples[-1] == AgeSample("BTCUSDT", 10.2, micros(t3) / 1e6)
    assert watch.durations == pytest.approx([0.05, 0.1])


def test_an_empty_answer_is_no_sample() -> None:
    watch = SymbolWatch("BTCUSDT", cursor=5)
    assert watch.observe([], sent=1.0, received=1.1) == []
    assert watch.samples == [] and watch.cursor == 5


# ---------------------------------------------------------------- wording
def test_symbols_in_a_sentence() -> None:
    assert symbols_in("BTCUSDT, ETHUSDT and BNBUSDT") == ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    assert symbols_in("BTCUSDT") == ["BTCUSDT"]
