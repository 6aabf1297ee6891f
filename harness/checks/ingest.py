"""Ingest checks: marks of the ingest taken before and after, Verdict out (harness.hostile takes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.checks.verdict import Verdict

if TYPE_CHECKING:
    from harness.hostile import IngestMark


def kept_running(before: IngestMark, after: IngestMark) -> Verdict:
    """The same ingest process, never restarted, never reconnected, and still ready."""
    reconnects = after.counters.get("connections", 0) - before.counters.get("connections", 0)
    problems, notes = [], []
    unseen = before.pid is None and after.pid is None and before.state == "ready"
    if unseen:  # a deployment the suite did not start: its counters must say it all
        notes.append("the ingest's process is not visible to this driver: judged by its connection counter")
        if "connections" not in after.counters:
            problems.append(
                "neither the ingest's process nor its connection counter is visible: nothing shows "
                "that it kept running (name the counter in the profile's ingest.counters)"
            )
    elif before.pid is None or before.pid != after.pid or before.started_at != after.started_at:
        problems.append(
            f"the ingest process changed: pid {before.pid} -> {after.pid}, started at "
            f"{before.started_at} -> {after.started_at}"
        )
    if after.restarts != before.restarts:
        problems.append(f"the ingest was restarted {after.restarts - before.restarts} times")
    if reconnects:
        problems.append(f"the ingest connected to the exchange {reconnects} more times")
    if after.state != "ready":
        problems.append(f"the ingest is {after.state}")
    return Verdict(
        "the ingest kept running on one connection",
        not problems,
        {
            "pid before": before.pid or 0,
            "pid after": after.pid or 0,
            "reconnects": reconnects,
            "restarts": after.restarts - before.restarts,
        },
        mismatched=problems,
        evidence=notes,
    )
