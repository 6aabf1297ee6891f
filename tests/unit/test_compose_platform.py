"""A platform file's services under compose (harness/stack/compose_platform.py): the override the
ComposeDriver writes for the roles a team's file changes.

No Docker engine is needed. The in-network values are held to compose/docker-compose.yml through
compose's recorded answer (tests/compose_config.py); where the Compose CLI is installed, compose
itself reads the override too (`docker compose config`, which needs no engine).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.stack import compose_platform
from harness.stack.compose import DEFAULT_COMPOSE_FILE
from harness.stack.compose_platform import (
    CONTAINER_PORTS,
    ComposePlatformError,
    Replace,
    group_probe,
    http_probe,
    override_for,
    values,
)
from harness.stack.platform_file import PLACEHOLDERS, REFERENCE, GroupReady, HttpReady, PlatformFile
from harness.stack.settings import REPO_ROOT
from tests.compose_config import COMPOSE_DIR, SECRETS, recorded

RENAMED = REPO_ROOT / "platforms" / "k2-renamed.yaml"
FAULTABLE_FILE = COMPOSE_DIR / "docker-compose.faultable.yml"
PROXIES = {
    p["name"]: p["listen"].replace("0.0.0.0", "toxiproxy")
    for p in json.loads((COMPOSE_DIR / "toxiproxy" / "toxiproxy.json").read_text())
}


@pytest.fixture(scope="module")
def reference() -> PlatformFile:
    return PlatformFile.load(REFERENCE)


@pytest.fixture(scope="module")
def renamed() -> PlatformFile:
    return PlatformFile.load(RENAMED)


def with_ingest_ready(file: PlatformFile, ready: HttpReady | GroupReady) -> PlatformFile:
    ingest = file.services["ingest"].model_copy(update={"ready": ready})
    return PlatformFile(name=file.name, services={**file.services, "ingest": ingest})


@pytest.fixture(scope="module")
def renamed_for_compose(renamed: PlatformFile) -> PlatformFile:
    """k2-renamed with its ingest ready by HTTP, as a team would declare it for compose runs."""
    return with_ingest_ready(renamed, HttpReady(http="/health/ready"))


def interpolate(text: str, env: Mapping[str, str] = SECRETS) -> str:
    """What compose makes of a value: ${VAR}, ${VAR:-default}, ${VAR:?message} and $$."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, kind, rest = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if kind == ":?":
            raise KeyError(f"{name} is required: {rest}")
        return rest or ""

    return re.sub(r"\$\$|\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, text)


# ------------------------------------------------------------------------------------------------
# When there is an override, and what it holds


def test_the_reference_platform_file_needs_no_override(reference: PlatformFile) -> None:
    assert override_for(reference, reference) is None
    # a team's file that restates the reference's roles changes nothing either
    assert override_for(PlatformFile(name="a-copy", services=dict(reference.services)), reference) is None


def test_a_log_readiness_is_refused_clearly_as_compose_cannot_wait_on_a_log_line(
    renamed: PlatformFile, reference: PlatformFile
) -> None:
    from harness.stack.platform_file import LogReady

    logged = PlatformFile(
        name=renamed.name,
        services={
            **renamed.services,
            "ingest": renamed.services["ingest"].model_copy(update={"ready": LogReady(log='"msg": "connected"')}),
        },
    )
    with pytest.raises(ComposePlatformError) as caught:
        override_for(logged, reference)
    message = str(caught.value)
    assert message.startswith("platform file k2-renamed: compose cannot wait on a log line")
    assert 'ingest (log: /"msg": "connected"/)' in message
    assert "ready: {http: PATH}" in message and "ready: {consumer_group: GROUP}" in message
    assert "consumer (" not in message and "api (" not in message  # their readiness compose can wait on


def test_only_the_roles_that_differ_from_the_reference_are_overridden(
    renamed_for_compose: PlatformFile, reference: PlatformFile
) -> None:
    doc = override_for(renamed_for_compose, reference)
    assert doc is not None
    assert list(doc["services"]) == ["ingest", "consumer", "api"]  # the exchange is the reference's


def test_a_changed_role_runs_its_own_command_environment_budget_and_policies(
    renamed_for_compose: PlatformFile, reference: PlatformFile
) -> None:
    doc = override_for(renamed_for_compose, reference)
    assert doc is not None
    ingest, consumer, api = (doc["services"][r] for r in ("ingest", "consumer", "api"))
    assert ingest["command"] == ["python", "-m", "k2.ingest"]
    assert ingest["environment"]["K2_TOPIC"] == "feeds.spot.trades.v3"
    assert ingest["environment"]["K2_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert ingest["environment"]["K2_EXCHANGE_WS_URL"] == "ws://exchange:18765"
    assert ingest["environment"]["K2_INGEST_PORT"] == "18701" and ingest["environment"]["K2_INGEST_HOST"] == "0.0.0.0"
    assert consumer["environment"]["K2_CONSUMER_GROUP"] == "acme-lake-writers"
    assert api["environment"]["K2_API_READY_PATH"] == "/status/ready"
    # the environment is the file's, whole: compose replaces the compose file's rather than merge
    assert isinstance(ingest["environment"], Replace)
    assert set(ingest["environment"]) == set(renamed_for_compose.services["ingest"].env)
    for role, service in doc["services"].items():
        declared = renamed_for_compose.services[role]
        assert service["deploy"]["resources"]["limits"]["memory"] == f"{declared.memory_budget_mb}M"
        assert service["restart"] == declared.restart
        assert service["stop_grace_period"] == f"{declared.stop_grace:g}s"
        assert service["healthcheck"]["start_period"] == f"{declared.ready_within:g}s"
        assert service["depends_on"] == {d: {"condition": "service_healthy"} for d in declared.depends_on}


def test_health_checks_probe_what_the_file_declares(renamed_for_compose: PlatformFile, reference: PlatformFile) -> None:
    doc = override_for(renamed_for_compose, reference)
    assert doc is not None
    api = doc["services"]["api"]["healthcheck"]["test"]
    assert api[:3] == ["CMD", "python", "-c"]
    assert "'http://127.0.0.1:18000/status/ready', '/status/ready', 200" in api[3]
    consumer = doc["services"]["consumer"]["healthcheck"]["test"]
    assert consumer[:3] == ["CMD", "python", "-c"]
    assert "bootstrap, group = 'kafka:9092', 'acme-lake-writers'" in consumer[3]
    assert "describe_consumer_groups" in consumer[3]
    for test in (api, consumer):
        compile(interpolate(test[3]), "<health check>", "exec")


def test_container_ports_come_from_the_caller(renamed_for_compose: PlatformFile, reference: PlatformFile) -> None:
    doc = override_for(renamed_for_compose, reference, ports={**CONTAINER_PORTS, "api": 9000})
    assert doc is not None
    assert doc["services"]["api"]["environment"]["K2_API_PORT"] == "9000"
    assert "'http://127.0.0.1:9000/status/ready'" in doc["services"]["api"]["healthcheck"]["test"][3]
    with pytest.raises(ComposePlatformError, match="the compose file has no service api"):
        override_for(renamed_for_compose, reference, ports={r: p for r, p in CONTAINER_PORTS.items() if r != "api"})


# ------------------------------------------------------------------------------------------------
# Placeholders: the compose network's values, as the compose file gives them


def test_every_placeholder_has_a_compose_value() -> None:
    for role in CONTAINER_PORTS:
        assert set(values(role)) == set(PLACEHOLDERS), role
        assert set(values(role, proxies=PROXIES)) == set(PLACEHOLDERS), role


def test_placeholders_are_filled_with_the_compose_networks_addresses_and_secrets_by_variable() -> None:
    v = values("consumer")
    assert (v["python"], v["repo"], v["host"], v["port"]) == ("python", "/app", "0.0.0.0", "18702")
    assert v["partitions"] == "3"
    assert v["data_dir"] == "/tmp" and values("exchange")["data_dir"] == "/data"
    assert v["kafka.bootstrap"] == "kafka:9092"
    assert v["registry.url"] == "http://schema-registry:8080/apis/ccompat/v7"
    assert v["s3.endpoint"] == "http://object-store:8333"
    assert v["catalog.uri"] == (
        "postgresql+psycopg2://${K2_POSTGRES_USER:-k2}:${K2_POSTGRES_PASSWORD:?set "
        "K2_POSTGRES_PASSWORD (make setup-docker writes compose/.env)}@postgres:5432/catalog"
    )
    assert v["catalog.credential"] == "" and v["catalog.type"] == "sql"
    assert v["exchange.ws_url"] == "ws://exchange:18765" and v["exchange.rest_url"] == "http://exchange:18765"
    for name, var in (
        ("s3.access_key", "K2_S3_ACCESS_KEY"),
        ("s3.secret_key", "K2_S3_SECRET_KEY"),
        ("api.key", "K2_API_KEY"),
    ):
        assert re.fullmatch(rf"\$\{{{var}:\?[^}}]+\}}", v[name]), name  # the variable, never a value


@pytest.mark.parametrize("recording", ["compose-config.json", "compose-config-faultable.json"])
def test_the_reference_filled_for_compose_is_what_the_compose_file_gives_its_services(
    recording: str, reference: PlatformFile
) -> None:
    """The values hold to compose/docker-compose.yml (and its faultable override): each variable the
    compose file sets is the reference file's, filled here, as compose interpolates it."""
    config = json.loads(recorded(recording))["services"]
    proxies = PROXIES if "faultable" in recording else None
    for role, service in reference.services.items():
        ports = {r: config[r]["ports"][0]["target"] for r in CONTAINER_PORTS}
        assert ports == CONTAINER_PORTS
        filled = compose_platform.service_override(role, service, ports, proxies)
        ours = {k: interpolate(v) for k, v in filled["environment"].items()}
        theirs = {k: str(v) for k, v in config[role]["environment"].items()}
        assert set(theirs) <= set(ours), f"{role}: the reference file misses {set(theirs) - set(ours)}"
        assert {k: ours[k] for k in theirs} == theirs, role
        assert filled["command"] == config[role]["command"], role
        assert int(filled["deploy"]["resources"]["limits"]["memory"].rstrip("M")) * 2**20 == int(
            config[role]["deploy"]["resources"]["limits"]["memory"]
        ), role


def test_literal_dollars_of_a_file_reach_the_service_as_written(reference: PlatformFile) -> None:
    service = reference.services["api"].model_copy(
        update={"env": {"PATTERN": "^a$", "KEY": "{api.key}"}, "command": ["sh", "-c", "echo $HOME"]}
    )
    doc = override_for(PlatformFile(name="dollars", services={**reference.services, "api": service}), reference)
    assert doc is not None
    api = doc["services"]["api"]
    assert api["environment"]["PATTERN"] == "^a$$"  # compose makes $$ a $
    assert api["command"] == ["sh", "-c", "echo $$HOME"]
    assert interpolate(api["environment"]["KEY"]) == SECRETS["K2_API_KEY"]


# ------------------------------------------------------------------------------------------------
# Profile faultable: the links stay behind toxiproxy, whatever the variables are called


def test_the_faultable_override_sends_the_links_through_toxiproxy(
    renamed_for_compose: PlatformFile, reference: PlatformFile
) -> None:
    doc = override_for(renamed_for_compose, reference, proxies=PROXIES)
    assert doc is not None
    consumer = doc["services"]["consumer"]["environment"]
    assert consumer["K2_KAFKA_BOOTSTRAP"] == "toxiproxy:19095"
    assert consumer["K2_SCHEMA_REGISTRY_URL"] == "http://toxiproxy:18082/apis/ccompat/v7"
    assert consumer["K2_S3_ENDPOINT"] == "http://toxiproxy:18334"
    # the catalog's database and the exchange are reached directly, as in the local stack
    assert "@postgres:5432/catalog" in consumer["K2_CATALOG_URI"]
    assert doc["services"]["ingest"]["environment"]["K2_EXCHANGE_WS_URL"] == "ws://exchange:18765"
    # the health check sees the truth: Kafka directly, not through the proxy it may be cutting
    assert "'kafka:9092'" in doc["services"]["consumer"]["healthcheck"]["test"][3]


def test_a_team_variable_of_its_own_name_goes_through_toxiproxy_too(reference: PlatformFile) -> None:
    ingest = reference.services["ingest"].model_copy(update={"env": {"BROKERS": "{kafka.bootstrap}"}})
    exchange = reference.services["exchange"].model_copy(update={"env": {"BROKERS": "{kafka.bootstrap}"}})
    team = PlatformFile(name="team", services={**reference.services, "ingest": ingest, "exchange": exchange})
    doc = override_for(team, reference, proxies=PROXIES)
    assert doc is not None
    assert doc["services"]["ingest"]["environment"] == {"BROKERS": "toxiproxy:19095"}
    assert doc["services"]["exchange"]["environment"] == {"BROKERS": "kafka:9092"}  # never behind a proxy
    with pytest.raises(ComposePlatformError, match="no toxiproxy listener known for object-store"):
        override_for(team, reference, proxies={"kafka": "toxiproxy:19095", "schema-registry": "toxiproxy:18082"})


# ------------------------------------------------------------------------------------------------
# The file as written


class _Loader(yaml.SafeLoader):
    pass


def _override_tag(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    assert isinstance(node, yaml.MappingNode)
    return {"!override": loader.construct_mapping(node)}


_Loader.add_constructor("!override", _override_tag)


def test_the_written_override_replaces_the_environment_with_composes_override_tag(
    tmp_path: Path, renamed_for_compose: PlatformFile, reference: PlatformFile
) -> None:
    doc = override_for(renamed_for_compose, reference)
    assert doc is not None
    path = compose_platform.write(tmp_path / ".platform-override.yml", doc, renamed_for_compose.name)
    text = path.read_text()
    assert text.startswith("# Written by the harness") and "'k2-renamed'" in text.splitlines()[0]
    assert "environment: !override" in text
    back = yaml.load(text, Loader=_Loader)
    assert back["services"]["ingest"]["environment"] == {"!override": dict(doc["services"]["ingest"]["environment"])}
    assert back["services"]["api"]["healthcheck"]["test"] == doc["services"]["api"]["healthcheck"]["test"]
    for secret in SECRETS.values():
        assert secret not in text
    assert [p.name for p in tmp_path.iterdir()] == [".platform-override.yml"]  # no temporary file left


# ------------------------------------------------------------------------------------------------
# The health checks' programs, run here: their exit code is the verdict Docker reads


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/ok": 200, "/down": 503, "/moved": 302}.get(self.path, 404)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)  # a port of the system's choosing
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_check(test: list[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    assert test[:2] == ["CMD", "python"]
    proc = subprocess.run(
        [sys.executable, *(interpolate(t) for t in test[2:])],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, (proc.stdout + proc.stderr).strip()


@pytest.mark.parametrize(
    ("path", "status", "passes"),
    [
        ("/ok", 200, True),
        ("/down", 200, False),
        ("/down", 503, True),
        ("/moved", 200, False),
        ("/moved", 302, True),
    ],
)
def test_the_http_check_passes_only_on_the_declared_status(
    http_port: int, path: str, status: int, passes: bool
) -> None:
    code, said = run_check(http_probe(http_port, path, status))
    assert (code == 0) == passes, said
    assert said.startswith(f"GET {path} answered"), said


def test_the_http_check_says_why_when_nothing_answers(http_port: int) -> None:
    code, said = run_check(http_probe(1, "/ok", 200))  # port 1: refused
    assert code == 1 and said.startswith("GET /ok failed:"), said


FAKE_ADMIN = """
import os
class _Group:
    def __init__(self, members):
        self.members, self.state = members, "STABLE" if members else "EMPTY"
class _Future:
    def __init__(self, group): self.group = group
    def result(self):
        if os.environ["FAKE_GROUP"] == "broken":
            raise RuntimeError("KafkaError{code=_TRANSPORT}")
        return _Group(["m"] * int(os.environ["FAKE_GROUP"]))
class AdminClient:
    def __init__(self, conf):
        assert conf["bootstrap.servers"] == "kafka:9092", conf
    def describe_consumer_groups(self, groups, request_timeout):
        return {g: _Future(g) for g in groups}
"""


@pytest.mark.parametrize(
    ("members", "passes", "says"),
    [
        ("2", True, "consumer group acme-lake-writers has 2 member(s) (state STABLE)"),
        ("0", False, "consumer group acme-lake-writers has 0 member(s) (state EMPTY)"),
        ("broken", False, "describing consumer group acme-lake-writers: KafkaError{code=_TRANSPORT}"),
    ],
)
def test_the_consumer_group_check_passes_once_the_group_has_a_member(
    tmp_path: Path, members: str, passes: bool, says: str
) -> None:
    package = tmp_path / "confluent_kafka"  # a stand-in for the image's confluent-kafka: no Kafka here
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "admin.py").write_text(FAKE_ADMIN)
    code, said = run_check(group_probe("acme-lake-writers"), {"PYTHONPATH": str(tmp_path), "FAKE_GROUP": members})
    assert (code == 0) == passes and said == says, said


# ------------------------------------------------------------------------------------------------
# Compose itself reads the override (the CLI needs no engine for `config`)


def _compose_cli() -> bool:
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


needs_compose_cli = pytest.mark.skipif(not _compose_cli(), reason="the Docker Compose CLI is not installed")


def compose_config(*files: Path, profiles: tuple[str, ...]) -> dict[str, Any]:
    cmd = ["docker", "compose", "--ansi", "never", "--env-file", os.devnull]
    for f in files:
        cmd += ["--file", str(f)]
    for p in profiles:
        cmd += ["--profile", p]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K2_", "COMPOSE_"))}
    proc = subprocess.run(
        [*cmd, "config", "--format", "json"], env={**env, **SECRETS}, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


@needs_compose_cli
def test_compose_runs_the_platform_files_services_with_the_override(
    tmp_path: Path, renamed_for_compose: PlatformFile, reference: PlatformFile
) -> None:
    doc = override_for(renamed_for_compose, reference)
    assert doc is not None
    override = compose_platform.write(tmp_path / ".platform-override.yml", doc, renamed_for_compose.name)
    for profiles in (("infra",), ("full",), ("infra", "full", "faultable")):
        compose_config(DEFAULT_COMPOSE_FILE, override, profiles=profiles)  # every profile accepts it
    services = compose_config(DEFAULT_COMPOSE_FILE, override, profiles=("full",))["services"]
    for role in ("ingest", "consumer", "api"):
        env = {k: interpolate(v) for k, v in doc["services"][role]["environment"].items()}
        assert services[role]["environment"] == env, role  # replaced whole, nothing of the reference's left
        assert services[role]["healthcheck"]["test"] == [
            interpolate(t) for t in doc["services"][role]["healthcheck"]["test"]
        ], role
        assert (
            int(services[role]["deploy"]["resources"]["limits"]["memory"])
            == renamed_for_compose.services[role].memory_budget_mb * 2**20
        ), role
        assert services[role]["image"] == services["exchange"]["image"]  # the platform image: no image of its own
    assert services["ingest"]["environment"]["K2_TOPIC"] == "feeds.spot.trades.v3"
    assert (
        services["consumer"]["environment"]["K2_CATALOG_URI"]
        == f"postgresql+psycopg2://k2:{SECRETS['K2_POSTGRES_PASSWORD']}@postgres:5432/catalog"
    )
    assert "K2_API_PREFIX" not in services["ingest"]["environment"]


@needs_compose_cli
def test_compose_keeps_the_faultable_links_behind_toxiproxy_with_the_override(
    tmp_path: Path, renamed_for_compose: PlatformFile, reference: PlatformFile
) -> None:
    doc = override_for(renamed_for_compose, reference, proxies=PROXIES)
    assert doc is not None
    override = compose_platform.write(tmp_path / ".platform-override.faultable.yml", doc, renamed_for_compose.name)
    services = compose_config(DEFAULT_COMPOSE_FILE, FAULTABLE_FILE, override, profiles=("faultable",))["services"]
    for role in ("ingest", "consumer", "api"):
        assert services[role]["labels"]["k2.links"] == "toxiproxy", role
        assert "toxiproxy" in services[role]["depends_on"], role
    assert services["ingest"]["environment"]["K2_KAFKA_BOOTSTRAP"] == PROXIES["kafka"]
    assert services["consumer"]["environment"]["K2_S3_ENDPOINT"] == f"http://{PROXIES['object-store']}"
    assert services["api"]["environment"]["K2_S3_ENDPOINT"] == f"http://{PROXIES['object-store']}"
    assert "k2.links" not in (services["exchange"].get("labels") or {})
