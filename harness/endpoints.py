"""Where the suite reaches one K2 deployment: one typed object every driver returns and every probe takes.

A driver that started the stack knows every endpoint; a K2 the suite did not start is described by
an endpoints file (driver `external`) with the same shape as `stack status --json`'s "clients":

    kafka: {bootstrap.servers: broker-1:9092}
    schema_registry: {url: http://registry:8080/apis/ccompat/v7}     # the Confluent API, any base path
    catalog: {name: k2, properties: {type: rest, uri: http://catalog:8181, warehouse: ..., s3.region: ...}}
    api: {url: http://k2-api:8000, api_key: ${K2_API_KEY}}             # ${NAME}: from the environment
    exchange: {ws_url: ..., rest_url: ..., control_url: ...}            # control_url: our simulator only
    dead_letters: {files: /var/k2/dead-letters/*.jsonl}                 # when not (only) the topic
    logs: {consumer: /var/log/k2/consumer.log}                          # error lines for the evidence

What a deployment lacks is simply absent; asking for it raises MissingEndpoint, which names the key
the file would need, so a scenario can say why it cannot run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import yamlfile


class MissingEndpoint(LookupError):
    """The deployment offers no such endpoint; the message names what is missing and where to add it."""


class EndpointsError(ValueError):
    """An endpoints file is malformed; the message lists every problem."""


@dataclass(frozen=True)
class Kafka:
    bootstrap: str


@dataclass(frozen=True)
class Registry:
    url: str
    """The Confluent schema-registry API's base URL (Apicurio serves it under /apis/ccompat/v7)."""


@dataclass(frozen=True)
class Catalog:
    name: str
    properties: dict[str, str]
    """pyiceberg load_catalog properties (type sql or rest, uri, warehouse, s3.*)."""

    @property
    def kind(self) -> str:
        return self.properties.get("type", "rest")


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str
    bucket: str


@dataclass(frozen=True)
class Postgres:
    dsn: str = field(repr=False)
    catalog_dsn: str = field(repr=False)


@dataclass(frozen=True)
class Exchange:
    ws_url: str
    rest_url: str
    control_url: str | None
    """Our simulator's control API (emit, faults, the record of what it sent); None for a real exchange."""


@dataclass(frozen=True)
class Api:
    url: str
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class Toxiproxy:
    url: str
    proxies: dict[str, str]


@dataclass(frozen=True)
class DeadLetters:
    files: str | None = None
    """A glob of files the consumer writes dead letters to (one per line), beside or instead of the topic."""


_SECTIONS = (
    "kafka",
    "schema_registry",
    "catalog",
    "s3",
    "postgres",
    "exchange",
    "api",
    "toxiproxy",
    "ingest",
    "consumer",
    "dead_letters",
    "logs",
)
_NUMBERED = re.compile(r"^(ingest|consumer)-[1-9][0-9]?$")
"""Sections of one of several processes of a role (consumer-1, consumer-2 in profile cluster)."""


