import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.config import ConfigError, RunConfig
from harness.endpoints import Endpoints
from harness.session import SuiteSession
from harness.stack.external import PROFILE, CannotInject, ExternalDriver
from harness.targets import Target


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path in ("/status/ready", "/subjects") else 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"[]" if status == 200 else b"not here")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def driver(url: str, ready_path: str = "/status/ready", **more: Any) -> ExternalDriver:
    return ExternalDriver(
        Endpoints.from_json(
            {"api": {"url": url, "api_key": "k"}, "schema_registry": {"url": url}, **more}, source="their.yaml"
        ),
        ready_path=ready_path,
        say=lambda _: None,
    )


def test_each_named_endpoint_is_ready_when_a_real_request_to_it_succeeds(server: str) -> None:
    status = driver(server).status()
    assert status.profile == PROFILE and status.ready
    assert status.services["api"].detail == "GET /status/ready answered 200"
    assert status.services["schema-registry"].detail == "GET /subjects answered 200"


def test_an_endpoint_that_answers_wrongly_or_not_at_all_is_failed_with_what_it_said(server: str) -> None:
    status = driver(server, ready_path="/health/ready").status()
    assert not status.ready
    assert status.services["api"].state == "failed"
    assert "GET " + server + "/health/ready answered 404: not here" in status.services["api"].detail


def test_it_starts_stops_and_crashes_nothing_and_says_why(server: str) -> None:
    d = driver(server)
    for action in (d.kill, d.stop, d.start, d.restart, d.pause, d.resume):
        with pytest.raises(CannotInject, match="the suite did not start this K2"):
            action("consumer")
    with pytest.raises(CannotInject, match="fault-injecting proxies"):
        d.up("faultable")
    assert d.down() == [] and d.leftovers() == []


def test_a_log_file_the_endpoints_name_is_read_from_the_mark(server: str, tmp_path: Path) -> None:
    log = tmp_path / "consumer.log"
    log.write_text("before\n")
    d = driver(server, logs={"consumer": str(log)})
    mark = d.log_mark("consumer")
    log.write_text("before\nERROR Rescaling Decimal value would cause data loss\n")
    assert d.logs_since("consumer", mark) == "ERROR Rescaling Decimal value would cause data loss\n"
    assert d.logs_since("api", None) == ""


def test_scenarios_that_need_what_the_deployment_lacks_are_skipped_with_the_reason(server: str) -> None:
    session = SuiteSession(
        config=RunConfig(driver="external", endpoints="their.yaml"), driver=driver(server), target=Target.load()
    )
    assert "did not start them" in (session.cannot_run(["needs-faults"]) or "")
    assert "has none" in (session.cannot_run(["needs-stack"]) or "")
    reason = session.cannot_run(["needs-simulator"]) or ""
    assert "their.yaml gives none (exchange.control_url)" in reason
    assert session.cannot_run(["slow"]) is None


def test_driver_external_needs_an_endpoints_file() -> None:
    with pytest.raises(ConfigError, match="-D driver=external -D endpoints="):
        RunConfig.from_sources({"driver": "external"}, env={})
    assert RunConfig.from_sources({"driver": "external", "endpoints": "e.yaml"}, env={}).endpoints == "e.yaml"


def test_watching_an_exchange_needs_one_that_trades_on_its_own(server: str) -> None:
    simulator: dict[str, Any] = {
        "exchange": {"ws_url": "ws://x", "rest_url": server, "control_url": server + "/control"}
    }
    session = SuiteSession(
        config=RunConfig(driver="external", endpoints="e.yaml"),
        driver=driver(server, **simulator),
        target=Target.load(),
    )
    assert "trades only when asked" in (session.cannot_run(["observes-exchange"]) or "")
    real: dict[str, Any] = {"exchange": {"ws_url": "wss://stream", "rest_url": server}}
    session = SuiteSession(
        config=RunConfig(driver="external", endpoints="e.yaml"), driver=driver(server, **real), target=Target.load()
    )
    assert session.cannot_run(["observes-exchange"]) is None


def test_a_stack_the_suite_starts_has_the_simulator_even_before_it_is_up(server: str) -> None:
    class Stopped(ExternalDriver):
        controls_processes = True  # as the local and compose drivers: nothing is up yet

    stopped = Stopped(Endpoints(), say=lambda _: None)
    session = SuiteSession(config=RunConfig(), driver=stopped, target=Target.load())
    assert session.cannot_run(["needs-simulator"]) is None
    assert "trades only when asked" in (session.cannot_run(["observes-exchange"]) or "")
    assert session.cannot_run(["needs-faults", "needs-stack"]) is None
