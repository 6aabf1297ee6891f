from pathlib import Path

import pytest

import harness.session as session_module
from harness.config import RunConfig
from harness.session import SuiteSession, slug, write_report_environment
from harness.targets import Target


def test_the_report_front_page_carries_seed_commit_and_versions(tmp_path: Path) -> None:
    write_report_environment(RunConfig(seed=4242), Target.load(), {"kafka": "4.1.1"}, results=tmp_path)
    props = dict(line.split("=", 1) for line in (tmp_path / "environment.properties").read_text().splitlines())
    assert props["seed"] == "4242"
    assert props["version.kafka"] == "4.1.1"
    assert props["target"] == "k2-local"
    assert props["git.sha"] != ""


class LoggingDriver:
    """A plain fake: every service's log gains `written` after the scenario's mark."""

    def __init__(self, written: str) -> None:
        self.written = written
        self.calls: list[str] = []

    def log_mark(self, service: str) -> int:
        return 0

    def logs_since(self, service: str, mark: object) -> str:
        return self.written if service == "kafka" else ""

    def stop(self, service: str) -> None:
        self.calls.append(f"stop {service}")

    def start(self, service: str) -> None:
        self.calls.append(f"start {service}")


def session_with(driver: LoggingDriver) -> SuiteSession:
    return SuiteSession(config=RunConfig(seed=1), driver=driver, target=Target.load())  # type: ignore[arg-type]


def test_a_crash_signature_in_a_log_fails_the_scenario_and_keeps_the_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "SCENARIO_REPORTS", tmp_path)
    session = session_with(LoggingDriver("java.lang.OutOfMemoryError: Java heap space\n"))
    session.begin_scenario("Stack health", "Kafka restarts")
    with pytest.raises(AssertionError, match="kafka: JVM out of memory"):
        session.end_scenario(failed=False)
    assert (tmp_path / "stack-health" / "kafka-restarts" / "logs" / "kafka.log").exists()
    assert (tmp_path / "stack-health" / "kafka-restarts" / "history.json").exists()


def test_an_open_fault_is_healed_after_the_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "SCENARIO_REPORTS", tmp_path)
    driver = LoggingDriver("")
    session = session_with(driver)
    record = session.begin_scenario("f", "s")
    record.faults.stop("kafka")
    session.end_scenario(failed=True)
    assert driver.calls == ["stop kafka", "start kafka"]
    assert record.history.unhealed() == []


def test_names_become_file_names() -> None:
    assert slug("A crashed <service> is started again -- @1.2") == "a-crashed-service-is-started-again-1-2"
