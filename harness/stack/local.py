"""LocalDriver: the stack as native processes on this machine, no Docker.

Each service runs in a session (process group) of its own, writes to `.stack/logs/<name>.log`
and keeps its data in `.stack/data/<name>`. What runs is recorded in `.stack/state.json`
(pid and process start time, so a recycled pid is never mistaken for ours); the processes
outlive the command that started them, and `down` finds them again from that file, or, if it
was lost with a crashed harness, from their working directories and command lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import psutil

from harness.endpoints import Endpoints
from harness.stack import catalog, processes
from harness.stack.components import Components
from harness.stack.driver import EnforcedLimits, Resources, ServiceState, ServiceStatus, StackError, StackStatus
from harness.stack.platform_file import START_MARKER
from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.services import (
    SERVICES,
    kafka_nodes,
    object_store,
    platform,
    postgres,
    profile_services,
    schema_registry,
    services_for,
    start_order,
    toxiproxy,
)
from harness.stack.services import kafka as kafka_service
from harness.stack.settings import REPO_ROOT, Credentials, StackSettings
from harness.waiting import ConditionTimeout, eventually

Say = Callable[[str], None]


class ServiceDied(StackError):
    pass


def _quiet(_: str) -> None:
    return None


# The stack's data and logs hold every trade and the stack's secrets in its services' own files:
# no other local user may read them (which would bypass the API key). Shared folders let users
# through to their own service's folder (PostgreSQL runs as its own user) but list nothing.
OWNER_ONLY = 0o700
TRAVERSE_ONLY = 0o711


def private_dir(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)


def private_log(path: Path) -> BinaryIO:
    """A service's log, open for appending, readable by its owner only (also one made before)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def _config(spec: ServiceSpec, ctx: StackContext) -> str:
    """A digest (the environment holds secrets) of what starting the service runs."""
    return hashlib.sha256(json.dumps([spec.command(ctx), spec.env(ctx)], sort_keys=True).encode()).hexdigest()[:16]


