"""ComposeDriver: the stack as Docker Compose services (compose/docker-compose.yml), for teams with Docker.

`up` and `down` run the `docker compose` CLI, the one thing the Docker SDK cannot do (start a
compose project with its profiles, builds, dependency order and `--wait`). Everything else, state,
health, faults, logs and resource use, goes through the Docker Engine API with the `docker` SDK,
finding the project's containers by the labels compose puts on them
(`com.docker.compose.project`, `com.docker.compose.service`).

The services, their names, profiles, host ports and components are the local stack's (scenarios
never know which driver runs), the Iceberg catalog included: pyiceberg's SqlCatalog on the stack's
PostgreSQL. One-shot services of a user's compose file (labelled `k2.one-shot`) are left out of status.

What the driver knows about the stack (memory limits, images, published ports, dependencies,
restart policies) it reads from `docker compose config --format json` (harness/stack/compose_model.py),
so file and driver cannot disagree. Secrets come from the environment over `compose/.env`, the same
values `docker compose` interpolates.

The platform's services are the platform file's (K2_PLATFORM_FILE), as under the local driver: for a
file whose roles differ from the reference K2's, the driver writes a compose override beside the
compose file (harness/stack/compose_platform.py: command, environment, health check, memory limit
of each changed role; one more for profile faultable, with the links through toxiproxy) and passes
it to every `docker compose` command after the compose file's own.
"""

from __future__ import annotations

import calendar
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import docker
import docker.errors
import httpx
import requests

from harness.endpoints import Catalog, Endpoints
from harness.stack import catalog as local_catalog
from harness.stack import compose_platform
from harness.stack.compose_model import ONE_SHOT_LABEL, ComposeFileError, ComposeProject, ComposeService
from harness.stack.driver import EnforcedLimits, Resources, ServiceState, ServiceStatus, StackError, StackStatus
from harness.stack.envfile import read_env_file
from harness.stack.platform_file import REFERENCE, PlatformFile
from harness.stack.processes import port_free
from harness.stack.services import PROFILES, profile_services, toxiproxy
from harness.stack.services import object_store as object_store_service
from harness.stack.services import platform as platform_services
from harness.stack.services import schema_registry as schema_registry_service
from harness.stack.settings import HOST, REPO_ROOT
from harness.waiting import ConditionTimeout, eventually

LOCAL_ONLY = {
    "cluster": "three Kafka nodes and two consumers run as native processes on the local driver only; "
    "use -D driver=local (or `stack up --profile cluster`)"
}
COMPOSE_PROFILES = tuple(p for p in PROFILES if p not in LOCAL_ONLY)

Say = Callable[[str], None]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"  # containers of `docker compose run`: not the service itself
LINKS_LABEL = "k2.links"
"""Set by the faultable override on the platform services that reach the infrastructure through toxiproxy."""

DEFAULT_COMPOSE_FILE = REPO_ROOT / "compose" / "docker-compose.yml"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
__all__ = [
    "ONE_SHOT_LABEL",
    "ComposeDriver",
    "ComposeFileError",
    "ComposeProject",
    "ComposeService",
    "ComposeSettings",
    "read_env_file",
]

