"""The test plan's success criteria, judged from one run's results: which scenarios prove each, the
figure to show for it, and whether this run met it. Pure: the results and latency figures come in
as data (harness.allure_results, latency.json), the markdown goes out as text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.allure_results import RunResults, ScenarioResult
from harness.criteria_figures import (
    AttachedNumber,
    Counts,
    Evidence,
    ExactlyOnce,
    Figure,
    LatencyPercentiles,
    MemoryPeaks,
    StepSeconds,
    WallTime,
    seconds_text,
)
from harness.latency_trend import PLAN_RATES

MET = "met"
NOT_MET = "NOT MET"
NOT_RUN = "not run in this run"
PART_RUN = "not run in full"

DEFAULT_FEATURES = ("Pipeline", "Stack health", "Recovery", "Freshness", "The real exchange's behaviour")
# The default run leaves these out (behave.ini), so a run with any of them is not the default run.
NOT_DEFAULT = frozenset({"slow", "target", "cluster", "wip"})


@dataclass(frozen=True)
class Scenarios:
    """A feature's scenarios whose title matches `title` (a regex, from the title's start)."""

    feature: str
    title: str = ""
    label: str = ""
    """How the report names them when none ran (default: the feature and the title)."""
    required: bool = True
    """False for scenarios outside the default run (@slow): they count when run, and are not missed."""

    def matches(self, s: ScenarioResult) -> bool:
        return s.feature == self.feature and re.match(self.title, s.title) is not None

    @property
    def name(self) -> str:
        return self.label or (f"{self.feature}: {self.title}" if self.title else self.feature)


@dataclass(frozen=True)
class Criterion:
    text: str
    proved_by: tuple[Scenarios, ...]
    figures: tuple[Figure, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    """Properties the run must have (its environment.properties), e.g. the driver."""
    not_with_tags: frozenset[str] = frozenset()
    """Tags that, on any scenario of the run, make it a run this criterion is not about."""


# ------------------------------------------------------------------------------------ the plan
def _feature(name: str) -> Scenarios:
    return Scenarios(name, "", name)


PIPELINE, HEALTH, RECOVERY, FRESHNESS = "Pipeline", "Stack health", "Recovery", "Freshness"
CAUGHT_UP = AttachedNumber("caught up", r"held every trade ([\d.]+) s after", "caught up at most")
READY_AGAIN = StepSeconds(r"the stack's supervisor has started the .* again", "started again and ready within")

CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "every trade flows exchange → Kafka → Iceberg → API, counts match at every stage, exactly once",
        (Scenarios(PIPELINE, r"Trades of several symbols flow to the query API exactly once"),),
        (ExactlyOnce(),),
    ),
    Criterion(
        "the schema is honoured at every stage",
        (
            Scenarios(PIPELINE, r"The registry, the table and the query API hold the contract's trade schema"),
            Scenarios(PIPELINE, r"The message log carries only registered trade records"),
            Scenarios(PIPELINE, r"The query API's answers match its published description"),
            Scenarios(PIPELINE, r"Every served trade is what the exchange sent"),
        ),
        (
            Counts(r"is the contract's record$", ("differences",), "registered schemas", checks=True),
            Counts(r"^served trades equal what the exchange sent$", ("compared", "mismatched"), "served as sent"),
            Counts(r"^served pages consistent$", ("pages", "problems"), "pages"),
            Counts(r"^responses match the OpenAPI document$", ("validated", "violations"), "OpenAPI"),
        ),
    ),
    Criterion(
        "malformed input is set aside and loses nothing",
        (Scenarios(PIPELINE, r"Hostile exchange frames are set aside or deduplicated"),),
        (ExactlyOnce(),),
    ),
    Criterion(
        "the API guards its data (401, 403, 422)",
        (Scenarios(PIPELINE, r"The query API guards its data"),),
    ),
    Criterion(
        "services start in dependency order, health checks propagate",
        (
            Scenarios(HEALTH, r"The infrastructure starts and every service is ready"),
            Scenarios(HEALTH, r"A stopped dependency shows in the health of the services that need it"),
        ),
        (
            StepSeconds(
                r"reports itself unhealthy and not ready", "API unhealthy after the object store stopped within"
            ),
            StepSeconds(r"reports itself healthy and ready", "healthy again within"),
        ),
    ),
    Criterion(
        "every service and the whole stack restart and come back",
        (
            Scenarios(HEALTH, r"A restarted .* comes back healthy", "Stack health: a restarted service"),
            Scenarios(HEALTH, r"The whole stack stops leaving nothing behind"),
        ),
        (
            ExactlyOnce(),
            StepSeconds(r"every service of the stack is ready", "all ready again within"),
            StepSeconds(r"^When the whole stack starts again", "whole stack up again in"),
        ),
    ),
    Criterion(
        "a crashed service comes back (restart policy)",
        (
            Scenarios(HEALTH, r"A crashed query API is started again"),
            Scenarios(
                RECOVERY,
                r"The (consumer|ingest service) crashes mid-stream and comes back",
                "Recovery: crashed consumer, ingest",
            ),
        ),
        (READY_AGAIN,),
    ),
    Criterion(
        "resource limits hold",
        (Scenarios(HEALTH, r"Under load every service stays within its memory budget"),),
        (MemoryPeaks(),),
    ),
    Criterion(
        "nothing leaks",
        (Scenarios(HEALTH, r"The whole stack stops leaving nothing behind"),),
        (StepSeconds(r"no process of the stack is left", "no process or port left within"),),
    ),
    Criterion(
        "a Kafka broker restart loses and duplicates nothing",
        (
            Scenarios(HEALTH, r"A restarted message broker comes back healthy"),
            Scenarios(RECOVERY, r"The message broker crashes and starts again mid-stream"),
            Scenarios(RECOVERY, r"The message broker restarts mid-stream", required=False),
            Scenarios(RECOVERY, r"The message broker crashes while the consumer's commit is in flight", required=False),
        ),
        (ExactlyOnce(),),
    ),
    Criterion(
        "a schema-registry outage loses nothing",
        (Scenarios(RECOVERY, r"While the schema registry is down"),),
        (ExactlyOnce(),),
    ),
    Criterion(
        "an object-store failure loses nothing",
        (
            Scenarios(RECOVERY, r"The object store is unavailable for a while"),
            Scenarios(RECOVERY, r"The object store answers slowly for a while"),
        ),
        (ExactlyOnce(), CAUGHT_UP),
    ),
    Criterion(
        "a consumer crash loses and duplicates nothing",
        (
            Scenarios(RECOVERY, r"The consumer crashes mid-stream"),
            Scenarios(RECOVERY, r"The consumer crashes while the object store is down"),
            Scenarios(RECOVERY, r"The consumer crashes the instant it tells the broker it is done"),
            Scenarios(RECOVERY, r"The consumer's machine fails the instant its trades are in the table"),
            Scenarios(RECOVERY, r"The ingest service crashes while the message broker is unreachable", required=False),
        ),
        (ExactlyOnce(),),
    ),
    Criterion(
        "a network partition loses nothing",
        (Scenarios(RECOVERY, r"The network between the platform and the message broker is cut"),),
        (ExactlyOnce(), CAUGHT_UP),
    ),
    Criterion(
        "end-to-end latency under 30 s at 10, 50, 100 trades/s",
        tuple(
            Scenarios(
                FRESHNESS, rf"At {rate} trades per second every trade is served within the SLA", f"{rate} trades/s"
            )
            for rate in PLAN_RATES
        ),
        (LatencyPercentiles(),),
    ),
    Criterion(
        "fresh data during a flow, at 10, 50 and 100 trades/s",
        tuple(
            Scenarios(FRESHNESS, rf"At {rate} trades per second .* the data stays fresh", f"{rate} trades/s")
            for rate in PLAN_RATES
        ),
        (
            AttachedNumber(
                "verdicts", r"newest trade served never older than \S+ s; max ([\d.]+) s", "newest served trade at most"
            ),
            Counts(r"^no gaps in served trade ids$", ("gaps",), "ids"),
        ),
    ),
    Criterion(
        "our own target: p99 ≤ 1 s at 10, 50 and 100 trades/s, in every run",
        tuple(
            Scenarios(
                FRESHNESS, rf"At {rate} trades per second every trade is served within the SLA", f"{rate} trades/s"
            )
            for rate in PLAN_RATES
        ),
        # judged from the figures, not from the rows' p99 step: the rows hold every run to 2 s,
        # the bound that held on every machine we measured; 1 s did not (docs/benchmarks.md,
        # "Our own 1 s target, machine to machine")
        (LatencyPercentiles(p99_limit=1.0),),
        environment={"driver": "local"},
    ),
    Criterion(
        "the real exchange's behaviour is handled",
        (_feature("The real exchange's behaviour"),),
        (ExactlyOnce(),),
    ),
    Criterion(
        "the full suite runs in under 5 minutes (the default run on the local stack)",
        tuple(_feature(f) for f in DEFAULT_FEATURES),
        (WallTime(300),),
        environment={"driver": "local"},
        not_with_tags=NOT_DEFAULT,
    ),
    Criterion(
        "the same features pass on the Docker Compose stack",
        tuple(_feature(f) for f in DEFAULT_FEATURES),
        (WallTime(),),
        environment={"driver": "compose"},
    ),
    Criterion(
        "the engine enforces the resource limits (compose)",
        (Scenarios(HEALTH, r"The container engine holds every service to its memory and CPU limits"),),
    ),
    Criterion(
        "the suite verifies a K2 it did not start, under that deployment's own names",
        (_feature(PIPELINE),),
        (ExactlyOnce(), WallTime()),
        environment={"driver": "external", "target": "k2-renamed"},
    ),
    Criterion(
        "against an exchange the suite cannot tell what to trade",
        (Scenarios(PIPELINE, r"The trades an exchange makes on its own over a window"),),
        (ExactlyOnce(),),
    ),
    Criterion(
        "a clustered platform (3 brokers, 2 consumers) loses and repeats nothing",
        (_feature("A clustered platform: three brokers and two consumers"),),
        (ExactlyOnce(),),
    ),
)

ELSEWHERE = (
    "the API holds to its own OpenAPI document under fuzzing (`tests/integration/test_api_fuzz.py`)",
    "the suite catches real defects (`make prove-defects`, matrix in `reports/defects.md`)",
    "the same on an Iceberg REST catalog (`make features-rest-catalog`)",
    "it passes 99.9 % of runs (`make soak RUNS=20`)",
)
"""Criteria no feature run's results can show: proved by other commands."""


