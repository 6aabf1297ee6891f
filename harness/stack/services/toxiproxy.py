"""Toxiproxy: TCP proxies between the platform and its infrastructure, for network faults.

Profile `faultable` points the platform's services at the proxies' listen ports instead of the
real ones; the suite then delays, resets or cuts a link through toxiproxy's API (harness.network)
while its own probes keep reaching every service directly, so they see the truth meanwhile.

Kafka needs a listener of its own behind the proxy (see kafka.py): a client that bootstraps
through a proxy is otherwise sent straight to the broker by the metadata answer.
"""

from __future__ import annotations

import dataclasses

import httpx

from harness.stack.components import ComponentMissing
from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.settings import PAIRS

NAME = "toxiproxy"

# link (the proxy's name) -> (port it listens on, port of the real service behind it)
LINKS: dict[str, tuple[str, str]] = {
    "kafka": ("kafka-via-proxy", "kafka-proxied"),
    "schema-registry": ("schema-registry-via-proxy", "schema-registry"),
    "object-store": ("object-store-via-proxy", "object-store-s3"),
}


def api_url(ctx: StackContext) -> str:
    return f"http://{ctx.host}:{ctx.port(NAME)}"


def listen(ctx: StackContext, link: str) -> str:
    """host:port where the platform reaches `link` through its proxy."""
    return f"{ctx.host}:{ctx.port(LINKS[link][0])}"


def proxies(ctx: StackContext) -> list[dict[str, object]]:
    return [
        {"name": link, "listen": listen(ctx, link), "upstream": f"{ctx.host}:{ctx.port(upstream)}", "enabled": True}
        for link, (_, upstream) in LINKS.items()
    ]


def prepare(ctx: StackContext) -> None:
    if ctx.components.toxiproxy is None:
        raise ComponentMissing("Toxiproxy is not installed (profile faultable needs it); run `make setup`")
    ctx.run_dir(NAME).mkdir(parents=True, exist_ok=True)


def command(ctx: StackContext) -> list[str]:
    assert ctx.components.toxiproxy is not None, "prepare() checks it first"
    return [str(ctx.components.toxiproxy), "-host", ctx.host, "-port", str(ctx.port(NAME))]


def env(ctx: StackContext) -> dict[str, str]:
    # info keeps each accepted/closed connection and proxy change, not every API call (debug)
    return {"LOG_LEVEL": "info"}


def ready(ctx: StackContext) -> str:
    try:
        r = httpx.get(api_url(ctx) + "/version", timeout=2.0)
    except httpx.HTTPError as exc:
        raise NotReady(f"GET /version: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise NotReady(f"GET /version answered {r.status_code}")
    return f"GET /version ok: {r.text.strip()[:60]}"


def cluster_proxies(ctx: StackContext) -> list[dict[str, object]]:
    """Profile cluster: a proxy for each direction between two Kafka nodes, for the data (node k
    reaches node j on j's listener FROMk) and for the controller quorum (see kafka.py)."""
    host = ctx.host
    out: list[dict[str, object]] = []
    for k, j in PAIRS:
        out.append(
            {
                "name": f"kafka-{k}-to-{j}",
                "listen": f"{host}:{ctx.port(f'kafka-{k}-to-{j}')}",
                "upstream": f"{host}:{ctx.port(f'kafka-{j}-from-{k}')}",
                "enabled": True,
            }
        )
        controller = f"kafka-{k}-to-{j}-controller"
        out.append(
            {
                "name": controller,
                "listen": f"{host}:{ctx.port(controller)}",
                "upstream": f"{host}:{ctx.port(f'kafka-{j}-controller')}",
                "enabled": True,
            }
        )
    for j in sorted({j for _, j in PAIRS}):
        out.append(
            {
                "name": f"kafka-{j}-raft",
                "listen": f"{host}:{ctx.port(f'kafka-{j}-raft')}",
                "upstream": f"{host}:{ctx.port(f'kafka-{j}-controller')}",
                "enabled": True,
            }
        )
    return out


def between(node: int, others: tuple[int, ...] = (1, 2, 3)) -> list[str]:
    """The proxies of every direction between kafka-`node` and the other nodes, and of its
    quorum endpoint: cut them all and it is cut off from them, while clients still reach it. (It
    may still fetch the quorum's metadata from the new leader, as a follower: a fenced broker.)"""
    return [
        f"kafka-{node}-raft",
        *(
            f"kafka-{a}-to-{b}{suffix}"
            for a, b in PAIRS
            if node in (a, b) and {a, b} <= set(others)
            for suffix in ("", "-controller")
        ),
    ]


def initialise(ctx: StackContext, wanted: list[dict[str, object]] | None = None) -> None:
    """Every proxy there, as configured, enabled and without toxics. Proxies live only in the
    server's memory, so this runs after every start; on a reused stack it also clears a fault a
    crashed harness left behind (populate alone keeps an unchanged proxy's toxics and state)."""
    with httpx.Client(base_url=api_url(ctx), timeout=10.0) as http:
        r = http.post("/populate", json=proxies(ctx) if wanted is None else wanted)
        if r.status_code >= 300:
            raise RuntimeError(f"toxiproxy POST /populate answered {r.status_code}: {r.text[:300]}")
        r = http.post("/reset")
        if r.status_code >= 300:
            raise RuntimeError(f"toxiproxy POST /reset answered {r.status_code}: {r.text[:300]}")


SPEC = ServiceSpec(
    name=NAME,
    memory_budget_mb=96,
    depends_on=(),  # a proxy needs no upstream to exist; it connects per client connection
    ports=(NAME, *(listen_port for listen_port, _ in LINKS.values())),
    command=command,
    env=env,
    ready=ready,
    prepare=prepare,
    initialise=initialise,
    ready_within=30.0,
    stop_grace=5.0,
    description="Toxiproxy (network faults between the platform and kafka, registry, object store)",
)

CLUSTER_SPEC = dataclasses.replace(
    SPEC,
    ports=(
        NAME,
        *(f"kafka-{k}-to-{j}{suffix}" for k, j in PAIRS for suffix in ("", "-controller")),
        *(f"kafka-{j}-raft" for j in (1, 2, 3)),
    ),
    initialise=lambda ctx: initialise(ctx, cluster_proxies(ctx)),
    description="Toxiproxy (every direction between the cluster's Kafka nodes)",
)
