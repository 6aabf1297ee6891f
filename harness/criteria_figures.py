"""The figures a success criterion shows, each drawn from the scenarios that prove it: their
verdicts' counts, their steps' times, their text attachments, the run's latency.json and wall time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from harness.allure_results import RunResults, ScenarioResult
from harness.checks.verdict import VerdictSummary
from harness.latency_trend import PLAN_RATES

STAGES = ("produced", "committed", "served")


@dataclass(frozen=True)
class Evidence:
    """What a figure is drawn from: the criterion's scenarios that ran, the whole run, its latency."""

    scenarios: tuple[ScenarioResult, ...]
    run: RunResults
    latency: Mapping[str, Any] | None


@dataclass(frozen=True)
class Shown:
    text: str
    ok: bool | None = None
    """False when the figure itself misses the criterion's bound (no scenario asserts it)."""


class Figure(Protocol):
    def __call__(self, evidence: Evidence) -> Shown | None: ...


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def last_per_check(s: ScenarioResult, check: str) -> list[VerdictSummary]:
    """The scenario's verdicts whose check matches, the last of each check only: a scenario that
    judges its flow twice judges everything it expects so far, so summing both would count twice."""
    found: dict[str, VerdictSummary] = {}
    for v in s.verdicts():
        if re.search(check, v.check):
            found[v.check] = v
    return list(found.values())


@dataclass(frozen=True)
class ExactlyOnce:
    """Trades emitted and seen at each stage, summed over the scenarios; lost and duplicated at the
    worst stage."""

    def __call__(self, evidence: Evidence) -> Shown | None:
        totals: dict[str, dict[str, int]] = {}
        for s in evidence.scenarios:
            for v in last_per_check(s, r"^exactly once at "):
                stage = v.check.removeprefix("exactly once at ")
                t = totals.setdefault(stage, {"expected": 0, "seen": 0, "lost": 0, "duplicated": 0})
                t["expected"] += v.counts.get("expected", 0)
                t["seen"] += v.counts.get(stage, 0)
                t["lost"] += v.counts.get("lost", 0)
                t["duplicated"] += v.counts.get("duplicated", 0)
        if not totals:
            return None
        stages = [s for s in STAGES if s in totals] + sorted(set(totals) - set(STAGES))
        parts = [f"emitted {max(t['expected'] for t in totals.values()):,}"]
        parts += [f"{stage} {totals[stage]['seen']:,}" for stage in stages]
        parts += [f"{k} {max(t[k] for t in totals.values()):,}" for k in ("lost", "duplicated")]
        return Shown(", ".join(parts))


@dataclass(frozen=True)
class Counts:
    """Named counts of the verdicts whose check matches, summed over the scenarios."""

    check: str
    keys: tuple[str, ...]
    label: str
    checks: bool = False
    """Also say how many such verdicts there were (when the counts alone would add up the same thing twice)."""

    def __call__(self, evidence: Evidence) -> Shown | None:
        found = [v for s in evidence.scenarios for v in last_per_check(s, self.check)]
        if not found:
            return None
        sums = [f"{k} {sum(v.counts.get(k, 0) for v in found):,}" for k in self.keys]
        lead = [f"{len(found)} check{'s' if len(found) != 1 else ''}"] if self.checks else []
        return Shown(f"{self.label}: " + ", ".join(lead + sums))


@dataclass(frozen=True)
class StepSeconds:
    """How long the steps matching `step` took (their range over the scenarios)."""

    step: str
    label: str

    def __call__(self, evidence: Evidence) -> Shown | None:
        took = [st.seconds for s in evidence.scenarios for st in s.steps if re.search(self.step, st.name)]
        if not took:
            return None
        low, high = min(took), max(took)
        span = seconds_text(high) if high - low < 0.05 else f"{low:.1f}–{seconds_text(high)}"
        return Shown(f"{self.label} {span}")


@dataclass(frozen=True)
class AttachedNumber:
    """The largest number `pattern`'s group catches in the text attachments named `name`."""

    name: str
    pattern: str
    label: str

    def __call__(self, evidence: Evidence) -> Shown | None:
        found = [
            float(m[1])
            for s in evidence.scenarios
            for text in s.texts.get(self.name, ())
            for m in re.finditer(self.pattern, text)
        ]
        return Shown(f"{self.label} {seconds_text(max(found))}") if found else None


_PEAK_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+\d+%$", re.MULTILINE)


@dataclass(frozen=True)
class MemoryPeaks:
    """Each service's highest sampled memory against its budget ("memory peaks" attachments)."""

    def __call__(self, evidence: Evidence) -> Shown | None:
        peaks: dict[str, tuple[int, int]] = {}
        for s in evidence.scenarios:
            for text in s.texts.get("memory peaks", ()):
                for name, peak, budget in _PEAK_ROW.findall(text):
                    peaks[name] = max(peaks.get(name, (0, 0)), (int(peak), int(budget)))
        if not peaks:
            return None
        rows = ", ".join(f"{n} {p}/{b}" for n, (p, b) in sorted(peaks.items()))
        return Shown(f"peak/budget MiB: {rows}")


@dataclass(frozen=True)
class LatencyPercentiles:
    """p99 and p50 per rate from this run's latency.json; with `p99_limit`, a p99 above it misses
    the criterion (a target the run reports on without failing a scenario)."""

    rates: tuple[str, ...] = PLAN_RATES
    span: str = "end_to_end"
    p99_limit: float | None = None

    def __call__(self, evidence: Evidence) -> Shown | None:
        if evidence.latency is None:
            return Shown("no latency.json of this run")

        def value(rate: str, p: str) -> float | None:
            found = evidence.latency.get(rate, {}).get(self.span, {}).get(p) if evidence.latency else None
            return None if found is None else float(found)

        def cell(rate: str, p: str) -> str:
            found = value(rate, p)
            return "–" if found is None else f"{found:.2f}"

        rates = " / ".join(self.rates)
        p99 = " / ".join(cell(r, "p99") for r in self.rates)
        p50 = " / ".join(cell(r, "p50") for r in self.rates)
        text = f"p99 {p99} s, p50 {p50} s at {rates} trades/s"
        measured = [v for v in (value(r, "p99") for r in self.rates) if v is not None]
        if self.p99_limit is None or not measured:
            return Shown(text)
        return Shown(f"{text} (limit p99 {self.p99_limit:g} s)", all(v <= self.p99_limit for v in measured))


@dataclass(frozen=True)
class WallTime:
    """The run's wall time, first scenario's start to last one's stop, against `limit` seconds."""

    limit: float | None = None

    def __call__(self, evidence: Evidence) -> Shown | None:
        run = evidence.run
        took = run.seconds
        ok = None if self.limit is None else took <= self.limit
        bound = "" if self.limit is None else f" (limit {seconds_text(self.limit)})"
        return Shown(f"{seconds_text(took)} for {len(run.scenarios)} scenarios{bound}", ok)
