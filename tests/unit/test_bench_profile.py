"""py-spy's folded stacks read back: which functions took the samples, by own and total share."""

from __future__ import annotations

from harness.bench.profile import fold, hottest, lines

RAW = [
    "run (k2/consumer/loop.py:160);_take (k2/consumer/loop.py:200);to_row (k2/consumer/rows.py:20) 30",
    "run (k2/consumer/loop.py:161);_take (k2/consumer/loop.py:201);decode (k2/consumer/wire.py:50) 50",
    "run (k2/consumer/loop.py:170);_commit (k2/consumer/loop.py:220) 20",
    "garbage line without a count",
]


def test_folded_stacks_are_counted_per_stack() -> None:
    stacks = fold(RAW)
    assert sum(stacks.values()) == 100 and len(stacks) == 3


def test_the_hottest_functions_by_own_share_with_their_total_share() -> None:
    hot = hottest(fold(RAW))
    assert [(h.function, h.own, h.total) for h in hot] == [
        ("decode (k2/consumer/wire.py)", 0.5, 0.5),
        ("to_row (k2/consumer/rows.py)", 0.3, 0.3),
        ("_commit (k2/consumer/loop.py)", 0.2, 0.2),
    ]
    # one function, two call sites (lines 200 and 201): one entry, all of its samples
    assert {h.function: h.total for h in hottest(fold(RAW), top=10)}.get("_take (k2/consumer/loop.py)") is None
    by_total = {h.function: h.total for h in hottest(fold([*RAW, "_take (k2/consumer/loop.py:9) 100"]), top=10)}
    assert by_total["_take (k2/consumer/loop.py)"] == 0.9


def test_nothing_sampled_gives_nothing_and_an_error_is_said() -> None:
    assert hottest({}) == []
    assert lines({"api": {"error": "Permission denied"}}) == ["profile api: not recorded: Permission denied"]
