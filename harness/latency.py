"""Latency figures from per-trade timestamps: percentiles per stage (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"n={self.count} p50={self.p50:.3f}s p95={self.p95:.3f}s p99={self.p99:.3f}s "
                f"max={self.max:.3f}s")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values: a value that occurred."""
    if not sorted_values:
        raise ValueError("no values: a percentile of nothing would hide a failed measurement")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values: Sequence[float]) -> Percentiles:
    ordered = sorted(values)
    return Percentiles(count=len(ordered), p50=percentile(ordered, 50), p95=percentile(ordered, 95),
                       p99=percentile(ordered, 99), max=ordered[-1] if ordered else 0.0)
