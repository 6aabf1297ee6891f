import json
from pathlib import Path

import pytest

from harness.cli import build_parser, main
from harness.stack.services import PLANNED_PROFILES


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["stack", "--help"], ["stack", "up", "--help"], ["stack", "kill", "--help"]):
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args(argv)
        assert done.value.code == 0
    assert "SIGKILL" in capsys.readouterr().out


def test_a_profile_that_is_not_built_yet_gives_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # refused before anything is touched: no stack directory, lock or process
    monkeypatch.setitem(PLANNED_PROFILES, "chaos", "everything at once (not built yet)")
    assert main(["stack", "up", "--profile", "chaos"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: profile 'chaos' is not available yet")
    assert "Traceback" not in err


def test_the_faultable_profile_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stack", "up", "--help"])
    assert "faultable" in capsys.readouterr().out


def test_an_unknown_service_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["stack", "kill", "zookeeper"])
    assert done.value.code == 2
    assert "choose from" in capsys.readouterr().err


def test_a_malformed_port_setting_gives_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K2_PORT_KAFKA", "kafka")
    assert main(["stack", "status"]) == 1
    assert "error: K2_PORT_KAFKA='kafka' is not a whole number" in capsys.readouterr().err


def test_scan_secrets_fails_on_a_leak_and_names_the_file_but_not_the_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "credentials.json").write_text(json.dumps({"api_key": "k2-very-secret-api-key", "postgres_user": "k2"}))
    monkeypatch.setenv("K2_STACK_DIR", str(stack))
    monkeypatch.setenv("K2_COMPOSE_FILE", str(tmp_path / "compose" / "docker-compose.yml"))
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "clean.txt").write_text("k2 is a user name, not a secret\n")
    assert main(["scan-secrets", str(reports)]) == 0
    (reports / "attachment.txt").write_text("header\nX-API-Key: k2-very-secret-api-key\n")
    assert main(["scan-secrets", str(reports)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{reports / 'attachment.txt'}:2: the api_key appears here\n"
    assert "1 leak(s) of 1 secrets in 2 files" in err and "very-secret" not in out + err


def test_scan_secrets_looks_for_the_compose_stacks_secrets_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("K2_STACK_DIR", str(tmp_path / "no-local-stack"))
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text("K2_BASE_IMAGE=debian:bookworm-slim\nK2_API_KEY=compose-secret-key-1\n")
    monkeypatch.setenv("K2_COMPOSE_FILE", str(tmp_path / "compose" / "docker-compose.yml"))
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "log.txt").write_text("GET /v1/trades X-API-Key=compose-secret-key-1\n")
    assert main(["scan-secrets", str(reports)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{reports / 'log.txt'}:1: the compose K2_API_KEY appears here\n"
    assert "1 leak(s) of 1 secrets" in err and "compose-secret" not in out + err


def test_scan_secrets_without_a_stack_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("K2_STACK_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("K2_COMPOSE_FILE", str(tmp_path / "compose" / "docker-compose.yml"))
    assert main(["scan-secrets"]) == 2
    err = capsys.readouterr().err
    assert "credentials.json" in err and "compose/.env exists" in err and "make setup-docker" in err


def test_target_check_passes_our_profile_and_names_every_problem_of_a_bad_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["target", "check"]) == 0
    assert "ok: k2-local" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nexchange: B\nsymbols: [BTCUSDT]\nkafka: {topic: t, colour: red}\n")
    assert main(["target", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "has 6 problems" in out and "kafka.colour: Extra inputs are not permitted" in out
    assert "kafka.dead_letter_topic: Field required" in out and "api: Field required" in out
