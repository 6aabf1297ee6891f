"""What the bench reports: reports/bench.json, reports/bench.png and the printed table (pure,
apart from reading the machine's facts and writing the files)."""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.stack.settings import REPO_ROOT

PIPELINE_TARGET_RATE = 5000.0
PIPELINE_TARGET_P99_S = 5.0
API_TARGET_P99_MS = 100.0


def git_sha(repo: Path = REPO_ROOT) -> str | None:
    """HEAD's commit, with "-dirty" when the working tree has changes; None outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_sha": git_sha(),
    }


def _target(text: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"target": text, "passed": passed, "detail": detail}


def targets(pipeline: Sequence[Mapping[str, Any]] | None, api: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pass/fail of the stated targets; passed is None when the phase was not measured."""
    text = f"pipeline sustains >= {PIPELINE_TARGET_RATE:g} trades/s with p99 < {PIPELINE_TARGET_P99_S:g} s"
    if not pipeline:
        pipe = _target(text, None, "pipeline not measured")
    else:
        good = [
            s
            for s in pipeline
            if s.get("passed")
            and s["rate"] >= PIPELINE_TARGET_RATE
            and s.get("p99") is not None
            and s["p99"] < PIPELINE_TARGET_P99_S
        ]
        passed_steps = [s for s in pipeline if s.get("passed")]
        if good:
            best = max(good, key=lambda s: s["rate"])
            pipe = _target(
                text, True, f"{best['rate']:g}/s offered, {best['throughput']:g}/s served, p99 {best['p99']:g} s"
            )
        elif passed_steps:
            best = max(passed_steps, key=lambda s: s["rate"])
            pipe = _target(text, False, f"highest passing step {best['rate']:g}/s (p99 {best['p99']:g} s)")
        else:
            pipe = _target(text, False, "no step passed")
    text = f"API latest-100 p99 < {API_TARGET_P99_MS:g} ms"
    latest = (api or {}).get("latest_100")
    if not isinstance(latest, Mapping) or latest.get("p99_ms") is None:
        point = _target(text, None, "API latency not measured")
    else:
        point = _target(
            text,
            latest["p99_ms"] < API_TARGET_P99_MS,
            f"warm p99 {latest['p99_ms']:g} ms, p50 {latest['p50_ms']:g} ms, cold {latest['cold_ms']} ms",
        )
    return {"pipeline_5000_per_s_p99_under_5s": pipe, "api_latest_100_p99_under_100ms": point}


def build(
    pipeline: Sequence[Mapping[str, Any]] | None,
    api: Mapping[str, Any] | None,
    commit: Sequence[Mapping[str, Any]] | None,
    settings: Mapping[str, Any],
    errors: Mapping[str, str],
    machine_facts: Mapping[str, Any],
    started: float,
    finished: float,
) -> dict[str, Any]:
    """bench.json: a section per phase (null when not run), the machine, the targets, errors by phase."""
    return {
        "pipeline": list(pipeline) if pipeline is not None else None,
        "api": dict(api) if api is not None else None,
        "commit": list(commit) if commit is not None else None,
        "targets": targets(pipeline, api),
        "machine": dict(machine_facts),
        "settings": dict(settings),
        "errors": dict(errors),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_s": round(finished - started, 1),
    }


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)


# ---------------------------------------------------------------------------- the printed table
def _cell(value: Any, spec: str, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}{spec}}"


def pipeline_table(steps: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'rate/s':>8} {'traded/s':>9} {'served/s':>9} {'emitted':>8} {'lost':>5} {'dup':>4} {'p50 s':>7} "
        f"{'p95 s':>7} {'p99 s':>7} {'max s':>7} {'peak lag':>9} {'cpu/1k: exchange':>17} {'ingest':>7} "
        f"{'consumer':>8} {'api':>7}  verdict"
    )
    rows = [head]
    for s in steps:
        cpu = s.get("cpu_per_1k") or {}
        rows.append(
            f"{s['rate']:>8g} {_cell(s.get('traded_rate'), '.1f', 9)} {_cell(s.get('throughput'), '.1f', 9)} "
            f"{_cell(s.get('emitted'), 'd', 8)} {_cell(s.get('lost'), 'd', 5)} {_cell(s.get('duplicated'), 'd', 4)} "
            f"{_cell(s.get('p50'), '.3f', 7)} {_cell(s.get('p95'), '.3f', 7)} {_cell(s.get('p99'), '.3f', 7)} "
            f"{_cell(s.get('max'), '.3f', 7)} {_cell(s.get('peak_lag'), 'd', 9)} "
            f"{_cell(cpu.get('exchange'), '.3f', 17)} {_cell(cpu.get('ingest'), '.3f', 7)} "
            f"{_cell(cpu.get('consumer'), '.3f', 8)} {_cell(cpu.get('api'), '.3f', 7)}  "
            + ("ok" if s.get("passed") else f"FAIL: {s.get('reason')}")
        )
    return "\n".join(rows)


API_KINDS = ("latest_100", "time_range_1h", "stats")


