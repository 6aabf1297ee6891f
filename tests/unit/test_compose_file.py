"""The compose file says what the local stack says: same services, profiles, ports, dependencies,
memory budgets and restart policies, the same components built here, health checks, and no secret
in the file.

The local stack is the reference (harness/stack/services/); nothing here lists service names or
numbers of its own. No Docker is needed: the model is compose's own recorded answer
(tests/compose_config.py; an integration test fails when the recording is out of date), and the
files themselves are read as text where the question is what is written in them.
"""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.network import LINKS
from harness.stack import components
from harness.stack.compose import COMPOSE_PROFILES, DEFAULT_COMPOSE_FILE, ComposeDriver, ComposeProject, ComposeSettings
from harness.stack.local import LocalDriver
from harness.stack.services import CLUSTER_ONLY, PROFILES, SERVICES, services_for, toxiproxy
from harness.stack.settings import DEFAULT_PORTS, REPO_ROOT, StackSettings, resolve_ports
from tests.compose_config import COMPOSE_DIR, SECRETS, recorded

FAULTABLE_FILE = COMPOSE_DIR / "docker-compose.faultable.yml"
TOXIPROXY_CONFIG = COMPOSE_DIR / "toxiproxy" / "toxiproxy.json"
# The host port of each service under compose, by the local stack's name for that port.
PORT_NAMES = {
    "kafka": "kafka",
    "schema-registry": "schema-registry",
    "object-store": "object-store-s3",
    "postgres": "postgres",
    "exchange": "exchange",
    "ingest": "ingest",
    "consumer": "consumer",
    "api": "api",
    "toxiproxy": "toxiproxy",
}


def raw(path: Path = DEFAULT_COMPOSE_FILE) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def recorded_driver() -> ComposeDriver:
    answers = {False: recorded("compose-config.json"), True: recorded("compose-config-faultable.json")}
    return ComposeDriver(
        ComposeSettings(DEFAULT_COMPOSE_FILE, SECRETS),
        config_runner=lambda cmd: (0, answers[str(FAULTABLE_FILE) in cmd]),
    )


@pytest.fixture(scope="module")
def base() -> ComposeProject:
    return recorded_driver().base


@pytest.fixture(scope="module")
def faultable() -> ComposeProject:
    return recorded_driver().faultable


def long_running(project: ComposeProject) -> set[str]:
    return set(project.long_running())


def test_the_compose_stack_has_exactly_the_local_stacks_services(base: ComposeProject) -> None:
    assert long_running(base) == set(SERVICES) - set(CLUSTER_ONLY) == set(base.services)


def test_every_long_running_service_has_a_health_check(base: ComposeProject) -> None:
    for name in long_running(base):
        hc = base.services[name].healthcheck
        assert hc is not None, f"{name} has no health check"
        assert hc.test[0] in ("CMD", "CMD-SHELL") and len(hc.test) > 1, name
        assert 0 < hc.interval <= 10 and hc.retries >= 3, f"{name}: {hc}"


@pytest.mark.parametrize("project_name", ["base", "faultable"])
def test_dependencies_exist_form_a_dag_and_wait_for_health(project_name: str, request: pytest.FixtureRequest) -> None:
    project: ComposeProject = request.getfixturevalue(project_name)
    project.order(list(project.services))  # raises on a cycle
    # compose refuses a dependency on a service the active profile does not enable; the override
    # is only ever used with profile faultable (with full, compose refuses it, as it should)
    profiles = list(PROFILES) if project_name == "base" else ["faultable"]
    for s in project.services.values():
        for dep, condition in s.depends_on.items():
            assert dep in project.services, f"{s.name} depends on unknown {dep}"
            if not project.services[dep].one_shot:
                assert condition == "service_healthy", f"{s.name} -> {dep}: {condition}"
            for profile in profiles:
                if profile in s.profiles:
                    assert profile in project.services[dep].profiles, f"{profile}: {s.name} -> {dep}"


def test_the_local_dependencies_hold_under_compose(base: ComposeProject, faultable: ComposeProject) -> None:
    for project, profile in ((base, "full"), (faultable, "faultable")):
        for name, spec in services_for(profile).items():
            if name in CLUSTER_ONLY:
                continue
            assert set(spec.depends_on) <= set(project.services[name].depends_on), f"{profile}: {name}"


def test_profiles_have_the_local_members(base: ComposeProject) -> None:
    for profile in COMPOSE_PROFILES:
        assert set(base.in_profile(profile)) == set(PROFILES[profile]), profile
    for s in base.services.values():
        assert s.profiles and set(s.profiles) <= set(COMPOSE_PROFILES), f"{s.name}: {s.profiles}"


