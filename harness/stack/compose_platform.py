"""A platform file's services under Docker Compose: a compose override for the roles it changes.

The local driver builds the platform's services from the platform file (K2_PLATFORM_FILE,
harness/stack/services/platform.py); compose/docker-compose.yml writes the reference K2's by hand.
For a team's file, `override_for` makes a compose override that, for each role whose entry differs
from the reference's, replaces that compose service's

- `command` and `environment`, the file's {placeholders} filled with what a service sees inside
  the compose network (kafka:9092, http://object-store:8333, ...; secrets as the same
  `${K2_...}` variables the compose file interpolates from compose/.env, never their values);
- memory limit (the role's budget), restart policy, stop grace period and, added to the compose
  file's, its dependencies;
- health check: `http` readiness is a GET on the container's own port that passes only on the
  declared status, `consumer_group` asks Kafka whether the group has a member. `log` readiness
  cannot be a health check (a container's check cannot read the container's log), so a role
  declaring it is refused with a clear error rather than run with a check that means something else.

The environment is replaced whole (compose's `!override` tag, Compose 2.24.4 or later), not merged
with the compose file's: a service sees exactly the variables its platform file gives it, as under
the local driver, and none of the reference's it no longer names.

Profile `faultable`: docker-compose.faultable.yml rewires the reference's K2_* link variables through
toxiproxy, which a team's own variable names would escape. So the driver writes a second override
for that profile, with the link placeholders ({kafka.bootstrap}, {registry.url}, {s3.endpoint})
filled with the proxies' addresses, and puts it after the faultable file: its labels and its
dependency on toxiproxy stay (they merge), the environment is the team's, through the proxies. The
exchange is never behind a proxy, nor is the catalog's database, as in the local stack.

Limitations: there is no `image:` in a platform file, so a team's services run in the compose
file's platform image (k2-acceptance/platform, compose/platform/Dockerfile: Python, the platform's
requirements and the k2 package under /app): the command must run there. The in-network addresses
are compose/docker-compose.yml's (tests/unit/test_compose_platform.py holds them to it); a user's
own compose file must use the same service names and listeners.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.stack import catalog
from harness.stack.driver import StackError
from harness.stack.platform_file import (
    REFERENCE,
    GroupReady,
    HttpReady,
    LogReady,
    PlatformFile,
    PlatformService,
    fill,
)
from harness.stack.services import object_store, schema_registry
from harness.stack.services.platform import PARTITIONS

OVERRIDE_NAME = ".platform-override.yml"
FAULTABLE_OVERRIDE_NAME = ".platform-override.faultable.yml"
"""Written beside the compose file by the ComposeDriver, for a platform file that is not the reference."""

# Where a platform service reaches the stack inside the compose network: what compose/docker-compose.yml
# gives the reference services.
KAFKA = "kafka:9092"
REGISTRY = f"http://schema-registry:8080{schema_registry.CCOMPAT}"
OBJECT_STORE = "http://object-store:8333"
POSTGRES = "postgres:5432"
EXCHANGE = "exchange"
CONTAINER_PORTS: dict[str, int] = {"exchange": 18765, "ingest": 18701, "consumer": 18702, "api": 18000}
"""Each role's port inside its container (the driver takes them from the compose file's port mappings)."""
PYTHON = "python"  # the platform image's venv is first on its PATH
REPO = "/app"  # WORKDIR of the platform image, where k2/ lives
HOST = "0.0.0.0"
DATA_DIRS = {"exchange": "/data"}  # the exchange's volume; the others have none: the container's /tmp
OTHER_DATA_DIR = "/tmp"


class ComposePlatformError(StackError):
    """A platform file that cannot run under compose as it is written."""


def secret(name: str) -> str:
    """A secret as the compose file takes it: a required variable of compose/.env or the environment."""
    return f"${{{name}:?set {name} (make setup-docker writes compose/.env)}}"


def values(
    role: str, ports: Mapping[str, int] = CONTAINER_PORTS, proxies: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What each {placeholder} stands for inside the compose network, for this role; `proxies`
    (link -> host:port of its toxiproxy listener) for profile faultable."""
    kafka, registry, s3 = KAFKA, REGISTRY, OBJECT_STORE
    if proxies is not None and role != "exchange":  # the exchange is the outside world, never behind a proxy
        missing = [link for link in ("kafka", "schema-registry", "object-store") if link not in proxies]
        if missing:
            raise ComposePlatformError(
                f"no toxiproxy listener known for {', '.join(missing)} (toxiproxy.json beside "
                f"the compose file names each proxy); cannot rewire {role} through it"
            )
        kafka = proxies["kafka"]
        registry = f"http://{proxies['schema-registry']}{schema_registry.CCOMPAT}"
        s3 = f"http://{proxies['object-store']}"
    exchange_port = ports.get("exchange", CONTAINER_PORTS["exchange"])
    exchange = f"{EXCHANGE}:{exchange_port}"
    user = "${K2_POSTGRES_USER:-k2}"
    return {
        "python": PYTHON,
        "repo": REPO,
        "host": HOST,
        "port": str(ports[role]),
        "data_dir": DATA_DIRS.get(role, OTHER_DATA_DIR),
        "instance": "1",
        "partitions": PARTITIONS,
        # one broker under compose (profile cluster is the local driver's)
        "kafka.bootstrap": kafka,
        "kafka.replication": "1",
        "kafka.min_isr": "1",
        "registry.url": registry,
        "s3.endpoint": s3,
        "s3.access_key": secret("K2_S3_ACCESS_KEY"),
        "s3.secret_key": secret("K2_S3_SECRET_KEY"),
        "s3.region": object_store.REGION,
        "s3.bucket": object_store.BUCKET,
        "catalog.name": catalog.CATALOG_NAME,
        "catalog.type": "sql",
        # the catalog's database is always reached directly, as in the local stack
        "catalog.uri": f"postgresql+psycopg2://{user}:{secret('K2_POSTGRES_PASSWORD')}@{POSTGRES}/catalog",
        "catalog.warehouse": f"s3://{object_store.BUCKET}/",
        "catalog.credential": "",
        "api.key": secret("K2_API_KEY"),
        "exchange.host": EXCHANGE,
        "exchange.port": str(exchange_port),
        "exchange.ws_url": f"ws://{exchange}",
        "exchange.rest_url": f"http://{exchange}",
    }


