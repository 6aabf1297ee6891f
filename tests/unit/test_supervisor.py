from harness.stack.services import SERVICES
from harness.stack.settings import StackSettings
from harness.stack.supervisor import Backoff, due

POLICIES = {"consumer": "on-failure", "api": "on-failure", "kafka": "no"}
MEMBERS = ("kafka", "consumer", "api")


def test_only_a_service_gone_while_wanted_running_with_a_policy_is_due() -> None:
    state = {
        "services": {"consumer": {"wanted": "running"}, "api": {"wanted": "stopped"}, "kafka": {"wanted": "running"}}
    }
    assert due(state, POLICIES, alive=lambda n: False, profile_members=MEMBERS) == ["consumer"]


def test_a_running_service_is_not_due() -> None:
    state = {"services": {"consumer": {"wanted": "running"}}}
    assert due(state, POLICIES, alive=lambda n: True, profile_members=MEMBERS) == []


def test_a_service_outside_the_profile_is_not_due() -> None:
    state = {"services": {"api": {"wanted": "running"}}}
    assert due(state, POLICIES, alive=lambda n: False, profile_members=("kafka",)) == []


def test_backoff_doubles_up_to_its_cap_and_resets_on_success() -> None:
    b = Backoff()
    assert [b.failed("api", 0.0) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert not b.ready("api", 10.0)
    assert b.ready("api", 15.0)
    b.succeeded("api")
    assert b.ready("api", 0.0)


def test_platform_services_restart_on_failure_and_infrastructure_does_not() -> None:
    assert {n for n, s in SERVICES.items() if s.restart == "on-failure"} == {
        "exchange",
        "ingest",
        "consumer",
        "api",
        "consumer-1",
        "consumer-2",
    }


def test_every_service_has_a_memory_budget() -> None:
    assert all(64 <= s.memory_budget_mb <= 2048 for s in SERVICES.values())


def test_settings_survive_the_trip_through_the_environment() -> None:
    settings = StackSettings.from_env({"K2_STACK_DIR": "/tmp/s", "K2_STACK_PORT_OFFSET": "300"})
    assert StackSettings.from_env(settings.to_env()) == settings
