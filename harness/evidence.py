"""What the stack wrote while one scenario ran: its log lines, and any sign of a crash in them.

Logs are cut at the scenario's start (a mark per service), so a report shows only the scenario's
own lines, and a crash in an earlier scenario is never blamed on a later one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.stack.driver import StackDriver

CRASH_SIGNATURES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.MULTILINE)
    for name, pattern in {
        # an exception that escaped to the interpreter (k2 logs its handled ones as JSON lines)
        "uncaught Python exception": r"^Traceback \(most recent call last\):",
        "Python fatal error": r"Fatal Python error",
        "unhandled error in an API request": r"Exception in ASGI application",
        "critical log line": r'"level": "critical"',
        "JVM out of memory": r"java\.lang\.OutOfMemoryError",
        "JVM crash": r"A fatal error has been detected by the Java Runtime Environment",
        "Go panic": r"^panic: ",
        "Go runtime fatal error": r"^fatal error: ",
        "PostgreSQL panic": r"\bPANIC: ",
        "segmentation fault": r"Segmentation fault|SIGSEGV",
    }.items()
}

# k2 logs JSON lines; another platform's plain lines are matched by their level word
TROUBLE_LINE = re.compile(
    r'"level": "(?:error|critical|warning)"|\b(?:ERROR|CRITICAL|WARNING|WARN)\b|^Traceback', re.MULTILINE
)
PLATFORM_SERVICES = ("ingest", "consumer", "api")

UNEXPECTED_EXIT = re.compile(r"\[supervisor\] (\S+) exited unexpectedly")
SUPERVISOR = "supervisor"


def crash_signatures(service: str, text: str, limit: int = 5) -> list[str]:
    """`service: signature: the line` for each crash signature found, at most `limit`."""
    found = []
    for name, pattern in CRASH_SIGNATURES.items():
        for match in pattern.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            line = text[start : end if end >= 0 else None].strip()
            found.append(f"{service}: {name}: {line[:200]}")
            if len(found) >= limit:
                return found
    return found


def trouble_lines(
    slices: Mapping[str, str], services: Iterable[str] = PLATFORM_SERVICES, per_service: int = 3
) -> list[str]:
    """The first error or warning lines each platform service logged: what it said went wrong."""
    found = []
    for service in services:
        lines = [line for line in slices.get(service, "").splitlines() if TROUBLE_LINE.search(line)]
        for line in lines[:per_service]:
            found.append(f"{service} logged: {_readable(line)}")
        if len(lines) > per_service:
            found.append(f"{service} logged {len(lines) - per_service} more such lines")
    return found


def _readable(line: str) -> str:
    """A JSON log line as `time level msg (the other fields)`, anything else as it is; cut at 300."""
    try:
        record = json.loads(line)
    except ValueError:
        return line.strip()[:300]
    if not isinstance(record, dict):
        return line.strip()[:300]
    head = " ".join(str(record.pop(k)) for k in ("ts", "level", "msg") if k in record)
    # a traceback's last line is the exception itself: what a reader needs first
    rest = ", ".join(f"{k} {_last_line(v)}" for k, v in record.items() if k not in ("service", "logger"))
    return f"{head} ({rest})"[:300] if rest else head[:300]


def _last_line(value: Any) -> Any:
    if isinstance(value, str) and "\n" in value.strip():
        return value.strip().splitlines()[-1].strip()
    return value


def cause_of_failure(
    dead_letters: Iterable[Mapping[str, Any]], slices: Mapping[str, str], health: Mapping[str, str] | None = None
) -> list[str]:
    """What the stack showed meanwhile that may explain lost or wrong trades: dead letters written
    (how many, the first reasons), the error lines the platform's services logged, and the last
    health answer of each platform service."""
    letters = list(dead_letters)
    lines = []
    if letters:
        reasons = list(dict.fromkeys(str(d.get("reason", "?"))[:200] for d in letters))
        lines.append(f"dead letters written meanwhile: {len(letters)}; first reasons: " + "; ".join(reasons[:3]))
    lines += trouble_lines(slices)
    if health:
        lines.append("health now: " + "; ".join(f"{name} {answer}" for name, answer in health.items()))
    return lines


def unexpected_exits(supervisor_log: str, crashed: Iterable[str]) -> list[str]:
    """Services the supervisor had to restart although the scenario did not crash them."""
    wanted = set(crashed)
    return [
        f"{name} exited unexpectedly and was restarted by the supervisor"
        for name in dict.fromkeys(UNEXPECTED_EXIT.findall(supervisor_log))
        if name not in wanted
    ]


@dataclass
class ScenarioLogs:
    driver: StackDriver
    services: list[str]
    marks: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def begin(driver: StackDriver, services: Iterable[str]) -> ScenarioLogs:
        names = [*services, SUPERVISOR]
        return ScenarioLogs(driver, names, {n: driver.log_mark(n) for n in names})

    def since_start(self) -> dict[str, str]:
        return {n: self.driver.logs_since(n, self.marks.get(n)) for n in self.services}

    def of(self, service: str) -> str | None:
        """One service's lines since the scenario began; None when the stack has no such log."""
        if service not in self.services:
            return None
        try:
            return self.driver.logs_since(service, self.marks.get(service))
        except Exception:  # a driver that cannot read this service's log (e.g. an external K2)
            return None

    def findings(self, slices: Mapping[str, str], crashed: Iterable[str]) -> list[str]:
        found = [f for n, text in slices.items() if n != SUPERVISOR for f in crash_signatures(n, text)]
        return found + unexpected_exits(slices.get(SUPERVISOR, ""), crashed)

    @staticmethod
    def save(slices: Mapping[str, str], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in slices.items():
            if text:
                (directory / f"{name}.log").write_text(text)
