"""Freshness checks: served ids and age samples in, Verdict out (the samples come from harness.freshness)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from harness.checks.verdict import EXAMPLES, Verdict

if TYPE_CHECKING:
    from harness.freshness import Freshness
    from harness.workload.exchange import Emission

SAMPLE_EVERY = 0.5  # the longest the freshness samples of a symbol may be apart


def id_gaps(ids: Iterable[int], first: int, last: int) -> list[tuple[int, int]]:
    """The runs of ids in first..last that are missing, as inclusive (from, to) pairs."""
    have = sorted({i for i in ids if first <= i <= last})
    gaps = []
    expected = first
    for i in have:
        if i > expected:
            gaps.append((expected, i - 1))
        expected = i + 1
    if expected <= last:
        gaps.append((expected, last))
    return gaps


def no_gaps(emissions: Sequence[Emission], served: Mapping[str, Collection[int]]) -> Verdict:
    """Per emission, the served trade ids run from its first to its last without a hole.
    Nothing served, or nothing emitted, fails."""
    holes = [(e.symbol, a, b) for e in emissions for a, b in id_gaps(served.get(e.symbol, ()), e.first_id, e.last_id)]
    expected = sum(e.count for e in emissions)
    in_range = sum(1 for e in emissions for i in set(served.get(e.symbol, ())) if e.first_id <= i <= e.last_id)
    missing = sum(b - a + 1 for _, a, b in holes)
    return Verdict(
        "no gaps in served trade ids",
        valid=expected > 0 and in_range > 0 and not holes,
        counts={
            "symbols": len({e.symbol for e in emissions}),
            "expected": expected,
            "served": in_range,
            "gaps": len(holes),
            "missing ids": missing,
        },
        mismatched=[f"{s} {a}..{b} ({b - a + 1} ids)" for s, a, b in holes[:EXAMPLES]],
    )


def never_older_than(fresh: Freshness, budget: float) -> Verdict:
    """Every sample's newest served trade at most `budget` old. No samples fails."""
    p = fresh.percentiles
    over = sorted(fresh.over(budget), key=lambda s: -s.age)
    began = min((s.at for s in fresh.samples), default=0.0)
    sparse = f" (more than the {SAMPLE_EVERY:g} s wanted)" if fresh.widest_interval > SAMPLE_EVERY else ""
    figures_text = (
        f"; max {p.max:.3f} s, p99 {p.p99:.3f} s, p50 {p.p50:.3f} s, samples at most "
        f"{fresh.widest_interval:.3f} s apart{sparse}"
        if p
        else "; no samples while the trades flowed"
    )
    return Verdict(
        f"newest trade served never older than {budget:g} s{figures_text}",
        valid=bool(fresh.samples) and not over,
        counts={
            "samples": len(fresh.samples),
            "symbols": len({s.symbol for s in fresh.samples}),
            "over budget": len(over),
        },
        mismatched=[f"{s.symbol} at +{s.at - began:.2f} s: {s.age:.3f} s old" for s in over[:EXAMPLES]],
    )