# ------------------------------------------------------------------------------------ judging
@dataclass(frozen=True)
class Row:
    criterion: Criterion
    passed: int
    ran: int
    skipped: int
    figure: str
    result: str
    failures: tuple[ScenarioResult, ...] = ()

    @property
    def outcome(self) -> str:
        """The result's kind: MET, NOT_MET, NOT_RUN or PART_RUN (the result adds why)."""
        return next(k for k in (MET, NOT_MET, PART_RUN, NOT_RUN) if self.result.startswith(k))


def _environment_mismatch(criterion: Criterion, run: RunResults) -> str:
    wrong = [
        f"{k} {run.environment.get(k, 'unknown')}, not {v}"
        for k, v in criterion.environment.items()
        if run.environment.get(k) != v
    ]
    return "; ".join(wrong)


def judge(criterion: Criterion, run: RunResults, latency: Mapping[str, Any] | None) -> Row:
    """One criterion over the run. Met only when its scenarios ran and passed, every required one
    among them: a criterion judged on no scenario would pass on nothing."""
    mismatch = _environment_mismatch(criterion, run)
    if mismatch:
        return Row(criterion, 0, 0, 0, "–", f"{NOT_RUN} ({mismatch})")
    other = sorted({t for s in run.scenarios if s.ran for t in s.tags} & criterion.not_with_tags)
    if other:
        tags = ", ".join(f"@{t}" for t in other)
        return Row(criterion, 0, 0, 0, "–", f"{NOT_RUN} (it ran {tags} scenarios, so it is not the default run)")
    mine = [s for s in run.scenarios if any(m.matches(s) for m in criterion.proved_by)]
    ran = tuple(s for s in mine if s.ran)
    passed = sum(s.passed for s in ran)
    failures = tuple(s for s in ran if not s.passed)
    evidence = Evidence(ran, run, latency)
    shown = [f for f in (fig(evidence) for fig in criterion.figures) if f is not None] if ran else []
    figure = "; ".join(f.text for f in shown) or "–"

    def row(result: str) -> Row:
        return Row(criterion, passed, len(ran), len(mine) - len(ran), figure, result, failures)

    if not ran:
        return row(NOT_RUN)
    if failures:
        return row(NOT_MET)
    missing = [m.name for m in criterion.proved_by if m.required and not any(m.matches(s) for s in ran)]
    if missing:
        return row(f"{PART_RUN}: no {', '.join(missing)}")
    if any(f.ok is False for f in shown):
        return row(f"{NOT_MET} (figure over its bound)")
    return row(MET)


