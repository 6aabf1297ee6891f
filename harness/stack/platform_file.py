"""A platform file: which processes play the platform's roles on our stack, declared as YAML.

The stack runs the infrastructure (Kafka, registry, object store, PostgreSQL, catalog); a platform
file says, per role (exchange, ingest, consumer, api), the command that starts a team's own
service, the environment it needs (the stack's endpoints mapped to that service's own variable
names with `{placeholders}`), how to tell it is ready, and its memory budget. The local driver
starts, crashes, restarts and supervises whatever the file names. `platforms/k2.yaml` is the
reference K2's own; roles a file leaves out run the reference K2's service.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from harness import yamlfile
from harness.stack.settings import REPO_ROOT

REFERENCE = REPO_ROOT / "platforms" / "k2.yaml"
ROLES = ("exchange", "ingest", "consumer", "api")

PLACEHOLDERS: dict[str, str] = {
    "python": "the Python interpreter running the suite",
    "repo": "the folder holding the platform's code (K2_PLATFORM_PATH; a patched copy when proving a defect)",
    "host": "the address every service binds to",
    "port": "this service's own port (K2_PORT_<ROLE>)",
    "data_dir": "a directory of this service's own that survives restarts",
    "instance": "this process's number within its role: 1, or 1 and 2 for the two consumers of profile cluster",
    "partitions": "partitions of the topics the platform creates",
    "kafka.bootstrap": "Kafka bootstrap servers (through the fault proxy in profile faultable; every broker in "
    "profile cluster)",
    "kafka.replication": "replicas of each topic the platform creates (3 in profile cluster, else 1)",
    "kafka.min_isr": "replicas in sync before a write counts (min.insync.replicas: 2 in profile cluster, else 1)",
    "registry.url": "the schema registry's Confluent-compatible API (through the proxy in faultable)",
    "s3.endpoint": "the object store's S3 endpoint (through the proxy in faultable)",
    "s3.access_key": "the object store's access key",
    "s3.secret_key": "the object store's secret key",
    "s3.region": "the object store's region (set it: without one pyiceberg asks the cloud)",
    "s3.bucket": "the warehouse bucket",
    "catalog.name": "the Iceberg catalog's name",
    "catalog.type": "sql or rest",
    "catalog.uri": "the catalog's URI (SQLAlchemy URL for sql, HTTP for rest)",
    "catalog.warehouse": "the warehouse location",
    "catalog.credential": "rest: the catalog's OAuth2 client credentials (id:secret); sql: empty",
    "api.key": "the API key clients must send",
    "exchange.host": "the exchange simulator's address",
    "exchange.port": "the exchange simulator's port",
    "exchange.ws_url": "the exchange's WebSocket base URL",
    "exchange.rest_url": "the exchange's REST base URL",
}
_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")


class PlatformFileError(ValueError):
    """A platform file is malformed; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpReady(_Strict):
    http: str = Field(pattern=r"^/", description="GET this path on the service's port")
    status: int = 200


class GroupReady(_Strict):
    consumer_group: str = Field(min_length=1, description="ready once the group has a member")


class LogReady(_Strict):
    log: str = Field(min_length=1, description="ready once the service's log has a line matching this")

    @model_validator(mode="after")
    def _compiles(self) -> LogReady:
        try:
            re.compile(self.log)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return self


def _ready_kind(value: Any) -> str | None:
    """Which kind of readiness a `ready:` mapping declares, by the key it has (so an error names
    only that kind's problems)."""
    keys = value if isinstance(value, dict) else value.model_dump() if isinstance(value, BaseModel) else {}
    return next((k for k in ("http", "consumer_group", "log") if k in keys), None)


Ready = Annotated[
    Annotated[HttpReady, Tag("http")] | Annotated[GroupReady, Tag("consumer_group")] | Annotated[LogReady, Tag("log")],
    Discriminator(
        _ready_kind,
        custom_error_type="ready_kind",
        custom_error_message="needs one of http: PATH, consumer_group: GROUP or log: REGEX",
    ),
]


