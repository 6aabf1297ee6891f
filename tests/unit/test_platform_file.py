from pathlib import Path

import pytest

from harness.stack.platform_file import (
    REFERENCE,
    START_MARKER,
    GroupReady,
    LogReady,
    PlatformFile,
    PlatformFileError,
    fill,
    log_has_line,
)
from harness.stack.service import NotReady

THEIRS = """name: their-k2
services:
  consumer:
    command: [java, -jar, /opt/their/writer.jar]
    env:
      WRITER_BROKERS: "{kafka.bootstrap}"
      WRITER_CATALOG: "{catalog.uri}"
      AWS_REGION: "{s3.region}"
    ready: {consumer_group: their-writers}
    memory_budget_mb: 512
  api:
    command: [their-api, --port, "{port}"]
    ready: {log: "Uvicorn running on"}
    memory_budget_mb: 256
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    return path


def test_the_reference_platform_declares_every_role() -> None:
    file = PlatformFile.load(REFERENCE)
    assert list(file.services) == ["exchange", "ingest", "consumer", "api"]
    assert file.services["consumer"].env["K2_S3_REGION"] == "{s3.region}"


def test_a_teams_file_replaces_the_roles_it_names_and_keeps_ours_for_the_rest(tmp_path: Path) -> None:
    file = PlatformFile.load(write(tmp_path, THEIRS))
    assert file.name == "their-k2"
    assert file.services["consumer"].command[0] == "java"
    assert file.services["consumer"].ready == GroupReady(consumer_group="their-writers")
    assert file.services["api"].ready == LogReady(log="Uvicorn running on")
    assert file.services["ingest"].command[-1] == "k2.ingest"  # the reference's


def test_placeholders_are_filled_from_the_stacks_endpoints() -> None:
    values = {"kafka.bootstrap": "h:1", "s3.region": "us-east-1"}
    assert fill("{kafka.bootstrap}/{s3.region}", values) == "h:1/us-east-1"


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    text = (
        "name: x\nservices:\n"
        "  consumer: {command: [w, '{kafka.bootstap}'], ready: {wait: 3}, memory_budget_mb: 0}\n"
        "  broker: {command: [k], ready: {http: /}, memory_budget_mb: 1}\n"
    )
    with pytest.raises(PlatformFileError) as err:
        PlatformFile.load(write(tmp_path, text))
    message = str(err.value)
    assert "has 4 problems" in message
    for line in (
        "services.consumer.ready: needs one of http: PATH, consumer_group: GROUP or log: REGEX",
        "services.consumer.memory_budget_mb: Input should be greater than 0",
        "services.broker: Input should be 'exchange', 'ingest', 'consumer' or 'api'",
        "services.consumer: unknown placeholder {kafka.bootstap}",
    ):
        assert line in message


def test_log_readiness_counts_only_lines_since_the_last_start(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_text(f"{START_MARKER}api at 1\nUvicorn running on x\n{START_MARKER}api at 2\nstarting\n")
    with pytest.raises(NotReady, match="no line matching /Uvicorn running on/"):
        log_has_line(log, "Uvicorn running on")
    log.write_text(log.read_text() + "Uvicorn running on http://127.0.0.1:18000\n")
    assert "matching" in log_has_line(log, "Uvicorn running on")
