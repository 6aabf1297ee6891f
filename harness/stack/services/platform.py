"""The platform's services (exchange, ingest, consumer, api), as a platform file declares them.

The stack only starts them as processes and talks to them over their ports: the harness never
imports `k2`. Which processes play each role comes from the platform file named by
K2_PLATFORM_FILE (default platforms/k2.yaml, the reference K2 run as `python -m k2.<service>`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.stack import catalog
from harness.stack.platform_file import (
    REFERENCE,
    GroupReady,
    HttpReady,
    LogReady,
    PlatformFile,
    PlatformService,
    fill,
    group_has_member,
    http_ready,
    log_has_line,
    python_values,
)
from harness.stack.service import ServiceSpec, StackContext
from harness.stack.services import kafka, object_store, schema_registry, toxiproxy

PARTITIONS = "3"  # K2 runs 40; a laptop-sized default that still exercises several partitions


def http_url(ctx: StackContext, service: str) -> str:
    return f"http://{ctx.host}:{ctx.port(service)}"


@dataclass(frozen=True)
class Topology:
    """How the stack's infrastructure is laid out for the platform: one Kafka node, or a quorum."""

    kafka_nodes: tuple[str, ...] = (kafka.NAME,)
    via_proxy: bool = False
    """The platform reaches kafka, the registry and the object store through toxiproxy (profile faultable)."""

    @property
    def replication(self) -> int:
        return len(self.kafka_nodes)

    @property
    def min_isr(self) -> int:
        return 2 if self.replication > 1 else 1


DIRECT = Topology()
PROXIED = Topology(via_proxy=True)
CLUSTERED = Topology(kafka_nodes=kafka.CLUSTER)
CONSUMERS = ("consumer-1", "consumer-2")
"""The consumer processes of profile cluster: two members of one group, sharing its partitions."""


@dataclass(frozen=True)
class Links:
    """Where a platform service reaches the infrastructure: directly, or through toxiproxy."""

    kafka_bootstrap: str
    registry_url: str
    s3_endpoint: str

    @staticmethod
    def of(ctx: StackContext, via_proxy: bool = False, kafka_nodes: tuple[str, ...] = (kafka.NAME,)) -> Links:
        if not via_proxy:
            return Links(kafka.bootstrap(ctx, kafka_nodes), schema_registry.url(ctx), object_store.endpoint(ctx))
        return Links(
            toxiproxy.listen(ctx, "kafka"),
            f"http://{toxiproxy.listen(ctx, 'schema-registry')}{schema_registry.CCOMPAT}",
            f"http://{toxiproxy.listen(ctx, 'object-store')}",
        )


def values(ctx: StackContext, role: str, topology: Topology = DIRECT, instance: str | None = None) -> dict[str, str]:
    """What each {placeholder} of a platform file stands for, for this role (run as `instance`,
    by default the role's name) on this stack."""
    name = instance or role
    # the exchange is the outside world, never behind a proxy: its faults are its own control API's
    links = Links.of(ctx, topology.via_proxy and role != "exchange", topology.kafka_nodes)
    props = catalog.properties(ctx)  # the catalog's database is always reached directly
    exchange = http_url(ctx, "exchange")
    return {
        **python_values(),
        "repo": str(ctx.settings.platform),
        "host": ctx.host,
        "port": str(ctx.port(name)),
        "data_dir": str(ctx.data_dir(name)),
        "instance": name.rpartition("-")[2] if name != role else "1",
        "partitions": PARTITIONS,
        "kafka.bootstrap": links.kafka_bootstrap,
        "kafka.replication": str(topology.replication),
        "kafka.min_isr": str(topology.min_isr),
        "registry.url": links.registry_url,
        "s3.endpoint": links.s3_endpoint,
        "s3.access_key": ctx.credentials.s3_access_key,
        "s3.secret_key": ctx.credentials.s3_secret_key,
        "s3.region": object_store.REGION,
        "s3.bucket": object_store.BUCKET,
        "catalog.name": catalog.CATALOG_NAME,
        "catalog.type": props["type"],
        "catalog.uri": props["uri"],
        "catalog.warehouse": props["warehouse"],
        "catalog.credential": props.get("credential", ""),
        "api.key": ctx.credentials.api_key,
        "exchange.host": ctx.host,
        "exchange.port": str(ctx.port("exchange")),
        "exchange.ws_url": exchange.replace("http://", "ws://"),
        "exchange.rest_url": exchange,
    }


def _spec(role: str, service: PlatformService, topology: Topology, instance: str | None = None) -> ServiceSpec:
    name = instance or role

    def command(ctx: StackContext) -> list[str]:
        return [fill(part, values(ctx, role, topology, name)) for part in service.command]

    def env(ctx: StackContext) -> dict[str, str]:
        filled = values(ctx, role, topology, name)
        return {var: fill(value, filled) for var, value in service.env.items()}

    def ready(ctx: StackContext) -> str:
        how = service.ready
        if isinstance(how, HttpReady):
            return http_ready(how.http, how.status)(ctx.host, ctx.port(name))
        if isinstance(how, GroupReady):
            return group_has_member(kafka.bootstrap(ctx, topology.kafka_nodes), how.consumer_group)
        assert isinstance(how, LogReady)
        return log_has_line(ctx.settings.logs / f"{name}.log", how.log)

    proxied = topology.via_proxy and role != "exchange"
    # a platform file names the one kafka; on a quorum the service waits for every node
    needs = tuple(d for dep in service.depends_on for d in (topology.kafka_nodes if dep == kafka.NAME else (dep,)))
    needs += (toxiproxy.NAME,) if proxied else ()
    behind = " (through toxiproxy)" if proxied else ""
    return ServiceSpec(
        name=name,
        depends_on=needs,
        ports=(name,),
        command=command,
        env=env,
        ready=ready,
        ready_within=service.ready_within,
        stop_grace=service.stop_grace,
        restart=service.restart,
        memory_budget_mb=service.memory_budget_mb,
        description=service.description + behind,
    )


def platform_file_path() -> Path:
    return Path(os.environ.get("K2_PLATFORM_FILE") or REFERENCE)


def specs(
    via_proxy: bool = False, file: PlatformFile | None = None, topology: Topology | None = None
) -> tuple[ServiceSpec, ...]:
    """The platform's services; `via_proxy`: those that use kafka, the registry or the object
    store reach them through toxiproxy, and so start after it (profile `faultable`). On a
    clustered topology the consumer runs twice, as consumer-1 and consumer-2."""
    file = file or PLATFORM
    topology = topology or (PROXIED if via_proxy else DIRECT)
    out: list[ServiceSpec] = []
    for role in ("exchange", "ingest", "consumer", "api"):
        if role not in file.services:
            continue
        instances = CONSUMERS if role == "consumer" and topology.replication > 1 else (None,)
        out += [_spec(role, file.services[role], topology, instance) for instance in instances]
    return tuple(out)


PLATFORM = PlatformFile.load(platform_file_path())
SPECS = specs()