class PlatformService(_Strict):
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    ready: Ready
    memory_budget_mb: int = Field(gt=0, le=65536)
    depends_on: list[str] = Field(default_factory=list)
    description: str = ""
    ready_within: float = Field(default=60.0, gt=0)
    stop_grace: float = Field(default=25.0, ge=0)
    restart: Literal["no", "on-failure"] = "on-failure"


class PlatformFile(_Strict):
    name: str = Field(min_length=1)
    services: dict[Literal["exchange", "ingest", "consumer", "api"], PlatformService] = Field(min_length=1)

    @staticmethod
    def load(path: Path | str) -> PlatformFile:
        """The file at `path`, every problem named at once; roles it leaves out come from the reference K2."""
        path = Path(path)
        data = yamlfile.read(path, "platform file", f"e.g. K2_PLATFORM_FILE={REFERENCE}", PlatformFileError)
        found = problems(data)
        if found:
            raise PlatformFileError(
                f"platform file {path} has {len(found)} problem{'s' * (len(found) != 1)} "
                f"(see {REFERENCE}):\n  " + "\n  ".join(found)
            )
        own = PlatformFile.model_validate(data)
        if path.resolve() == REFERENCE.resolve():
            return own
        reference = PlatformFile.load(REFERENCE)
        return PlatformFile(name=own.name, services={**reference.services, **own.services})


def problems(data: object) -> list[str]:
    """Every problem of a platform file's content, one line each."""
    try:
        PlatformFile.model_validate(data)
        out: list[str] = []
    except ValidationError as exc:
        out = [f"{'.'.join(str(p) for p in e['loc'] if p != '[key]') or '(top)'}: {e['msg']}" for e in exc.errors()]
    services = data.get("services") if isinstance(data, dict) else None
    for role, service in (services or {}).items() if isinstance(services, dict) else ():
        if not isinstance(service, dict):
            continue
        texts = [str(t) for t in (service.get("command") or []) if isinstance(service.get("command"), list)]
        texts += [str(v) for v in (service.get("env") or {}).values()] if isinstance(service.get("env"), dict) else []
        unknown = sorted({m.group(1) for t in texts for m in _PLACEHOLDER.finditer(t)} - set(PLACEHOLDERS))
        if unknown:
            out.append(
                f"services.{role}: unknown placeholder{'s' * (len(unknown) > 1)} "
                f"{', '.join('{' + u + '}' for u in unknown)} (known: {', '.join(sorted(PLACEHOLDERS))})"
            )
    return out


def fill(text: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def python_values() -> dict[str, str]:
    return {"python": sys.executable}


Probe = Callable[[str, int], str]
"""A readiness probe of one service given its host and port: a short detail, or raises NotReady."""


def http_ready(path: str, status: int, timeout: float = 3.0) -> Probe:
    from harness.stack.service import NotReady

    def probe(host: str, port: int) -> str:
        try:
            r = httpx.get(f"http://{host}:{port}{path}", timeout=timeout)
        except httpx.HTTPError as exc:
            raise NotReady(f"GET {path}: {type(exc).__name__}") from None
        if r.status_code != status:
            raise NotReady(f"GET {path} answered {r.status_code} (ready means {status}): {r.text[:200]}")
        return f"GET {path} answered {status}"

    return probe


def group_has_member(bootstrap: str, group: str) -> str:
    """Ready once the consumer group has a member: for a service with no HTTP port of its own."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from harness.stack.service import NotReady

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000})
    try:
        described = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
    except KafkaException as exc:
        raise NotReady(f"describing consumer group {group}: {exc.args[0]}") from None
    if not described.members:
        raise NotReady(f"consumer group {group} has no member yet (state {described.state})")
    return f"consumer group {group} has {len(described.members)} member(s)"


def log_has_line(log: Path, pattern: str) -> str:
    """Ready once the log, since the service last started, has a line matching the pattern."""
    from harness.stack.service import NotReady

    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        raise NotReady(f"no log yet at {log}") from None
    # the local driver writes a start marker before each start: only lines after the last one count
    tail = text.rsplit(START_MARKER, 1)[-1]
    if re.search(pattern, tail, re.MULTILINE) is None:
        raise NotReady(f"no line matching /{pattern}/ in its log since it started")
    return f"its log has a line matching /{pattern}/"


START_MARKER = "===== k2 stack: starting "
