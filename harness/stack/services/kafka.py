"""Kafka from the Maven Central jars: one KRaft node acting as broker and controller (`kafka`),
or, in profile `cluster`, three such nodes in one quorum (`kafka-1`..`kafka-3`)."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient

from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.services import jvm

NAME = "kafka"
HEAP = "512m"
CLUSTER = ("kafka-1", "kafka-2", "kafka-3")
CLUSTER_HEAP = "384m"  # three JVMs on two cores and the rest of the stack

LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


@dataclass(frozen=True)
class Node:
    """One KRaft node (broker and controller) of a quorum of `names`."""

    name: str
    names: tuple[str, ...]

    @property
    def node_id(self) -> int:
        return self.names.index(self.name) + 1

    @property
    def clustered(self) -> bool:
        return len(self.names) > 1


SINGLE = Node(NAME, (NAME,))
NODES = {n: Node(n, CLUSTER) for n in CLUSTER}


def bootstrap(ctx: StackContext, nodes: tuple[str, ...] = (NAME,)) -> str:
    return ",".join(f"{ctx.host}:{ctx.port(n)}" for n in nodes)


def cluster_id(ctx: StackContext) -> str:
    """The same for every node of this stack's quorum, and for no other stack's."""
    return base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, str(ctx.settings.root)).bytes).decode().rstrip("=")


def peer_listener(source: int) -> str:
    """The listener through which node `source` reaches every node (its inter-broker listener)."""
    return f"FROM{source}"


def server_properties(ctx: StackContext, node: Node = SINGLE) -> str:
    host, port, ctl = ctx.host, ctx.port(node.name), ctx.port(f"{node.name}-controller")
    if node.clustered:
        # Node k reaches node j on j's listener FROMk, which j advertises at the proxy k->j (its own
        # at itself), and votes to j through the proxy k->j-controller: every direction between
        # two nodes is a proxy of its own, so one node can be cut off from the others alone.
        me, ids = node.node_id, range(1, len(node.names) + 1)

        def reached_by(k: int) -> int:  # where node k finds this node
            return ctx.port(f"kafka-{k}-to-{me}" if k != me else f"kafka-{me}-from-{k}")

        def votes_to(j: int) -> int:  # where this node finds node j's controller
            return ctx.port(f"kafka-{me}-to-{j}-controller" if j != me else f"kafka-{j}-controller")

        listeners = [
            f"PLAINTEXT://{host}:{port}",
            f"CONTROLLER://{host}:{ctl}",
            *(f"{peer_listener(k)}://{host}:{ctx.port(f'kafka-{me}-from-{k}')}" for k in ids),
        ]
        # The quorum's leader tells the others its controller endpoint and they use it, not the
        # voters above: advertised at a proxy of its own, so that cutting a node off cuts that too.
        advertised = [
            f"PLAINTEXT://{host}:{port}",
            f"CONTROLLER://{host}:{ctx.port(f'kafka-{me}-raft')}",
            *(f"{peer_listener(k)}://{host}:{reached_by(k)}" for k in ids),
        ]
        voters = ",".join(f"{j}@{host}:{votes_to(j)}" for j in ids)
        names = ["PLAINTEXT", "CONTROLLER", *(peer_listener(k) for k in ids)]
        network = {
            "listeners": ",".join(listeners),
            "advertised.listeners": ",".join(advertised),
            "listener.security.protocol.map": ",".join(f"{n}:PLAINTEXT" for n in names),
            "inter.broker.listener.name": peer_listener(me),
            "controller.quorum.voters": voters,
        }
    else:
        proxied, via_proxy = ctx.port("kafka-proxied"), ctx.port("kafka-via-proxy")
        # PROXIED is toxiproxy's upstream and advertises toxiproxy's listen port: a client that
        # bootstraps through the proxy is told to stay behind it, while one that bootstraps on
        # PLAINTEXT is told PLAINTEXT (Kafka answers metadata per listener). Always there, as
        # unused it costs nothing and the broker's config does not depend on the profile.
        network = {
            "listeners": f"PLAINTEXT://{host}:{port},PROXIED://{host}:{proxied},CONTROLLER://{host}:{ctl}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port},PROXIED://{host}:{via_proxy}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.quorum.voters": f"1@{host}:{ctl}",
        }
    # every internal topic on every node, and two of them in sync before a write counts
    replicas, min_isr = (str(len(node.names)), "2") if node.clustered else ("1", "1")
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        **network,
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(ctx.data_dir(node.name)),
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        # never elect a replica that was out of sync: that is how acknowledged writes get lost
        "unclean.leader.election.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        # A broker killed and started again cannot register until the controller has expired
        # its old session: 9 s by default, half of the broker-crash scenario's recovery time.
        # Broker and controller share this JVM, so 4 s still leaves 4 heartbeats of slack.
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "1000",
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "log.retention.hours": "168",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def format_command(ctx: StackContext, cluster_id: str, node: Node = SINGLE) -> list[str]:
    run = ctx.run_dir(node.name)
    # `--cluster-id=<id>` in one word: a random id may start with "-" and would read as an option
    return [
        str(ctx.components.java),
        "-cp",
        f"{ctx.components.kafka_lib}/*",
        f"-Dlog4j2.configurationFile={run / 'log4j2.properties'}",
        "kafka.tools.StorageTool",
        "format",
        f"--cluster-id={cluster_id}",
        "--config",
        str(run / "server.properties"),
    ]


def prepare(ctx: StackContext, node: Node = SINGLE) -> None:
    run, data = ctx.run_dir(node.name), ctx.data_dir(node.name)
    run.mkdir(parents=True, exist_ok=True)
    (run / "server.properties").write_text(server_properties(ctx, node))
    (run / "log4j2.properties").write_text(LOG4J2)
    if (data / "meta.properties").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    # a single node gets a new id each time; the nodes of a quorum must share theirs
    new_id = cluster_id(ctx) if node.clustered else base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    proc = subprocess.run(format_command(ctx, new_id, node), capture_output=True, text=True, cwd=run, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"kafka storage format failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")


def command(ctx: StackContext, node: Node = SINGLE) -> list[str]:
    run = ctx.run_dir(node.name)
    classpath = f"{ctx.components.kafka_lib}/*"
    heap = CLUSTER_HEAP if node.clustered else HEAP
    return [
        str(ctx.components.java),
        f"-Xmx{heap}",
        f"-Xms{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        *jvm.archive_options(ctx.settings.cache, NAME, ctx.components.java, classpath),
        f"-Dlog4j2.configurationFile={run / 'log4j2.properties'}",
        "-cp",
        classpath,
        "kafka.Kafka",
        str(run / "server.properties"),
    ]


_quiet = logging.getLogger("harness.stack.kafka.probe")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def _metadata(bootstrap_servers: str) -> Any:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "socket.timeout.ms": 2000,
        "logger": _quiet,
        "log.connection.close": False,
    }
    try:
        return AdminClient(conf).list_topics(timeout=3)
    except Exception as exc:  # KafkaException: broker not reachable yet
        raise NotReady(f"metadata request failed: {exc}") from None


def ready(ctx: StackContext) -> str:
    md = _metadata(bootstrap(ctx))
    if not md.brokers:
        raise NotReady("metadata lists no broker yet")
    if md.controller_id < 0:
        raise NotReady("no active controller yet")
    return f"metadata ok: {len(md.brokers)} broker(s), {len(md.topics)} topic(s)"


def cluster_ready(ctx: StackContext, node: Node) -> str:
    """The node is a broker of the quorum, every node is, and every partition has a leader and
    all its replicas in sync: asked of the node itself, so a node that is down is never ready."""
    md = _metadata(bootstrap(ctx, (node.name,)))
    if md.controller_id < 0:
        raise NotReady("no active controller (quorum) yet")
    missing = sorted(set(range(1, len(node.names) + 1)) - set(md.brokers))
    if missing:
        raise NotReady(f"brokers {missing} not registered yet; {sorted(md.brokers)} are")
    behind = [
        f"{t}[{p}] leader {pm.leader} isr {sorted(pm.isrs)} of {sorted(pm.replicas)}"
        for t, tm in md.topics.items()
        for p, pm in tm.partitions.items()
        if pm.leader < 0 or set(pm.isrs) != set(pm.replicas)
    ]
    if behind:
        raise NotReady(f"{len(behind)} partition(s) without a leader or a full ISR: {', '.join(behind[:5])}")
    partitions = sum(len(tm.partitions) for tm in md.topics.values())
    return f"quorum ok: {len(md.brokers)} brokers, controller {md.controller_id}, {partitions} partitions in sync"


SPEC = ServiceSpec(
    name=NAME,
    memory_budget_mb=768,
    depends_on=(),
    ports=(NAME, "kafka-controller", "kafka-proxied"),
    command=command,
    ready=ready,
    prepare=prepare,
    description=f"Apache Kafka (KRaft, single node, heap {HEAP})",
)


def node_spec(node: Node) -> ServiceSpec:
    return ServiceSpec(
        name=node.name,
        memory_budget_mb=640,
        depends_on=("toxiproxy",),  # every way to the other nodes goes through it
        ports=(node.name, f"{node.name}-controller", *(f"{node.name}-from-{k}" for k in range(1, len(node.names) + 1))),
        command=lambda ctx: command(ctx, node),
        ready=lambda ctx: cluster_ready(ctx, node),
        prepare=lambda ctx: prepare(ctx, node),
        ready_within=180.0,
        description=f"Apache Kafka node {node.node_id} of {len(node.names)} (KRaft broker and controller, "
        f"heap {CLUSTER_HEAP})",
    )


CLUSTER_SPECS = tuple(node_spec(NODES[n]) for n in CLUSTER)
