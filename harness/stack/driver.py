"""What every way of running the stack offers the suite: the StackDriver protocol and its reports.

Scenarios never know which driver runs (LocalDriver: native processes; ComposeDriver: Docker).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from harness.endpoints import Endpoints

ServiceState = Literal["ready", "starting", "stopped", "failed", "paused"]


class StackError(RuntimeError):
    """The stack could not do what was asked; the message says which service and why."""


@dataclass
class Resources:
    """Use of a service's whole process tree. Memory is the proportional set size (shared pages
    split between the processes that share them): PostgreSQL's 29 processes all map the same
    shared buffers, and summing their resident sizes would count those many times."""

    memory_bytes: int
    cpu_seconds: float
    cpu_percent: float
    processes: int

    @property
    def memory_mb(self) -> float:
        return self.memory_bytes / 2**20


@dataclass(frozen=True)
class EnforcedLimits:
    """What a container engine holds a service to, and what it saw of it under those limits."""

    memory_mb: float | None
    """The hard memory limit (the kernel kills the service beyond it); None: no limit."""
    cpus: float | None
    """The CPU quota in cores; None: no limit."""
    peak_memory_mb: float | None
    """The highest memory use the engine recorded (cgroup v1 counts page cache in it); None: not kept."""
    cpu_periods: int
    throttled_periods: int
    """Scheduling periods the service ran in, and those in which its CPU quota held it back."""
    throttled_seconds: float
    oom_killed: bool


@dataclass
class ServiceStatus:
    name: str
    state: ServiceState
    detail: str = ""
    pid: int | None = None
    ports: dict[str, int] = field(default_factory=dict)
    started_at: float | None = None
    ready_at: float | None = None
    restarts: int = 0
    memory_mb: float | None = None
    cpu_seconds: float | None = None
    log: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"


@dataclass
class StackStatus:
    profile: str | None
    services: dict[str, ServiceStatus]
    endpoints: Endpoints

    @property
    def ready(self) -> bool:
        return bool(self.services) and all(s.ready for s in self.services.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "services": {n: asdict(s) for n, s in self.services.items()},
            "clients": self.endpoints.to_json(),
        }


class StackDriver(Protocol):
    def up(self, profile: str) -> StackStatus: ...

    def down(self, purge: bool = False) -> list[str]: ...

    def status(self, resources: bool = True) -> StackStatus:
        """Every service's state; `resources=False` skips memory and CPU (a quicker readiness check)."""
        ...

    def health(self, service: str, resources: bool = True) -> ServiceStatus: ...

    def start(self, service: str) -> ServiceStatus: ...

    def stop(self, service: str) -> None: ...

    def kill(self, service: str, stay_down: bool = False) -> None: ...

    def restart(self, service: str) -> ServiceStatus: ...

    def pause(self, service: str) -> None: ...

    def resume(self, service: str) -> None: ...

    def logs(self, service: str, tail: int | None = None) -> str: ...

    def log_mark(self, service: str) -> Any:
        """Where the service's log ends now (a file offset, a timestamp: the driver's choice)."""
        ...

    def logs_since(self, service: str, mark: Any) -> str:
        """What the service logged after `mark` (all of it when the mark is None)."""
        ...

    def resources(self, service: str) -> Resources: ...

    def endpoints(self) -> Endpoints: ...

    def leftovers(self) -> list[str]:
        """What of the stack still exists after `down`: processes, taken ports (empty when clean)."""
        ...

    def enforced_limits(self, service: str) -> EnforcedLimits | None:
        """The engine's limits on the service and what it measured under them; None when this
        driver runs services under no engine that enforces limits (the local stack's processes)."""
        ...

    def memory_budgets(self) -> dict[str, int]:
        """Each service's memory budget in MiB (the same limits the compose file sets)."""
        ...

    def versions(self) -> dict[str, str]: ...
