"""Driver `external`: a K2 the suite did not start, reached through an endpoints file.

It starts, stops and crashes nothing: those are the deployment's own. Its "services" are the
endpoints the file names, each ready when a real request to it succeeds. What it cannot do
(crash a service, cut a link, read a process's memory) raises CannotInject, which the suite
reports as a skipped scenario with that reason.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from harness.endpoints import Endpoints, MissingEndpoint
from harness.stack.driver import EnforcedLimits, Resources, ServiceStatus, StackError, StackStatus

PROFILE = "external"


class CannotInject(StackError):
    """The driver cannot do this to a deployment it did not start; the message says why."""


def _cannot(what: str, service: str) -> CannotInject:
    return CannotInject(
        f"the external driver cannot {what} the {service}: the suite did not start this K2, "
        f"so its processes are not the suite's to control"
    )


class ExternalDriver:
    controls_processes = False
    """The suite cannot start, stop or crash this deployment's processes (see SuiteSession.cannot_run)."""

    def __init__(self, endpoints: Endpoints, ready_path: str = "", say: Callable[[str], None] = print) -> None:
        self._endpoints = endpoints
        self.ready_path = ready_path
        """The query API's readiness path (the target profile's api.health_ready); empty: any answer."""
        self.say = say

    @staticmethod
    def from_file(path: Path | str, ready_path: str = "", say: Callable[[str], None] = print) -> ExternalDriver:
        return ExternalDriver(Endpoints.load(path), ready_path, say)

    # ------------------------------------------------------------------ what it can see
    def _checks(self) -> dict[str, Callable[[], str]]:
        e = self._endpoints
        checks: dict[str, Callable[[], str]] = {}
        if e.has("kafka"):
            checks["kafka"] = self._kafka
        if e.has("schema_registry"):
            checks["schema-registry"] = lambda: self._http(e.registry.url + "/subjects", 200)
        if e.has("catalog"):
            checks["catalog"] = self._catalog
        if e.has("exchange"):
            checks["exchange"] = lambda: _tcp(e.exchange.rest_url)
        if e.has("api"):
            checks["api"] = lambda: self._http(e.api.url + self.ready_path, 200 if self.ready_path else None)
        for name, url in e.status_urls.items():
            checks[name] = lambda url=url: self._http(url, 200)  # type: ignore[misc]
        return checks

    def _kafka(self) -> str:
        from confluent_kafka.admin import AdminClient

        md = AdminClient({"bootstrap.servers": self._endpoints.kafka.bootstrap, "socket.timeout.ms": 3000}).list_topics(
            timeout=5
        )
        return f"{len(md.brokers)} broker(s), {len(md.topics)} topic(s)"

    def _catalog(self) -> str:
        from harness.probes.iceberg import catalog

        return f"{len(catalog(self._endpoints).list_namespaces())} namespace(s)"

    @staticmethod
    def _http(url: str, status: int | None) -> str:
        r = httpx.get(url, timeout=5.0)
        if status is not None and r.status_code != status:
            raise StackError(f"GET {url} answered {r.status_code}: {r.text[:200]}")
        return f"GET {urlparse(url).path or '/'} answered {r.status_code}"

    def health(self, service: str, resources: bool = True) -> ServiceStatus:
        check = self._checks().get(service)
        if check is None:
            return ServiceStatus(name=service, state="stopped", detail=f"{self._endpoints.source} does not name it")
        try:
            return ServiceStatus(name=service, state="ready", detail=check())
        except Exception as exc:  # any client's error: the endpoint does not answer as it should
            return ServiceStatus(name=service, state="failed", detail=f"{type(exc).__name__}: {str(exc)[:300]}")

    def status(self, resources: bool = True) -> StackStatus:
        names = list(self._checks())
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            found = dict(zip(names, pool.map(self.health, names), strict=True))
        return StackStatus(profile=PROFILE, services=found, endpoints=self._endpoints)

    def up(self, profile: str) -> StackStatus:
        """Nothing is started: the deployment is checked, and must be ready as it is."""
        if profile == "faultable":
            raise CannotInject(
                "the external driver cannot put fault-injecting proxies between a K2 it did not "
                "start and its Kafka, registry and object store"
            )
        status = self.status()
        self.say(
            f"[stack] external ({self._endpoints.source}): "
            + ", ".join(f"{n} {s.state}" for n, s in status.services.items())
        )
        return status

    def down(self, purge: bool = False) -> list[str]:
        self.say("[stack] external: nothing to stop (the suite did not start this K2)")
        return []

    def endpoints(self) -> Endpoints:
        return self._endpoints

    def versions(self) -> dict[str, str]:
        return {"deployment": self._endpoints.source}

    def leftovers(self) -> list[str]:
        return []

    def enforced_limits(self, service: str) -> EnforcedLimits | None:
        return None

    def memory_budgets(self) -> dict[str, int]:
        return {}

    # ------------------------------------------------------------------ logs, when the file names them
    def _log(self, service: str) -> Path | None:
        return self._endpoints.log_files.get(service)

    def logs(self, service: str, tail: int | None = None) -> str:
        path = self._log(service)
        if path is None or not path.is_file():
            return ""
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def log_mark(self, service: str) -> Any:
        path = self._log(service)
        return path.stat().st_size if path is not None and path.is_file() else 0

    def logs_since(self, service: str, mark: Any) -> str:
        path = self._log(service)
        if path is None or not path.is_file():
            return ""
        with open(path, "rb") as f:
            f.seek(int(mark or 0))
            return f.read().decode(errors="replace")

    # ------------------------------------------------------------------ what it cannot do
    def resources(self, service: str) -> Resources:
        raise _cannot("measure the memory of", service)

    def start(self, service: str) -> ServiceStatus:
        raise _cannot("start", service)

    def stop(self, service: str) -> None:
        raise _cannot("stop", service)

    def kill(self, service: str, stay_down: bool = False) -> None:
        raise _cannot("crash", service)

    def restart(self, service: str) -> ServiceStatus:
        raise _cannot("restart", service)

    def pause(self, service: str) -> None:
        raise _cannot("pause", service)

    def resume(self, service: str) -> None:
        raise _cannot("resume", service)


def _tcp(url: str) -> str:
    """The exchange answers at the socket level (a real exchange's REST root may answer 404)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme in ("https", "wss") else 80)
    t0 = time.monotonic()
    with socket.create_connection((parsed.hostname or "localhost", port), timeout=5):
        pass
    return f"accepts connections ({(time.monotonic() - t0) * 1000:.0f} ms)"


__all__ = ["PROFILE", "CannotInject", "ExternalDriver", "MissingEndpoint"]