# A service stopped by `docker stop` exits on its stop signal: 0, or 128 + SIGTERM / SIGINT.
GRACEFUL_EXIT_CODES = frozenset({0, 128 + signal.SIGTERM, 128 + signal.SIGINT})
# Run inside a container with docker-init as PID 1: kill(-1) reaches every process but PID 1 and
# the caller, so the service dies of SIGKILL like a crash, and the restart policy applies (a kill
# through the API counts as a manual stop, after which Docker restarts nothing).
CRASH_COMMAND = ["python", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"]
DOCKER_TIMEOUT = 60.0


# ------------------------------------------------------------------------------------------------
# What the Engine API says, in the StackDriver's terms (pure functions: unit-tested directly).

_TIMESTAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?")


def timestamp_ns(value: str | None) -> int | None:
    """An RFC 3339 time of the Engine API (nanoseconds, Z or an offset) in ns since the epoch;
    None for Docker's "never" (0001-01-01...) or nothing."""
    m = _TIMESTAMP.match(value or "")
    if m is None or m.group(1) == "0001":
        return None
    seconds = calendar.timegm((*(int(g) for g in m.groups()[:6]), 0, 0, 0))
    zone = m.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 10**9 + int((m.group(7) or "0").ljust(9, "0"))


def epoch(value: str | None) -> float | None:
    ns = timestamp_ns(value)
    return None if ns is None else ns / 1e9


def _last_output(health: Mapping[str, Any]) -> str:
    log = health.get("Log") or []
    if not log:
        return ""
    lines = [line.strip() for line in str(log[-1].get("Output") or "").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def container_state(attrs: Mapping[str, Any], stopped_on_purpose: bool = False) -> tuple[ServiceState, str]:
    """A container's state as a service state, with a detail a person can act on.

    Running and healthy is ready; running while the health check has not passed (or fails) is
    starting, as a local service whose probe fails; exited on its stop signal, or stopped by this
    driver, is stopped; any other exit, an out-of-memory kill, or a restart in progress is failed.
    """
    state = attrs.get("State") or {}
    status = str(state.get("Status", ""))
    health = state.get("Health") or {}
    last = _last_output(health)
    said = f": {last}" if last else ""
    code = int(state.get("ExitCode") or 0)
    if status == "running":
        h = health.get("Status")
        if h in (None, "", "none"):
            return "ready", "running (no health check)"
        if h == "healthy":
            return "ready", f"healthy{said}"
        if h == "starting":
            return "starting", f"health check not passed yet{said}"
        return "starting", f"unhealthy, {health.get('FailingStreak', 0)} failed checks in a row{said}"
    if status == "paused":
        return "paused", "container is paused (cgroup freezer)"
    if status == "restarting":
        return "failed", f"exited with code {code}; the restart policy is starting it again"
    if status in ("exited", "dead"):
        if state.get("OOMKilled"):
            return "failed", f"killed for using more memory than its limit (exit code {code})"
        if stopped_on_purpose or (status == "exited" and code in GRACEFUL_EXIT_CODES):
            return "stopped", f"stopped (exit code {code})"
        error = f": {state['Error']}" if state.get("Error") else ""
        return "failed", f"exited unexpectedly with code {code}{error}"
    if status == "created":
        return "stopped", "created, never started"
    if status == "removing":
        return "stopped", "being removed"
    return "failed", f"unknown container state {status!r}"


HEALTH_LOG_KEPT = 5  # Docker keeps a container's last five health check results


def ready_since(health: Mapping[str, Any], started_ns: int | None) -> float | None:
    """When the health check first passed in the container's current run, if Docker's health log
    still shows it: the end of the first passing check after a failing one, or of the first check
    at all while the log has dropped nothing. None once that moment has scrolled out of the log."""
    log = list(health.get("Log") or [])
    entries = []
    for entry in log:
        start = timestamp_ns(entry.get("Start"))
        if start is not None and (started_ns is None or start >= started_ns):
            entries.append((start, timestamp_ns(entry.get("End")) or start, int(entry.get("ExitCode", 1))))
    entries.sort()
    complete = len(log) < HEALTH_LOG_KEPT
    first_pass, failed_before = None, False
    for _, end, code in entries:
        if code != 0:
            first_pass, failed_before = None, True
        elif first_pass is None:
            first_pass = end
    if first_pass is None or not (failed_before or complete):
        return None
    return first_pass / 1e9


def limits_from(attrs: Mapping[str, Any], stats: Mapping[str, Any]) -> EnforcedLimits:
    """A container's limits (its HostConfig) and what the engine measured under them (one stats
    sample: the cgroup's peak memory, kept by cgroup v1 only, and its CPU throttling counters)."""
    host = attrs.get("HostConfig") or {}
    memory = int(host.get("Memory") or 0)
    if host.get("NanoCpus"):
        cpus: float | None = int(host["NanoCpus"]) / 1e9
    elif host.get("CpuQuota") and int(host["CpuQuota"]) > 0:
        cpus = int(host["CpuQuota"]) / int(host.get("CpuPeriod") or 100_000)
    else:
        cpus = None
    peak = (stats.get("memory_stats") or {}).get("max_usage")
    throttling = (stats.get("cpu_stats") or {}).get("throttling_data") or {}
    return EnforcedLimits(
        memory_mb=memory / 2**20 if memory > 0 else None,
        cpus=cpus,
        peak_memory_mb=int(peak) / 2**20 if peak else None,
        cpu_periods=int(throttling.get("periods") or 0),
        throttled_periods=int(throttling.get("throttled_periods") or 0),
        throttled_seconds=int(throttling.get("throttled_time") or 0) / 1e9,
        oom_killed=bool((attrs.get("State") or {}).get("OOMKilled")),
    )


def resources_from_stats(stats: Mapping[str, Any]) -> Resources:
    """One `docker stats` sample as Resources. Memory is the cgroup's usage less the page cache
    the kernel may drop (inactive files on cgroup v2 or v1, else the whole cache), which is what
    `docker stats` shows and what the memory limit is about; CPU percent is over the sample's
    interval, 100 % per core, as `docker stats` computes it."""
    mem = stats.get("memory_stats") or {}
    usage = int(mem.get("usage") or 0)
    detail = mem.get("stats") or {}
    for key in ("inactive_file", "total_inactive_file", "cache"):
        if key in detail and 0 <= int(detail[key]) <= usage:
            usage -= int(detail[key])
            break
    cpu = stats.get("cpu_stats") or {}
    pre = stats.get("precpu_stats") or {}
    total = int((cpu.get("cpu_usage") or {}).get("total_usage") or 0)
    cpu_delta = total - int((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    system_delta = int(cpu.get("system_cpu_usage") or 0) - int(pre.get("system_cpu_usage") or 0)
    online = int(cpu.get("online_cpus") or 0) or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    percent = cpu_delta / system_delta * online * 100.0 if cpu_delta > 0 and system_delta > 0 else 0.0
    return Resources(
        memory_bytes=usage,
        cpu_seconds=total / 1e9,
        cpu_percent=round(percent, 1),
        processes=int((stats.get("pids_stats") or {}).get("current") or 0),
    )


# ------------------------------------------------------------------------------------------------
# Settings and the `docker compose` runner.


@dataclass(frozen=True)
class ComposeSettings:
    compose_file: Path
    env: Mapping[str, str] = field(repr=False)
    """The process environment over compose/.env: what compose interpolates the file with (holds secrets)."""
    docker_host: str = DEFAULT_DOCKER_HOST
    host: str = HOST

    @property
    def env_file(self) -> Path:
        return self.compose_file.parent / ".env"

    @property
    def faultable_file(self) -> Path:
        """The override of profile faultable: `<name>.faultable.yml` beside the compose file."""
        return self.compose_file.with_name(f"{self.compose_file.stem}.faultable{self.compose_file.suffix}")

    def platform_override_file(self, faultable: bool) -> Path:
        """Where the driver writes the platform file's override (compose_platform), for profile
        faultable or for the others, beside the compose file."""
        name = compose_platform.FAULTABLE_OVERRIDE_NAME if faultable else compose_platform.OVERRIDE_NAME
        return self.compose_file.parent / name

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None, compose_file: str | Path | None = None) -> ComposeSettings:
        env = os.environ if env is None else env
        path = Path(compose_file or env.get("K2_COMPOSE_FILE") or DEFAULT_COMPOSE_FILE)
        path = (path if path.is_absolute() else REPO_ROOT / path).resolve()
        if not path.is_file():
            raise ComposeFileError(
                f"compose file {path} not found; point -D compose_file= (or K2_COMPOSE_FILE) "
                f"at it, e.g. compose/docker-compose.yml"
            )
        # as in compose: a variable of the environment wins over the same one in .env
        merged = {**read_env_file(path.parent / ".env"), **env}
        return ComposeSettings(compose_file=path, env=merged, docker_host=env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    output: str
    """The last lines the command printed (stdout and stderr together)."""


Runner = Callable[[list[str], Mapping[str, str]], RunResult]


def run_config(cmd: list[str]) -> tuple[int, str]:
    """`docker compose ... config --format json`: its JSON, or what it said when it refused."""
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise StackError("the `docker` CLI is not installed; run `make setup-docker`, or use -D driver=local") from None
    except subprocess.TimeoutExpired:
        return 124, "`docker compose config` gave no answer within 60 s"
    if proc.returncode != 0 and "is not a docker command" in proc.stderr + proc.stdout:
        raise StackError(
            "`docker compose` (the Compose CLI plugin, v2+) is not installed; run `make setup-docker`, "
            "or use -D driver=local"
        )
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr


def run_streaming(cmd: list[str], env: Mapping[str, str], say: Say) -> RunResult:
    """Run a command, passing each line it prints to `say` as it comes (a `docker compose up`
    that pulls and builds takes minutes: silence would look like a hang)."""
    tail: collections.deque[str] = collections.deque(maxlen=40)
    with subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                tail.append(line)
                say(f"[compose] {line}")
        returncode = proc.wait()
    return RunResult(returncode, "\n".join(tail))


def create_namespace(spec: Catalog) -> None:
    """The catalog's namespace (`endpoints()["catalog"]`), made if missing."""
    local_catalog.create_namespace(spec.name, local_catalog.NAMESPACE, spec.properties)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400] or type(exc).__name__


def _quiet(_: str) -> None:
    return None


class _Gone(StackError):
    """The service exited and nothing will start it again: waiting for it is pointless."""


# ------------------------------------------------------------------------------------------------


class ComposeDriver:
    def __init__(
        self,
        settings: ComposeSettings | None = None,
        say: Say = _quiet,
        runner: Runner | None = None,
        client_factory: Callable[[str], Any] | None = None,
        wait_timeout: float = 600.0,
        config_runner: Callable[[list[str]], tuple[int, str]] | None = None,
        catalog_initialiser: Callable[[Catalog], None] | None = None,
        platform: PlatformFile | None = None,
    ) -> None:
        self.settings = settings or ComposeSettings.from_env()
        self.platform = platform or platform_services.PLATFORM
        """The platform file whose services run (K2_PLATFORM_FILE, by default)."""
        self.say = say
        self._runner: Runner = runner or (lambda cmd, env: run_streaming(cmd, env, self.say))
        self._client_factory = client_factory or (lambda url: docker.DockerClient(base_url=url, timeout=DOCKER_TIMEOUT))
        self.wait_timeout = wait_timeout
        self._lock = threading.RLock()
        self._client: Any = None
        self._stopped: set[str] = set()  # container ids stopped on purpose by this driver
        self._ready_seen: dict[tuple[str, int | None], float] = {}
        self._built = False  # images are built (or found up to date) once per driver, at its first `up`
        self._initialise_catalog_with = catalog_initialiser or create_namespace
        self.port_free: Callable[[str, int], bool] = port_free
        config = config_runner or run_config
        self._platform_overrides: dict[bool, Path] = {}  # faultable or not -> the platform file's override
        # every profile of the base file: the driver must know each service whatever runs now
        self.base = ComposeProject.load(
            self._command(self._files(faultable=False), list(COMPOSE_PROFILES), "config", "--format", "json"), config
        )
        if self._write_platform_overrides():  # read again, with the services the platform file changes
            self.base = ComposeProject.load(
                self._command(self._files(faultable=False), list(COMPOSE_PROFILES), "config", "--format", "json"),
                config,
            )
        self.faultable = self.base
        if self.settings.faultable_file.is_file():
            self.faultable = ComposeProject.load(
                self._command(self._files(faultable=True), ["faultable"], "config", "--format", "json"), config
            )

    def _write_platform_overrides(self) -> bool:
        """The platform file's overrides, written beside the compose file when its roles are not the
        reference's: whether there are. Each role's {port} is its container port in the compose
        file; the faultable profile's override fills the links with toxiproxy's listeners."""
        reference = PlatformFile.load(REFERENCE)
        roles = compose_platform.changed_roles(self.platform, reference)
        if not roles:
            return False
        ports = {role: s.ports[0].container_port for role, s in self.base.services.items() if s.ports}
        for faultable in (False, True) if self.settings.faultable_file.is_file() else (False,):
            document = compose_platform.override_for(
                self.platform, reference, ports=ports, proxies=self._proxies() if faultable else None
            )
            assert document is not None, "some role differs from the reference's"
            self._platform_overrides[faultable] = compose_platform.write(
                self.settings.platform_override_file(faultable), document, self.platform.name
            )
        self.say(
            f"[stack] platform file {self.platform.name}: {', '.join(roles)} as it declares them, "
            f"through {self._platform_overrides[False]}"
        )
        return True

    def _files(self, faultable: bool) -> list[Path]:
        """The compose files of a command: the compose file, the faultable override when toxiproxy
        runs (and there is one), then the platform file's override for that set, if any."""
        faultable = faultable and self.settings.faultable_file.is_file()
        files = [self.settings.compose_file, *([self.settings.faultable_file] if faultable else [])]
        override = self._platform_overrides.get(faultable)
        return [*files, *([override] if override is not None else [])]

    @property
    def project_name(self) -> str:
        return self.base.name

    def _project(self, profile: str | None) -> ComposeProject:
        return self.faultable if profile is not None and toxiproxy.NAME in PROFILES.get(profile, ()) else self.base

    def _service(self, name: str) -> ComposeService:
        if name not in self.base.services or self.base.services[name].one_shot:
            raise StackError(f"unknown service {name!r}; the compose stack has {', '.join(self.base.long_running())}")
        return self.base.services[name]

    # ------------------------------------------------------------------ the Engine API
    def _docker(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _unreachable(self, reason: str) -> StackError:
        return StackError(
            f"Docker is not reachable at {self.settings.docker_host}: {reason}; "
            f"start Docker (or point DOCKER_HOST at it), or use -D driver=local"
        )

    def _connect(self) -> Any:
        url = self.settings.docker_host
        if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
            raise self._unreachable("no such socket")
        try:
            return self._client_factory(url)  # asks the daemon for its API version: fails fast when it is not there
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise self._unreachable(_one_line(exc)) from None

    @contextlib.contextmanager
    def _engine(self, what: str) -> Iterator[None]:
        """Engine API failures as one StackError line that says what was being done."""
        try:
            yield
        except docker.errors.NotFound as exc:
            raise StackError(f"{what}: Docker no longer has it ({_one_line(exc)})") from None
        except docker.errors.APIError as exc:
            raise StackError(f"{what}: Docker refused: {_one_line(exc)}") from None
        except requests.Timeout:
            raise StackError(f"{what}: Docker did not answer within {DOCKER_TIMEOUT:.0f} s") from None
        except (requests.RequestException, docker.errors.DockerException) as exc:
            raise self._unreachable(f"{what}: {_one_line(exc)}") from None

    def _project_containers(self) -> list[Any]:
        """Every container compose made for this project, one-shot and `run` containers included."""
        with self._engine("listing the stack's containers"):
            found: list[Any] = self._docker().containers.list(
                all=True, filters={"label": [f"{PROJECT_LABEL}={self.project_name}"]}
            )
        # the label filter is the daemon's; checked again here, as nothing else may ever be touched
        return [c for c in found if (c.labels or {}).get(PROJECT_LABEL) == self.project_name]

    def _containers(self) -> dict[str, Any]:
        """The newest container of each long-running service of the project."""
        newest: dict[str, Any] = {}
        for c in self._project_containers():
            labels = c.labels or {}
            name = labels.get(SERVICE_LABEL, "")
            if (
                name not in self.base.services
                or self.base.services[name].one_shot
                or labels.get(ONEOFF_LABEL, "False") == "True"
            ):
                continue
            if name not in newest or (timestamp_ns(c.attrs.get("Created")) or 0) > (
                timestamp_ns(newest[name].attrs.get("Created")) or 0
            ):
                newest[name] = c
        return newest

    def _current_profile(self, containers: Mapping[str, Any]) -> str | None:
        """The profile the containers that exist make up: the platform behind toxiproxy is
        faultable, the platform at all is full, infrastructure alone is infra."""
        if not containers:
            return None
        platform = [c for n, c in containers.items() if n in PROFILES["full"] and n not in PROFILES["infra"]]
        if any((c.labels or {}).get(LINKS_LABEL) == toxiproxy.NAME for c in platform):
            return "faultable"
        return "full" if platform else "infra"

    # ------------------------------------------------------------------ observing
    def health(self, service: str, resources: bool = True) -> ServiceStatus:
        spec = self._service(service)
        return self._health(spec, self._containers().get(service), resources)

    def _health(self, spec: ComposeService, container: Any, resources: bool) -> ServiceStatus:
        ports = self._published(spec)
        if container is None:
            return ServiceStatus(
                name=spec.name, state="stopped", ports=ports, detail="no container: not brought up, or removed by down"
            )
        attrs = container.attrs
        with self._lock:
            on_purpose = container.id in self._stopped
        state, detail = container_state(attrs, on_purpose)
        run = attrs.get("State") or {}
        started_ns = timestamp_ns(run.get("StartedAt"))
        status = ServiceStatus(
            name=spec.name,
            state=state,
            detail=detail,
            pid=int(run.get("Pid") or 0) or None,
            ports=ports,
            started_at=None if started_ns is None else started_ns / 1e9,
            ready_at=self._ready_at(container.id, run, started_ns) if state == "ready" else None,
            restarts=int(attrs.get("RestartCount") or 0),
            log=f"docker logs {container.name}",
        )
        if resources and state in ("ready", "starting", "paused"):
            with contextlib.suppress(StackError), self._engine(f"reading the memory of {spec.name}"):
                use = resources_from_stats(container.stats(stream=False, one_shot=True))
                status.memory_mb = round(use.memory_mb, 1)
                status.cpu_seconds = round(use.cpu_seconds, 2)
        return status

    def _ready_at(self, container_id: str, run: Mapping[str, Any], started_ns: int | None) -> float | None:
        """When the service became ready, from its health log; once that has scrolled out of the
        log, the earliest time this driver saw, else the container's start: a time no later than
        the truth, so that a service started only after its dependency was ready (compose's
        `service_healthy`) still shows as ready after it."""
        started = None if started_ns is None else started_ns / 1e9
        if not run.get("Health"):
            return started
        seen = ready_since(run["Health"], started_ns)
        with self._lock:
            key = (container_id, started_ns)
            if seen is not None:
                self._ready_seen[key] = min(seen, self._ready_seen.get(key, seen))
            return self._ready_seen.get(key, started)

    def _published(self, spec: ComposeService) -> dict[str, int]:
        if len(spec.ports) == 1:
            return {spec.name: spec.ports[0].host_port}
        return {f"{spec.name}-{p.container_port}": p.host_port for p in spec.ports}

    def status(self, resources: bool = True) -> StackStatus:
        containers = self._containers()
        profile = self._current_profile(containers)
        project = self._project(profile)
        names = project.in_profile(profile) if profile else []
        known = PROFILES.get(profile or "", ())  # shown in the local stack's order, dependencies first
        names = sorted(names, key=lambda n: known.index(n) if n in known else len(known))
        names = project.order([*names, *(n for n in containers if n not in names)])
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
            found = list(pool.map(lambda n: self._health(project.services[n], containers.get(n), resources), names))
        return StackStatus(
            profile=profile,
            services={s.name: s for s in found},
            endpoints=self._endpoints(profile) if names else Endpoints(),
        )

    def _host_port(self, service: str) -> int:
        ports = self.base.services[service].ports
        if not ports:
            raise ComposeFileError(f"service {service} publishes no port in {self.settings.compose_file}")
        return ports[0].host_port

    def _credentials(self) -> dict[str, str]:
        env = self.settings.env
        needed = ("K2_S3_ACCESS_KEY", "K2_S3_SECRET_KEY", "K2_POSTGRES_PASSWORD", "K2_API_KEY")
        missing = [n for n in needed if not env.get(n)]
        if missing:
            raise StackError(
                f"{', '.join(missing)} not set: put them in {self.settings.env_file} "
                f"(see compose/.env.example) or in the environment"
            )
        return {**{n: env[n] for n in needed}, "K2_POSTGRES_USER": env.get("K2_POSTGRES_USER") or "k2"}

    def endpoints(self) -> Endpoints:
        return self._endpoints(self._current_profile(self._containers()))

    def _endpoints(self, profile: str | None) -> Endpoints:
        """Where the harness reaches each service from this machine: the same shape as the local
        driver's endpoints, on the ports the compose file publishes."""
        c = self._credentials()
        host = self.settings.host

        def http(service: str) -> str:
            return f"http://{host}:{self._host_port(service)}"

        s3 = http("object-store")
        user, password = quote(c["K2_POSTGRES_USER"], safe=""), quote(c["K2_POSTGRES_PASSWORD"], safe="")
        postgres = f"postgresql://{user}:{password}@{host}:{self._host_port('postgres')}"
        out: dict[str, Any] = {
            "kafka": {"bootstrap.servers": f"{host}:{self._host_port('kafka')}"},
            "schema_registry": {"url": http("schema-registry") + schema_registry_service.CCOMPAT},
            "s3": {
                "endpoint": s3,
                "access_key": c["K2_S3_ACCESS_KEY"],
                "secret_key": c["K2_S3_SECRET_KEY"],
                "region": object_store_service.REGION,
                "bucket": object_store_service.BUCKET,
            },
            # the local stack's catalog: pyiceberg's SqlCatalog on the stack's PostgreSQL
            "catalog": {
                "name": local_catalog.CATALOG_NAME,
                "properties": {
                    "type": "sql",
                    "uri": f"postgresql+psycopg2://{user}:{password}@{host}:{self._host_port('postgres')}/catalog",
                    "warehouse": f"s3://{object_store_service.BUCKET}/",
                    "s3.endpoint": s3,
                    "s3.access-key-id": c["K2_S3_ACCESS_KEY"],
                    "s3.secret-access-key": c["K2_S3_SECRET_KEY"],
                    "s3.region": object_store_service.REGION,
                    "s3.path-style-access": "true",
                },
            },
            "postgres": {"dsn": f"{postgres}/postgres", "catalog_dsn": f"{postgres}/catalog"},
        }
        services = profile_services(profile) if profile else ()
        if "exchange" in services:
            base = http("exchange")
            out["exchange"] = {
                "ws_url": base.replace("http://", "ws://"),
                "rest_url": base,
                "control_url": base + "/control",
            }
        if toxiproxy.NAME in services:
            out["toxiproxy"] = {"url": http(toxiproxy.NAME), "proxies": self._proxies()}
        if "api" in services:
            out["api"] = {"url": http("api"), "api_key": c["K2_API_KEY"]}
        for name in ("ingest", "consumer"):
            if name in services:
                out[name] = {"status_url": http(name) + "/status"}
        return Endpoints.from_json(out, source="the compose stack")

    def _proxies(self) -> dict[str, str]:
        """Each toxiproxy link and where the platform reaches it (inside the compose network)."""
        folder = self.settings.compose_file.parent
        for path in (folder / "toxiproxy" / "toxiproxy.json", folder / "toxiproxy.json"):
            try:
                found = json.loads(path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            return {p["name"]: p["listen"].replace("0.0.0.0", toxiproxy.NAME) for p in found}
        return {}

    def versions(self) -> dict[str, str]:
        """Each long-running service's image, as the compose file pins it (no call to Docker)."""
        built = {s.image for s in self.base.services.values() if s.built}
        return {
            n: s.image + (" (built here)" if s.image in built else "")
            for n, s in self.base.services.items()
            if not s.one_shot
        }

    def memory_budgets(self) -> dict[str, int]:
        """Each service's memory limit in MiB, from the compose file (for the roles the platform
        file changes, its budgets: its override sets them as the limits)."""
        return {n: s.memory_mb for n, s in self.base.services.items() if not s.one_shot and s.memory_mb is not None}

    def leftovers(self) -> list[str]:
        """The project's containers and networks that still exist, and its host ports still taken."""
        found = [
            f"container {c.name} ({(c.labels or {}).get(SERVICE_LABEL, '?')}, {c.status})"
            for c in self._project_containers()
        ]
        with self._engine("listing the stack's networks"):
            networks: list[Any] = self._docker().networks.list(
                filters={"label": f"{PROJECT_LABEL}={self.project_name}"}
            )
        found += [
            f"network {n.name}"
            for n in networks
            if ((n.attrs or {}).get("Labels") or {}).get(PROJECT_LABEL) == self.project_name
        ]
        ports = sorted(
            {(p.host_ip or self.settings.host, p.host_port) for s in self.base.services.values() for p in s.ports}
        )
        found += [f"port {port} taken" for host, port in ports if not self.port_free(host, port)]
        return found

    # ------------------------------------------------------------------ logs
    def logs(self, service: str, tail: int | None = None) -> str:
        self._service(service)
        c = self._containers().get(service)
        if c is None:
            return ""
        with self._engine(f"reading the log of {service}"):
            raw: bytes = c.logs(stdout=True, stderr=True, tail=tail if tail else "all")
        return raw.decode(errors="replace")

    def log_mark(self, service: str) -> int | None:
        """The Docker daemon's timestamp (ns) of the service's last log line: its own clock, so a
        host whose clock differs from the daemon's (Docker Desktop's VM) cuts at the right line.
        None, meaning "everything", when there is no container or no line yet, and for names that
        are not compose services (the local stack's supervisor)."""
        if service not in self.base.services:
            return None
        c = self._containers().get(service)
        if c is None:
            return None
        with self._engine(f"reading the log of {service}"):
            last = c.logs(stdout=True, stderr=True, tail=1, timestamps=True).decode(errors="replace")
        return timestamp_ns(last.split(" ", 1)[0]) if last else None

    def logs_since(self, service: str, mark: Any) -> str:
        if service not in self.base.services:
            return ""
        c = self._containers().get(service)
        if c is None:
            return ""
        since = int(mark) // 10**9 if mark else None  # whole seconds to the daemon; the cut is made here
        with self._engine(f"reading the log of {service}"):
            raw = c.logs(stdout=True, stderr=True, timestamps=True, since=since or None).decode(errors="replace")
        kept = []
        for line in raw.splitlines():
            stamp, _, text = line.partition(" ")
            ns = timestamp_ns(stamp)
            if mark is None or ns is None or ns > int(mark):
                kept.append(text if ns is not None else line)
        return "\n".join(kept) + ("\n" if kept else "")

    def resources(self, service: str) -> Resources:
        self._service(service)
        c = self._containers().get(service)
        if c is None or (c.attrs.get("State") or {}).get("Status") not in ("running", "paused"):
            raise StackError(f"{service} is not running")
        with self._engine(f"reading the resource use of {service}"):
            return resources_from_stats(c.stats(stream=False))

    def enforced_limits(self, service: str) -> EnforcedLimits:
        self._service(service)
        c = self._containers().get(service)
        if c is None:
            raise StackError(f"{service} has no container")
        with self._engine(f"reading the limits of {service}"):
            running = (c.attrs.get("State") or {}).get("Status") == "running"
            stats = c.stats(stream=False, one_shot=True) if running else {}
        return limits_from(c.attrs, stats)

    # ------------------------------------------------------------------ starting and stopping
    def _command(self, files: Sequence[Path], profiles: Sequence[str], *args: str, project: str = "") -> list[str]:
        cmd = ["docker", "compose", "--ansi", "never", *(["--project-name", project] if project else [])]
        for f in files:
            cmd += ["--file", str(f)]
        if self.settings.env_file.is_file():
            cmd += ["--env-file", str(self.settings.env_file)]
        for p in profiles:
            cmd += ["--profile", p]
        return [*cmd, *args]

    def compose_command(self, profile: str | None, *args: str) -> list[str]:
        """`docker compose` for this project and profile (None: every profile, for `down`); the
        faultable override joins whenever toxiproxy does, and the platform file's override last."""
        files = self._files(faultable=profile is None or toxiproxy.NAME in profile_services(profile))
        return self._command(files, [profile] if profile else list(COMPOSE_PROFILES), *args, project=self.project_name)

    def _compose(self, cmd: list[str]) -> RunResult:
        env = {**os.environ, "DOCKER_HOST": self.settings.docker_host}
        try:
            return self._runner(cmd, env)
        except FileNotFoundError:
            raise StackError(
                "`docker compose` is not installed (the Docker CLI with its compose plugin); "
                "install it, or use -D driver=local"
            ) from None

    def up(self, profile: str) -> StackStatus:
        """`docker compose up --wait` for the profile: builds the platform's image, starts what is not
        running in dependency order and returns once every service's health check passes."""
        if profile in LOCAL_ONLY:
            raise StackError(f"profile {profile} is not available under docker compose: {LOCAL_ONLY[profile]}")
        names = profile_services(profile)
        self._docker()  # a clear "Docker is not reachable" before compose says it less clearly
        t0 = time.monotonic()
        self.say(f"[stack] docker compose: profile {profile} ({', '.join(names)}) ...")
        # Built once per run, so the platform's image holds the code being tested; a later `up` (the
        # whole stack started again mid-scenario) reuses those images
        build = [] if self._built else ["--build"]
        result = self._compose(
            self.compose_command(
                profile,
                "up",
                "--detach",
                *build,
                "--remove-orphans",
                "--wait",
                "--wait-timeout",
                str(int(self.wait_timeout)),
            )
        )
        if result.returncode != 0:
            raise StackError(
                f"`docker compose up` for profile {profile} failed (exit code {result.returncode}):\n"
                + "\n".join(result.output.splitlines()[-15:])
                + self._not_ready_details()
            )
        with self._lock:
            self._stopped.clear()
            self._built = True
        if toxiproxy.NAME in names:
            self._reset_toxiproxy()
        self._initialise_catalog()
        self.say(f"[stack] profile {profile} ready in {time.monotonic() - t0:.1f} s")
        return self.status()

    def _not_ready_details(self) -> str:
        """What each service that is not ready says: its health check's last words, and its log's."""
        try:
            services = self.status(resources=False).services.values()
        except StackError:
            return ""
        lines = []
        for s in services:
            if s.state in ("starting", "failed"):  # not those never started, waiting on a dependency
                lines.append(f"  {s.name}: {s.state}, {s.detail}")
                lines += [f"    | {line}" for line in self.logs(s.name, tail=3).splitlines()[-3:]]
        if any("password authentication failed" in line for line in lines):
            lines.append(
                "  hint: the database volume was made with other secrets than compose/.env's (another clone "
                "of this project on this machine?); `python -m harness stack --driver compose down --purge` "
                "starts over with empty volumes"
            )
        return "\nservices not ready:\n" + "\n".join(lines) if lines else ""

    def _initialise_catalog(self) -> None:
        """The namespace the platform writes into, as the local stack makes it after `up`."""
        spec = self._endpoints(None).catalog
        try:
            self._initialise_catalog_with(spec)
        except Exception as exc:  # the catalog's own errors: SQLAlchemy's, pyiceberg's, S3's
            raise StackError(f"creating the catalog namespace {local_catalog.NAMESPACE}: {_one_line(exc)}") from None

    def _reset_toxiproxy(self) -> None:
        """Every proxy enabled and without toxics: a harness that crashed mid-fault may have left
        one behind in a toxiproxy that kept running (the proxies themselves come from its config)."""
        url = f"http://{self.settings.host}:{self._host_port(toxiproxy.NAME)}/reset"
        try:
            r = httpx.post(url, timeout=10.0)
        except httpx.HTTPError as exc:
            raise StackError(f"toxiproxy POST /reset: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 300:
            raise StackError(f"toxiproxy POST /reset answered {r.status_code}: {r.text[:300]}")

    def down(self, purge: bool = False) -> list[str]:
        """`docker compose down` for every profile, then any container still labelled with the
        project; with purge also the volumes labelled with the project, and no other volume."""
        containers = self._containers()
        running = [
            n
            for n, c in containers.items()
            if (c.attrs.get("State") or {}).get("Status") in ("running", "paused", "restarting")
        ]
        args = ["down", "--remove-orphans", "--timeout", "30", *(["--volumes"] if purge else [])]
        result = self._compose(self.compose_command(None, *args))
        if result.returncode != 0:
            raise StackError(
                f"`docker compose down` failed (exit code {result.returncode}):\n"
                + "\n".join(result.output.splitlines()[-15:])
            )
        for c in self._project_containers():  # made by hand or by an older version of the file
            with self._engine(f"removing container {c.name}"):
                c.remove(force=True)
            self.say(f"[stack] removed container {c.name}")
        if purge:
            self._purge_volumes()
        with self._lock:
            self._stopped.clear()
            self._ready_seen.clear()
        return list(reversed(self.base.order(running)))

    def _purge_volumes(self) -> None:
        label = f"{PROJECT_LABEL}={self.project_name}"
        with self._engine("listing the stack's volumes"):
            volumes: list[Any] = self._docker().volumes.list(filters={"label": label})
        for v in volumes:
            labels = (v.attrs or {}).get("Labels") or {}
            if labels.get(PROJECT_LABEL) != self.project_name:
                continue  # the daemon's filter is not trusted with deleting data: only ours goes
            with self._engine(f"removing volume {v.name}"):
                v.remove()
            self.say(f"[stack] removed volume {v.name}")

    def _container(self, service: str, doing: str) -> Any:
        c = self._containers().get(service)
        if c is None:
            raise StackError(
                f"cannot {doing} {service}: it has no container; bring the stack up with a profile "
                f"that has {service} first"
            )
        return c

    def _wait_ready(self, spec: ComposeService) -> ServiceStatus:
        def ready() -> ServiceStatus | None:
            c = self._containers().get(spec.name)
            s = self._health(spec, c, resources=False)
            if s.state == "ready":
                return s
            restarting = c is not None and (c.attrs.get("State") or {}).get("Status") == "restarting"
            if c is None or (s.state in ("stopped", "failed") and not restarting and not spec.restarts_on_failure):
                raise _Gone(f"{spec.name} is {s.state}: {s.detail}")
            raise StackError(f"{s.state}: {s.detail}")

        try:
            return eventually(ready, within=spec.ready_within, every=0.5, fatal=(_Gone,), describe=f"{spec.name} ready")
        except (ConditionTimeout, _Gone) as exc:
            raise StackError(f"{exc}\nlast log lines:\n{self.logs(spec.name, tail=20)}") from None

    def start(self, service: str) -> ServiceStatus:
        spec = self._service(service)
        c = self._container(service, "start")
        project = self._project(self._current_profile(self._containers()))
        for dep, condition in project.services[service].depends_on.items():
            if project.services[dep].one_shot or condition == "service_completed_successfully":
                continue
            if self.health(dep, resources=False).state != "ready":
                raise StackError(f"cannot start {service}: it needs {dep}, which is not ready; start {dep} first")
        with self._lock:
            self._stopped.discard(c.id)
        status = (c.attrs.get("State") or {}).get("Status")
        if status == "paused":
            raise StackError(f"{service} is paused; resume it first")
        if status in ("exited", "created", "dead"):
            with self._engine(f"starting {service}"):
                c.start()
        return self._wait_ready(spec)

    def stop(self, service: str) -> None:
        spec = self._service(service)
        c = self._containers().get(service)
        if c is None:
            return
        with self._lock:
            self._stopped.add(c.id)  # before the stop: a status meanwhile must not call it a crash
        with self._engine(f"stopping {service}"):
            c.stop(timeout=int(spec.stop_grace))

    def kill(self, service: str, stay_down: bool = False) -> None:
        """A crash: the service dies at once and reports "failed", and one whose restart policy is
        on-failure is started again by Docker, as the local stack's supervisor does."""
        if stay_down:
            raise StackError(
                f"a crash of {service} that stays down is the local driver's (profile cluster); use -D driver=local"
            )
        spec = self._service(service)
        c = self._containers().get(service)
        if c is None or (c.attrs.get("State") or {}).get("Status") not in ("running", "paused", "restarting"):
            return
        run = c.attrs.get("State") or {}
        before = (run.get("StartedAt"), int(c.attrs.get("RestartCount") or 0))
        with self._lock:
            self._stopped.discard(c.id)
        if spec.restart.startswith("on-failure") and spec.init and run.get("Status") == "running":
            self._crash_from_inside(c)
        else:
            with self._engine(f"killing {service}"):
                c.kill()

        def crashed() -> bool:
            now = self._containers().get(service)
            if now is None:
                return True
            state = now.attrs.get("State") or {}
            return (
                state.get("Status") != "running"
                or state.get("StartedAt") != before[0]
                or int(now.attrs.get("RestartCount") or 0) > before[1]
            )

        eventually(crashed, within=15, every=0.2, describe=f"{service} crashed")

    def _crash_from_inside(self, c: Any) -> None:
        api = self._docker().api
        with self._engine(f"crashing {c.name}"):
            exec_id = api.exec_create(c.id, CRASH_COMMAND, stdout=False, stderr=False)["Id"]
        # the container may die before Docker answers: whether it did is checked by the caller
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            api.exec_start(exec_id, detach=True)

    def restart(self, service: str) -> ServiceStatus:
        spec = self._service(service)
        c = self._container(service, "restart")
        with self._lock:
            self._stopped.discard(c.id)
        with self._engine(f"restarting {service}"):
            c.restart(timeout=int(spec.stop_grace))
        return self._wait_ready(spec)

    def pause(self, service: str) -> None:
        self._service(service)
        c = self._containers().get(service)
        if c is None or (c.attrs.get("State") or {}).get("Status") != "running":
            raise StackError(f"cannot pause {service}: it is not running")
        with self._engine(f"pausing {service}"):
            c.pause()
        eventually(lambda: self._status_of(service) == "paused", within=10, describe=f"{service} paused")

    def resume(self, service: str) -> None:
        self._service(service)
        c = self._containers().get(service)
        status = None if c is None else (c.attrs.get("State") or {}).get("Status")
        if status == "running":
            return
        if c is None or status != "paused":
            raise StackError(f"cannot resume {service}: it is not running")
        with self._engine(f"resuming {service}"):
            c.unpause()
        eventually(lambda: self._status_of(service) == "running", within=10, describe=f"{service} resumed")

    def _status_of(self, service: str) -> str | None:
        c = self._containers().get(service)
        return None if c is None else cast(str | None, (c.attrs.get("State") or {}).get("Status"))
