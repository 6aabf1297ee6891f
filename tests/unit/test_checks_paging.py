"""Pages as a client reads them: consecutive slices of one answer, with honest total and has_more."""

from __future__ import annotations

from collections.abc import Callable

from harness.checks.paging import Page, offsets_to_read, pages_consistent

ROWS = [("BTCUSDT", f"BINANCE-{i}") for i in range(50, 0, -1)]  # newest first


def read(
    size: int, has_more: Callable[[int, int], bool] = lambda end, total: end < total, rows: list[tuple[str, str]] = ROWS
) -> list[Page]:
    """The pages a correct API (or one with the given has_more rule) gives."""
    out = []
    for offset in offsets_to_read(size, len(rows)):
        keys = tuple(rows[offset : offset + size])
        out.append(Page(offset, size, keys, len(rows), has_more(offset + len(keys), len(rows))))
    return out


def test_a_correct_api_is_consistent_at_every_page_size() -> None:
    verdict = pages_consistent("served", {"BTCUSDT": (ROWS, {s: read(s) for s in (1, 7, 100)})})
    assert verdict.valid, verdict
    assert verdict.counts == {"rows": 50, "pages": 9 + 8 + 1, "problems": 0}


def test_a_long_answer_is_read_at_both_ends_and_the_middle_only() -> None:
    assert offsets_to_read(1, 50) == [0, 1, 2, 24, 25, 26, 47, 48, 49]
    assert offsets_to_read(7, 50) == [0, 7, 14, 21, 28, 35, 42, 49]
    assert offsets_to_read(7, 10_000)[-1] == 9996 and len(offsets_to_read(7, 10_000)) == 9
    assert offsets_to_read(1, 24) == list(range(24))
    assert offsets_to_read(100, 0) == [0]


def test_has_more_false_with_one_row_left_is_caught_at_the_boundary() -> None:
    off_by_one = pages_consistent("served", {"BTCUSDT": (ROWS, {7: read(7, lambda end, total: end < total - 1)})})
    assert not off_by_one.valid
    assert off_by_one.mismatched == ["BTCUSDT limit 7 offset 42: has_more False with 1 row left after its 7"]


def test_a_wrong_total_and_a_shifted_page_are_named() -> None:
    pages = read(7)
    pages[1] = Page(7, 7, tuple(ROWS[8:15]), 49, True)
    verdict = pages_consistent("served", {"BTCUSDT": (ROWS, {7: pages})})
    assert verdict.mismatched == [
        "BTCUSDT limit 7 offset 7: total 49 where 50 rows are served",
        "BTCUSDT limit 7 offset 7: 7 rows where 7; missing [('BTCUSDT', 'BINANCE-43')]; "
        "not of this slice [('BTCUSDT', 'BINANCE-36')]",
    ]


def test_nothing_served_or_nothing_read_is_a_failure() -> None:
    assert not pages_consistent("served", {"BTCUSDT": ([], {7: read(7, rows=[])})}).valid
    assert not pages_consistent("served", {"BTCUSDT": (ROWS, {})}).valid


def test_an_answer_oldest_first_is_out_of_order() -> None:
    from harness.checks.paging import newest_first

    times = ["2026-01-01T00:00:02.000000Z", "2026-01-01T00:00:01.000000Z", "2026-01-01T00:00:01.000000Z"]
    assert newest_first("served", {"BTCUSDT": times}).valid
    backwards = newest_first("served", {"BTCUSDT": times[::-1]})
    assert backwards.mismatched == ["BTCUSDT row 3: 2026-01-01T00:00:02.000000Z after 2026-01-01T00:00:01.000000Z"]
    assert not newest_first("served", {"BTCUSDT": []}).valid