class LocalDriver:
    def __init__(self, settings: StackSettings | None = None, say: Say = _quiet) -> None:
        self.settings = settings or StackSettings.from_env()
        self.say = say
        self._lock = threading.RLock()
        self._state_lock = threading.RLock()  # up() records several services from parallel threads
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self._ctx: StackContext | None = None

    # ---------------------------------------------------------------- context and state
    @property
    def ctx(self) -> StackContext:
        # Locked: up() reaches here from parallel threads, and two fresh contexts would mean
        # two different generated passwords (one for initdb, another for the registry).
        with self._state_lock:
            if self._ctx is None:
                components = Components.locate(self.settings)
                creds = Credentials.load_or_create(self.settings.credentials_file, os.environ)
                self._ctx = StackContext(self.settings, components, creds)
            return self._ctx

    def _read_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.settings.state_file.read_text())
            return state
        except (FileNotFoundError, json.JSONDecodeError):
            return {"profile": None, "services": {}}

    def _write_state(self, state: dict[str, Any]) -> None:
        path = self.settings.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    def _update(self, name: str, **fields: Any) -> None:
        with self._state_lock:
            state = self._read_state()
            state["services"].setdefault(name, {}).update(fields)
            self._write_state(state)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One mutation of the stack at a time, across threads and across processes."""
        private_dir(self.settings.root, TRAVERSE_ONLY)
        with self._lock, open(self.settings.root / ".lock", "w") as lockfile:
            fcntl.flock(lockfile, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lockfile, fcntl.LOCK_UN)

    def read_state(self) -> dict[str, Any]:
        return self._read_state()

    def alive(self, name: str) -> bool:
        return self._process(name) is not None

    def _process(self, name: str) -> psutil.Process | None:
        popen = self._popen.get(name)
        if popen is not None:
            popen.poll()  # reap our own child so a dead service is not a zombie that looks alive
        rec = self._read_state()["services"].get(name, {})
        return processes.process(rec.get("pid"), rec.get("create_time"))

    def _services(self) -> Mapping[str, ServiceSpec]:
        """The specs of this stack's profile: in `faultable` the platform goes through toxiproxy."""
        return services_for(self._read_state().get("profile"))

    def _spec(self, name: str) -> ServiceSpec:
        if name not in SERVICES:
            raise StackError(f"unknown service {name!r}; the stack has {', '.join(SERVICES)}")
        return self._services()[name]

    def _known(self) -> list[str]:
        """The profile's services, plus any other service of this stack that is still running
        (left from a bigger profile): shown by status, stopped by down."""
        state = self._read_state()
        profile = state.get("profile")
        names = list(profile_services(profile)) if profile else []
        names += [n for n in state["services"] if n not in names and n in SERVICES and self._process(n) is not None]
        return start_order(names, services_for(profile))

    # ---------------------------------------------------------------- observing
    def health(self, service: str, resources: bool = True) -> ServiceStatus:
        spec = self._spec(service)
        rec = self._read_state()["services"].get(service, {})
        p = self._process(service)
        state: ServiceState
        if p is None:
            state = "failed" if rec.get("wanted") == "running" else "stopped"
            detail = "process exited unexpectedly" if state == "failed" else "not running"
        elif processes.is_paused(p):
            state, detail = "paused", "process is paused (SIGSTOP)"
        else:
            try:
                state, detail = "ready", spec.ready(self.ctx)
            except NotReady as exc:
                state, detail = "starting", str(exc)
        status = ServiceStatus(
            name=service,
            state=state,
            detail=detail,
            pid=p.pid if p else None,
            ports={k: self.settings.ports[k] for k in spec.ports},
            started_at=rec.get("started_at"),
            ready_at=rec.get("ready_at"),
            restarts=rec.get("restarts", 0),
            log=str(self._log_path(service)),
        )
        if p is not None and resources:  # memory reads every process's smaps: skip it for a readiness check
            with contextlib.suppress(psutil.Error):
                procs = processes.tree(p)
                status.memory_mb = round(sum(processes.memory_of(q) for q in procs) / 2**20, 1)
                status.cpu_seconds = round(sum(q.cpu_times().user + q.cpu_times().system for q in procs), 2)
        return status

    def status(self, resources: bool = True) -> StackStatus:
        names = self._known()
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            found = dict(zip(names, pool.map(lambda n: self.health(n, resources), names), strict=True))
        return StackStatus(
            profile=self._read_state().get("profile"),
            services=found,
            endpoints=self.endpoints() if names else Endpoints(),
        )

    def endpoints(self) -> Endpoints:
        ctx = self.ctx
        c = ctx.credentials
        profile = self._read_state().get("profile")
        out: dict[str, Any] = {
            "kafka": {"bootstrap.servers": kafka_service.bootstrap(ctx, kafka_nodes(profile))},
            "schema_registry": {"url": schema_registry.url(ctx)},
            "s3": {
                "endpoint": object_store.endpoint(ctx),
                "access_key": c.s3_access_key,
                "secret_key": c.s3_secret_key,
                "region": object_store.REGION,
                "bucket": object_store.BUCKET,
            },
            "catalog": {"name": catalog.CATALOG_NAME, "properties": catalog.properties(ctx)},
            "postgres": {"dsn": postgres.dsn(ctx), "catalog_dsn": postgres.dsn(ctx, "catalog")},
        }
        if profile and "exchange" in profile_services(profile):
            base = platform.http_url(ctx, "exchange")
            out["exchange"] = {
                "ws_url": base.replace("http://", "ws://"),
                "rest_url": base,
                "control_url": base + "/control",
            }
        if profile and toxiproxy.NAME in profile_services(profile):
            links = (
                {str(x["name"]): str(x["listen"]) for x in toxiproxy.cluster_proxies(ctx)}
                if profile == "cluster"
                else {link: toxiproxy.listen(ctx, link) for link in toxiproxy.LINKS}
            )
            out["toxiproxy"] = {"url": toxiproxy.api_url(ctx), "proxies": links}
        if profile and "api" in profile_services(profile):
            out["api"] = {"url": platform.http_url(ctx, "api"), "api_key": c.api_key}
        for name in ("ingest", "consumer", *platform.CONSUMERS):
            if profile and name in profile_services(profile):
                out[name] = {"status_url": platform.http_url(ctx, name) + "/status"}
        return Endpoints.from_json(out, source="the local stack")

    def versions(self) -> dict[str, str]:
        return self.ctx.components.versions()

    def logs(self, service: str, tail: int | None = None) -> str:
        self._spec(service)
        path = self._log_path(service)
        if not path.exists():
            return ""
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def leftovers(self) -> list[str]:
        found = []
        for p in processes.processes_under(self.settings.root):
            with contextlib.suppress(psutil.Error):  # gone meanwhile: not a leftover
                found.append(f"process {p.pid} {' '.join(p.cmdline()[:3])}")
        found += [
            f"port {port} ({name}) taken"
            for name, port in self.settings.ports.items()
            if not processes.port_free(self.settings.host, port)
        ]
        return found

    def enforced_limits(self, service: str) -> EnforcedLimits | None:
        """None: native processes run under no engine limits; budgets are checked by sampling."""
        self._spec(service)  # an unknown name is still an error
        return None

    def memory_budgets(self) -> dict[str, int]:
        return {name: spec.memory_budget_mb for name, spec in SERVICES.items()}

    def log_mark(self, service: str) -> int:
        path = self._log_path(service)
        return path.stat().st_size if path.exists() else 0

    def logs_since(self, service: str, mark: Any) -> str:
        path = self._log_path(service)
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            offset = int(mark or 0)
            if offset > path.stat().st_size:  # purged and begun again since the mark
                offset = 0
            f.seek(offset)
            return f.read().decode(errors="replace")

    def python_pid(self, service: str) -> int | None:
        """The pid of the service's Python interpreter (itself, or the first Python process under
        it), for a profiler; None when it is not running or runs no Python."""
        p = self._process(service)
        if p is None:
            return None
        with contextlib.suppress(psutil.Error):
            for candidate in (p, *p.children(recursive=True)):
                if "python" in Path(candidate.cmdline()[0] if candidate.cmdline() else "").name:
                    return int(candidate.pid)
        return None

    def resources(self, service: str) -> Resources:
        p = self._process(service)
        if p is None:
            raise StackError(f"{service} is not running")
        return processes.resources(p)

    def _log_path(self, service: str) -> Path:
        return self.settings.logs / f"{service}.log"

    # ---------------------------------------------------------------- starting
    def up(self, profile: str) -> StackStatus:
        """Start every service of the profile in dependency order; reuse what is already ready.

        Services whose dependencies are ready start in parallel. If any fails, the services
        this call started are stopped again, so a failed `up` leaves nothing behind.
        """
        specs = services_for(profile)
        names = start_order(profile_services(profile), specs)
        with self._exclusive():
            state = self._read_state()
            if state.get("profile") and state["profile"] != profile:
                self.say(f"[stack] switching profile {state['profile']} -> {profile}")
            state["profile"] = profile
            self._write_state(state)
            self._check_ports_for(names)
            _ = self.ctx  # components and secrets settled once, before the parallel starts
            started: list[str] = []
            ready = {n: threading.Event() for n in names}
            failures: dict[str, BaseException] = {}

            def bring_up(name: str) -> None:
                spec = specs[name]
                for dep in spec.depends_on:
                    while not ready[dep].wait(0.2):
                        if failures:
                            return
                if failures:
                    return
                try:
                    current = self.health(name).state
                    if current == "paused":
                        raise StackError(f"{name} is paused; resume it first")
                    if current in ("ready", "starting") and self._started_otherwise(spec):
                        self.say(f"[stack] {name}: started with other settings than these, restarting it")
                        self._stop(spec)
                        current = "stopped"
                    if current in ("ready", "starting"):
                        eventually(
                            lambda: self.health(name).ready,
                            within=spec.ready_within,
                            describe=f"{name} (already running) ready",
                        )
                        self.say(f"[stack] {name}: already running, reused")
                        spec.initialise(self.ctx)
                    else:
                        started.append(name)
                        self._start_and_wait(spec)
                    ready[name].set()
                except BaseException as exc:
                    failures[name] = exc

            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                list(pool.map(bring_up, names))
            if failures:
                for name in reversed(started):
                    with contextlib.suppress(Exception):
                        self._stop(specs[name], signal.SIGKILL if name in failures else None)
                name, exc = next(iter(failures.items()))
                raise StackError(f"{name} did not start: {exc}") from exc
            if {"postgres", "object-store"} <= set(names):
                catalog.initialise(self.ctx)
            if any(specs[n].restart != "no" for n in names):
                self._start_supervisor()
            self.say(f"[stack] profile {profile} ready in {time.monotonic() - t0:.1f} s")
        return self.status()

    def _supervisor(self) -> psutil.Process | None:
        rec = self._read_state().get("supervisor", {})
        return processes.process(rec.get("pid"), rec.get("create_time"))

    def _start_supervisor(self) -> None:
        """The process that restarts crashed services (harness.stack.supervisor); one per stack."""
        if self._supervisor() is not None:
            return
        run_dir = self.settings.run / "supervisor"
        run_dir.mkdir(parents=True, exist_ok=True)
        private_dir(self.settings.logs, OWNER_ONLY)
        with private_log(self._log_path("supervisor")) as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "harness.stack.supervisor"],
                cwd=run_dir,
                env={**os.environ, **self.settings.to_env(), "PYTHONPATH": str(REPO_ROOT)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with self._state_lock:
            state = self._read_state()
            state["supervisor"] = {"pid": popen.pid, "create_time": psutil.Process(popen.pid).create_time()}
            self._write_state(state)
        self.say(f"[stack] supervisor: started (pid {popen.pid}), restarts crashed platform services")

    def _stop_supervisor(self) -> None:
        p = self._supervisor()
        if p is not None:
            with contextlib.suppress(psutil.Error):
                p.terminate()
            if processes.wait_gone([p], timeout=10):
                processes.signal_group(p, signal.SIGKILL)
                processes.wait_gone([p], timeout=5)
            self.say("[stack] supervisor: stopped")

    def _started_otherwise(self, spec: ServiceSpec) -> bool:
        """Whether the running service was started with another command line or environment
        (say, direct before `up --profile faultable` wants it behind toxiproxy)."""
        recorded = self._read_state()["services"].get(spec.name, {}).get("config")
        return recorded is not None and recorded != _config(spec, self.ctx)

    def _check_ports_for(self, names: list[str]) -> None:
        busy = []
        for name in names:
            if self._process(name) is not None:
                continue  # ours, running: its ports are meant to be taken
            for port_name in SERVICES[name].ports:
                port = self.settings.ports[port_name]
                if not processes.port_free(self.settings.host, port):
                    owner = processes.port_owner(port)
                    var = "K2_PORT_" + port_name.upper().replace("-", "_")
                    busy.append(
                        f"port {port} ({port_name}) is in use{' by ' + owner if owner else ''}; "
                        f"stop it, or set {var} or K2_STACK_PORT_OFFSET"
                    )
        if busy:
            raise StackError("; ".join(busy))

    def _start_and_wait(self, spec: ServiceSpec) -> None:
        t0 = time.monotonic()
        ctx = self.ctx
        spec.prepare(ctx)
        private_dir(self.settings.logs, OWNER_ONLY)
        for shared in (self.settings.data, self.settings.run):
            private_dir(shared, TRAVERSE_ONLY)
        if ctx.data_dir(spec.name).is_dir():
            ctx.data_dir(spec.name).chmod(OWNER_ONLY)
        run_dir = ctx.run_dir(spec.name)
        private_dir(run_dir, OWNER_ONLY)
        if spec.run_as:
            shutil.chown(run_dir, spec.run_as)
        log = private_log(self._log_path(spec.name))  # handed to the child, closed below
        try:
            log.write(f"\n{START_MARKER}{spec.name} at {time.strftime('%Y-%m-%dT%H:%M:%S%z')} =====\n".encode())
            log.flush()
            popen = subprocess.Popen(
                spec.command(ctx),
                cwd=run_dir,
                env={**os.environ, **spec.env(ctx)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=spec.run_as,
            )
        finally:
            log.close()
        self._popen[spec.name] = popen
        rec = self._read_state()["services"].get(spec.name, {})
        self._update(
            spec.name,
            pid=popen.pid,
            create_time=psutil.Process(popen.pid).create_time(),
            wanted="running",
            started_at=time.time(),
            ready_at=None,
            restarts=rec.get("restarts", -1) + 1,
            config=_config(spec, ctx),
        )
        self.say(f"[stack] {spec.name}: started (pid {popen.pid}), waiting for readiness ...")

        def probe() -> str:
            if popen.poll() is not None:
                raise ServiceDied(
                    f"exited with code {popen.returncode}; last log lines:\n" + self.logs(spec.name, tail=20)
                )
            return spec.ready(ctx)

        try:
            detail = eventually(
                probe, within=spec.ready_within, every=0.25, fatal=(ServiceDied,), describe=f"{spec.name} ready"
            )
        except ConditionTimeout as exc:
            raise StackError(f"{exc}\nlast log lines:\n{self.logs(spec.name, tail=20)}") from None
        spec.initialise(ctx)
        self._update(spec.name, ready_at=time.time())
        self.say(f"[stack] {spec.name}: ready in {time.monotonic() - t0:.1f} s ({detail})")

    def start(self, service: str) -> ServiceStatus:
        spec = self._spec(service)
        with self._exclusive():
            already = self._process(service) is not None
            if not already:
                self._start_checked(spec)
        if already:  # started meanwhile, e.g. by the supervisor: wait (unlocked) until it is ready
            eventually(
                lambda: self.health(service).state != "starting",
                within=spec.ready_within,
                describe=f"{service} (already running) ready",
            )
        return self.health(service)

    def revive(self, service: str) -> bool:
        """Start a service that died while wanted running (the supervisor's call). False if,
        once the stack is locked, there is nothing to do: it was stopped on purpose or is back."""
        spec = self._spec(service)
        with self._exclusive():
            wanted = self._read_state()["services"].get(service, {}).get("wanted")
            if wanted != "running" or self._process(service) is not None:
                return False
            self._start_checked(spec)
        return True

    def _start_checked(self, spec: ServiceSpec) -> None:
        """Start a stopped service whose dependencies are ready (the caller holds the lock)."""
        for dep in spec.depends_on:
            if self.health(dep).state != "ready":
                raise StackError(f"cannot start {spec.name}: it needs {dep}, which is not ready; start {dep} first")
        self._check_ports_for([spec.name])
        self._start_and_wait(spec)

    def restart(self, service: str) -> ServiceStatus:
        spec = self._spec(service)
        with self._exclusive():
            self._stop(spec)
        return self.start(service)

    # ---------------------------------------------------------------- stopping and faults
    def _stop(self, spec: ServiceSpec, sig: signal.Signals | None = None, crash: bool = False) -> None:
        """Stop gracefully (the service's own stop signal, then SIGKILL after its grace period),
        or at once with `sig=SIGKILL`; then wait until its ports are free. A `crash` is not
        recorded as a wish to stop, so the service then reports "failed", as after a real crash."""
        if not crash:
            self._update(spec.name, wanted="stopped")
        p = self._process(spec.name)
        if p is not None:
            procs = processes.tree(p)
            if sig == signal.SIGKILL:
                processes.signal_group(p, signal.SIGKILL)
            else:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(sig or spec.stop_signal)
                processes.signal_group(p, signal.SIGCONT)  # a paused service must run to exit
            alive = processes.wait_gone(procs, timeout=spec.stop_grace if sig != signal.SIGKILL else 10)
            if alive:
                self.say(f"[stack] {spec.name}: still running after {spec.stop_grace:.0f} s, sending SIGKILL")
                processes.signal_group(p, signal.SIGKILL)
                for q in alive:
                    with contextlib.suppress(psutil.Error):
                        q.kill()
                processes.wait_gone(alive, timeout=10)
        popen = self._popen.pop(spec.name, None)
        if popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=5)
        self._wait_ports_free(spec)

    def _wait_ports_free(self, spec: ServiceSpec) -> None:
        host, ports = self.settings.host, [self.settings.ports[k] for k in spec.ports]
        eventually(
            lambda: [p for p in ports if not processes.port_free(host, p)] == [],
            within=15,
            describe=f"ports {ports} of {spec.name} free",
        )

    def stop(self, service: str) -> None:
        with self._exclusive():
            self._stop(self._spec(service))

    def kill(self, service: str, stay_down: bool = False) -> None:
        """SIGKILL the service's processes, like a crash: it reports "failed" until started again,
        by hand or, for a service with a restart policy, by the supervisor. `stay_down`: a machine
        that is gone, not a process that restarts: nothing starts it until `start`."""
        with self._exclusive():
            self._stop(self._spec(service), sig=signal.SIGKILL, crash=not stay_down)

    def pause(self, service: str) -> None:
        p = self._process(service)
        if p is None:
            raise StackError(f"cannot pause {service}: it is not running")
        processes.signal_group(p, signal.SIGSTOP)
        # the kernel stops a process's threads asynchronously: return once it really is frozen
        eventually(lambda: processes.is_paused(p), within=10, describe=f"{service} paused")

    def resume(self, service: str) -> None:
        p = self._process(service)
        if p is None:
            raise StackError(f"cannot resume {service}: it is not running")
        processes.signal_group(p, signal.SIGCONT)
        eventually(lambda: not processes.is_paused(p), within=10, describe=f"{service} resumed")

    def down(self, purge: bool = False) -> list[str]:
        """Stop everything this stack started, dependents first; with purge, delete its data too.

        Returns the names of what it stopped. Processes found under the stack directory but
        missing from the state file (a harness that crashed mid-start) are killed as well.
        """
        stopped: list[str] = []
        with self._exclusive():
            self._stop_supervisor()  # first, or it would start again what is being stopped
            state = self._read_state()
            specs = self._services()
            running = [n for n in reversed(self._known()) if self._process(n) is not None]
            done = {n: threading.Event() for n in running}

            def bring_down(name: str) -> None:
                # dependents first: wait until every running service that needs this one has stopped
                for other in running:
                    if name in specs[other].depends_on:
                        done[other].wait()
                t0 = time.monotonic()
                try:
                    self._stop(specs[name])
                    stopped.append(name)
                    self.say(f"[stack] {name}: stopped in {time.monotonic() - t0:.1f} s")
                finally:
                    done[name].set()

            if running:
                with ThreadPoolExecutor(max_workers=len(running)) as pool:
                    list(pool.map(bring_down, running))
            strays = processes.processes_under(self.settings.root)
            for p in strays:
                with contextlib.suppress(psutil.Error):  # it may die (or be a zombie) meanwhile
                    self.say(f"[stack] killing stray process {p.pid} {' '.join(p.cmdline()[:3])}")
                    processes.signal_group(p, signal.SIGKILL)
            if strays:
                left = processes.wait_gone(strays, timeout=10)
                if left:
                    raise StackError(f"processes {[p.pid for p in left]} under {self.settings.root} survived SIGKILL")
                for spec in SERVICES.values():
                    self._wait_ports_free(spec)
            state["services"] = {n: {**r, "wanted": "stopped"} for n, r in state["services"].items()}
            self._write_state(state)
            if purge:
                for sub in ("data", "run", "logs"):
                    shutil.rmtree(self.settings.root / sub, ignore_errors=True)
                for f in (self.settings.state_file, self.settings.credentials_file):
                    f.unlink(missing_ok=True)
                self._ctx = None
                self.say(f"[stack] purged {self.settings.root}")
        return stopped