def api_table(api: Mapping[str, Any]) -> str:
    rows = [
        f"{'query':<14} {'requests':>8} {'cold ms':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} "
        f"{'errors':>6} {'matched rows':>13} {'cache hits':>10}"
    ]
    for kind in API_KINDS:
        q = api.get(kind)
        if not isinstance(q, Mapping):
            continue
        rows.append(
            f"{kind:<14} {q['requests']:>8} {_cell(q.get('cold_ms'), '.1f', 9)} "
            f"{_cell(q.get('p50_ms'), '.1f', 9)} {_cell(q.get('p99_ms'), '.1f', 9)} "
            f"{_cell(q.get('max_ms'), '.1f', 9)} {q.get('errors', 0):>6} "
            f"{_cell(q.get('matched_rows'), ',', 13)} {_cell(q.get('cache_hits'), 'd', 10)}"
        )
    return "\n".join(rows)


def commit_table(commit: Sequence[Mapping[str, Any]]) -> str:
    rows = [f"{'rows':>8} {'ms (median)':>12} {'min ms':>8} {'max ms':>8} {'repeats':>8} {'rows/s':>10}"]
    for c in commit:
        rows.append(
            f"{c['rows']:>8,} {c['ms']:>12.1f} {c['min_ms']:>8.1f} {c['max_ms']:>8.1f} "
            f"{c['repeats']:>8} {_cell(c.get('rows_per_s'), ',', 10)}"
        )
    return "\n".join(rows)


def table(report: Mapping[str, Any]) -> str:
    """The whole report as text, one block per phase that ran, then the targets."""
    blocks = []
    if report.get("pipeline"):
        blocks.append(
            "pipeline: offered rate, rate the exchange emitted at, served rate, exchange->API latency "
            "(s), CPU seconds per 1,000 trades\n" + pipeline_table(report["pipeline"])
        )
    api = report.get("api")
    if api:
        load = api.get("load", {})
        blocks.append(
            f"api: {load.get('rows', 0):,} synthetic rows; cold = first request after the load, "
            "p50/p99/max over the repeats (warm)\n" + api_table(api)
        )
    if report.get("commit"):
        blocks.append("iceberg commit cost by batch size (consumer's writer)\n" + commit_table(report["commit"]))
    for phase, error in (report.get("errors") or {}).items():
        blocks.append(f"{phase}: ERROR {error}")
    lines = ["targets"]
    for t in (report.get("targets") or {}).values():
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["passed"]]
        lines.append(f"  {verdict}  {t['target']}  ({t['detail']})")
    blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# ---------------------------------------------------------------------------- the plot
def plot(report: Mapping[str, Any]) -> bytes:
    """PNG: served against offered rate, and latency percentiles against rate (failed steps in
    red); with commit cost against batch size when it was measured."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [s for s in report.get("pipeline") or [] if s.get("throughput") is not None]
    commit = report.get("commit") or []
    panels = 2 + (1 if commit else 0)
    figure = Figure(figsize=(5 * panels, 4.2), layout="constrained")
    axes = figure.subplots(1, panels)
    ok = [s for s in steps if s.get("passed")]
    bad = [s for s in steps if not s.get("passed")]
    ax = axes[0]
    if not steps:
        for a in axes[:2]:
            a.text(0.5, 0.5, "pipeline not measured", ha="center", va="center", transform=a.transAxes)
    if steps:
        low = min(min(s["rate"] for s in steps), min(max(s["throughput"], 1.0) for s in steps))
        top = max(max(s["rate"] for s in steps), max(s["throughput"] for s in steps))
        ax.plot([low, top], [low, top], color="grey", linestyle=":", label="served = offered")
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.plot([s["rate"] for s in ok], [s["throughput"] for s in ok], "o-", label="passed")
    if bad:
        ax.plot(
            [s["rate"] for s in bad], [s["throughput"] for s in bad], "x", color="red", markersize=10, label="failed"
        )
    ax.set_xlabel("offered, trades/s")
    ax.set_ylabel("served, trades/s")
    ax.set_title("throughput", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    for key, style in (("p50", "o-"), ("p99", "s-")):
        pts = [(s["rate"], s[key]) for s in steps if s.get(key) is not None]
        ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=key)
    for s in bad:
        if s.get("p99") is not None:
            ax.plot([s["rate"]], [s["p99"]], "x", color="red", markersize=10)
    ax.axhline(
        PIPELINE_TARGET_P99_S, color="red", linestyle="--", linewidth=1, label=f"target p99 {PIPELINE_TARGET_P99_S:g} s"
    )
    if steps:
        ax.set_xscale("log")
        ax.set_yscale("log")  # p50 of a fraction of a second and p99 of a failed step in one view
    ax.set_xlabel("offered, trades/s")
    ax.set_ylabel("exchange -> API latency, s")
    ax.set_title("latency", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if commit:
        ax = axes[2]
        ax.plot([c["rows"] for c in commit], [c["ms"] for c in commit], "o-")
        ax.set_xscale("log")
        ax.set_xlabel("rows per commit")
        ax.set_ylabel("ms per commit (median)")
        ax.set_title("iceberg commit cost", fontsize=10)
        ax.grid(alpha=0.3)
    sha = (report.get("machine") or {}).get("git_sha") or "?"
    figure.suptitle(f"K2 bench, {(report.get('machine') or {}).get('cpus', '?')} CPUs, {sha[:12]}", fontsize=11)
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()
