"""`python -m harness criteria`: reports/success-criteria.md from one run's results, and the run's
line of the latency history with its trend plot. The files are read and written here; what they
mean is decided in harness.criteria and harness.latency_trend."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import allure_results, criteria, latency_trend
from harness.stack.settings import REPO_ROOT

TREND_PNG = "latency-trend.png"
TREND_RUNS = 20
TABLE_RUNS = 10


def shown(path: Path) -> str:
    """The path as a reader would type it from here."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_commit(environment: Mapping[str, str]) -> str | None:
    """The commit the run ran at (its environment.properties), else the checkout's HEAD."""
    sha = environment.get("git.sha", "")
    if sha and sha != "unknown":
        return sha
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head or None


@dataclass
class LatencyOfRun:
    figures: dict[str, Any] | None
    key: str | None
    written: datetime | None
    note: str


def latency_of(path: Path, run: allure_results.RunResults) -> LatencyOfRun:
    """latency.json's figures when this run wrote them; otherwise none, and a note why."""
    if not path.is_file():
        return LatencyOfRun(None, None, None, f"Latency: no `{shown(path)}` (the freshness feature writes it).")
    mtime = path.stat().st_mtime
    written = datetime.fromtimestamp(mtime, UTC)
    if not latency_trend.written_during(mtime, run.started_ms, run.stopped_ms):
        return LatencyOfRun(
            None,
            None,
            written,
            f"Latency: `{shown(path)}` was written {written:%Y-%m-%d %H:%M UTC}, outside this run; "
            "its figures are left out.",
        )
    try:
        figures, key = latency_trend.read_latency(path)
    except latency_trend.LatencyUnreadable as exc:
        return LatencyOfRun(None, None, written, f"Latency: {exc}.")
    return LatencyOfRun(figures, key, written, f"Latency: `{shown(path)}`, written {written:%H:%M UTC}.")


def record_trend(
    latency: LatencyOfRun, history: Path, commit: str | None, out_dir: Path, say: Callable[[str], None]
) -> str:
    """Append the run's latency line (once), draw the trend and return its markdown section."""
    if latency.figures is not None and latency.key is not None and latency.written is not None:
        gaps = latency_trend.missing(latency.figures)
        if gaps:
            say(f"[report] latency trend: this run not recorded, its latency.json lacks {', '.join(gaps)}")
        elif latency_trend.append(history, latency_trend.entry(latency.figures, latency.key, latency.written, commit)):
            say(f"[report] latency trend: this run added to {shown(history)}")
        else:
            say(f"[report] latency trend: this run is in {shown(history)} already")
    runs, problems = latency_trend.read_history(history)
    for problem in problems:
        say(f"[report] {problem}")
    if not runs:
        return (
            "## Latency trend\n\nNo run recorded yet: a run's line is added to "
            f"`{shown(history)}` when its latency.json holds every plan rate (10, 50, 100 trades/s)."
        )
    from harness import plots  # matplotlib only when there is something to draw

    recent = sorted(runs, key=lambda r: r.at)[-TREND_RUNS:]
    (out_dir / TREND_PNG).write_bytes(plots.latency_trend(recent))
    skipped = f" ({len(problems)} unreadable lines skipped)" if problems else ""
    runs_text = f"{len(recent)} run{'s' if len(recent) != 1 else ''}"
    return (
        f"## Latency trend\n\n![p99 latency per stage over the last {runs_text}]({TREND_PNG})\n\n"
        f"End-to-end p99 of each run recorded in `{shown(history)}`, the last {TABLE_RUNS} at most{skipped}; "
        "the plot shows every stage.\n\n" + latency_trend.table(recent[-TABLE_RUNS:], latency.key)
    )


def build(results: Path, latency: Path, out: Path, history: Path, say: Callable[[str], None]) -> list[criteria.Row]:
    """Write the report (and the trend); allure_results.ResultsMissing when there is no run to judge."""
    run = allure_results.load(Path(shown(results)))  # named in the report as the reader would type it
    commit = run_commit(run.environment)
    of_run = latency_of(latency, run)
    out.parent.mkdir(parents=True, exist_ok=True)
    trend = record_trend(of_run, history, commit, out.parent, say)
    rows = criteria.evaluate(run, of_run.figures)
    out.write_text(
        criteria.render(rows, run, commit=commit, written=datetime.now(UTC), notes=[of_run.note], trend=trend)
    )
    return rows