@dataclass(frozen=True)
class Endpoints:
    """Every endpoint of one deployment the suite knows; absent ones raise MissingEndpoint."""

    _kafka: Kafka | None = None
    _registry: Registry | None = None
    _catalog: Catalog | None = None
    _object_store: ObjectStore | None = None
    _postgres: Postgres | None = None
    _exchange: Exchange | None = None
    _api: Api | None = None
    _toxiproxy: Toxiproxy | None = None
    status_urls: dict[str, str] = field(default_factory=dict)
    """Services that report their own counters (GET, JSON), by name: ingest, consumer."""
    dead_letters: DeadLetters = DeadLetters()
    log_files: dict[str, Path] = field(default_factory=dict)
    """Service logs the suite may read for evidence, when no driver of ours runs the service."""
    source: str = "the stack"
    """Where these endpoints came from, for messages (a driver, or an endpoints file)."""

    def _need(self, value: Any, key: str, what: str) -> Any:
        if value is None:
            raise MissingEndpoint(f"{self.source} gives no {what} (key `{key}:`)")
        return value

    @property
    def kafka(self) -> Kafka:
        found: Kafka = self._need(self._kafka, "kafka", "Kafka bootstrap servers")
        return found

    @property
    def registry(self) -> Registry:
        found: Registry = self._need(self._registry, "schema_registry", "schema registry")
        return found

    @property
    def catalog(self) -> Catalog:
        found: Catalog = self._need(self._catalog, "catalog", "Iceberg catalog")
        return found

    @property
    def object_store(self) -> ObjectStore:
        found: ObjectStore = self._need(self._object_store, "s3", "object store")
        return found

    @property
    def postgres(self) -> Postgres:
        found: Postgres = self._need(self._postgres, "postgres", "PostgreSQL")
        return found

    @property
    def exchange(self) -> Exchange:
        found: Exchange = self._need(self._exchange, "exchange", "exchange")
        return found

    @property
    def api(self) -> Api:
        found: Api = self._need(self._api, "api", "query API")
        return found

    @property
    def toxiproxy(self) -> Toxiproxy:
        found: Toxiproxy = self._need(self._toxiproxy, "toxiproxy", "fault proxy")
        return found

    def control_url(self) -> str:
        """Our exchange simulator's control API: scenarios that choose the trades need it."""
        url = self.exchange.control_url
        if url is None:
            raise MissingEndpoint(
                f"{self.source} gives no control API of the exchange simulator "
                f"(key `exchange.control_url:`): a real exchange cannot be told what to trade"
            )
        return url

    def status_url(self, service: str) -> str:
        found: str = self._need(self.status_urls.get(service), f"{service}.status_url", f"status of the {service}")
        return found

    def has(self, name: str) -> bool:
        """Whether the deployment offers this endpoint (a section name as in the file)."""
        try:
            self.section(name)
        except MissingEndpoint:
            return False
        return True

    def section(self, name: str) -> Any:
        if name in ("ingest", "consumer"):
            return self.status_url(name)
        if name == "control":
            return self.control_url()
        return getattr(self, {"schema_registry": "registry", "s3": "object_store"}.get(name, name))

    # ------------------------------------------------------------------ one shape, in and out
    def to_json(self) -> dict[str, Any]:
        """The shape of `stack status --json`'s clients and of an endpoints file."""
        out: dict[str, Any] = {}
        if self._kafka:
            out["kafka"] = {"bootstrap.servers": self._kafka.bootstrap}
        if self._registry:
            out["schema_registry"] = {"url": self._registry.url}
        if self._object_store:
            s = self._object_store
            out["s3"] = {
                "endpoint": s.endpoint,
                "access_key": s.access_key,
                "secret_key": s.secret_key,
                "region": s.region,
                "bucket": s.bucket,
            }
        if self._catalog:
            out["catalog"] = {"name": self._catalog.name, "properties": dict(self._catalog.properties)}
        if self._postgres:
            out["postgres"] = {"dsn": self._postgres.dsn, "catalog_dsn": self._postgres.catalog_dsn}
        if self._exchange:
            e = self._exchange
            out["exchange"] = {
                "ws_url": e.ws_url,
                "rest_url": e.rest_url,
                **({"control_url": e.control_url} if e.control_url else {}),
            }
        if self._toxiproxy:
            out["toxiproxy"] = {"url": self._toxiproxy.url, "proxies": dict(self._toxiproxy.proxies)}
        if self._api:
            out["api"] = {"url": self._api.url, "api_key": self._api.api_key}
        for name, url in self.status_urls.items():
            out[name] = {"status_url": url}
        if self.dead_letters.files:
            out["dead_letters"] = {"files": self.dead_letters.files}
        if self.log_files:
            out["logs"] = {n: str(p) for n, p in self.log_files.items()}
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any], source: str = "the stack") -> Endpoints:
        """Endpoints from the shape `to_json` writes; every problem is named at once (EndpointsError)."""
        problems: list[str] = [
            f"{k}: unknown section (known: {', '.join(_SECTIONS)}, or consumer-N)"
            for k in data
            if k not in _SECTIONS and not _NUMBERED.match(str(k))
        ]

        def section(name: str, *required: str) -> dict[str, Any] | None:
            raw = data.get(name)
            if raw is None:
                return None
            if not isinstance(raw, Mapping):
                problems.append(f"{name}: must be a mapping, got {type(raw).__name__}")
                return None
            missing = [k for k in required if raw.get(k) in (None, "")]
            problems.extend(f"{name}.{k}: required" for k in missing)
            return None if missing else dict(raw)

        kafka, registry = section("kafka", "bootstrap.servers"), section("schema_registry", "url")
        catalog, s3 = section("catalog", "name", "properties"), section("s3", "endpoint", "access_key", "secret_key")
        postgres, exchange = section("postgres", "dsn", "catalog_dsn"), section("exchange", "ws_url", "rest_url")
        toxi, api = section("toxiproxy", "url", "proxies"), section("api", "url", "api_key")
        dead, logs = section("dead_letters"), section("logs")
        numbered = sorted(str(k) for k in data if _NUMBERED.match(str(k)))
        status = {n: s["status_url"] for n in ("ingest", "consumer", *numbered) if (s := section(n, "status_url"))}
        if catalog is not None and not isinstance(catalog["properties"], Mapping):
            problems.append("catalog.properties: must be a mapping of pyiceberg properties")
        if problems:
            raise EndpointsError(
                f"{source} has {len(problems)} problem{'s' * (len(problems) != 1)}:\n  " + "\n  ".join(problems)
            )
        return Endpoints(
            _kafka=Kafka(str(kafka["bootstrap.servers"])) if kafka else None,
            _registry=Registry(str(registry["url"]).rstrip("/")) if registry else None,
            _catalog=Catalog(str(catalog["name"]), {str(k): str(v) for k, v in catalog["properties"].items()})
            if catalog
            else None,
            _object_store=ObjectStore(
                str(s3["endpoint"]),
                str(s3["access_key"]),
                str(s3["secret_key"]),
                str(s3.get("region") or "us-east-1"),
                str(s3.get("bucket") or ""),
            )
            if s3
            else None,
            _postgres=Postgres(str(postgres["dsn"]), str(postgres["catalog_dsn"])) if postgres else None,
            _exchange=Exchange(
                str(exchange["ws_url"]),
                str(exchange["rest_url"]),
                str(exchange["control_url"]) if exchange.get("control_url") else None,
            )
            if exchange
            else None,
            _toxiproxy=Toxiproxy(str(toxi["url"]), {str(k): str(v) for k, v in toxi["proxies"].items()})
            if toxi
            else None,
            _api=Api(str(api["url"]).rstrip("/"), str(api["api_key"])) if api else None,
            status_urls={n: str(u) for n, u in status.items()},
            dead_letters=DeadLetters(files=str(dead["files"]) if dead and dead.get("files") else None),
            log_files={str(n): Path(str(p)) for n, p in (logs or {}).items()},
            source=source,
        )

    @staticmethod
    def load(path: Path | str, env: Mapping[str, str] | None = None) -> Endpoints:
        """An endpoints file (YAML); `${NAME}` in a value is read from the environment, so secrets
        such as the API key stay out of the file."""
        path = Path(path)
        data = yamlfile.read(path, "endpoints file", "see docs/verifying-your-k2.md for its shape", EndpointsError)
        if not isinstance(data, Mapping):
            raise EndpointsError(f"endpoints file {path} must be a mapping of sections (kafka:, api:, ...)")
        unset: list[str] = []
        data = _expand(data, os.environ if env is None else env, unset)
        if unset:
            raise EndpointsError(
                f"endpoints file {path} names environment variables that are not set: {', '.join(sorted(set(unset)))}"
            )
        return Endpoints.from_json(data, source=f"endpoints file {path}")


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, env: Mapping[str, str], unset: list[str]) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                unset.append(m.group(1))
                return ""
            return env[m.group(1)]

        return _VARIABLE.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, env, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, unset) for v in value]
    return value