def escape(text: str) -> str:
    """Text compose must pass on as written: `$` doubled, so that compose does not interpolate it."""
    return text.replace("$", "$$")


def filled(text: str, values: Mapping[str, str]) -> str:
    """The file's text with its literal `$` escaped and its placeholders filled (their values may
    be compose variables, like a secret's)."""
    return fill(escape(text), values)


_HTTP_PROBE = (
    "import sys, urllib.error, urllib.request\n"
    "class Stay(urllib.request.HTTPRedirectHandler):\n"
    "    def redirect_request(self, *args): return None\n"
    "try:\n"
    "    code = urllib.request.build_opener(Stay).open(url, timeout=3).status\n"
    "except urllib.error.HTTPError as e:\n"
    "    code = e.code\n"
    "except OSError as e:\n"
    "    print('GET %s failed: %s' % (path, e)); sys.exit(1)\n"
    "print('GET %s answered %s (ready means %s)' % (path, code, want))\n"
    "sys.exit(0 if code == want else 1)\n"
)

_GROUP_PROBE = (
    "import sys\n"
    "try:\n"
    "    from confluent_kafka.admin import AdminClient\n"
    "    admin = AdminClient({'bootstrap.servers': bootstrap, 'socket.timeout.ms': 3000})\n"
    "    found = admin.describe_consumer_groups([group], request_timeout=3)[group].result()\n"
    "except Exception as e:\n"
    "    print('describing consumer group %s: %s' % (group, e)); sys.exit(1)\n"
    "print('consumer group %s has %d member(s) (state %s)' % (group, len(found.members), found.state))\n"
    "sys.exit(0 if found.members else 1)\n"
)


def http_probe(port: int, path: str, status: int) -> list[str]:
    """A health check passing only when GET <path> on the container's own port answers `status`
    (redirects not followed, as the local probe). Standard library only: the image has no curl."""
    program = f"url, path, want = {f'http://127.0.0.1:{port}{path}'!r}, {path!r}, {status!r}\n" + _HTTP_PROBE
    return ["CMD", PYTHON, "-c", escape(program)]


