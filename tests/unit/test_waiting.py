import pytest

from harness.waiting import ConditionTimeout, eventually


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds


def test_returns_the_first_truthy_value() -> None:
    answers = iter([None, 0, "ready"])
    clock = FakeClock()
    assert eventually(lambda: next(answers), within=5, describe="x", clock=clock, pause=clock.pause) == "ready"
    assert clock.now == pytest.approx(0.4)


def test_timeout_names_the_condition_and_the_last_reason() -> None:
    clock = FakeClock()

    def never() -> bool:
        raise ConnectionRefusedError("port 19092 refused")

    with pytest.raises(ConditionTimeout) as err:
        eventually(never, within=1, every=0.25, describe="kafka ready", clock=clock, pause=clock.pause)
    message = str(err.value)
    assert "kafka ready" in message
    assert "ConnectionRefusedError: port 19092 refused" in message
    assert err.value.attempts == 5
    assert isinstance(err.value, AssertionError)


def test_a_fatal_exception_stops_waiting_at_once() -> None:
    clock = FakeClock()
    calls = []

    def died() -> bool:
        calls.append(1)
        raise ProcessLookupError("gone")

    with pytest.raises(ProcessLookupError):
        eventually(died, within=10, describe="x", fatal=(ProcessLookupError,), clock=clock, pause=clock.pause)
    assert len(calls) == 1


def test_a_falsy_result_is_reported_on_timeout() -> None:
    clock = FakeClock()
    with pytest.raises(ConditionTimeout, match=r"returned \[\]"):
        eventually(lambda: [], within=0.5, describe="rows", clock=clock, pause=clock.pause)


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        eventually(lambda: True, within=0, describe="x")
