"""The per-snapshot result cache: hits, bounds, eviction order, and the off switch."""

from __future__ import annotations

import pyarrow as pa

from k2.api.cache import SnapshotCache


def rows(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


def test_a_key_is_computed_once_then_served_from_the_cache() -> None:
    cache = SnapshotCache(max_rows=100)
    calls: list[int] = []

    def compute() -> pa.Table:
        calls.append(1)
        return rows(10)

    first = cache.get_or_compute(("t", 1), compute)
    again = cache.get_or_compute(("t", 1), compute)
    assert again is first
    assert len(calls) == 1
    assert (cache.hits, cache.misses, cache.rows, len(cache)) == (1, 1, 10, 1)
    cache.get_or_compute(("t", 2), compute)  # a new snapshot id is a new key
    assert len(calls) == 2


def test_least_recently_used_entries_go_first_when_rows_overflow() -> None:
    cache = SnapshotCache(max_rows=25)
    cache.get_or_compute("a", lambda: rows(10))
    cache.get_or_compute("b", lambda: rows(10))
    cache.get_or_compute("a", lambda: rows(99))  # a is now the most recent
    cache.get_or_compute("c", lambda: rows(10))  # 30 rows > 25: b goes
    assert cache.rows == 20
    assert cache.get_or_compute("a", lambda: rows(1)).num_rows == 10
    assert cache.get_or_compute("b", lambda: rows(1)).num_rows == 1  # recomputed


def test_results_larger_than_the_budget_and_a_zero_budget_are_not_kept() -> None:
    big = SnapshotCache(max_rows=5)
    assert big.get_or_compute("a", lambda: rows(6)).num_rows == 6
    assert len(big) == 0
    off = SnapshotCache(max_rows=0)
    off.get_or_compute("a", lambda: rows(0))
    assert len(off) == 0
    assert off.misses == 1


def test_entry_count_is_bounded_even_for_empty_results() -> None:
    cache = SnapshotCache(max_rows=10, max_entries=3)
    for i in range(5):
        cache.get_or_compute(i, lambda: rows(0))
    assert len(cache) == 3
    values = {s.name: s.value for family in cache.exposition() for s in family.samples}
    assert (values["k2_api_cache_misses_total"], values["k2_api_cache_entries"]) == (5, 3)
