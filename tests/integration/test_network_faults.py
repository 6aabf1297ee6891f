"""Network faults on real services (profile `faultable`): the platform reaches kafka, the schema
registry and the object store only through toxiproxy, and survives a cut and a slow link with
every trade exactly once in Kafka, Iceberg and the API.

Runs on a stack of its own (.stack-pytest-faultable, ports shifted by 700). The harness's own
probes reach every service directly, so they see the truth while the platform's links are down.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from harness.checks import Verdict
from harness.endpoints import Endpoints
from harness.evidence import crash_signatures
from harness.faults import Faults
from harness.probes import kafka
from harness.scenario import PipelineRun
from harness.stack.local import LocalDriver
from harness.stack.services import PROFILES
from harness.stack.settings import REPO_ROOT
from harness.targets import Target
from harness.waiting import eventually
from tests.integration.stacks import own_stack

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture(scope="module")
def stack(test_env: dict[str, str]) -> Iterator[LocalDriver]:
    env = {
        **test_env,
        "K2_STACK_DIR": str(REPO_ROOT / ".stack-pytest-faultable"),
        "K2_STACK_PORT_OFFSET": os.environ.get("K2_TEST_FAULTABLE_PORT_OFFSET", "700"),
    }
    with own_stack(env, "faultable") as driver:
        yield driver


@pytest.fixture(scope="module")
def endpoints(stack: LocalDriver) -> Endpoints:
    return stack.endpoints()


@pytest.fixture
def run(endpoints: Endpoints) -> Iterator[PipelineRun]:
    scenario = PipelineRun(endpoints, Target.load())
    yield scenario
    scenario.close()


@pytest.fixture
def faults(stack: LocalDriver, run: PipelineRun) -> Iterator[Faults]:
    f = Faults(stack, run.history)
    yield f
    assert f.heal_all() == []


def consumer_status(endpoints: Endpoints) -> dict[str, Any]:
    out: dict[str, Any] = httpx.get(endpoints.status_url("consumer"), timeout=5).json()
    return out


def produced_count(endpoints: Endpoints, topic: str) -> int:
    return sum(kafka.end_offsets(endpoints, topic).values())


def summary(verdicts: list[Verdict]) -> str:
    return "; ".join(f"{v.check}: {v.counts}" for v in verdicts)


def assert_exactly_once(run: PipelineRun, within: float) -> list[Verdict]:
    verdicts = run.wait_exactly_once(within)
    print(summary(verdicts))
    for v in verdicts:
        assert v.valid, str(v)
    return verdicts


def test_the_platform_reaches_its_infrastructure_only_through_the_proxies(
    stack: LocalDriver, endpoints: Endpoints, run: PipelineRun
) -> None:
    for symbol in SYMBOLS:
        run.trade(symbol, 150, rate=300)
    assert_exactly_once(run, within=60)
    ports = stack.settings.ports
    direct = {ports["kafka"], ports["kafka-proxied"], ports["schema-registry"], ports["object-store-s3"]}
    proxied = {ports["kafka-via-proxy"], ports["schema-registry-via-proxy"], ports["object-store-via-proxy"]}
    for name in ("ingest", "consumer", "api"):
        pid = stack.health(name).pid
        assert pid is not None, name
        remote = {c.raddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.raddr}
        assert remote & proxied, f"{name} holds no connection through toxiproxy: {sorted(remote)}"
        assert not remote & direct, f"{name} goes around toxiproxy to {sorted(remote & direct)}"


def test_a_kafka_client_that_bootstraps_through_the_proxy_stays_behind_it(
    stack: LocalDriver, endpoints: Endpoints, faults: Faults
) -> None:
    direct, proxied = endpoints.kafka.bootstrap, endpoints.toxiproxy.proxies["kafka"]
    topic = f"k2.test.via-proxy.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": direct})  # kept: a collected client cancels its futures
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    # Kafka answers metadata per listener: each client is sent back where it came from
    for bootstrap in (direct, proxied):
        brokers = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).brokers.values()
        assert [f"{b.host}:{b.port}" for b in brokers] == [bootstrap]

    producer = Producer({"bootstrap.servers": proxied, "enable.idempotence": True})
    for i in range(100):
        producer.produce(topic, value=f"m{i}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer(
        {"bootstrap.servers": proxied, "group.id": f"k2-test-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < 100 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value() or b"")
    consumer.close()
    assert got == [f"m{i}".encode() for i in range(100)]

    # cut the link: a client behind the proxy cannot deliver (it does not slip around to the
    # broker's real port), one that bootstraps directly still can
    faults.partition("kafka")
    errors: list[str] = []
    cut = Producer({"bootstrap.servers": proxied, "message.timeout.ms": 3000})
    cut.produce(topic, value=b"cut", on_delivery=lambda err, _: errors.append(str(err)) if err else None)
    cut.flush(10)
    assert len(errors) == 1, "a message went through a cut link"
    direct_producer = Producer({"bootstrap.servers": direct})
    direct_producer.produce(topic, value=b"direct")
    assert direct_producer.flush(10) == 0
    faults.heal("link to kafka partitioned")
    producer.produce(topic, value=b"after")
    assert producer.flush(30) == 0


def test_a_ten_second_partition_from_kafka_loses_and_duplicates_nothing(
    endpoints: Endpoints, run: PipelineRun, faults: Faults
) -> None:
    topic = run.target.topic
    for symbol in SYMBOLS:
        run.trade(symbol, 500, rate=40)  # 12.5 s of trading, the partition inside it
    time.sleep(1.0)
    pending_at_cut = run.exchange.pending()
    faults.partition("kafka")
    time.sleep(1.0)  # produce requests in flight at the cut settle
    at_cut = produced_count(endpoints, topic)
    time.sleep(9.0)
    assert produced_count(endpoints, topic) == at_cut, "trades reached Kafka through a cut link"
    pending_at_heal = run.exchange.pending()
    faults.heal("link to kafka partitioned")
    healed_at = time.time()
    verdicts = assert_exactly_once(run, within=60)
    stages = [v for v in verdicts if v.check.startswith("exactly once at ")]
    assert [v.counts["expected"] for v in stages] == [1000, 1000, 1000]
    assert [v.check for v in verdicts[3:]] == [
        "served trades equal what the exchange sent",
        "served pages consistent",
        "served newest first",
    ]
    committed = run.history.first_seen["committed"]
    drain = max(committed[k] for k in run.expected()) - healed_at
    print(
        f"kafka link cut for {healed_at - run.history.faults()[-1].at:.1f} s, while the exchange emitted "
        f"{pending_at_cut - pending_at_heal} trades; {pending_at_heal} more after the heal; every trade "
        f"committed {drain:.1f} s after the heal"
    )


def test_half_a_second_of_latency_to_the_object_store_slows_commits_and_loses_nothing(
    endpoints: Endpoints, run: PipelineRun, faults: Faults
) -> None:
    for symbol in SYMBOLS:
        run.trade(symbol, 300, rate=20)  # 15 s of trading
    before = consumer_status(endpoints)
    faults.delay("object-store", 500)

    # an Iceberg append writes at least four files (data, manifest, manifest list, metadata),
    # each one answer delayed by 500 ms: a commit made under the fault takes 2 s or more
    def slow_commit() -> float | None:
        status = consumer_status(endpoints)
        slow = status["commits"] > before["commits"] and status["last_commit_ms"] >= 2000
        return float(status["last_commit_ms"]) if slow else None

    slow_ms = eventually(slow_commit, within=40, every=0.2, describe="a commit made under 500 ms of latency")
    faults.heal("link to object-store delayed")
    after = consumer_status(endpoints)["commits"]
    # trades after the heal, so there are commits to time: on a slow machine the first flow may
    # already be in the table by now, and then nothing would commit again
    for symbol in SYMBOLS:
        run.trade(symbol, 40, rate=20)

    def fast_again() -> float | None:
        status = consumer_status(endpoints)
        fast = status["commits"] > after + 1 and status["last_commit_ms"] < 2000
        return float(status["last_commit_ms"]) if fast else None

    fast_ms = eventually(fast_again, within=40, every=0.2, describe="commits fast again after the heal")
    print(
        f"commit before the fault {before['last_commit_ms']} ms, under 500 ms latency {slow_ms} ms, "
        f"after the heal {fast_ms} ms; failed commit attempts "
        f"{consumer_status(endpoints)['failed_commit_attempts'] - before['failed_commit_attempts']}"
    )
    assert_exactly_once(run, within=60)


def test_no_service_crashed_or_was_restarted_meanwhile(stack: LocalDriver) -> None:
    # last in this module: the faults above are network faults only, so no process may have died
    for name in PROFILES["faultable"]:
        assert stack.health(name).restarts == 0, f"{name} was started again"
        assert crash_signatures(name, stack.logs(name)) == []
