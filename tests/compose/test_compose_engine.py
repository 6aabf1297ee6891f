"""The ComposeDriver on a real Docker engine (run by `make test-compose` after `make setup-docker`).

The infrastructure profile runs as a compose project of the tests' own (k2-acceptance-pytest) on
host ports shifted by 10000, so a developer's compose stack is never touched; it is taken down
with its volumes at the end, pass or fail. The platform's services and their restart policy are
exercised by the features on -D driver=compose.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg2
import pytest

from harness.stack.compose import ComposeDriver, ComposeSettings
from harness.stack.services import PROFILES
from harness.stack.settings import DEFAULT_PORTS
from harness.waiting import eventually
from tests.compose_config import RECORDINGS, record, recorded

PROJECT = "k2-acceptance-pytest"
SHIFT = 10000  # below 32768, where Linux hands out ephemeral ports (ip_local_port_range)
PORT_SETTINGS = {
    "K2_PORT_KAFKA": "kafka",
    "K2_PORT_SCHEMA_REGISTRY": "schema-registry",
    "K2_PORT_OBJECT_STORE_S3": "object-store-s3",
    "K2_PORT_POSTGRES": "postgres",
    "K2_PORT_TOXIPROXY": "toxiproxy",
    "K2_PORT_EXCHANGE": "exchange",
    "K2_PORT_INGEST": "ingest",
    "K2_PORT_CONSUMER": "consumer",
    "K2_PORT_API": "api",
}


@pytest.mark.parametrize("name", list(RECORDINGS))
def test_the_recorded_compose_model_is_what_compose_says_now(name: str) -> None:
    assert record(name) == recorded(name), (
        f"tests/unit/data/{name} is out of date with compose/: re-record it with `.venv/bin/python -m "
        f"tests.compose_config` and review the difference"
    )


@pytest.fixture(scope="module")
def driver() -> Iterator[ComposeDriver]:
    overrides = {
        "COMPOSE_PROJECT_NAME": PROJECT,
        **{var: str(DEFAULT_PORTS[port] + SHIFT) for var, port in PORT_SETTINGS.items()},
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)  # compose and the driver both read the process environment
    stack = ComposeDriver(ComposeSettings.from_env(), say=print)
    try:
        assert stack.project_name == PROJECT
        stack.down(purge=True)  # what an interrupted earlier run left
        stack.up("infra")
        yield stack
    finally:
        stack.down(purge=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_infra_comes_up_ready_in_dependency_order_on_the_shifted_ports(driver: ComposeDriver) -> None:
    status = driver.status()
    assert status.profile == "infra" and set(status.services) == set(PROFILES["infra"])
    assert all(s.ready for s in status.services.values()), {n: s.detail for n, s in status.services.items()}
    assert status.services["schema-registry"].ready_at > status.services["postgres"].ready_at  # type: ignore[operator]
    assert status.services["kafka"].ports == {"kafka": DEFAULT_PORTS["kafka"] + SHIFT}
    dsn = status.endpoints.postgres.catalog_dsn
    with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("select namespace from iceberg_namespace_properties")  # made by the driver after up
        assert ("market_data",) in cur.fetchall()


def test_a_killed_broker_stays_failed_until_started_and_keeps_its_data(driver: ComposeDriver) -> None:
    mark = driver.log_mark("kafka")
    driver.kill("kafka")
    assert driver.health("kafka").state == "failed"
    assert driver.start("kafka").state == "ready"
    assert "Kafka Server started" in driver.logs_since("kafka", mark)
    assert driver.health("kafka").restarts == 0, "infrastructure has no restart policy on failure"


def test_stop_pause_resume_and_restart(driver: ComposeDriver) -> None:
    driver.stop("object-store")
    assert driver.health("object-store").state == "stopped"
    assert driver.start("object-store").ready
    driver.pause("postgres")
    assert driver.health("postgres", resources=False).state == "paused"
    driver.resume("postgres")
    eventually(lambda: driver.health("postgres").ready, within=30, describe="postgres ready after resume")
    assert driver.restart("schema-registry").ready


def test_the_engine_holds_each_service_to_its_budget(driver: ComposeDriver) -> None:
    budgets = driver.memory_budgets()
    for name in PROFILES["infra"]:
        limits = driver.enforced_limits(name)
        assert limits.memory_mb == budgets[name] and limits.cpus and not limits.oom_killed, (name, limits)
        used = driver.resources(name)
        assert 0 < used.memory_mb < budgets[name], (name, used)


def test_down_leaves_no_container_behind(driver: ComposeDriver) -> None:
    driver.down()
    assert driver.leftovers() == []
    assert driver.status().profile is None