def test_every_image_is_built_here_on_the_base_image_argument_and_tagged_with_its_version(base: ComposeProject) -> None:
    versions = {
        "kafka": components.KAFKA_VERSION,
        "schema-registry": components.APICURIO_VERSION,
        "toxiproxy": components.TOXIPROXY_VERSION,
    }
    built = {s.image for s in base.services.values() if s.built}
    for s in base.services.values():
        name, _, tag = s.image.rpartition(":")
        assert s.image in built and name.startswith("k2-acceptance/"), f"{s.name}: {s.image!r} is not built here"
        assert tag != "latest" and re.search(r"\d", tag), f"{s.name}: {s.image!r} is not a version"
        if s.name in versions:
            assert tag == versions[s.name], f"{s.name}: the image says {tag}, the local stack runs {versions[s.name]}"
    config = json.loads(recorded("compose-config.json"))["services"]
    for name, service in config.items():
        if "build" in service:
            assert service["build"]["args"] == {"BASE_IMAGE": "debian:bookworm-slim"}, name
        else:  # one build per image: two of one tag race, and compose then recreates containers
            assert service["pull_policy"] == "never" and config["exchange"]["image"] == service["image"], name
    for dockerfile in COMPOSE_DIR.glob("*/Dockerfile"):
        text = dockerfile.read_text()
        assert re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE) == ["${BASE_IMAGE}"], dockerfile
        assert "ARG BASE_IMAGE=debian:bookworm-slim" in text, dockerfile
        # nothing fetched over HTTPS inside a build: components come prepared from the host
        assert not re.search(r"\b(pip install(?!.*--no-index)|curl|wget|mvn|go (install|build))\b.*https?://", text)


def test_memory_limits_are_the_harness_memory_budgets(tmp_path: Path) -> None:
    local = LocalDriver(StackSettings(root=tmp_path, cache=tmp_path, ports=resolve_ports({}))).memory_budgets()
    compose = recorded_driver().memory_budgets()
    assert compose == {n: mb for n, mb in local.items() if n not in CLUSTER_ONLY}


def test_every_service_has_memory_and_cpu_limits(base: ComposeProject) -> None:
    for s in base.services.values():
        assert s.memory_mb and s.cpus and 0 < s.cpus <= 2, f"{s.name}: {s.memory_mb} MiB, {s.cpus} CPU"


def test_restart_policies_follow_the_local_stack(base: ComposeProject) -> None:
    for name, spec in SERVICES.items():
        if name in CLUSTER_ONLY:
            continue
        s = base.services[name]
        assert (s.restart == "on-failure") == (spec.restart == "on-failure"), name
        if s.restart == "on-failure":
            # the driver crashes such a service from inside so the policy applies: needs docker-init
            assert s.init, f"{name} needs init: true"
        else:
            assert s.restart == "unless-stopped", name


def test_host_ports_are_the_local_stacks_and_bind_to_loopback_only(base: ComposeProject) -> None:
    text = DEFAULT_COMPOSE_FILE.read_text()
    for service, port_name in PORT_NAMES.items():
        ports = base.services[service].ports
        assert len(ports) == 1, service
        assert ports[0].host_port == DEFAULT_PORTS[port_name], service
        var = "K2_PORT_" + port_name.upper().replace("-", "_")
        assert f"${{{var}:-{DEFAULT_PORTS[port_name]}}}" in text, f"{service}: moved by {var}, as locally"
    for s in base.services.values():
        assert all(p.host_ip == "127.0.0.1" for p in s.ports), s.name


SENSITIVE = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|API_KEY|TOKEN|ROOT_USER")


