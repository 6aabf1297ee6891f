"""A service of the stack declared as data: how to prepare, start, probe and initialise it.

The LocalDriver knows nothing about Kafka or PostgreSQL; it runs whatever a `ServiceSpec` says.
Each concrete service lives in `harness/stack/services/<name>.py`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.stack.components import Components
from harness.stack.settings import Credentials, StackSettings


class NotReady(Exception):
    """A readiness probe's answer: the service is not (yet) ready, and why."""


@dataclass(frozen=True)
class StackContext:
    """What a service spec may use to build its command line, environment and probes."""

    settings: StackSettings
    components: Components
    credentials: Credentials

    def port(self, name: str) -> int:
        return self.settings.ports[name]

    def data_dir(self, service: str) -> Path:
        return self.settings.data / service

    def run_dir(self, service: str) -> Path:
        return self.settings.run / service

    @property
    def host(self) -> str:
        return self.settings.host


def _nothing(ctx: StackContext) -> None:
    return None


def _no_env(ctx: StackContext) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    depends_on: tuple[str, ...]
    ports: tuple[str, ...]
    command: Callable[[StackContext], list[str]]
    ready: Callable[[StackContext], str]
    """One real client call; returns a short detail when ready, raises NotReady otherwise."""
    env: Callable[[StackContext], dict[str, str]] = _no_env
    prepare: Callable[[StackContext], None] = _nothing
    """Idempotent set-up before a start: config files, storage format, initdb."""
    initialise: Callable[[StackContext], None] = _nothing
    """Idempotent set-up once ready: databases, buckets. Runs before dependents start."""
    stop_signal: signal.Signals = signal.SIGTERM
    run_as: str | None = None
    """OS user to run as when the harness runs as root (PostgreSQL refuses to run as root)."""
    memory_budget_mb: int = 512
    """The most memory the service may use under the suite's load (proportional set size of its
    process tree); the stack health feature holds it to this, the compose file's limits match it."""
    restart: str = "no"
    """Restart policy, as in Docker Compose: "no", or "on-failure" (the stack's supervisor starts
    the service again when it exits without being asked to)."""
    ready_within: float = 90.0
    stop_grace: float = 20.0
    description: str = ""
