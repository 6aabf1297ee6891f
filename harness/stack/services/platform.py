"""The reference K2 platform's services (package `k2`), run as `python -m k2.<service>`.

The stack only starts them as processes and talks to them over HTTP: the harness never imports
`k2`. Each service reports readiness at GET /health/ready (200 only when its dependencies answer).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import httpx

from harness.stack import catalog
from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.services import kafka, object_store, schema_registry
from harness.stack.settings import REPO_ROOT

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


def _base_env(ctx: StackContext) -> dict[str, str]:
    return {"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1",
            "K2_KAFKA_BOOTSTRAP": kafka.bootstrap(ctx),
            "K2_SCHEMA_REGISTRY_URL": schema_registry.url(ctx),
            "K2_TOPIC_PARTITIONS": PARTITIONS}


def _catalog_env(ctx: StackContext) -> dict[str, str]:
    props = catalog.properties(ctx)
    return {"K2_CATALOG_NAME": catalog.CATALOG_NAME, "K2_CATALOG_TYPE": props["type"], "K2_CATALOG_URI": props["uri"],
            "K2_WAREHOUSE": props["warehouse"], "K2_S3_ENDPOINT": object_store.endpoint(ctx),
            "K2_S3_ACCESS_KEY": ctx.credentials.s3_access_key, "K2_S3_SECRET_KEY": ctx.credentials.s3_secret_key,
            "K2_S3_REGION": object_store.REGION}


def exchange_env(ctx: StackContext) -> dict[str, str]:
    # ids continue across restarts of the exchange, as long as the stack keeps its data
    return {**_base_env(ctx), "K2_EXCHANGE_HOST": ctx.host, "K2_EXCHANGE_PORT": str(ctx.port("exchange")),
            "K2_EXCHANGE_STATE_FILE": str(ctx.data_dir("exchange") / "trade-ids.json")}


def ingest_env(ctx: StackContext) -> dict[str, str]:
    base = http_url(ctx, "exchange")
    return {**_base_env(ctx), "K2_INGEST_HOST": ctx.host, "K2_INGEST_PORT": str(ctx.port("ingest")),
            "K2_EXCHANGE_WS_URL": base.replace("http://", "ws://"), "K2_EXCHANGE_REST_URL": base}


def consumer_env(ctx: StackContext) -> dict[str, str]:
    return {**_base_env(ctx), **_catalog_env(ctx), "K2_CONSUMER_HOST": ctx.host,
            "K2_CONSUMER_PORT": str(ctx.port("consumer"))}


def api_env(ctx: StackContext) -> dict[str, str]:
    return {**_base_env(ctx), **_catalog_env(ctx), "K2_API_HOST": ctx.host, "K2_API_PORT": str(ctx.port("api")),
            "K2_API_KEY": ctx.credentials.api_key}


def _spec(name: str, depends_on: tuple[str, ...], env: Callable[[StackContext], dict[str, str]],
          description: str, memory_budget_mb: int) -> ServiceSpec:
    return ServiceSpec(name=name, depends_on=depends_on, ports=(name,), command=_module(name), env=env,
                       ready=_ready(name), ready_within=60.0, stop_grace=25.0, restart="on-failure",
                       memory_budget_mb=memory_budget_mb, description=description)


EXCHANGE = _spec("exchange", (), exchange_env, "Binance-compatible exchange simulator", memory_budget_mb=192)
INGEST = _spec("ingest", ("kafka", "schema-registry", "exchange"), ingest_env,
               "exchange WebSocket -> TradeV2 Avro -> Kafka", memory_budget_mb=192)
CONSUMER = _spec("consumer", ("kafka", "schema-registry", "object-store", "postgres"), consumer_env,
                 "Kafka -> Iceberg, exactly once", memory_budget_mb=384)
API = _spec("api", ("postgres", "object-store"), api_env, "FastAPI query service over Iceberg", memory_budget_mb=320)
SPECS = (EXCHANGE, INGEST, CONSUMER, API)
