"""The reference K2 platform's services (package `k2`), run as `python -m k2.<service>`.

The stack only starts them as processes and talks to them over HTTP: the harness never imports
`k2`. Each service reports readiness at GET /health/ready (200 only when its dependencies answer).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx

from harness.stack import catalog
from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.services import kafka, object_store, schema_registry, toxiproxy

PARTITIONS = "3"  # K2 runs 40; a laptop-sized default that still exercises several partitions


def http_url(ctx: StackContext, service: str) -> str:
    return f"http://{ctx.host}:{ctx.port(service)}"


def _module(name: str) -> Callable[[StackContext], list[str]]:
    def command(ctx: StackContext) -> list[str]:
        return [sys.executable, "-m", f"k2.{name}"]
    return command


def _ready(service: str) -> Callable[[StackContext], str]:
    def ready(ctx: StackContext) -> str:
        try:
            r = httpx.get(http_url(ctx, service) + "/health/ready", timeout=3.0)
        except httpx.HTTPError as exc:
            raise NotReady(f"GET /health/ready: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise NotReady(f"GET /health/ready answered {r.status_code}: {r.text[:200]}")
        return "GET /health/ready ok"
    return ready


@dataclass(frozen=True)
class Links:
    """Where a platform service reaches the infrastructure: directly, or through toxiproxy."""

    kafka_bootstrap: str
    registry_url: str
    s3_endpoint: str

    @staticmethod
    def of(ctx: StackContext, via_proxy: bool = False) -> Links:
        if not via_proxy:
            return Links(kafka.bootstrap(ctx), schema_registry.url(ctx), object_store.endpoint(ctx))
        return Links(toxiproxy.listen(ctx, "kafka"),
                     f"http://{toxiproxy.listen(ctx, 'schema-registry')}{schema_registry.CCOMPAT}",
                     f"http://{toxiproxy.listen(ctx, 'object-store')}")


def _base_env(ctx: StackContext, links: Links) -> dict[str, str]:
    return {"PYTHONPATH": str(ctx.settings.platform), "PYTHONUNBUFFERED": "1",
            "K2_KAFKA_BOOTSTRAP": links.kafka_bootstrap,
            "K2_SCHEMA_REGISTRY_URL": links.registry_url,
            "K2_TOPIC_PARTITIONS": PARTITIONS}


def _catalog_env(ctx: StackContext, links: Links) -> dict[str, str]:
    # the catalog's database (postgres) is always reached directly: only its files go through S3
    props = catalog.properties(ctx)
    return {"K2_CATALOG_NAME": catalog.CATALOG_NAME, "K2_CATALOG_TYPE": props["type"], "K2_CATALOG_URI": props["uri"],
            "K2_WAREHOUSE": props["warehouse"], "K2_S3_ENDPOINT": links.s3_endpoint,
            "K2_S3_ACCESS_KEY": ctx.credentials.s3_access_key, "K2_S3_SECRET_KEY": ctx.credentials.s3_secret_key,
            "K2_S3_REGION": object_store.REGION}


def exchange_env(ctx: StackContext) -> dict[str, str]:
    # ids continue across restarts of the exchange, as long as the stack keeps its data
    return {**_base_env(ctx, Links.of(ctx)), "K2_EXCHANGE_HOST": ctx.host,
            "K2_EXCHANGE_PORT": str(ctx.port("exchange")),
            "K2_EXCHANGE_STATE_FILE": str(ctx.data_dir("exchange") / "trade-ids.json")}


def ingest_env(ctx: StackContext, via_proxy: bool = False) -> dict[str, str]:
    # the exchange is the outside world, never behind a proxy: its faults are its own control API's
    base = http_url(ctx, "exchange")
    return {**_base_env(ctx, Links.of(ctx, via_proxy)), "K2_INGEST_HOST": ctx.host,
            "K2_INGEST_PORT": str(ctx.port("ingest")),
            "K2_EXCHANGE_WS_URL": base.replace("http://", "ws://"), "K2_EXCHANGE_REST_URL": base}


def consumer_env(ctx: StackContext, via_proxy: bool = False) -> dict[str, str]:
    links = Links.of(ctx, via_proxy)
    return {**_base_env(ctx, links), **_catalog_env(ctx, links), "K2_CONSUMER_HOST": ctx.host,
            "K2_CONSUMER_PORT": str(ctx.port("consumer"))}


def api_env(ctx: StackContext, via_proxy: bool = False) -> dict[str, str]:
    links = Links.of(ctx, via_proxy)
    return {**_base_env(ctx, links), **_catalog_env(ctx, links), "K2_API_HOST": ctx.host,
            "K2_API_PORT": str(ctx.port("api")), "K2_API_KEY": ctx.credentials.api_key}


def _spec(name: str, depends_on: tuple[str, ...], env: Callable[[StackContext], dict[str, str]],
          description: str, memory_budget_mb: int) -> ServiceSpec:
    return ServiceSpec(name=name, depends_on=depends_on, ports=(name,), command=_module(name), env=env,
                       ready=_ready(name), ready_within=60.0, stop_grace=25.0, restart="on-failure",
                       memory_budget_mb=memory_budget_mb, description=description)


def specs(via_proxy: bool = False) -> tuple[ServiceSpec, ...]:
    """The platform's services; `via_proxy`: those that use kafka, the registry or the object
    store reach them through toxiproxy, and so start after it (profile `faultable`)."""
    proxy = (toxiproxy.NAME,) if via_proxy else ()
    behind = " (through toxiproxy)" if via_proxy else ""
    return (
        _spec("exchange", (), exchange_env, "Binance-compatible exchange simulator", memory_budget_mb=192),
        _spec("ingest", ("kafka", "schema-registry", "exchange", *proxy), partial(ingest_env, via_proxy=via_proxy),
              "exchange WebSocket -> TradeV2 Avro -> Kafka" + behind, memory_budget_mb=192),
        _spec("consumer", ("kafka", "schema-registry", "object-store", "postgres", *proxy),
              partial(consumer_env, via_proxy=via_proxy), "Kafka -> Iceberg, exactly once" + behind,
              memory_budget_mb=384),
        _spec("api", ("postgres", "object-store", *proxy), partial(api_env, via_proxy=via_proxy),
              "FastAPI query service over Iceberg" + behind, memory_budget_mb=320),
    )


SPECS = specs()