def evaluate(run: RunResults, latency: Mapping[str, Any] | None, criteria: Iterable[Criterion] = CRITERIA) -> list[Row]:
    return [judge(c, run, latency) for c in criteria]


# ------------------------------------------------------------------------------------ markdown
def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _first_line(message: str) -> str:
    """An assertion's first line: the verdict's summary, with its counts."""
    return _cell(next((line for line in message.splitlines() if line.strip()), "no message"))


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def total_line(rows: Sequence[Row]) -> str:
    kinds = [r.outcome for r in rows]
    return (
        f"{kinds.count(MET)} of {len(rows)} criteria met, {kinds.count(NOT_MET)} NOT MET, "
        f"{kinds.count(NOT_RUN)} not run in this run, {kinds.count(PART_RUN)} not run in full"
    )


def render(
    rows: Sequence[Row],
    run: RunResults,
    *,
    commit: str | None,
    written: datetime,
    notes: Sequence[str] = (),
    trend: str = "",
) -> str:
    """The report: a header on the run, one line of totals, the table, what failed, the trend."""
    env = run.environment
    ran = [s for s in run.scenarios if s.ran]
    setting = ", ".join(f"{k} {env[k]}" for k in ("driver", "target", "seed") if env.get(k))
    lines = [
        "# Success criteria: this run",
        "",
        f"Run of {_when(run.started_ms)} at commit {commit or 'unknown'}" + (f"; {setting}" if setting else "") + ".",
        f"Results: `{run.folder}`: {len(ran)} scenarios run, {sum(s.passed for s in ran)} passed, "
        f"in {seconds_text(run.seconds)} (first start to last stop). "
        f"Written {written.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `python -m harness criteria` "
        "(`make report`).",
        *(f"{n}" for n in notes),
        "",
        f"**{total_line(rows)}.**",
        "",
        "| criterion | scenarios (passed / run) | figure | result |",
        "|---|---|---|---|",
    ]
    for r in rows:
        scenarios = f"{r.passed} / {r.ran}" + (f" ({r.skipped} skipped)" if r.skipped else "")
        result = f"**{r.result}**" if r.outcome == NOT_MET else r.result
        lines.append(f"| {_cell(r.criterion.text)} | {scenarios} | {_cell(r.figure)} | {_cell(result)} |")
    failed = {s.title: s for r in rows for s in r.failures}
    if failed:
        lines += ["", "## What did not hold", ""]
        lines += [f"- {s.feature}: {s.title} ({s.status}): {_first_line(s.message)}" for s in failed.values()]
    if run.problems:
        lines += ["", "Result files left out: " + "; ".join(run.problems)]
    lines += [
        "",
        "Proved by other commands, not by a feature run: " + "; ".join(ELSEWHERE) + ". "
        "How each criterion is proved and measured: [docs/success-criteria.md](../docs/success-criteria.md).",
    ]
    if trend:
        lines += ["", trend]
    return "\n".join(lines) + "\n"
