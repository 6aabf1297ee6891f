"""Latency figures from per-trade timestamps: percentiles per span between stages, the SLA
checks over them, and reports/latency.json (pure, apart from writing that file).

A trade's time at each stage is kept in the scenario's History (first_seen): the exchange's
trade time, the Kafka message timestamp, the timestamp of the Iceberg snapshot that added it,
and when the API first served it. All four come from clocks of one machine on the local stack.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.probes.iceberg import Commit


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
        return f"n={self.count} p50={self.p50:.3f}s p95={self.p95:.3f}s p99={self.p99:.3f}s max={self.max:.3f}s"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values: a value that occurred."""
    if not sorted_values:
        raise ValueError("no values: a percentile of nothing would hide a failed measurement")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values: Sequence[float]) -> Percentiles:
    ordered = sorted(values)
    return Percentiles(
        count=len(ordered),
        p50=percentile(ordered, 50),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1] if ordered else 0.0,
    )


# A trade's stages, in the History's words, and the spans between them that latency is reported for.
STAGES = ("emitted", "produced", "committed", "served")
SPANS: dict[str, tuple[str, str]] = {
    "exchange_to_kafka": ("emitted", "produced"),
    "kafka_to_iceberg": ("produced", "committed"),
    "iceberg_to_api": ("committed", "served"),
    "end_to_end": ("emitted", "served"),
}


def per_trade(
    first_seen: Mapping[str, Mapping[Hashable, float]], keys: Iterable[Hashable]
) -> dict[str, dict[Hashable, float]]:
    """Each span's latency (seconds) for every trade that has both its stages' times."""
    out: dict[str, dict[Hashable, float]] = {span: {} for span in SPANS}
    for key in keys:
        for span, (start, end) in SPANS.items():
            a, b = first_seen.get(start, {}).get(key), first_seen.get(end, {}).get(key)
            if a is not None and b is not None:
                out[span][key] = b - a
    return out


@dataclass(frozen=True)
class LatencyFigures:
    """Per span: percentiles over the trades measured, and how many of the expected trades could
    not be measured (a stage never seen holding them)."""

    trades: int
    spans: dict[str, Percentiles]
    unmeasured: dict[str, int]
    values: dict[str, dict[Hashable, float]] = field(default_factory=dict, repr=False)
    """Per span, each measured trade's latency (seconds)."""

    def as_report(self) -> dict[str, dict[str, float | int]]:
        """The shape of one rate in latency.json: span -> p50/p95/p99/max (seconds) and count."""
        return {
            span: {
                "p50": round(p.p50, 4),
                "p95": round(p.p95, 4),
                "p99": round(p.p99, 4),
                "max": round(p.max, 4),
                "count": p.count,
            }
            for span, p in self.spans.items()
        }

    def table(self) -> str:
        rows = [f"{'span':<20}{'trades':>8}{'unmeasured':>12}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"]
        for span in SPANS:
            p = self.spans.get(span)
            cells = f"{p.p50:>9.3f}{p.p95:>9.3f}{p.p99:>9.3f}{p.max:>9.3f}" if p else f"{'-':>9}" * 4
            rows.append(f"{span:<20}{p.count if p else 0:>8}{self.unmeasured[span]:>12}{cells}")
        return "\n".join(rows) + "\n(seconds)"


def figures(first_seen: Mapping[str, Mapping[Hashable, float]], keys: Collection[Hashable]) -> LatencyFigures:
    spans = per_trade(first_seen, keys)
    return LatencyFigures(
        trades=len(keys),
        spans={s: summarize(list(v.values())) for s, v in spans.items() if v},
        unmeasured={s: len(keys) - len(v) for s, v in spans.items()},
        values=spans,
    )


def commit_times(
    commits: Iterable[Commit], keys_in: Callable[[str], Iterable[Hashable]], wanted: Collection[Hashable]
) -> dict[Hashable, float]:
    """When each wanted trade was committed: the timestamp (seconds) of the oldest snapshot that
    added a data file holding it. `keys_in(path)` reads a data file's trade keys."""
    out: dict[Hashable, float] = {}
    for commit in sorted(commits, key=lambda c: c.timestamp_ms):
        for path in commit.added_files:
            for key in keys_in(path):
                if key in wanted and key not in out:
                    out[key] = commit.timestamp_ms / 1000
    return out


def merge_report(existing: Mapping[str, Any], rate: float, fig: LatencyFigures) -> dict[str, Any]:
    """latency.json with this rate's figures in place of any earlier ones of the same rate."""
    return {**existing, f"{rate:g}": fig.as_report()}


RUN_STARTED = time.time()
"""When this run of the suite began (this module is imported as behave loads its steps): a
latency.json written before belongs to another run and is replaced, not merged into."""


def write_report(path: Path, rate: float, fig: LatencyFigures, run_started: float = RUN_STARTED) -> dict[str, Any]:
    return write_rate(path, rate, fig.as_report(), run_started)


def write_rate(path: Path, rate: float, section: Mapping[str, Any], run_started: float = RUN_STARTED) -> dict[str, Any]:
    """A per-rate JSON report (latency.json, latency-breakdown.json) with this rate's section in
    place of any earlier one of the same rate; a file written before this run is replaced."""
    existing: dict[str, Any] = {}
    if path.exists() and path.stat().st_mtime >= run_started:
        existing = json.loads(path.read_text() or "{}")
    merged = {**existing, f"{rate:g}": dict(section)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged
