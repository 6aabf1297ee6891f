"""Where a flow's latency went: the cadence of the table's commits, the table's shape, the
consumer's own commit times and the API's answer times, side by side with the per-stage figures.

Per-stage percentiles say which span is slow; these say why. The cadence and the table's shape
come from the table itself, so they hold for any K2; the commit durations come from the
reference consumer's log lines ("committed", "compacted small files", "expired old snapshots")
and are left out, with the reason, when the consumer writes none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from harness.latency import Percentiles, summarize
from harness.probes.iceberg import Commit


@dataclass(frozen=True)
class TableShape:
    """How much a reader has to go through: what makes planning a scan and a commit cost more."""

    snapshots: int
    """Snapshots in the table's metadata (every commit rewrites all of them)."""
    manifests: int
    """Manifests of the current snapshot (every scan plans over them)."""
    data_files: int
    """Data files of the current snapshot."""


@dataclass(frozen=True)
class ConsumerCommits:
    commit_ms: Percentiles | None
    rows: Percentiles | None
    age_ms: Percentiles | None
    """How old each batch's oldest record was when its commit began (the interval, plus any wait)."""
    compactions: list[float]
    """Milliseconds each compaction took."""
    expired: int
    """Snapshots expired."""
    failed: int


def consumer_commits(log_text: str) -> ConsumerCommits:
    """The reference consumer's JSON log lines, read for what its commits cost."""
    ms: list[float] = []
    rows: list[float] = []
    ages: list[float] = []
    compactions: list[float] = []
    expired = failed = 0
    for line in log_text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        msg = entry.get("msg")
        if msg == "committed" and isinstance(entry.get("ms"), int | float):
            ms.append(float(entry["ms"]))
            rows.append(float(entry.get("rows", 0)))
            if isinstance(entry.get("age_ms"), int | float):
                ages.append(float(entry["age_ms"]))
        elif msg == "compacted small files" and isinstance(entry.get("ms"), int | float):
            compactions.append(float(entry["ms"]))
        elif msg == "expired old snapshots":
            expired += int(entry.get("expired", 0))
        elif msg == "commit failed, retrying":
            failed += 1
    return ConsumerCommits(
        summarize(ms) if ms else None,
        summarize(rows) if rows else None,
        summarize(ages) if ages else None,
        compactions,
        expired,
        failed,
    )


def cadence(commits: Sequence[Commit], since: float = 0.0) -> Percentiles | None:
    """Seconds between the snapshots that added data, by their own timestamps, from `since` (the
    flow's first trade: before it the consumer had nothing to commit, and the wait is no cadence)."""
    times = sorted(c.timestamp_ms / 1000 for c in commits if c.added_files and c.timestamp_ms / 1000 >= since)
    gaps = [b - a for a, b in pairwise(times)]
    return summarize(gaps) if gaps else None


def _ms(p: Percentiles) -> str:
    return f"p50 {p.p50 * 1000:.0f} ms, p99 {p.p99 * 1000:.0f} ms, max {p.max * 1000:.0f} ms"


def breakdown_text(
    commits: Sequence[Commit],
    shape: TableShape | None,
    consumer: ConsumerCommits | None,
    polls: Iterable[float],
    since: float = 0.0,
) -> str:
    lines = ["Where the time went:"]
    every = cadence(commits, since)
    lines.append(
        f"  table commits   {sum(1 for c in commits if c.added_files)} added data"
        + (f", one every {_ms(every)} while trades flowed" if every else "")
        + (f"; {sum(1 for c in commits if not c.added_files)} added none (e.g. compaction)" if commits else "")
    )
    if shape is not None:
        lines.append(
            f"  table shape     {shape.snapshots} snapshots in its metadata, {shape.manifests} manifests and "
            f"{shape.data_files} data files in the current snapshot"
        )
    if consumer is None:
        lines.append("  consumer        its log is not readable on this driver")
    elif consumer.commit_ms is None:
        lines.append("  consumer        no 'committed' lines in its log (not the reference consumer?)")
    else:
        c = consumer.commit_ms
        lines.append(
            f"  consumer        {c.count} commits took p50 {c.p50:.0f} ms, p99 {c.p99:.0f} ms, max {c.max:.0f} ms"
            + (f"; rows per commit p50 {consumer.rows.p50:.0f}, max {consumer.rows.max:.0f}" if consumer.rows else "")
            + (
                f"; batch age at commit p50 {consumer.age_ms.p50:.0f} ms, p99 {consumer.age_ms.p99:.0f} ms"
                if consumer.age_ms
                else ""
            )
            + f"; {len(consumer.compactions)} compactions"
            + (f" (longest {max(consumer.compactions):.0f} ms)" if consumer.compactions else "")
            + f"; {consumer.expired} snapshots expired; {consumer.failed} failed attempts"
        )
    answered = list(polls)
    if answered:
        lines.append(f"  api answers     {len(answered)} polls, {_ms(summarize(answered))}")
    return "\n".join(lines)


def as_report(
    commits: Sequence[Commit],
    shape: TableShape | None,
    consumer: ConsumerCommits | None,
    polls: Sequence[float],
    since: float = 0.0,
) -> dict[str, Any]:
    """The same figures as plain numbers, for reports/latency-breakdown.json."""
    every = cadence(commits, since)
    out: dict[str, Any] = {
        "commit_interval_s": every.as_dict() if every else None,
        "table": shape.__dict__ if shape else None,
        "api_answer_s": summarize(polls).as_dict() if polls else None,
    }
    if consumer is not None and consumer.commit_ms is not None:
        out["consumer"] = {
            "commit_ms": consumer.commit_ms.as_dict(),
            "batch_age_ms": consumer.age_ms.as_dict() if consumer.age_ms else None,
            "compactions_ms": consumer.compactions,
            "expired_snapshots": consumer.expired,
            "failed_attempts": consumer.failed,
        }
    return out


def table_shape(table: Any) -> TableShape:
    """The table's shape from its metadata and manifest list (no manifest is opened)."""
    from pyiceberg.manifest import ManifestContent

    snapshot = table.current_snapshot()
    manifests = [] if snapshot is None else snapshot.manifests(table.io)
    data = [m for m in manifests if m.content == ManifestContent.DATA]
    return TableShape(
        snapshots=len(table.metadata.snapshots),
        manifests=len(manifests),
        data_files=sum((m.added_files_count or 0) + (m.existing_files_count or 0) for m in data),
    )
