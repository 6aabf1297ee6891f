"""The LocalDriver against the real services: readiness, client round trips, crashes that keep
data, pause, resources, and a `down` that leaves no process and no port behind.

The tests run in file order on one stack; the last ones take it down.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg2
import pyarrow as pa
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from harness.endpoints import Endpoints
from harness.probes import iceberg, object_store
from harness.stack import processes
from harness.stack.driver import StackError
from harness.stack.local import LocalDriver
from harness.waiting import eventually

pytestmark = pytest.mark.integration

INFRA = ["kafka", "object-store", "postgres", "schema-registry"]
TOPIC = "it.stack.roundtrip"
SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Probe",
        "namespace": "k2.it",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 8}},
        ],
    }
)


def consume_all(endpoints: Endpoints, topic: str, expected: int) -> list[dict[str, Any]]:
    registry = SchemaRegistryClient({"url": endpoints.registry.url})
    deserialize = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.kafka.bootstrap,
            "group.id": f"it-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[dict[str, Any]] = []

    def all_read() -> bool:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            value = msg.value()
            assert value is not None and value[0] == 0, "Confluent wire format starts with magic byte 0"
            seen.append(deserialize(value, SerializationContext(topic, MessageField.VALUE)))
        return len(seen) >= expected

    try:
        eventually(all_read, within=60, every=0.0, describe=f"{expected} records read from {topic}")
    finally:
        consumer.close()
    return seen


def test_up_makes_every_infra_service_ready(stack: LocalDriver) -> None:
    status = stack.status()
    assert status.profile == "infra"
    assert sorted(status.services) == INFRA
    assert {n: s.state for n, s in status.services.items()} == dict.fromkeys(INFRA, "ready"), status
    for s in status.services.values():
        assert s.pid and s.ready_at and s.started_at and s.ready_at >= s.started_at
        assert (stack.settings.logs / f"{s.name}.log").exists()
    reg, pg = status.services["schema-registry"], status.services["postgres"]
    assert reg.started_at is not None and pg.ready_at is not None and reg.started_at >= pg.ready_at


def test_status_json_gives_clients_everything_they_need(stack: LocalDriver, test_env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness", "stack", "status", "--json"],
        env=test_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status = json.loads(out)
    assert status["profile"] == "infra"
    assert {n: s["state"] for n, s in status["services"].items()} == dict.fromkeys(INFRA, "ready")
    c = status["clients"]
    assert c["kafka"]["bootstrap.servers"] == f"127.0.0.1:{stack.settings.ports['kafka']}"
    assert c["schema_registry"]["url"].endswith("/apis/ccompat/v7")
    assert set(c["s3"]) == {"endpoint", "access_key", "secret_key", "region", "bucket"}
    assert c["s3"]["bucket"] == "warehouse"
    assert c["catalog"]["properties"]["type"] == "sql"
    assert c["postgres"]["dsn"].startswith("postgresql://")


def test_up_again_reuses_the_ready_stack(stack: LocalDriver) -> None:
    before = {n: s.pid for n, s in stack.status().services.items()}
    t0 = time.monotonic()
    after = stack.up("infra")
    assert {n: s.pid for n, s in after.services.items()} == before
    assert time.monotonic() - t0 < 30


def test_avro_record_round_trips_through_registry_and_kafka(endpoints: Endpoints) -> None:
    admin = AdminClient({"bootstrap.servers": endpoints.kafka.bootstrap})
    admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])[TOPIC].result(timeout=30)
    registry = SchemaRegistryClient({"url": endpoints.registry.url})
    serialize = AvroSerializer(registry, SCHEMA)
    producer = Producer({"bootstrap.servers": endpoints.kafka.bootstrap, "enable.idempotence": True, "acks": "all"})
    sent: list[dict[str, Any]] = [{"id": f"t-{i}", "price": Decimal("12345.12345678") + i} for i in range(50)]
    for record in sent:
        producer.produce(
            TOPIC,
            key=str(record["id"]).encode(),
            value=serialize(record, SerializationContext(TOPIC, MessageField.VALUE)),
        )
    assert producer.flush(30) == 0
    assert f"{TOPIC}-value" in registry.get_subjects()
    received = consume_all(endpoints, TOPIC, len(sent))
    assert sorted(received, key=lambda r: r["id"]) == sorted(sent, key=lambda r: r["id"])


def test_iceberg_table_keeps_rows_and_snapshot_properties(endpoints: Endpoints) -> None:
    catalog = iceberg.catalog(endpoints)
    name = "market_data.it_stack_probe"
    if catalog.table_exists(name):
        catalog.drop_table(name)
    rows = pa.table(
        {
            "trade_id": pa.array(["a", "b", "c"]),
            "price": pa.array(
                [Decimal("0.00000001"), Decimal("1.5"), Decimal("99999.12345678")], type=pa.decimal128(18, 8)
            ),
        }
    )
    table = catalog.create_table(name, schema=rows.schema)
    table.append(rows, snapshot_properties={"k2.offsets": '{"0": 3}'})
    fresh = iceberg.catalog(endpoints).load_table(name)  # a new catalog: nothing cached in memory
    assert fresh.current_snapshot().summary["k2.offsets"] == '{"0": 3}'
    assert fresh.scan().to_arrow().sort_by("trade_id").to_pylist() == rows.to_pylist()


def test_killed_kafka_comes_back_with_its_records(stack: LocalDriver, endpoints: Endpoints) -> None:
    stack.kill("kafka")
    assert stack.health("kafka").state == "failed"
    assert stack.start("kafka").state == "ready"
    assert len(consume_all(endpoints, TOPIC, 50)) == 50


def test_killed_object_store_comes_back_with_its_objects(stack: LocalDriver, endpoints: Endpoints) -> None:
    s3 = object_store.s3(endpoints)
    s3.put_object(Bucket="warehouse", Key="it/kept.txt", Body=b"kept across SIGKILL")
    stack.kill("object-store")
    assert stack.health("object-store").state == "failed"
    assert stack.start("object-store").state == "ready"
    assert s3.get_object(Bucket="warehouse", Key="it/kept.txt")["Body"].read() == b"kept across SIGKILL"
    assert len(iceberg.catalog(endpoints).load_table("market_data.it_stack_probe").scan().to_arrow()) == 3


def test_killed_postgres_comes_back_with_catalog_and_schemas(stack: LocalDriver, endpoints: Endpoints) -> None:
    stack.kill("postgres")
    assert stack.health("postgres").state == "failed"
    assert stack.start("postgres").state == "ready"
    assert len(iceberg.catalog(endpoints).load_table("market_data.it_stack_probe").scan().to_arrow()) == 3
    registry = SchemaRegistryClient({"url": endpoints.registry.url})
    # the registry's connection pool must notice the new database process
    eventually(
        lambda: f"{TOPIC}-value" in registry.get_subjects(),
        within=60,
        describe="registry answers from its database again",
    )


def test_restarted_registry_keeps_schema_ids(stack: LocalDriver, endpoints: Endpoints) -> None:
    url = endpoints.registry.url
    before = SchemaRegistryClient({"url": url}).get_latest_version(f"{TOPIC}-value").schema_id
    assert stack.restart("schema-registry").state == "ready"
    assert stack.status().services["schema-registry"].restarts >= 1
    after = SchemaRegistryClient({"url": url}).get_latest_version(f"{TOPIC}-value").schema_id
    assert after == before


def test_paused_service_reports_paused_then_recovers(stack: LocalDriver) -> None:
    stack.pause("schema-registry")
    try:
        assert stack.health("schema-registry").state == "paused"
    finally:
        stack.resume("schema-registry")
    eventually(lambda: stack.health("schema-registry").ready, within=30, describe="registry ready after resume")


def test_a_paused_database_freezes_its_connection_processes_too(stack: LocalDriver) -> None:
    # PostgreSQL backends leave the postmaster's process group: pausing must reach them as well
    conn = psycopg2.connect(stack.endpoints().postgres.dsn, connect_timeout=5)
    try:
        stack.pause("postgres")
        try:
            tree = processes.tree(processes.process(stack.health("postgres").pid, None))  # type: ignore[arg-type]
            assert len(tree) >= 3  # postmaster, its helpers, and our connection's backend
            assert [p.pid for p in tree if not processes.is_paused(p)] == []
        finally:
            stack.resume("postgres")
        eventually(lambda: stack.health("postgres").ready, within=30, describe="postgres ready after resume")
        with conn.cursor() as cur:
            cur.execute("select 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_resources_and_logs_of_each_service(stack: LocalDriver) -> None:
    for name in INFRA:
        used = stack.resources(name)
        assert used.memory_bytes > 10 * 2**20, name
        assert used.cpu_seconds > 0, name
        assert used.processes >= 1
        tail = stack.logs(name, tail=5).splitlines()
        assert len(tail) == 5, name
    assert "Kafka Server started" in stack.logs("kafka")


def test_down_leaves_no_process_and_no_port(stack: LocalDriver) -> None:
    pids = [s.pid for s in stack.status().services.values()]
    stopped = stack.down()
    assert sorted(stopped) == INFRA
    assert processes.processes_under(stack.settings.root) == []
    assert [p for p in pids if p and processes.process(p, None)] == []
    busy = [p for p in stack.settings.ports.values() if not processes.port_free("127.0.0.1", p)]
    assert busy == []
    assert {s.state for s in stack.status().services.values()} == {"stopped"}
    assert stack.down() == []  # a second down is a no-op


def test_down_finds_the_processes_even_without_its_state_file(stack: LocalDriver) -> None:
    assert stack.up("infra").ready
    stack.settings.state_file.unlink()  # as if the harness had crashed and lost its records
    stack.down()
    assert processes.processes_under(stack.settings.root) == []
    assert [p for p in stack.settings.ports.values() if not processes.port_free("127.0.0.1", p)] == []


def test_a_taken_port_is_named_with_its_setting(stack: LocalDriver) -> None:
    stack.down()
    port = stack.settings.ports["postgres"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT of the stack's own
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(StackError, match=rf"port {port} \(postgres\) is in use.*K2_PORT_POSTGRES"):
            stack.up("infra")
    assert processes.processes_under(stack.settings.root) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="reading as another user needs root to switch users")
def test_no_other_local_user_can_read_the_stacks_data_or_logs(stack: LocalDriver) -> None:
    settings = stack.settings
    assert stat.S_IMODE(settings.root.stat().st_mode) == 0o711
    assert stat.S_IMODE(settings.logs.stat().st_mode) == 0o700
    for service in ("kafka", "object-store", "postgres", "schema-registry"):
        data = settings.data / service
        if data.exists():
            assert stat.S_IMODE(data.stat().st_mode) == 0o700, data
    logs = sorted(settings.logs.glob("*.log"))
    assert logs and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in logs), logs
    for target in (settings.data / "kafka", settings.logs / "kafka.log", settings.root / "credentials.json"):
        seen = subprocess.run(
            ["cat", str(target)] if target.is_file() else ["ls", str(target)],
            user="nobody",
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert seen.returncode != 0 and "Permission denied" in seen.stderr, (target, seen.stdout[:200])