def environments(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for name, service in doc["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            found.append((name, str(key), str(value)))
    return found


@pytest.mark.parametrize("path", [DEFAULT_COMPOSE_FILE, FAULTABLE_FILE], ids=lambda p: p.name)
def test_no_secret_is_written_in_a_compose_file(path: Path) -> None:
    for service, key, value in environments(raw(path)):
        if SENSITIVE.search(key):
            assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", value), (
                f"{service}: {key} must come from a required variable (${{VAR:?message}}), not {value!r}"
            )
    assert not re.search(r"minioadmin|changeme|password123", path.read_text(), re.IGNORECASE)


def test_the_env_example_names_every_required_variable_with_no_value(base: ComposeProject) -> None:
    example = (COMPOSE_DIR / ".env.example").read_text()
    settings = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", DEFAULT_COMPOSE_FILE.read_text()))
    assert required == set(SECRETS)
    for var in required:
        assert settings.get(var) == "", f"{var} must be in .env.example, empty"
    assert "compose/.env" in (REPO_ROOT / ".gitignore").read_text().splitlines(), "the filled-in copy stays out of git"


def test_data_lives_in_named_volumes(base: ComposeProject) -> None:
    doc = raw()
    declared = set(doc["volumes"])
    used = set()
    for service in doc["services"].values():
        for volume in service.get("volumes") or ():
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    for name in ("kafka", "postgres", "object-store"):
        assert any(str(v).split(":", 1)[0] in declared for v in doc["services"][name]["volumes"]), name


def test_the_faultable_override_only_rewires_the_platform_through_toxiproxy(faultable: ComposeProject) -> None:
    override = raw(FAULTABLE_FILE)["services"]
    behind = {
        name
        for name, spec in services_for("faultable").items()
        if toxiproxy.NAME in spec.depends_on and name not in CLUSTER_ONLY
    }
    assert set(override) == behind
    proxies = json.loads(TOXIPROXY_CONFIG.read_text())
    assert [p["name"] for p in proxies] == list(LINKS) == list(toxiproxy.LINKS)
    listen = {p["name"]: "toxiproxy:" + p["listen"].rsplit(":", 1)[1] for p in proxies}
    for name in behind:
        env = faultable.services[name].environment
        if "K2_KAFKA_BOOTSTRAP" in override[name]["environment"]:
            assert env["K2_KAFKA_BOOTSTRAP"] == listen["kafka"]
        if "K2_SCHEMA_REGISTRY_URL" in override[name]["environment"]:
            assert env["K2_SCHEMA_REGISTRY_URL"].startswith(f"http://{listen['schema-registry']}/")
        if "K2_S3_ENDPOINT" in override[name]["environment"]:
            assert env["K2_S3_ENDPOINT"] == f"http://{listen['object-store']}"
        assert faultable.services[name].labels["k2.links"] == toxiproxy.NAME


def test_toxiproxy_leads_to_kafkas_proxied_listener_which_sends_clients_back_through_it(base: ComposeProject) -> None:
    proxies = {p["name"]: p for p in json.loads(TOXIPROXY_CONFIG.read_text())}
    props = dict(
        line.split("=", 1)
        for line in (COMPOSE_DIR / "kafka" / "server.properties").read_text().splitlines()
        if line and not line.startswith("#")
    )
    listeners = dict(item.split("://") for item in props["listeners"].split(","))
    advertised = dict(item.split("://") for item in props["advertised.listeners"].split(","))
    assert proxies["kafka"]["upstream"] == "kafka" + listeners["PROXIED"]
    assert advertised["PROXIED"] == "toxiproxy:" + proxies["kafka"]["listen"].rsplit(":", 1)[1]
    # the harness on the host is told the host port compose publishes, moved by K2_PORT_KAFKA as locally
    assert advertised["HOST"] == "127.0.0.1:@HOST_PORT@"
    assert base.services["kafka"].environment["K2_KAFKA_HOST_PORT"] == str(DEFAULT_PORTS["kafka"])
    assert base.services["kafka"].ports[0].container_port == int(listeners["HOST"].rsplit(":", 1)[1])
    for link in ("schema-registry", "object-store"):
        host, port = proxies[link]["upstream"].split(":")
        assert host == link and int(port) in {p.container_port for p in base.services[link].ports}


@pytest.mark.parametrize("project_name", ["base", "faultable"])
def test_the_platform_services_accept_the_environment_compose_gives_them(
    project_name: str, request: pytest.FixtureRequest
) -> None:
    # tests may import the platform (the suite may not): each service's own settings parser
    from k2.api.settings import ApiSettings
    from k2.consumer.settings import Settings as ConsumerSettings
    from k2.exchange.settings import ExchangeSettings
    from k2.ingest.settings import Settings as IngestSettings

    project: ComposeProject = request.getfixturevalue(project_name)
    env = {n: dict(project.services[n].environment) for n in ("exchange", "ingest", "consumer", "api")}
    exchange = ExchangeSettings.from_env(env["exchange"])
    ingest = IngestSettings.from_env(env["ingest"])
    consumer = ConsumerSettings.from_env(env["consumer"])
    api = ApiSettings.from_env(env["api"])
    assert exchange.host == ingest.host == consumer.host == api.host == "0.0.0.0"
    for name, port in (
        ("exchange", exchange.port),
        ("ingest", ingest.port),
        ("consumer", consumer.port),
        ("api", api.port),
    ):
        assert port == project.services[name].ports[0].container_port, name
    # the local stack's catalog: pyiceberg's SqlCatalog on the stack's PostgreSQL
    assert consumer.catalog.type == api.catalog.type == "sql"
    assert (
        consumer.catalog.uri.get_secret_value()
        == api.catalog.uri.get_secret_value()
        == f"postgresql+psycopg2://k2:{SECRETS['K2_POSTGRES_PASSWORD']}@postgres:5432/catalog"
    )
    assert ingest.registry_url.endswith("/apis/ccompat/v7")
    assert api.api_key.get_secret_value() == SECRETS["K2_API_KEY"]
    assert consumer.catalog.s3_secret_key.get_secret_value() == SECRETS["K2_S3_SECRET_KEY"]


def test_the_platform_image_copies_the_platform_and_nothing_of_the_suite() -> None:
    dockerfile = (COMPOSE_DIR / "platform" / "Dockerfile").read_text()
    copied = re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+)", dockerfile, re.MULTILINE)
    # the package (k2 and the harness it ships with), its platform group only; no source copied in
    assert "compose/platform/dist/package/" in copied and "--no-deps" in dockerfile
    assert not any(c.startswith(("k2", "harness", "steps", "tests")) for c in copied)
    assert "PYTHONPATH" not in dockerfile and "platform-lock.txt" in dockerfile
    # the classic builder reads only the context's own .dockerignore: the repository root's
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[next(i for i, line in enumerate(ignore) if not line.startswith("#"))] == "*"
    for c in copied:
        assert f"!{c}" in ignore, f"{c} is copied but not let into the build context"
