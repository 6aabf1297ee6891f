"""What the stack wrote while one scenario ran: its log lines, and any sign of a crash in them.

Logs are cut at the scenario's start (a mark per service), so a report shows only the scenario's
own lines, and a crash in an earlier scenario is never blamed on a later one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.stack.driver import StackDriver

CRASH_SIGNATURES: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.MULTILINE) for name, pattern in {
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
}.items()}

UNEXPECTED_EXIT = re.compile(r"\[supervisor\] (\S+) exited unexpectedly")
SUPERVISOR = "supervisor"


def crash_signatures(service: str, text: str, limit: int = 5) -> list[str]:
    """`service: signature: the line` for each crash signature found, at most `limit`."""
    found = []
    for name, pattern in CRASH_SIGNATURES.items():
        for match in pattern.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            line = text[start:end if end >= 0 else None].strip()
            found.append(f"{service}: {name}: {line[:200]}")
            if len(found) >= limit:
                return found
    return found


def unexpected_exits(supervisor_log: str, crashed: Iterable[str]) -> list[str]:
    """Services the supervisor had to restart although the scenario did not crash them."""
    wanted = set(crashed)
    return [f"{name} exited unexpectedly and was restarted by the supervisor"
            for name in dict.fromkeys(UNEXPECTED_EXIT.findall(supervisor_log)) if name not in wanted]


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

    def findings(self, slices: Mapping[str, str], crashed: Iterable[str]) -> list[str]:
        found = [f for n, text in slices.items() if n != SUPERVISOR for f in crash_signatures(n, text)]
        return found + unexpected_exits(slices.get(SUPERVISOR, ""), crashed)

    @staticmethod
    def save(slices: Mapping[str, str], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in slices.items():
            if text:
                (directory / f"{name}.log").write_text(text)
