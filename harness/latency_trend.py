"""Per-stage latency across runs: one line per run in reports/history/latency.jsonl (kept across runs
like Allure's own history), read back for the trend plot and a text table.

Allure's trends cover pass rate and duration only; a stage growing slower over weeks shows here.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.latency import SPANS

PLAN_RATES = ("10", "50", "100")
KEPT = ("p50", "p99", "count")
SLACK_S = 60.0
"""latency.json written this long before the run's first scenario or after its last still counts
as the run's (file times and the results' clocks are the same machine's, in whole milliseconds)."""


class LatencyUnreadable(Exception):
    """latency.json exists but holds no figures to use; the message says why."""


@dataclass(frozen=True)
class RecordedRun:
    """One run's line of the history."""

    at: str
    commit: str | None
    rates: Mapping[str, Mapping[str, Mapping[str, float]]]
    """rate -> span -> p50, p99 (seconds) and count."""
    key: str

    def p99(self, rate: str, span: str = "end_to_end") -> float:
        """NaN when this run has no such figure, so a plot leaves a gap rather than a zero."""
        value = self.rates.get(rate, {}).get(span, {}).get("p99")
        return math.nan if value is None else float(value)


def read_latency(path: Path) -> tuple[dict[str, Any], str]:
    """latency.json's figures and its content's key (sha256), which names the run in the history."""
    data = path.read_bytes()
    try:
        report = json.loads(data)
    except ValueError as exc:
        raise LatencyUnreadable(f"{path} is not JSON ({exc})") from exc
    if not isinstance(report, dict) or not report:
        raise LatencyUnreadable(f"{path} holds no rate's figures")
    return report, "sha256:" + hashlib.sha256(data).hexdigest()


def written_during(mtime_s: float, started_ms: int, stopped_ms: int) -> bool:
    """Whether a latency.json written at `mtime_s` belongs to the run of those results (an older
    one is another run's, and would put its figures under this run's name)."""
    return started_ms / 1000 - SLACK_S <= mtime_s <= stopped_ms / 1000 + SLACK_S


def missing(report: Mapping[str, Any], rates: Sequence[str] = PLAN_RATES) -> list[str]:
    """What the report lacks to be a run's complete figures: each plan rate with every span."""
    gaps = []
    for rate in rates:
        spans = report.get(rate)
        if not isinstance(spans, dict):
            gaps.append(f"{rate} trades/s")
            continue
        gaps += [f"{span} at {rate} trades/s" for span in SPANS if not isinstance(spans.get(span), dict)]
    return gaps


def entry(report: Mapping[str, Any], key: str, at: datetime, commit: str | None) -> dict[str, Any]:
    """The history's line for a run: p50, p99 and count per rate and span."""
    rates = {
        rate: {span: {k: fig[k] for k in KEPT if k in fig} for span, fig in spans.items() if isinstance(fig, dict)}
        for rate, spans in report.items()
        if isinstance(spans, dict)
    }
    return {"at": at.astimezone(UTC).isoformat(timespec="seconds"), "commit": commit, "rates": rates, "key": key}


def read_history(path: Path) -> tuple[list[RecordedRun], list[str]]:
    """The recorded runs in file order, and a line per line that could not be used (skipped, so a
    damaged line costs one point of the trend, not the whole report)."""
    if not path.exists():
        return [], []
    runs, problems = [], []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            problems.append(f"{path} line {n}: not JSON; skipped")
            continue
        if not (isinstance(raw, dict) and isinstance(raw.get("rates"), dict) and isinstance(raw.get("key"), str)):
            problems.append(f"{path} line {n}: not a run's line (needs at, commit, rates, key); skipped")
            continue
        runs.append(RecordedRun(str(raw.get("at", "")), raw.get("commit"), raw["rates"], raw["key"]))
    return runs, problems


def append(path: Path, line: Mapping[str, Any]) -> bool:
    """Add the run's line unless a line of the same key is there already (the report may be built
    more than once from one run). True when it was added."""
    runs, _ = read_history(path)
    if any(r.key == line["key"] for r in runs):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            out.write(b"\n")  # a line cut short by a killed writer stays its own (skipped) line
        out.write((json.dumps(line, sort_keys=True) + "\n").encode())
    return True


def table(runs: Sequence[RecordedRun], this_key: str | None = None, rates: Sequence[str] = PLAN_RATES) -> str:
    """Markdown: end-to-end p99 per rate of each run, oldest first."""

    def cell(value: float) -> str:
        return "–" if math.isnan(value) else f"{value:.2f}"

    head = "| run (UTC) | commit | " + " | ".join(f"p99 at {r}/s (s)" for r in rates) + " |"
    rows = [head, "|---|---|" + "---|" * len(rates)]
    for r in runs:
        mark = " (this run)" if r.key == this_key else ""
        cells = " | ".join(cell(r.p99(rate)) for rate in rates)
        rows.append(f"| {r.at[:16].replace('T', ' ')}{mark} | {r.commit or '–'} | {cells} |")
    return "\n".join(rows)
