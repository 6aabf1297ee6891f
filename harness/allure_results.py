"""One run's Allure results, as allure-behave writes them: each scenario's status, times, steps and
text attachments, and the run's environment.properties. Reading only; judging is criteria.py's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.verdict import VerdictSummary, read_summaries

RAN = ("passed", "failed", "broken")


class ResultsMissing(Exception):
    """No results to read: the message names the folder and what writes it."""


@dataclass(frozen=True)
class StepResult:
    name: str
    status: str
    start_ms: int
    stop_ms: int

    @property
    def seconds(self) -> float:
        return (self.stop_ms - self.start_ms) / 1000


@dataclass(frozen=True)
class ScenarioResult:
    feature: str
    title: str
    """The scenario's name with an outline's values, without behave's " -- @1.1 ..." suffix."""
    status: str
    start_ms: int
    stop_ms: int
    message: str = ""
    tags: frozenset[str] = frozenset()
    steps: tuple[StepResult, ...] = ()
    texts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Text attachments by name, in the order they were attached (a name may repeat)."""

    @property
    def ran(self) -> bool:
        return self.status in RAN

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def verdicts(self) -> list[VerdictSummary]:
        return [v for text in self.texts.get("verdicts", ()) for v in read_summaries(text)]


@dataclass(frozen=True)
class RunResults:
    folder: Path
    scenarios: tuple[ScenarioResult, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    """Result files that could not be read, each with why (they are left out, not guessed at)."""

    @property
    def started_ms(self) -> int:
        return min((s.start_ms for s in self.scenarios), default=0)

    @property
    def stopped_ms(self) -> int:
        return max((s.stop_ms for s in self.scenarios), default=0)

    @property
    def seconds(self) -> float:
        return (self.stopped_ms - self.started_ms) / 1000


def _steps(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The node's steps and theirs, depth first: verdicts are attached inside the step that judged."""
    out: list[Mapping[str, Any]] = []
    for step in node.get("steps") or []:
        out += [step, *_steps(step)]
    return out


def _texts(nodes: list[Mapping[str, Any]], folder: Path) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for node in nodes:
        for att in node.get("attachments") or []:
            path = folder / str(att.get("source", ""))
            if att.get("type") != "text/plain" or not path.is_file():
                continue
            found.setdefault(str(att.get("name", "")), []).append(path.read_text(errors="replace"))
    return {k: tuple(v) for k, v in found.items()}


def scenario_from(raw: Mapping[str, Any], folder: Path) -> ScenarioResult:
    """One *-result.json; `folder` holds its attachments."""
    labels = [(str(lb.get("name")), str(lb.get("value"))) for lb in raw.get("labels") or []]
    full_name = str(raw.get("fullName", ""))
    feature = next((v for k, v in labels if k == "feature"), full_name.partition(": ")[0])
    steps = _steps(raw)
    return ScenarioResult(
        feature=feature,
        title=str(raw.get("name", "")).split(" -- ")[0].strip(),
        status=str(raw.get("status", "unknown")),
        start_ms=int(raw.get("start") or 0),
        stop_ms=int(raw.get("stop") or 0),
        message=str((raw.get("statusDetails") or {}).get("message") or ""),
        tags=frozenset(v for k, v in labels if k == "tag"),
        steps=tuple(
            StepResult(
                str(s.get("name", "")), str(s.get("status", "")), int(s.get("start") or 0), int(s.get("stop") or 0)
            )
            for s in steps
        ),
        texts=_texts([raw, *steps], folder),
    )


def read_properties(text: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, _, v in pairs}


def load(folder: Path) -> RunResults:
    """Every scenario of the run in `folder`; ResultsMissing when there is none to read."""
    files = sorted(folder.glob("*-result.json")) if folder.is_dir() else []
    if not files:
        what = "no folder" if not folder.is_dir() else "no *-result.json in it"
        raise ResultsMissing(
            f"no Allure results at {folder} ({what}): the features write them "
            "(`make features`, `make acceptance` or `.venv/bin/behave`)"
        )
    scenarios, problems = [], []
    for path in files:
        try:
            raw = json.loads(path.read_text())
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            scenarios.append(scenario_from(raw, folder))
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"{path.name}: {exc}")
    props = folder / "environment.properties"
    environment = read_properties(props.read_text()) if props.is_file() else {}
    ordered = tuple(sorted(scenarios, key=lambda s: (s.start_ms, s.feature, s.title)))
    return RunResults(folder, ordered, environment, tuple(problems))
