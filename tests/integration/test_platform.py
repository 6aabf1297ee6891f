"""The reference platform end to end on real services (profile `full`): exchange -> ingest ->
Kafka -> consumer -> Iceberg -> API, exactly once, also across crashes of consumer and ingest.

Runs on a stack of its own (.stack-pytest-platform, ports shifted by 200). Each test emits new
trades and checks every trade emitted so far, so any loss or duplicate anywhere shows up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness import pipeline
from harness.checks import exactly_once, fields_equal
from harness.endpoints import Endpoints
from harness.probes import kafka
from harness.probes.api import ApiProbe, Envelope
from harness.stack.local import LocalDriver
from harness.stack.settings import REPO_ROOT
from harness.targets import Target
from harness.waiting import eventually
from harness.workload.exchange import Emission, ExchangeControl
from tests.integration.stacks import own_stack

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
TARGET = Target.load()
DLQ = "market.crypto.trades.binance.dlq"


@pytest.fixture(scope="module")
def full_stack(test_env: dict[str, str]) -> Iterator[LocalDriver]:
    env = {
        **test_env,
        "K2_STACK_DIR": str(REPO_ROOT / ".stack-pytest-platform"),
        "K2_STACK_PORT_OFFSET": os.environ.get("K2_TEST_PLATFORM_PORT_OFFSET", "200"),
    }
    with own_stack(env, "full") as driver:
        yield driver


@pytest.fixture(scope="module")
def endpoints(full_stack: LocalDriver) -> Endpoints:
    return full_stack.endpoints()


@pytest.fixture(scope="module")
def exchange(endpoints: Endpoints) -> Iterator[ExchangeControl]:
    control = ExchangeControl(endpoints.control_url())
    yield control
    control.close()


@pytest.fixture(scope="module")
def api(endpoints: Endpoints) -> Iterator[ApiProbe]:
    probe = ApiProbe(
        endpoints.api.url,
        endpoints.api.api_key,
        header=TARGET.api["key_header"],
        trades_path=TARGET.api["trades"],
        max_limit=TARGET.api["max_limit"],
        envelope=Envelope.of(TARGET.api),
    )
    yield probe
    probe.close()


def all_emitted(exchange: ExchangeControl, emissions: list[Emission]) -> None:
    eventually(lambda: exchange.pending() == 0, within=120, describe=f"exchange emitted {emissions}")


def assert_exactly_once_everywhere(exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe) -> int:
    """Every trade emitted so far is committed once and served once, with exact decimals."""
    expected = pipeline.emitted(exchange, SYMBOLS, TARGET.exchange)

    def all_committed() -> bool:
        committed = [k for k, _ in pipeline.committed(endpoints, TARGET.table)]
        return exactly_once("committed", expected, committed).counts["lost"] == 0

    eventually(all_committed, within=90, every=1.0, describe=f"all {len(expected)} emitted trades committed")
    committed = pipeline.committed(endpoints, TARGET.table)
    verdict = exactly_once("committed", expected, [k for k, _ in committed])
    print(verdict)
    assert verdict.valid, str(verdict)
    assert fields_equal("committed", expected, dict(committed)).valid
    served = pipeline.served(api, SYMBOLS)
    verdict = exactly_once("served", expected, [k for k, _ in served])
    print(verdict)
    assert verdict.valid, str(verdict)
    fields = fields_equal("served", expected, dict(served))
    assert fields.valid, str(fields)
    return len(expected)


def test_ten_thousand_trades_over_three_symbols_arrive_exactly_once(
    exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe
) -> None:
    emissions = [exchange.emit(s, n, rate=1000) for s, n in zip(SYMBOLS, (3334, 3333, 3333), strict=True)]
    assert sum(e.count for e in emissions) == 10_000
    all_emitted(exchange, emissions)
    assert assert_exactly_once_everywhere(exchange, endpoints, api) == 10_000


def test_a_consumer_killed_mid_stream_still_commits_exactly_once(
    full_stack: LocalDriver, exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe
) -> None:
    before = len(pipeline.emitted(exchange, SYMBOLS, TARGET.exchange))
    emissions = [exchange.emit(s, 1000, rate=250) for s in SYMBOLS]
    eventually(
        lambda: exchange.status()["symbols"]["BTCUSDT"]["pending"] < 700,
        within=30,
        describe="the stream is well under way",
    )
    full_stack.kill("consumer")
    assert full_stack.health("consumer").state == "failed"
    assert full_stack.start("consumer").state == "ready"
    all_emitted(exchange, emissions)
    assert assert_exactly_once_everywhere(exchange, endpoints, api) == before + 3000


def test_an_ingest_killed_while_the_exchange_trades_backfills_the_gap(
    full_stack: LocalDriver, exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe
) -> None:
    before = len(pipeline.emitted(exchange, SYMBOLS, TARGET.exchange))
    emissions = [exchange.emit(s, 1000, rate=250) for s in SYMBOLS]
    eventually(
        lambda: exchange.status()["symbols"]["BTCUSDT"]["pending"] < 800,
        within=30,
        describe="the stream is well under way",
    )
    full_stack.kill("ingest")
    # the exchange keeps trading while ingest is down: these trades are only on its REST API
    eventually(
        lambda: exchange.status()["symbols"]["BTCUSDT"]["pending"] < 400,
        within=30,
        describe="trades happen while ingest is down",
    )
    assert full_stack.start("ingest").state == "ready"
    all_emitted(exchange, emissions)
    assert assert_exactly_once_everywhere(exchange, endpoints, api) == before + 3000


def ingest_status(endpoints: Endpoints) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(endpoints.status_url("ingest"), timeout=5).raise_for_status().json()
    return body


def test_a_gap_owed_while_the_history_refuses_survives_an_ingest_restart_and_is_filled_once(
    full_stack: LocalDriver, exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe
) -> None:
    before = len(pipeline.emitted(exchange, SYMBOLS, TARGET.exchange))
    exchange.rate_limit(120, retry_after_s=1)
    try:
        all_emitted(exchange, [exchange.emit("BNBUSDT", 100, rate=500)])
        exchange.pause()  # the ingest misses these: only the (refusing) history has them
        stalled = exchange.emit("BNBUSDT", 100, rate=500)
        all_emitted(exchange, [stalled])
        connections = exchange.status()["connections"]
        exchange.disconnect("abrupt")
        exchange.resume()
        eventually(
            lambda: exchange.status()["connections"] > connections, within=30, describe="the ingest connecting again"
        )
        live = exchange.emit("BNBUSDT", 50, rate=100)
        all_emitted(exchange, [live])

        def owed() -> list[dict[str, Any]]:
            status = ingest_status(endpoints)
            assert status["last_trade_ids"].get("BNBUSDT") == live.last_id, status["last_trade_ids"]
            gaps: list[dict[str, Any]] = status["owed"]
            assert gaps and gaps[0]["from"] == stalled.first_id and gaps[0]["size"] >= 100, gaps
            return gaps

        gaps = eventually(owed, within=30, describe="live trades produced past the gap the history refuses")
        assert ingest_status(endpoints)["rate_limited"] >= 1
        assert full_stack.restart("ingest").state == "ready"
        assert ingest_status(endpoints)["owed"] == gaps  # read back from the last record in Kafka
    finally:
        exchange.rate_limit(0)
    assert assert_exactly_once_everywhere(exchange, endpoints, api) == before + 250
    eventually(lambda: ingest_status(endpoints)["owed"] == [], within=30, describe="nothing owed any more")
    assert exchange.refusals()["bans"] == 0


def test_malformed_frames_are_dead_lettered_replays_skipped_and_the_flow_continues(
    exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe
) -> None:
    dead_before = len(kafka.dead_letters(endpoints, DLQ))
    status_before = ingest_status(endpoints)
    before = len(pipeline.emitted(exchange, SYMBOLS, TARGET.exchange))
    first = exchange.emit("ETHUSDT", 200, rate=400)
    all_emitted(exchange, [first])
    sent = exchange.malformed(13)  # every malformed kind once, a 4 MiB frame and bytes that are no UTF-8 included
    assert sent["clients"] >= 1 and sent["sent"] >= 13 and len(sent["kinds"]) == 13
    replays = [exchange.malformed(2, kind=kind, symbol="ETHUSDT") for kind in ("duplicate_id", "backwards_id")]
    assert [r["sent"] for r in replays] == [2, 2]
    second = exchange.emit("ETHUSDT", 200, rate=400)
    all_emitted(exchange, [second])
    eventually(
        lambda: len(kafka.dead_letters(endpoints, DLQ)) - dead_before >= sent["sent"],
        within=30,
        describe=f"{sent['sent']} malformed frames dead-lettered",
    )
    letters = kafka.dead_letters(endpoints, DLQ)[dead_before:]
    assert len(letters) == sent["sent"]
    assert all(letter["reason"] and letter["source"] == "ws" for letter in letters)
    tags = [re.search(r"malformed:([a-z0-9_]+)", letter["frame"][:200]) for letter in letters]
    assert sorted(t.group(1) for t in tags if t) == sorted(sent["kinds"])  # each kind once, by its tag
    assert assert_exactly_once_everywhere(exchange, endpoints, api) == before + 400
    status = ingest_status(endpoints)
    assert status["duplicates"] - status_before["duplicates"] == 4
    assert status["went_backwards"] - status_before["went_backwards"] == 2
    assert status["connects"] == status_before["connects"]  # the connection was never dropped


def test_an_object_store_outage_delays_commits_but_loses_nothing(
    full_stack: LocalDriver, exchange: ExchangeControl, endpoints: Endpoints, api: ApiProbe
) -> None:
    before = len(pipeline.emitted(exchange, SYMBOLS, TARGET.exchange))
    consumer_status = endpoints.status_url("consumer")
    full_stack.stop("object-store")
    try:
        emissions = [exchange.emit(s, 300, rate=300) for s in SYMBOLS]
        eventually(
            lambda: httpx.get(consumer_status).json()["failed_commit_attempts"] >= 2,
            within=30,
            describe="the consumer retrying its commit while the object store is down",
        )
        assert httpx.get(consumer_status).json()["ready"] is False  # readiness tells the truth meanwhile
    finally:
        full_stack.start("object-store")
    all_emitted(exchange, emissions)
    assert assert_exactly_once_everywhere(exchange, endpoints, api) == before + 900
    eventually(lambda: httpx.get(consumer_status).json()["ready"], within=30, describe="consumer ready again")


def test_a_restarted_exchange_continues_its_trade_ids(
    full_stack: LocalDriver, exchange: ExchangeControl, endpoints: Endpoints
) -> None:
    # Last in this module: the restarted exchange forgets the trades it emitted before.
    last_before = {s: exchange.status()["symbols"][s]["last_id"] for s in SYMBOLS}
    assert full_stack.restart("exchange").state == "ready"
    eventually(
        lambda: httpx.get(endpoints.status_url("ingest")).json()["ready"],
        within=30,
        describe="ingest reconnected to the restarted exchange",
    )
    emissions = [exchange.emit(s, 100, rate=200) for s in SYMBOLS]
    assert [e.first_id for e in emissions] == [last_before[s] + 1 for s in SYMBOLS]
    all_emitted(exchange, emissions)
    expected = pipeline.emitted(exchange, SYMBOLS, TARGET.exchange)
    assert len(expected) == 300

    def new_rows() -> list[tuple[str, str]]:
        return [k for k, _ in pipeline.committed(endpoints, TARGET.table) if k in expected]

    eventually(lambda: len(set(new_rows())) == 300, within=60, describe="the 300 new trades committed")
    verdict = exactly_once("committed", expected, new_rows())
    assert verdict.valid, str(verdict)
