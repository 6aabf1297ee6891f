"""The API probe's health check: a wait that runs out says what the API answered."""

from typing import Any

import pytest

from harness.probes.api import Envelope, HealthMismatch, HealthPaths, health_is
from harness.waiting import ConditionTimeout, eventually

PATHS = HealthPaths("/health", "/health/ready", "/health/live")
SHAPE = Envelope("data", "pagination.has_more", "pagination.total")
HEALTHY = {"health": 200, "status": "healthy", "ready": 200, "live": 200}


def answering(got: dict[str, Any]) -> Any:
    return lambda url, paths: dict(got)


def test_the_expected_health_is_returned() -> None:
    assert health_is("http://api", HEALTHY, PATHS, read=answering(HEALTHY)) == HEALTHY


def test_another_health_is_named_field_by_field() -> None:
    lying = {
        "health": 200,
        "status": "degraded",
        "ready": 503,
        "live": 200,
        "bodies": {"/health": '{"status": "degraded"}', "/health/ready": "not ready"},
    }
    wanted = {"health": 503, "status": "unhealthy", "ready": 503, "live": 200}
    with pytest.raises(HealthMismatch) as caught:
        health_is("http://api", wanted, PATHS, read=answering(lying))
    assert str(caught.value) == (
        "the API answered GET /health 200 (status 'degraded'), GET /health/ready 503, GET /health/live 200 "
        "(health 200, status 'degraded' where health 503, status 'unhealthy' was expected); "
        """body of /health: '{"status": "degraded"}'; body of /health/ready: 'not ready'"""
    )


def test_a_wait_that_runs_out_shows_the_last_answer() -> None:
    clock = iter(range(100))
    with pytest.raises(ConditionTimeout, match=r"last: HealthMismatch: the API answered .*status 'degraded'"):
        eventually(
            lambda: health_is("http://api", HEALTHY, PATHS, read=answering({**HEALTHY, "status": "degraded"})),
            within=3,
            every=1,
            describe="the API healthy",
            clock=lambda: float(next(clock)),
            pause=lambda s: None,
        )


def test_a_non_conforming_answer_is_judged_with_what_came_not_a_crash() -> None:
    from harness.probes.api import NonConforming, envelope, micros

    assert micros("1970-01-01T00:00:00.000001Z") == 1
    with pytest.raises(NonConforming, match=r"time '2026-01-02T03:04:05.123456' has no zone"):
        micros("2026-01-02T03:04:05.123456")
    with pytest.raises(NonConforming, match=r"time 'yesterday' is not ISO-8601"):
        micros("yesterday")
    assert envelope({"data": [], "pagination": {"has_more": False}}, "/v1/trades", SHAPE) == ([], False)
    with pytest.raises(NonConforming, match=r"without a list of trades in `data`: \{'trades': \[\]\}"):
        envelope({"trades": []}, "/v1/trades", SHAPE)
    with pytest.raises(NonConforming, match=r"without a boolean `pagination\.has_more`: .*'pagination': \{'more': 1\}"):
        envelope({"data": [], "pagination": {"more": 1}}, "/v1/trades", SHAPE)


@pytest.mark.parametrize(
    ("status", "text", "words"),
    [
        (500, "Internal Server Error", r"answered 500: Internal Server Error"),
        (200, "<html>maintenance</html>", r"answered 200 with a body that is not JSON: '<html>maintenance</html>'"),
    ],
)
def test_an_unexpected_answer_is_a_violation_quoting_it(status: int, text: str, words: str) -> None:
    import httpx

    from harness.probes.api import ApiProbe, Envelope, NonConforming

    class Answering(ApiProbe):
        def get(self, path: str, **params: Any) -> httpx.Response:
            return httpx.Response(status, text=text)

    probe = Answering(
        "http://api",
        "k",
        header="X-Key",
        trades_path="/v3/trades",
        max_limit=100,
        envelope=Envelope("data", "pagination.has_more", "pagination.total"),
    )
    try:
        with pytest.raises(NonConforming, match=words):
            probe.trades("BTCUSDT")
    finally:
        probe.close()


def test_the_envelope_and_the_health_meaning_come_from_the_profile() -> None:
    from harness.probes.api import envelope, health_expected

    nested = Envelope("result.items", "result.more", "result.count")
    assert envelope({"result": {"items": [{"t": 1}], "more": True}}, "/x", nested) == ([{"t": 1}], True)
    with pytest.raises(Exception, match=r"without a list of trades in `result.items`"):
        envelope({"data": []}, "/x", nested)
    api = {"health_meaning": {"healthy": {"code": 200, "status": "UP"}, "unhealthy": {"code": 500, "status": "DOWN"}}}
    assert health_expected(api, healthy=False) == {"health": 500, "status": "DOWN", "ready": 500, "live": 200}