def group_probe(group: str, bootstrap: str = KAFKA) -> list[str]:
    """A health check passing once the consumer group has a member (confluent-kafka is in the image).
    Kafka is asked directly, never through a proxy: the check must see the truth during a fault."""
    program = f"bootstrap, group = {bootstrap!r}, {group!r}\n" + _GROUP_PROBE
    return ["CMD", PYTHON, "-c", escape(program)]


def _seconds(value: float) -> str:
    return f"{value:g}s"


class Replace(dict[str, str]):
    """A mapping compose takes instead of the one it would merge with (written with the `!override` tag)."""


def service_override(
    role: str,
    service: PlatformService,
    ports: Mapping[str, int] = CONTAINER_PORTS,
    proxies: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The compose service of one role, as the platform file declares it."""
    how = service.ready
    if isinstance(how, HttpReady):
        test = http_probe(ports[role], how.http, how.status)
    elif isinstance(how, GroupReady):
        test = group_probe(how.consumer_group)
    else:
        assert isinstance(how, LogReady)
        raise ComposePlatformError(log_refusal([(role, how.log)]))
    filling = values(role, ports, proxies)
    return {
        "command": [filled(part, filling) for part in service.command],
        "environment": Replace({name: filled(value, filling) for name, value in service.env.items()}),
        "healthcheck": {"test": test, "start_period": _seconds(service.ready_within)},
        "depends_on": {dep: {"condition": "service_healthy"} for dep in service.depends_on},
        "restart": service.restart,
        "stop_grace_period": _seconds(service.stop_grace),
        "deploy": {"resources": {"limits": {"memory": f"{service.memory_budget_mb}M"}}},
    }


def log_refusal(roles: list[tuple[str, str]]) -> str:
    which = ", ".join(f"{role} (log: /{pattern}/)" for role, pattern in roles)
    return (
        f"compose cannot wait on a log line: a container's health check cannot read the container's log. "
        f"The platform file declares readiness by one for {which}; declare `ready: {{http: PATH}}` (a status "
        f"path on its port) or `ready: {{consumer_group: GROUP}}` for compose runs, or use -D driver=local"
    )


def changed_roles(platform_file: PlatformFile, reference: PlatformFile) -> dict[str, PlatformService]:
    """The roles whose entry differs from the reference's (a role the reference lacks counts)."""
    return {
        role: service for role, service in platform_file.services.items() if reference.services.get(role) != service
    }


def override_for(
    platform_file: PlatformFile,
    reference: PlatformFile,
    *,
    ports: Mapping[str, int] = CONTAINER_PORTS,
    proxies: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The compose override running `platform_file`'s services, or None when its roles are the
    reference's (the compose file's own services stand). `ports`: each role's container port;
    `proxies`: each link's toxiproxy listener (host:port), for the faultable profile's override.
    Raises ComposePlatformError for a role compose cannot run as declared (log readiness)."""
    roles = changed_roles(platform_file, reference)
    if not roles:
        return None
    by_log = [(role, s.ready.log) for role, s in roles.items() if isinstance(s.ready, LogReady)]
    if by_log:
        raise ComposePlatformError(f"platform file {platform_file.name}: {log_refusal(by_log)}")
    missing = [r for r in roles if r not in ports]
    if missing:
        raise ComposePlatformError(
            f"platform file {platform_file.name}: the compose file has no service "
            f"{', '.join(missing)} with a published port to run it as"
        )
    return {"services": {role: service_override(role, service, ports, proxies) for role, service in roles.items()}}


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Replace, lambda dumper, data: dumper.represent_mapping("!override", dict(data)))


def dump(document: Mapping[str, Any], platform_name: str) -> str:
    header = (
        f"# Written by the harness (harness/stack/compose_platform.py) for platform file {platform_name!r}:\n"
        f"# the roles it changes from {REFERENCE.name}. Made again at each run; do not edit.\n"
    )
    return header + yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, width=10**6, allow_unicode=True)


def write(path: Path, document: Mapping[str, Any], platform_name: str) -> Path:
    """The override at `path`, replaced whole (a `docker compose` reading it meanwhile sees one or the other)."""
    text = dump(document, platform_name)
    if not (path.is_file() and path.read_text() == text):
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path
