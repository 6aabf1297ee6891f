"""Kafka: one KRaft node acting as broker and controller, from the Maven Central jars."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from typing import Any

from confluent_kafka.admin import AdminClient

from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.services import jvm

NAME = "kafka"
HEAP = "512m"

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


def bootstrap(ctx: StackContext) -> str:
    return f"{ctx.host}:{ctx.port(NAME)}"


def server_properties(ctx: StackContext) -> str:
    host, port, ctl = ctx.host, ctx.port(NAME), ctx.port("kafka-controller")
    proxied, via_proxy = ctx.port("kafka-proxied"), ctx.port("kafka-via-proxy")
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctl}",
        # PROXIED is toxiproxy's upstream and advertises toxiproxy's listen port: a client that
        # bootstraps through the proxy is told to stay behind it, while one that bootstraps on
        # PLAINTEXT is told PLAINTEXT (Kafka answers metadata per listener). Always there, as
        # unused it costs nothing and the broker's config does not depend on the profile.
        "listeners": f"PLAINTEXT://{host}:{port},PROXIED://{host}:{proxied},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},PROXIED://{host}:{via_proxy}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(ctx.data_dir(NAME)),
        # a single node: every internal topic has one replica
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
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


def format_command(ctx: StackContext, cluster_id: str) -> list[str]:
    run = ctx.run_dir(NAME)
    # `--cluster-id=<id>` in one word: a random id may start with "-" and would read as an option
    return [str(ctx.components.java), "-cp", f"{ctx.components.kafka_lib}/*",
            f"-Dlog4j2.configurationFile={run / 'log4j2.properties'}",
            "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
            "--config", str(run / "server.properties")]


def prepare(ctx: StackContext) -> None:
    run, data = ctx.run_dir(NAME), ctx.data_dir(NAME)
    run.mkdir(parents=True, exist_ok=True)
    (run / "server.properties").write_text(server_properties(ctx))
    (run / "log4j2.properties").write_text(LOG4J2)
    if (data / "meta.properties").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    proc = subprocess.run(format_command(ctx, cluster_id), capture_output=True, text=True, cwd=run, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"kafka storage format failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")


def command(ctx: StackContext) -> list[str]:
    run = ctx.run_dir(NAME)
    classpath = f"{ctx.components.kafka_lib}/*"
    return [str(ctx.components.java), f"-Xmx{HEAP}", f"-Xms{HEAP}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            *jvm.archive_options(ctx.settings.cache, NAME, ctx.components.java, classpath),
            f"-Dlog4j2.configurationFile={run / 'log4j2.properties'}",
            "-cp", classpath, "kafka.Kafka", str(run / "server.properties")]


_quiet = logging.getLogger("harness.stack.kafka.probe")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def ready(ctx: StackContext) -> str:
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap(ctx), "socket.timeout.ms": 2000,
                            "logger": _quiet, "log.connection.close": False}
    admin = AdminClient(conf)
    try:
        md = admin.list_topics(timeout=3)
    except Exception as exc:  # KafkaException: broker not reachable yet
        raise NotReady(f"metadata request failed: {exc}") from None
    if not md.brokers:
        raise NotReady("metadata lists no broker yet")
    if md.controller_id < 0:
        raise NotReady("no active controller yet")
    return f"metadata ok: {len(md.brokers)} broker(s), {len(md.topics)} topic(s)"


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
