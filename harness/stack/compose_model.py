"""The compose stack as data: what `docker compose config --format json` says of a compose file.

Compose itself reads the files, merges the override, interpolates the variables (compose/.env
and the environment) and normalises every short syntax; the driver reads its JSON, so file and
driver cannot disagree, and a user's own compose file is read by the same rules as ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.stack.driver import StackError
from harness.stack.ordering import dependencies_first

ONE_SHOT_LABEL = "k2.one-shot"
"""Set in a compose file on services that run once and exit (say, one that makes a bucket): not part of status."""


class ComposeFileError(StackError):
    """The compose file is missing, malformed, or needs a variable that is not set."""


_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmgtp]?)(?:i?b)?", re.IGNORECASE)
_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>us|ms|h|m|s)")
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_bytes(value: str | int) -> int:
    """A memory size as compose prints it (bytes, "805306368") or as people write it ("768M", "1g")."""
    if isinstance(value, int):
        return value
    m = _SIZE.fullmatch(value.strip())
    if m is None:
        raise ComposeFileError(f"memory size {value!r} is not like 768M")
    power = " kmgtp".index(m.group("unit").lower() or " ")
    return int(float(m.group("number")) * 1024**power)


def parse_duration(value: str | int | float) -> float:
    """A compose duration ("30s", "1m0s", "500ms") in seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ComposeFileError(f"duration {value!r} is not like 30s or 1m30s")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]
    interval: float
    timeout: float
    retries: int
    start_period: float


@dataclass(frozen=True)
class ComposeService:
    name: str
    image: str
    built: bool
    profiles: tuple[str, ...]
    depends_on: Mapping[str, str]
    """Service -> condition (service_started, service_healthy, service_completed_successfully)."""
    healthcheck: Healthcheck | None
    restart: str
    memory_mb: int | None
    cpus: float | None
    ports: tuple[PublishedPort, ...]
    one_shot: bool
    init: bool
    stop_grace: float
    labels: Mapping[str, str]
    environment: Mapping[str, str]

    @property
    def ready_within(self) -> float:
        """How long a start may take: the health check's own patience (its start period, then
        every retry), plus a margin for the container to start at all."""
        h = self.healthcheck
        if h is None:
            return 60.0
        return h.start_period + (h.interval + h.timeout) * h.retries + 15.0

    @property
    def restarts_on_failure(self) -> bool:
        return self.restart.startswith("on-failure") or self.restart in ("always", "unless-stopped")

    @staticmethod
    def parse(name: str, raw: Mapping[str, Any]) -> ComposeService:
        """One service of compose's normalised JSON (long syntax everywhere, durations like "1m0s")."""
        deps = raw.get("depends_on") or {}
        hc = raw.get("healthcheck")
        healthcheck = None
        if hc and not hc.get("disable") and hc.get("test") not in (None, ["NONE"]):
            test = hc["test"]
            healthcheck = Healthcheck(
                test=tuple(test) if isinstance(test, list) else ("CMD-SHELL", str(test)),
                interval=parse_duration(hc.get("interval", "30s")),
                timeout=parse_duration(hc.get("timeout", "30s")),
                retries=int(hc.get("retries", 3)),
                start_period=parse_duration(hc.get("start_period", "0s")),
            )
        limits = ((raw.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        memory = limits.get("memory", raw.get("mem_limit"))
        cpus = limits.get("cpus", raw.get("cpus"))
        labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
        ports = tuple(
            PublishedPort(str(p.get("host_ip") or ""), int(p["published"]), int(p["target"]))
            for p in raw.get("ports") or ()
            if p.get("published") not in (None, "")
        )
        return ComposeService(
            name=name,
            image=str(raw.get("image") or ""),
            built="build" in raw,
            profiles=tuple(raw.get("profiles") or ()),
            depends_on={d: str((c or {}).get("condition", "service_started")) for d, c in deps.items()},
            healthcheck=healthcheck,
            restart=str(raw.get("restart") or "no"),
            memory_mb=parse_bytes(memory) // 2**20 if memory is not None else None,
            cpus=float(cpus) if cpus is not None else None,
            ports=ports,
            one_shot=labels.get(ONE_SHOT_LABEL, "").lower() == "true",
            init=bool(raw.get("init", False)),
            stop_grace=parse_duration(raw.get("stop_grace_period") or "10s"),
            labels=labels,
            environment={str(k): "" if v is None else str(v) for k, v in (raw.get("environment") or {}).items()},
        )


ConfigRunner = Callable[[list[str]], tuple[int, str]]
"""Runs `docker compose ... config --format json`: exit code and output (stdout, else stderr)."""


@dataclass(frozen=True)
class ComposeProject:
    name: str
    services: dict[str, ComposeService]

    @staticmethod
    def from_config(doc: Mapping[str, Any]) -> ComposeProject:
        services = doc.get("services")
        if not doc.get("name") or not isinstance(services, dict):
            raise ComposeFileError("`docker compose config` gave no project name or no services")
        return ComposeProject(
            name=str(doc["name"]), services={n: ComposeService.parse(n, s or {}) for n, s in services.items()}
        )

    @staticmethod
    def load(command: Sequence[str], runner: ConfigRunner) -> ComposeProject:
        """Run `command` (a `docker compose ... config --format json`) and read its answer."""
        code, output = runner([*command])
        if code != 0:
            lines = [line for line in output.strip().splitlines() if line.strip()]
            raise ComposeFileError(
                f"`docker compose config` refused the compose file: {lines[-1] if lines else f'exit code {code}'}"
            )
        try:
            doc = json.loads(output)
        except json.JSONDecodeError:
            raise ComposeFileError(f"`docker compose config --format json` printed no JSON: {output[:200]!r}") from None
        return ComposeProject.from_config(doc)

    @staticmethod
    def read(path: Path) -> ComposeProject:
        """A recorded `docker compose config --format json` (the unit tests' fixtures)."""
        return ComposeProject.from_config(json.loads(path.read_text()))

    def long_running(self) -> list[str]:
        return [n for n, s in self.services.items() if not s.one_shot]

    def in_profile(self, profile: str) -> list[str]:
        """The long-running services a profile starts, dependencies first."""
        return self.order([n for n in self.long_running() if profile in self.services[n].profiles])

    def order(self, names: Sequence[str]) -> list[str]:
        """Dependencies first (one-shot services count for the order but are left out)."""
        try:
            done = dependencies_first(names, lambda n: [d for d in self.services[n].depends_on if d in self.services])
        except ValueError as exc:
            raise ComposeFileError(str(exc)) from None
        wanted = set(names)
        return [n for n in done if n in wanted]
