"""ComposeDriver against a fake Docker Engine API.

There is no Docker engine here, so the Engine API is played by a small HTTP server on a unix
socket in a thread (the way docker-py tests itself): the driver talks to it through the real
`docker` SDK, over the same wire protocol (JSON, label filters, the multiplexed log stream).
Only the `docker compose` CLI is replaced, by a recording runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.config import RunConfig
from harness.session import make_driver
from harness.stack.compose import (
    CRASH_COMMAND,
    DEFAULT_COMPOSE_FILE,
    ComposeDriver,
    ComposeFileError,
    ComposeSettings,
    RunResult,
    container_state,
    ready_since,
    resources_from_stats,
    run_config,
    timestamp_ns,
)
from harness.stack.compose_platform import FAULTABLE_OVERRIDE_NAME, OVERRIDE_NAME, ComposePlatformError
from harness.stack.driver import StackError
from harness.stack.platform_file import REFERENCE, HttpReady, PlatformFile
from harness.stack.services import PROFILES
from harness.stack.settings import DEFAULT_PORTS, REPO_ROOT
from harness.targets import Target
from tests.compose_config import recorded

PROJECT = "k2-acceptance"
SECRETS = {
    "K2_S3_ACCESS_KEY": "ak-test",
    "K2_S3_SECRET_KEY": "sk-test-secret",
    "K2_POSTGRES_PASSWORD": "p@ss/word",
    "K2_API_KEY": "api-key-test",
}
RESTART_POLICY = {
    "kafka": "unless-stopped",
    "exchange": "on-failure",
    "ingest": "on-failure",
    "consumer": "on-failure",
    "api": "on-failure",
}


def rfc3339(ns: int) -> str:
    """The Engine API's time format: RFC 3339 with nanoseconds."""
    seconds, rest = divmod(ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"


# ------------------------------------------------------------------------------------------------
# The fake Engine: state, and the routes of the Engine API the driver and docker-py use.


@dataclass
class FakeEngine:
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_lines: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    """container id -> (timestamp ns, stream 1=stdout 2=stderr, line)"""
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    execs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    honour_volume_filters: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        service: str,
        project: str = PROJECT,
        status: str = "running",
        health: str | None = "healthy",
        exit_code: int = 0,
        labels: Mapping[str, str] | None = None,
        restart_count: int = 0,
        restart: str | None = None,
    ) -> str:
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        now = time.time_ns()
        state: dict[str, Any] = {
            "Status": status,
            "Running": status == "running",
            "Paused": status == "paused",
            "Restarting": status == "restarting",
            "OOMKilled": False,
            "Dead": False,
            "Pid": 4242 if status in ("running", "paused") else 0,
            "ExitCode": exit_code,
            "Error": "",
            "StartedAt": rfc3339(now - 60 * 10**9),
            "FinishedAt": "0001-01-01T00:00:00Z",
        }
        if health is not None:
            state["Health"] = {
                "Status": health,
                "FailingStreak": 0 if health == "healthy" else 3,
                "Log": [self._check(now - 55 * 10**9, 1, "not yet"), self._check(now - 50 * 10**9, 0, "ok")],
            }
        self.containers[cid] = {
            "Id": cid,
            "Name": f"/{project}-{service}-1",
            "Created": rfc3339(now - 61 * 10**9),
            "State": state,
            "RestartCount": restart_count,
            "Config": {
                "Image": f"{service}:test",
                "Tty": False,
                "Labels": {
                    "com.docker.compose.project": project,
                    "com.docker.compose.service": service,
                    "com.docker.compose.oneoff": "False",
                    **(labels or {}),
                },
            },
            "HostConfig": {"RestartPolicy": {"Name": restart or RESTART_POLICY.get(service, "unless-stopped")}},
            "NetworkSettings": {"Ports": {}},
        }
        self.log_lines[cid] = []
        return cid

    @staticmethod
    def _check(start_ns: int, code: int, output: str) -> dict[str, Any]:
        return {"Start": rfc3339(start_ns), "End": rfc3339(start_ns + 10**7), "ExitCode": code, "Output": output}

    def log(self, cid: str, line: str, stream: int = 1, at_ns: int | None = None) -> int:
        ns = at_ns or time.time_ns()
        self.log_lines[cid].append((ns, stream, line))
        return ns

    def by_service(self, service: str, project: str = PROJECT) -> dict[str, Any]:
        return next(
            c
            for c in self.containers.values()
            if c["Config"]["Labels"]["com.docker.compose.service"] == service
            and c["Config"]["Labels"]["com.docker.compose.project"] == project
        )

    # ---------------------------------------------------------------- state changes
    def _run(self, c: dict[str, Any], restarted_by_policy: bool = False) -> None:
        now = time.time_ns()
        c["State"].update(
            Status="running", Running=True, Paused=False, Restarting=False, Pid=4243, ExitCode=0, StartedAt=rfc3339(now)
        )
        if "Health" in c["State"]:  # the fake's services pass their first health check at once
            c["State"]["Health"] = {"Status": "healthy", "FailingStreak": 0, "Log": [self._check(now + 10**6, 0, "ok")]}
        if restarted_by_policy:
            c["RestartCount"] += 1

    def _exit(self, c: dict[str, Any], code: int) -> None:
        c["State"].update(
            Status="exited", Running=False, Paused=False, Pid=0, ExitCode=code, FinishedAt=rfc3339(time.time_ns())
        )
        if "Health" in c["State"]:
            c["State"]["Health"]["Status"] = "unhealthy"

    # ---------------------------------------------------------------- routes
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any, str]:
        with self.lock:
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any, str]:
        q = {k: v[-1] for k, v in query.items()}
        if path == "/_ping":
            return 200, b"OK", "text/plain"
        if path == "/version":
            return (
                200,
                {
                    "ApiVersion": "1.47",
                    "MinAPIVersion": "1.24",
                    "Version": "27.0.0-fake",
                    "Os": "linux",
                    "Arch": "amd64",
                },
                "application/json",
            )
        if method == "GET" and path == "/containers/json":
            return 200, self._list(q), "application/json"
        if method == "GET" and path == "/volumes":
            return 200, self._volumes(q), "application/json"
        if method == "GET" and path == "/networks":
            wanted = self._filters(q).get("label", [])
            return (
                200,
                [n for n in self.networks.values() if self._labels_match(n.get("Labels") or {}, wanted)],
                "application/json",
            )
        m = re.fullmatch(r"/volumes/([^/]+)", path)
        if m and method == "DELETE":
            if self.volumes.pop(m.group(1), None) is None:
                return 404, {"message": f"get {m.group(1)}: no such volume"}, "application/json"
            return 204, None, ""
        m = re.fullmatch(r"/exec/([^/]+)/(start|json)", path)
        if m:
            return self._exec(m.group(1), m.group(2))
        m = re.fullmatch(r"/containers/([0-9a-f]+)(?:/([a-z]+))?", path)
        if not m or m.group(1) not in self.containers:
            return 404, {"message": f"No such container: {path}"}, "application/json"
        c, action = self.containers[m.group(1)], m.group(2)
        if method == "DELETE" and action is None:
            if c["State"]["Running"] and q.get("force") != "True":
                return 409, {"message": "cannot remove a running container"}, "application/json"
            del self.containers[c["Id"]]
            return 204, None, ""
        if method == "GET" and action == "json":
            return 200, c, "application/json"
        if method == "GET" and action == "logs":
            return 200, self._logs(c, q), "application/vnd.docker.multiplexed-stream"
        if method == "GET" and action == "stats":
            stats = dict(self.stats.get(c["Id"], {}))
            if q.get("one-shot") == "True":
                stats["precpu_stats"] = {"cpu_usage": {"total_usage": 0}}
            return 200, stats, "application/json"
        if method == "POST" and action == "exec":
            exec_id = uuid.uuid4().hex
            self.execs[exec_id] = {"container": c["Id"], "cmd": json.loads(body)["Cmd"]}
            return 201, {"Id": exec_id}, "application/json"
        if method == "POST" and action in ("start", "stop", "kill", "restart", "pause", "unpause"):
            return self._act(c, action, q)
        return 404, {"message": f"no route {method} {path}"}, "application/json"

    def _act(self, c: dict[str, Any], action: str, q: Mapping[str, str]) -> tuple[int, Any, str]:
        status = c["State"]["Status"]
        if action == "start":
            if status == "running":
                return 304, None, ""
            self._run(c)
        elif action == "stop":
            self._exit(c, int(c.get("StopExitCode", 0)))
        elif action == "kill":
            if status not in ("running", "paused"):
                return 409, {"message": "container is not running"}, "application/json"
            self._exit(c, 137)  # a kill through the API is a manual stop: no restart policy applies
        elif action == "restart":
            self._run(c)
        elif action == "pause":
            c["State"].update(Status="paused", Paused=True)
        elif action == "unpause":
            c["State"].update(Status="running", Paused=False)
        return 204, None, ""

    def _exec(self, exec_id: str, action: str) -> tuple[int, Any, str]:
        ex = self.execs.get(exec_id)
        if ex is None:
            return 404, {"message": "No such exec instance"}, "application/json"
        if action == "json":
            return (
                200,
                {"ID": exec_id, "Running": False, "ExitCode": ex.get("exit"), "ProcessConfig": {}},
                "application/json",
            )
        c = self.containers[ex["container"]]
        if ex["cmd"] == CRASH_COMMAND:
            # the service's processes die of SIGKILL, docker-init exits 137; Docker applies the policy
            if c["HostConfig"]["RestartPolicy"]["Name"] in ("on-failure", "always", "unless-stopped"):
                self._run(c, restarted_by_policy=True)
            else:
                self._exit(c, 137)
        ex["exit"] = 0
        return 200, b"", "application/json"

    def _filters(self, q: Mapping[str, str]) -> dict[str, list[str]]:
        raw: dict[str, Any] = json.loads(q.get("filters") or "{}")
        return {k: list(v) if isinstance(v, list) else [k2 for k2, on in v.items() if on] for k, v in raw.items()}

    @staticmethod
    def _labels_match(labels: Mapping[str, str], wanted: list[str]) -> bool:
        for w in wanted:
            key, eq, value = w.partition("=")
            if key not in labels or (eq and labels[key] != value):
                return False
        return True

    def _list(self, q: Mapping[str, str]) -> list[dict[str, Any]]:
        wanted = self._filters(q).get("label", [])
        found = []
        for c in self.containers.values():
            if q.get("all") not in ("1", "True", "true") and c["State"]["Status"] != "running":
                continue
            if self._labels_match(c["Config"]["Labels"], wanted):
                found.append(
                    {
                        "Id": c["Id"],
                        "Names": [c["Name"]],
                        "Image": c["Config"]["Image"],
                        "Labels": c["Config"]["Labels"],
                        "State": c["State"]["Status"],
                        "Status": "",
                    }
                )
        return found

    def _volumes(self, q: Mapping[str, str]) -> dict[str, Any]:
        wanted = self._filters(q).get("label", []) if self.honour_volume_filters else []
        return {
            "Volumes": [v for v in self.volumes.values() if self._labels_match(v.get("Labels") or {}, wanted)],
            "Warnings": None,
        }

    def _logs(self, c: dict[str, Any], q: Mapping[str, str]) -> bytes:
        lines = self.log_lines[c["Id"]]
        if q.get("since") not in (None, "0"):
            since_ns = int(float(q["since"]) * 10**9)
            lines = [entry for entry in lines if entry[0] >= since_ns]
        if q.get("tail", "all") != "all":
            lines = lines[-int(q["tail"]) :] if int(q["tail"]) else []
        out = b""
        for ns, stream, line in lines:
            payload = (f"{rfc3339(ns)} {line}\n" if q.get("timestamps") == "1" else f"{line}\n").encode()
            out += struct.pack(">BxxxL", stream, len(payload)) + payload
        return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine: FakeEngine

    def address_string(self) -> str:  # a unix socket has no client address
        return "docker-client"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        path = re.sub(r"^/v1\.\d+", "", url.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.engine.requests.append(f"{method} {path}" + (f"?{url.query}" if url.query else ""))
        status, payload, ctype = self.engine.handle(method, path, parse_qs(url.query), body)
        data = payload if isinstance(payload, bytes) else b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def engine() -> Iterator[tuple[FakeEngine, str]]:
    fake = FakeEngine()
    # a short directory of its own: a unix socket's path must fit in 108 bytes
    directory = tempfile.mkdtemp(prefix="fde-", dir="/tmp")
    path = f"{directory}/docker.sock"
    handler = type("Handler", (_Handler,), {"engine": fake})
    server = _Server(path, handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-docker-engine", daemon=True
    )
    thread.start()
    try:
        yield fake, f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Recorder:
    """Stands in for the `docker compose` CLI: records each command and its environment."""

    returncode: int = 0
    output: str = ""
    calls: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def __call__(self, cmd: list[str], env: Mapping[str, str]) -> RunResult:
        self.calls.append((cmd, dict(env)))
        return RunResult(self.returncode, self.output)


def recorded_config(cmd: list[str]) -> tuple[int, str]:
    """`docker compose config --format json` as compose answered it for compose/ (tests/compose_config.py)."""
    faultable = any(part.endswith(".faultable.yml") for part in cmd)
    return 0, recorded("compose-config-faultable.json" if faultable else "compose-config.json")


REFERENCE_PLATFORM = PlatformFile.load(REFERENCE)


def driver_for(
    docker_host: str,
    runner: Recorder | None = None,
    compose_file: Path = DEFAULT_COMPOSE_FILE,
    env: Mapping[str, str] = SECRETS,
    platform: PlatformFile = REFERENCE_PLATFORM,
) -> ComposeDriver:
    """The reference platform's services unless told otherwise, whatever K2_PLATFORM_FILE says."""
    settings = ComposeSettings(compose_file=compose_file, env=dict(env), docker_host=docker_host)
    driver = ComposeDriver(
        settings,
        runner=runner or Recorder(),
        config_runner=recorded_config,
        catalog_initialiser=lambda spec: None,
        platform=platform,
    )
    driver.port_free = lambda host, port: port not in TAKEN_PORTS  # not this machine's ports
    return driver


TAKEN_PORTS: set[int] = set()


def infra(fake: FakeEngine) -> dict[str, str]:
    return {name: fake.add(name) for name in PROFILES["infra"]}


def full(fake: FakeEngine, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    ids = infra(fake)
    for name in PROFILES["full"]:
        if name not in ids:
            ids[name] = fake.add(name, labels=labels)
    return ids


# ------------------------------------------------------------------------------------------------
# State, health and status


def test_status_maps_each_containers_state_and_health(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    fake.add("kafka", status="exited", exit_code=1)
    fake.add("postgres", health="starting")
    fake.add("schema-registry", health="unhealthy")
    fake.add("object-store", status="exited", exit_code=0, health=None)
    fake.add("kafka", project="someone-else")  # another project's container of the same name
    fake.add("kafka", labels={"com.docker.compose.oneoff": "True"}, status="exited", exit_code=3)  # `compose run`

    status = driver_for(url).status(resources=False)

    assert status.profile == "infra"
    assert list(status.services) == ["kafka", "postgres", "schema-registry", "object-store"]
    states = {n: s.state for n, s in status.services.items()}
    assert states == {
        "kafka": "failed",
        "postgres": "starting",
        "schema-registry": "starting",
        "object-store": "stopped",
    }
    assert "unhealthy" in status.services["schema-registry"].detail
    assert status.services["kafka"].detail == "exited unexpectedly with code 1"
    assert status.services["kafka"].ports == {"kafka": DEFAULT_PORTS["kafka"]}
    assert not status.ready


def test_a_ready_stack_reports_its_profile_and_clients(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    full(fake)
    status = driver_for(url).status(resources=False)
    assert status.profile == "full" and status.ready
    c = status.endpoints.to_json()
    assert set(c) == {"kafka", "schema_registry", "s3", "catalog", "postgres", "exchange", "api", "ingest", "consumer"}
    assert c["kafka"]["bootstrap.servers"] == f"127.0.0.1:{DEFAULT_PORTS['kafka']}"
    assert c["schema_registry"]["url"] == f"http://127.0.0.1:{DEFAULT_PORTS['schema-registry']}/apis/ccompat/v7"
    assert c["s3"] == {
        "endpoint": f"http://127.0.0.1:{DEFAULT_PORTS['object-store-s3']}",
        "access_key": "ak-test",
        "secret_key": "sk-test-secret",
        "region": "us-east-1",
        "bucket": "warehouse",
    }
    assert c["catalog"]["properties"]["type"] == "sql"
    assert (
        c["catalog"]["properties"]["uri"]
        == f"postgresql+psycopg2://k2:p%40ss%2Fword@127.0.0.1:{DEFAULT_PORTS['postgres']}/catalog"
    )
    assert c["postgres"]["dsn"] == f"postgresql://k2:p%40ss%2Fword@127.0.0.1:{DEFAULT_PORTS['postgres']}/postgres"
    assert c["api"] == {"url": f"http://127.0.0.1:{DEFAULT_PORTS['api']}", "api_key": "api-key-test"}
    assert c["exchange"]["ws_url"] == f"ws://127.0.0.1:{DEFAULT_PORTS['exchange']}"
    assert c["consumer"]["status_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['consumer']}/status"


def test_a_platform_behind_toxiproxy_is_the_faultable_profile(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    full(fake, labels={"k2.links": "toxiproxy"})
    fake.add("toxiproxy")
    status = driver_for(url).status(resources=False)
    assert status.profile == "faultable"
    assert list(status.services) == [
        "kafka",
        "postgres",
        "schema-registry",
        "object-store",
        "toxiproxy",
        "exchange",
        "ingest",
        "consumer",
        "api",
    ]
    assert status.endpoints.to_json()["toxiproxy"] == {
        "url": f"http://127.0.0.1:{DEFAULT_PORTS['toxiproxy']}",
        "proxies": {
            "kafka": "toxiproxy:19095",
            "schema-registry": "toxiproxy:18082",
            "object-store": "toxiproxy:18334",
        },
    }


def test_no_container_means_no_profile_and_a_stopped_service(engine: tuple[FakeEngine, str]) -> None:
    _, url = engine
    driver = driver_for(url)
    status = driver.status()
    assert status.profile is None and status.services == {} and status.endpoints.to_json() == {}
    kafka = driver.health("kafka")
    assert kafka.state == "stopped" and "no container" in kafka.detail


@pytest.mark.parametrize(
    ("state", "on_purpose", "expected"),
    [
        ({"Status": "running", "Health": {"Status": "healthy"}}, False, "ready"),
        ({"Status": "running"}, False, "ready"),
        ({"Status": "running", "Health": {"Status": "starting"}}, False, "starting"),
        ({"Status": "running", "Health": {"Status": "unhealthy", "FailingStreak": 4}}, False, "starting"),
        ({"Status": "paused"}, False, "paused"),
        ({"Status": "restarting", "ExitCode": 137}, False, "failed"),
        ({"Status": "exited", "ExitCode": 0}, False, "stopped"),
        ({"Status": "exited", "ExitCode": 143}, False, "stopped"),
        ({"Status": "exited", "ExitCode": 130}, False, "stopped"),
        ({"Status": "exited", "ExitCode": 137}, False, "failed"),
        ({"Status": "exited", "ExitCode": 137}, True, "stopped"),
        ({"Status": "exited", "ExitCode": 137, "OOMKilled": True}, True, "failed"),
        ({"Status": "dead", "ExitCode": 0}, False, "failed"),
        ({"Status": "created"}, False, "stopped"),
    ],
)
def test_container_states_as_service_states(state: dict[str, Any], on_purpose: bool, expected: str) -> None:
    assert container_state({"State": state}, stopped_on_purpose=on_purpose)[0] == expected


def test_the_detail_carries_the_health_checks_last_words() -> None:
    health = {
        "Status": "unhealthy",
        "FailingStreak": 2,
        "Log": [{"Output": 'GET /health/ready answered 503: {"status": "unhealthy"}\n'}],
    }
    state, detail = container_state({"State": {"Status": "running", "Health": health}})
    assert (state, detail) == (
        "starting",
        'unhealthy, 2 failed checks in a row: GET /health/ready answered 503: {"status": "unhealthy"}',
    )
    oom = container_state({"State": {"Status": "exited", "ExitCode": 137, "OOMKilled": True}})[1]
    assert "more memory than its limit" in oom


def check(second: int, code: int) -> dict[str, Any]:
    return {
        "Start": f"2025-01-01T00:00:{second:02d}.000000000Z",
        "End": f"2025-01-01T00:00:{second:02d}.500000000Z",
        "ExitCode": code,
    }


def at(second: float) -> float:
    return 1735689600 + second


def test_ready_since_is_the_first_pass_after_the_last_failure() -> None:
    started = timestamp_ns("2025-01-01T00:00:02Z")
    log = {"Log": [check(1, 0), check(3, 1), check(4, 1), check(5, 0), check(6, 0)]}
    assert ready_since(log, started) == at(5.5)
    # while the log has dropped nothing, the first check of the run is the first pass
    assert ready_since({"Log": [check(3, 0), check(8, 0)]}, started) == at(3.5)
    # the check from before this run started does not count, nor does a pass followed by a failure
    assert ready_since({"Log": [check(3, 0), check(4, 1)]}, started) is None
    # five passes: the moment it became ready has scrolled out of the log
    assert ready_since({"Log": [check(n, 0) for n in range(10, 15)]}, started) is None


def test_ready_at_falls_back_to_the_start_so_dependency_order_holds(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    pg, registry = fake.add("postgres"), fake.add("schema-registry")
    # postgres's transition is in its log; the registry, started after it was ready, has passed
    # five checks since: its own transition is gone
    fake.containers[pg]["State"].update(
        StartedAt="2025-01-01T00:00:00Z",
        Health={"Status": "healthy", "Log": [check(1, 1), check(2, 0), check(7, 0), check(12, 0), check(17, 0)]},
    )
    fake.containers[registry]["State"].update(
        StartedAt="2025-01-01T00:00:03Z", Health={"Status": "healthy", "Log": [check(n, 0) for n in range(20, 25)]}
    )
    services = driver_for(url).status(resources=False).services
    assert services["postgres"].ready_at == at(2.5)
    assert services["schema-registry"].ready_at == at(3)
    assert services["schema-registry"].ready_at > services["postgres"].ready_at


def test_timestamps_of_the_engine_api() -> None:
    assert timestamp_ns("2025-01-01T00:00:01.123456789Z") == 1735689601_123456789
    assert timestamp_ns("2025-01-01T02:00:01.5+02:00") == 1735689601_500000000
    assert timestamp_ns("0001-01-01T00:00:00Z") is None
    assert timestamp_ns("") is None


# ------------------------------------------------------------------------------------------------
# Faults: kill, stop, start, restart, pause, resume


def test_a_kill_without_a_restart_policy_on_failure_leaves_the_service_failed(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = infra(fake)
    driver = driver_for(url)
    driver.kill("kafka")
    assert f"POST /containers/{ids['kafka']}/kill" in fake.requests
    kafka = driver.health("kafka")
    assert (kafka.state, kafka.detail) == ("failed", "exited unexpectedly with code 137")
    assert driver.start("kafka").state == "ready"
    assert driver.health("kafka").ready


def test_a_killed_platform_service_is_crashed_from_inside_and_its_restart_policy_brings_it_back(
    engine: tuple[FakeEngine, str],
) -> None:
    fake, url = engine
    ids = full(fake)
    driver = driver_for(url)
    before = driver.health("consumer").restarts
    driver.kill("consumer")
    # through docker exec, not the kill endpoint: a kill through the API disables the restart policy
    assert not any(r.startswith(f"POST /containers/{ids['consumer']}/kill") for r in fake.requests)
    assert [e["cmd"] for e in fake.execs.values()] == [CRASH_COMMAND]
    consumer = driver.health("consumer")
    assert consumer.ready and consumer.restarts == before + 1


def test_a_service_stopped_on_purpose_is_stopped_whatever_its_exit_code(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = full(fake)
    fake.containers[ids["consumer"]]["StopExitCode"] = 137  # did not stop within its grace period
    driver = driver_for(url)
    driver.stop("consumer")
    assert f"POST /containers/{ids['consumer']}/stop?t=25" in fake.requests
    assert driver.health("consumer").state == "stopped"
    assert driver.start("consumer").state == "ready"
    assert driver.status(resources=False).ready


def test_a_service_starts_only_once_its_dependencies_are_ready(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    full(fake)
    driver = driver_for(url)
    driver.stop("schema-registry")
    driver.stop("ingest")
    with pytest.raises(StackError, match="cannot start ingest: it needs schema-registry, which is not ready"):
        driver.start("ingest")
    driver.start("schema-registry")
    assert driver.start("ingest").ready


def test_restart_waits_until_ready(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = full(fake)
    driver = driver_for(url)
    before = driver.health("api").started_at
    status = driver.restart("api")
    assert status.ready and status.started_at is not None and before is not None and status.started_at > before
    assert f"POST /containers/{ids['api']}/restart?t=25" in fake.requests


def test_pause_and_resume(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = full(fake)
    driver = driver_for(url)
    driver.pause("api")
    assert driver.health("api").state == "paused"
    driver.resume("api")
    assert driver.health("api").ready
    assert [r for r in fake.requests if ids["api"] in r and r.startswith("POST")] == [
        f"POST /containers/{ids['api']}/pause",
        f"POST /containers/{ids['api']}/unpause",
    ]
    driver.stop("api")
    with pytest.raises(StackError, match="cannot pause api: it is not running"):
        driver.pause("api")


def test_an_unknown_or_one_shot_service_is_refused(engine: tuple[FakeEngine, str]) -> None:
    _, url = engine
    driver = driver_for(url)
    for name in ("zookeeper", "object-store-init"):
        with pytest.raises(StackError, match=f"unknown service '{name}'; the compose stack has api, consumer, "):
            driver.health(name)


# ------------------------------------------------------------------------------------------------
# Logs and resources


def test_logs_since_a_mark_hold_only_what_came_after_it(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = infra(fake)
    kafka = ids["kafka"]
    t0 = time.time_ns()
    fake.log(kafka, "started", at_ns=t0)
    fake.log(kafka, "a warning", stream=2, at_ns=t0 + 1_000)  # the same second as the mark, 1 µs later
    driver = driver_for(url)
    mark = driver.log_mark("kafka")
    assert mark == t0 + 1_000
    fake.log(kafka, "after the mark", at_ns=t0 + 2_000)
    fake.log(kafka, "and an error", stream=2, at_ns=t0 + 3_000)
    assert driver.logs_since("kafka", mark) == "after the mark\nand an error\n"
    assert driver.logs_since("kafka", None) == "started\na warning\nafter the mark\nand an error\n"
    assert driver.logs("kafka", tail=1) == "and an error\n"
    assert driver.logs("kafka").count("\n") == 4


def test_log_marks_of_a_service_without_container_or_of_no_compose_service(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = infra(fake)
    driver = driver_for(url)
    assert driver.log_mark("kafka") is None  # nothing logged yet: everything that comes is after the mark
    fake.log(ids["kafka"], "first line")
    assert driver.logs_since("kafka", None) == "first line\n"
    assert driver.log_mark("api") is None and driver.logs_since("api", None) == ""
    assert driver.log_mark("supervisor") is None and driver.logs_since("supervisor", 123) == ""  # the local stack's


STATS: dict[str, Any] = {
    "memory_stats": {"usage": 300 * 2**20, "limit": 768 * 2**20, "stats": {"inactive_file": 100 * 2**20}},
    "cpu_stats": {"cpu_usage": {"total_usage": 4_000_000_000}, "system_cpu_usage": 110_000_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000}, "system_cpu_usage": 100_000_000_000},
    "pids_stats": {"current": 12},
}


def test_resources_come_from_the_containers_stats(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ids = infra(fake)
    fake.stats[ids["kafka"]] = STATS
    driver = driver_for(url)
    use = driver.resources("kafka")
    assert use.memory_mb == 200.0  # usage less the page cache the kernel may drop
    assert use.cpu_percent == 20.0  # 1 s of CPU in 10 s of the machine's 2 cores' time... x 2 cores
    assert use.cpu_seconds == 4.0 and use.processes == 12
    assert driver.health("kafka").memory_mb == 200.0
    assert any("one-shot=True" in r for r in fake.requests), "health samples memory in one quick call"
    driver.stop("kafka")
    with pytest.raises(StackError, match="kafka is not running"):
        driver.resources("kafka")


def test_memory_on_cgroup_v1_and_on_old_engines() -> None:
    v1 = {"memory_stats": {"usage": 500, "stats": {"total_inactive_file": 200, "cache": 300}}}
    assert resources_from_stats(v1).memory_bytes == 300
    old = {"memory_stats": {"usage": 500, "stats": {"cache": 120}}}
    assert resources_from_stats(old).memory_bytes == 380
    assert resources_from_stats({}).memory_bytes == 0 and resources_from_stats({}).cpu_percent == 0.0


def test_budgets_and_versions_come_from_the_compose_file_without_docker() -> None:
    driver = driver_for("unix:///nonexistent/docker.sock")
    assert driver.memory_budgets()["kafka"] == 768
    assert driver.versions()["kafka"] == "k2-acceptance/kafka:4.1.1 (built here)"
    assert driver.versions()["api"].endswith("(built here)")


# ------------------------------------------------------------------------------------------------
# up, down, and the docker compose command lines


@pytest.fixture
def compose_dir(tmp_path: Path) -> Path:
    """A copy of compose/, so whether a .env exists is the test's choice."""
    for name in ("docker-compose.yml", "docker-compose.faultable.yml", "toxiproxy/toxiproxy.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(DEFAULT_COMPOSE_FILE.parent / name, tmp_path / name)
    return tmp_path


def test_up_runs_docker_compose_up_wait_for_the_profile_then_reads_the_state(
    engine: tuple[FakeEngine, str], compose_dir: Path
) -> None:
    fake, url = engine
    (compose_dir / ".env").write_text("K2_API_KEY=from-the-file\n")
    runner = Recorder()
    driver = driver_for(url, runner, compose_dir / "docker-compose.yml")
    full(fake)  # what compose would have started
    status = driver.up("full")
    assert status.ready and status.profile == "full"
    ((cmd, env),) = runner.calls
    assert cmd == [
        "docker",
        "compose",
        "--ansi",
        "never",
        "--project-name",
        PROJECT,
        "--file",
        str(compose_dir / "docker-compose.yml"),
        "--env-file",
        str(compose_dir / ".env"),
        "--profile",
        "full",
        "up",
        "--detach",
        "--build",
        "--remove-orphans",
        "--wait",
        "--wait-timeout",
        "600",
    ]
    assert env["DOCKER_HOST"] == url, "the CLI must talk to the same daemon as the SDK"


def test_profile_faultable_adds_the_override_and_down_names_every_profile(compose_dir: Path) -> None:
    driver = driver_for("unix:///nonexistent/docker.sock", compose_file=compose_dir / "docker-compose.yml")
    files = [
        "--file",
        str(compose_dir / "docker-compose.yml"),
        "--file",
        str(compose_dir / "docker-compose.faultable.yml"),
    ]
    assert driver.compose_command("faultable", "up")[6:] == [*files, "--profile", "faultable", "up"]
    assert driver.compose_command("infra", "up")[6:] == [files[0], files[1], "--profile", "infra", "up"]
    assert driver.compose_command(None, "down")[6:] == [
        *files,
        "--profile",
        "infra",
        "--profile",
        "full",
        "--profile",
        "faultable",
        "down",
    ]


def test_a_failed_compose_up_says_why_with_each_service_that_is_not_ready(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    fake.add("kafka")
    pg = fake.add("postgres", health="unhealthy")
    fake.containers[pg]["State"]["Health"]["Log"].append(
        fake._check(time.time_ns(), 1, 'select 1 on registry: FATAL:  password authentication failed for user "k2"')
    )
    fake.log(pg, 'FATAL:  password authentication failed for user "k2"')
    said = "pulling ...\ndependency failed to start: container k2-acceptance-postgres-1 is unhealthy"
    runner = Recorder(returncode=1, output=said)
    with pytest.raises(StackError) as caught:
        driver_for(url, runner).up("infra")
    assert str(caught.value).startswith(
        "`docker compose up` for profile infra failed (exit code 1):\npulling ...\ndependency failed to start"
    )
    assert str(caught.value).endswith(
        "\nservices not ready:\n  postgres: starting, unhealthy, 3 failed checks in a row: select 1 on registry: "
        'FATAL:  password authentication failed for user "k2"\n'
        '    | FATAL:  password authentication failed for user "k2"\n'
        "  hint: the database volume was made with other secrets than compose/.env's (another clone of this project "
        "on this machine?); `python -m harness stack --driver compose down --purge` starts over with empty volumes"
    )


def test_a_compose_file_missing_its_secrets_is_refused_with_composes_own_words(engine: tuple[FakeEngine, str]) -> None:
    _, url = engine
    said = (
        'WARN[0000] The "X" variable is not set.\nerror while interpolating services.postgres.environment.'
        "POSTGRES_PASSWORD: required variable K2_POSTGRES_PASSWORD is missing a value: set K2_POSTGRES_PASSWORD "
        "(make setup-docker writes compose/.env)\n"
    )
    runner = Recorder()
    with pytest.raises(
        ComposeFileError,
        match=r"refused the compose file: error while interpolating .*"
        r"K2_POSTGRES_PASSWORD is missing a value: set K2_POSTGRES_PASSWORD "
        r"\(make setup-docker writes compose/.env\)$",
    ):
        ComposeDriver(
            ComposeSettings(DEFAULT_COMPOSE_FILE, {}, url), runner=runner, config_runner=lambda cmd: (1, said)
        )
    assert runner.calls == []


def test_without_the_compose_cli_the_error_says_so(engine: tuple[FakeEngine, str]) -> None:
    _, url = engine

    def missing(cmd: list[str], env: Mapping[str, str]) -> RunResult:
        raise FileNotFoundError("docker")

    driver = ComposeDriver(
        ComposeSettings(DEFAULT_COMPOSE_FILE, SECRETS, url), runner=missing, config_runner=recorded_config
    )
    with pytest.raises(StackError, match="`docker compose` is not installed"):
        driver.up("infra")


def test_down_with_purge_removes_only_the_volumes_of_this_project(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    ours = {"com.docker.compose.project": PROJECT, "com.docker.compose.volume": "kafka-data"}
    fake.volumes = {
        f"{PROJECT}_kafka-data": {"Name": f"{PROJECT}_kafka-data", "Labels": ours},
        f"{PROJECT}_postgres-data": {"Name": f"{PROJECT}_postgres-data", "Labels": {**ours, "x": "y"}},
        "other_kafka-data": {"Name": "other_kafka-data", "Labels": {"com.docker.compose.project": "other"}},
        f"{PROJECT}_lookalike": {"Name": f"{PROJECT}_lookalike", "Labels": {}},  # named like ours, not labelled
        "plain": {"Name": "plain", "Labels": None},
    }
    ids = full(fake)
    stray = fake.add("kafka", labels={"com.docker.compose.oneoff": "True"})  # compose down may leave it
    theirs = fake.add("kafka", project="other")
    runner = Recorder()
    driver = driver_for(url, runner)
    stopped = driver.down(purge=True)
    ((cmd, _),) = runner.calls
    assert cmd[-5:] == ["down", "--remove-orphans", "--timeout", "30", "--volumes"]
    assert set(fake.volumes) == {"other_kafka-data", f"{PROJECT}_lookalike", "plain"}
    assert theirs in fake.containers and stray not in fake.containers
    assert not any(cid in fake.containers for cid in ids.values())  # the fake's compose did nothing: the SDK did
    assert stopped[0] in ("api", "consumer", "ingest") and stopped[-1] in ("kafka", "postgres", "object-store")
    assert driver.leftovers() == []


def test_purge_never_trusts_the_daemons_label_filter(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    fake.honour_volume_filters = False
    fake.volumes = {
        "mine": {"Name": "mine", "Labels": {"com.docker.compose.project": PROJECT}},
        "yours": {"Name": "yours", "Labels": {"com.docker.compose.project": "yours"}},
        "nobodys": {"Name": "nobodys", "Labels": None},
    }
    driver_for(url).down(purge=True)
    assert set(fake.volumes) == {"yours", "nobodys"}


def test_down_without_purge_keeps_every_volume_and_needs_no_secret(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    fake.volumes = {"mine": {"Name": "mine", "Labels": {"com.docker.compose.project": PROJECT}}}
    infra(fake)
    runner = Recorder()
    driver_for(url, runner, env={}).down()
    ((cmd, _),) = runner.calls
    assert "--volumes" not in cmd and set(fake.volumes) == {"mine"}
    assert not any(r.startswith("DELETE /volumes") for r in fake.requests)


def test_leftovers_are_the_projects_containers_networks_and_taken_ports(
    engine: tuple[FakeEngine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = engine
    fake.add("kafka", status="exited", exit_code=137)
    fake.add("kafka", project="other")
    fake.networks = {
        "ours": {"Name": f"{PROJECT}_default", "Labels": {"com.docker.compose.project": PROJECT}},
        "theirs": {"Name": "other_default", "Labels": {"com.docker.compose.project": "other"}},
    }
    monkeypatch.setattr(f"{__name__}.TAKEN_PORTS", {DEFAULT_PORTS["api"], 5432})
    assert driver_for(url).leftovers() == [
        f"container {PROJECT}-kafka-1 (kafka, exited)",
        f"network {PROJECT}_default",
        f"port {DEFAULT_PORTS['api']} taken",
    ]


# ------------------------------------------------------------------------------------------------
# No Docker


def test_a_missing_socket_is_one_clear_line(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(StackError) as caught:
        driver_for(url).status()
    assert str(caught.value) == (
        f"Docker is not reachable at {url}: no such socket; start Docker "
        f"(or point DOCKER_HOST at it), or use -D driver=local"
    )


def test_a_socket_nobody_answers_on_is_one_clear_line() -> None:
    directory = tempfile.mkdtemp(prefix="fde-", dir="/tmp")
    path = f"{directory}/docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)  # bound, never listening: connections are refused, as with a stale socket file
    try:
        with pytest.raises(StackError) as caught:
            driver_for(f"unix://{path}").leftovers()
    finally:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)
    message = str(caught.value)
    assert message.startswith(f"Docker is not reachable at unix://{path}: ")
    assert message.endswith("; start Docker (or point DOCKER_HOST at it), or use -D driver=local")
    assert "\n" not in message


# ------------------------------------------------------------------------------------------------
# Wiring


def test_driver_compose_is_a_run_setting_that_makes_a_compose_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.stack.compose.run_config", recorded_config)
    config = RunConfig.from_sources({"driver": "compose", "compose_file": "compose/docker-compose.yml"}, env={})
    assert config.driver == "compose" and config.compose_file == "compose/docker-compose.yml"
    driver = make_driver(config, Target.load())
    assert isinstance(driver, ComposeDriver)
    assert driver.settings.compose_file == DEFAULT_COMPOSE_FILE
    with pytest.raises(ComposeFileError, match=r"compose file .*nope\.yml not found"):
        make_driver(RunConfig(driver="compose", compose_file="nope.yml"), Target.load())


# ------------------------------------------------------------------------------------------------
# A platform file's services (harness/stack/compose_platform.py)

RENAMED = PlatformFile.load(REPO_ROOT / "platforms" / "k2-renamed.yaml")


def renamed_for_compose(**api: Any) -> PlatformFile:
    """k2-renamed with its ingest ready by HTTP (compose cannot wait on its log line), and its api changed by `api`."""
    services = {
        **RENAMED.services,
        "ingest": RENAMED.services["ingest"].model_copy(update={"ready": HttpReady(http="/health/ready")}),
    }
    services["api"] = services["api"].model_copy(update=api)
    return PlatformFile(name=RENAMED.name, services=services)


def asking(asked: list[list[str]]) -> Callable[[list[str]], tuple[int, str]]:
    """The recorded `docker compose config` answers, each command kept in `asked`."""

    def answer(cmd: list[str]) -> tuple[int, str]:
        asked.append(cmd)
        return recorded_config(cmd)

    return answer


def files_of(cmd: list[str]) -> list[str]:
    return [Path(cmd[i + 1]).name for i, part in enumerate(cmd) if part == "--file"]


def test_the_reference_platform_writes_no_override_and_changes_no_command(compose_dir: Path) -> None:
    asked: list[list[str]] = []
    ComposeDriver(
        ComposeSettings(compose_dir / "docker-compose.yml", SECRETS),
        platform=REFERENCE_PLATFORM,
        config_runner=asking(asked),
    )
    assert [files_of(cmd) for cmd in asked] == [
        ["docker-compose.yml"],
        ["docker-compose.yml", "docker-compose.faultable.yml"],
    ]
    assert not (compose_dir / OVERRIDE_NAME).exists() and not (compose_dir / FAULTABLE_OVERRIDE_NAME).exists()


def test_a_teams_platform_file_joins_every_compose_command_as_an_override(compose_dir: Path) -> None:
    asked: list[list[str]] = []
    said: list[str] = []
    driver = ComposeDriver(
        ComposeSettings(compose_dir / "docker-compose.yml", SECRETS),
        say=said.append,
        platform=renamed_for_compose(),
        config_runner=asking(asked),
    )
    base, faultable = (
        ["docker-compose.yml", OVERRIDE_NAME],
        ["docker-compose.yml", "docker-compose.faultable.yml", FAULTABLE_OVERRIDE_NAME],
    )
    # the compose file alone (for the container ports), then with the override: the driver's model of the services
    assert [files_of(cmd) for cmd in asked] == [["docker-compose.yml"], base, faultable]
    assert files_of(driver.compose_command("full", "up")) == base
    assert files_of(driver.compose_command("infra", "up")) == base
    assert files_of(driver.compose_command("faultable", "up")) == faultable  # after the faultable file: proxied links
    assert files_of(driver.compose_command(None, "down")) == faultable
    direct = (compose_dir / OVERRIDE_NAME).read_text()
    proxied = (compose_dir / FAULTABLE_OVERRIDE_NAME).read_text()
    assert "K2_TOPIC: feeds.spot.trades.v3" in direct and "K2_KAFKA_BOOTSTRAP: kafka:9092" in direct
    assert "K2_KAFKA_BOOTSTRAP: toxiproxy:19095" in proxied and "K2_KAFKA_BOOTSTRAP: kafka:9092" not in proxied
    assert said == [
        f"[stack] platform file k2-renamed: ingest, consumer, api as it declares them, through "
        f"{compose_dir / OVERRIDE_NAME}"
    ]


def test_a_platform_file_compose_cannot_run_is_refused_when_the_driver_is_made(compose_dir: Path) -> None:
    from harness.stack.platform_file import LogReady

    logged = PlatformFile(
        name=RENAMED.name,
        services={
            **RENAMED.services,
            "ingest": RENAMED.services["ingest"].model_copy(update={"ready": LogReady(log='"msg": "connected"')}),
        },
    )
    with pytest.raises(ComposePlatformError, match=r"compose cannot wait on a log line.*ingest \(log: "):
        ComposeDriver(
            ComposeSettings(compose_dir / "docker-compose.yml", SECRETS), platform=logged, config_runner=recorded_config
        )
    assert not (compose_dir / OVERRIDE_NAME).exists()


def _compose_cli() -> bool:
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _compose_cli(), reason="the Docker Compose CLI is not installed")
def test_budgets_and_health_checks_are_the_platform_files_as_compose_reads_the_override(
    compose_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("K2_", "COMPOSE_")):
            monkeypatch.delenv(name)
    (compose_dir / ".env").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    driver = ComposeDriver(
        ComposeSettings(compose_dir / "docker-compose.yml", SECRETS),
        config_runner=run_config,
        platform=renamed_for_compose(memory_budget_mb=512),
    )
    budgets = driver.memory_budgets()
    assert budgets["api"] == 512 and budgets["consumer"] == 384 and budgets["kafka"] == 768
    api = driver.base.services["api"]
    assert api.healthcheck is not None and "'/status/ready'" in api.healthcheck.test[3]
    assert api.environment["K2_API_PREFIX"] == "/markets/v3"
    assert driver.faultable.services["consumer"].environment["K2_KAFKA_BOOTSTRAP"] == "toxiproxy:19095"
    assert driver.faultable.services["consumer"].labels["k2.links"] == "toxiproxy"
