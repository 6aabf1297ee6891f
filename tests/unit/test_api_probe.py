"""The API probe's health check: a wait that runs out says what the API answered."""

from typing import Any

import pytest

from harness.probes.api import HealthMismatch, health_is
from harness.waiting import ConditionTimeout, eventually

HEALTHY = {"health": 200, "status": "healthy", "ready": 200, "live": 200}


def answering(got: dict[str, Any]) -> Any:
    return lambda url: dict(got)


def test_the_expected_health_is_returned() -> None:
    assert health_is("http://api", HEALTHY, read=answering(HEALTHY)) == HEALTHY


def test_another_health_is_named_field_by_field() -> None:
    lying = {"health": 200, "status": "degraded", "ready": 503, "live": 200}
    wanted = {"health": 503, "status": "unhealthy", "ready": 503, "live": 200}
    with pytest.raises(HealthMismatch) as caught:
        health_is("http://api", wanted, read=answering(lying))
    assert str(caught.value) == (f"the API answered {lying} (health 200, status 'degraded' where health 503, "
                                 f"status 'unhealthy' was expected)")


def test_a_wait_that_runs_out_shows_the_last_answer() -> None:
    clock = iter(range(100))
    with pytest.raises(ConditionTimeout, match=r"last: HealthMismatch: the API answered .*'status': 'degraded'"):
        eventually(lambda: health_is("http://api", HEALTHY, read=answering({**HEALTHY, "status": "degraded"})),
                   within=3, every=1, describe="the API healthy", clock=lambda: float(next(clock)),
                   pause=lambda s: None)
