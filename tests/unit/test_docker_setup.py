"""`make setup-docker`'s decisions, with the commands it runs played by a fake runner."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.stack.docker_setup import (
    DEFAULT_BASE_IMAGE,
    LOCAL_BASE_IMAGE,
    DockerSetup,
    DockerSetupError,
    Ran,
    base_sources,
    compose_major,
    debian_mirror,
    merge_env_file,
    place,
    project_name,
)
from harness.stack.settings import StackSettings, resolve_ports


@dataclass
class FakeCommands:
    """Answers by the command's first words; records every command run."""

    answers: dict[str, Ran]
    ran: list[list[str]] = field(default_factory=list)

    def __call__(self, cmd: Sequence[str], env: Mapping[str, str] | None, timeout: float, cwd: Path | None) -> Ran:
        self.ran.append(list(cmd))
        for prefix, answer in self.answers.items():
            if " ".join(cmd).startswith(prefix):
                return answer
        return Ran(127, "", f"{cmd[0]}: not found")


def setup_with(tmp_path: Path, answers: dict[str, Ran], env: Mapping[str, str] | None = None) -> DockerSetup:
    settings = StackSettings(root=tmp_path / "stack", cache=tmp_path / "cache", ports=resolve_ports({}))
    return DockerSetup(
        settings,
        say=lambda _: None,
        runner=FakeCommands(answers),
        compose_dir=tmp_path / "compose",
        state_dir=tmp_path / "state",
        env=dict(env or {}),
    )


OK = Ran(0, "", "")
REFUSED = Ran(1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock")


def test_compose_versions() -> None:
    assert compose_major("2.29.1\n") == 2 and compose_major("v5.6.0") == 5
    assert compose_major("dev") is None and compose_major("") is None


def test_the_mirror_is_the_one_apt_uses() -> None:
    deb822 = {
        "/etc/apt/sources.list.d/debian.sources": (
            "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
            "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
        )
    }
    assert debian_mirror(deb822) == "http://mirror.example/debian"
    one_line = {"/etc/apt/sources.list": "# comment\ndeb [arch=amd64] http://ftp.example/debian bookworm main\n"}
    assert debian_mirror(one_line) == "http://ftp.example/debian"
    assert debian_mirror({}) == "http://deb.debian.org/debian"
    assert base_sources("http://ftp.example/debian").splitlines() == [
        "deb http://ftp.example/debian bookworm main",
        "deb http://ftp.example/debian bookworm-updates main",
        "deb http://ftp.example/debian-security bookworm-security main",
    ]


def test_the_env_file_keeps_what_is_set_and_fills_only_empty_secrets() -> None:
    text = "# mine\nK2_API_KEY=keep-me\nK2_S3_SECRET_KEY=\nK2_PORT_API=28000\nK2_BASE_IMAGE=old\n"
    merged, changed = merge_env_file(
        text,
        {"K2_BASE_IMAGE": "debian:bookworm-slim"},
        ["K2_API_KEY", "K2_S3_SECRET_KEY", "K2_POSTGRES_PASSWORD"],
        lambda: "new",
    )
    assert merged == (
        "# mine\nK2_API_KEY=keep-me\nK2_S3_SECRET_KEY=new\nK2_PORT_API=28000\n"
        "K2_BASE_IMAGE=debian:bookworm-slim\nK2_POSTGRES_PASSWORD=new\n"
    )
    assert changed == ["K2_BASE_IMAGE", "K2_S3_SECRET_KEY", "K2_POSTGRES_PASSWORD"]
    again, changed = merge_env_file(merged, {"K2_BASE_IMAGE": "debian:bookworm-slim"}, ["K2_API_KEY"], lambda: "x")
    assert again == merged and changed == []


def test_components_are_placed_by_hard_link_and_replace_what_was_there(tmp_path: Path) -> None:
    source = tmp_path / "lib"
    (source / "sub").mkdir(parents=True)
    (source / "a.jar").write_text("a")
    (source / "sub" / "b.jar").write_text("b")
    target = tmp_path / "context" / "dist" / "lib"
    target.mkdir(parents=True)
    (target / "stale.jar").write_text("old")
    assert place(source, target) == 2
    assert sorted(p.name for p in target.rglob("*.jar")) == ["a.jar", "b.jar"]
    assert (target / "a.jar").stat().st_ino == (source / "a.jar").stat().st_ino
    assert place(source / "a.jar", tmp_path / "context" / "one.jar") == 1


def test_an_engine_that_answers_is_used_as_it_is(tmp_path: Path) -> None:
    setup = setup_with(tmp_path, {"docker info": Ran(0, "20.10.24\n", "")})
    assert setup.engine() == "Docker Engine 20.10.24 answers"
    assert setup.runner.ran == [["docker", "info", "--format", "{{.ServerVersion}}"]]  # type: ignore[attr-defined]


def test_a_docker_host_that_does_not_answer_is_not_replaced_by_a_local_engine(tmp_path: Path) -> None:
    setup = setup_with(tmp_path, {"docker info": REFUSED}, env={"DOCKER_HOST": "tcp://build-box:2375"})
    with pytest.raises(DockerSetupError, match=r"^DOCKER_HOST=tcp://build-box:2375 does not answer"):
        setup.engine()


def test_without_root_a_missing_engine_names_the_commands_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(DockerSetupError, match=r"sudo apt-get install -y docker\.io.*sudo dockerd &"):
        setup_with(tmp_path, {"docker info": REFUSED}).engine()
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(DockerSetupError, match=r"only root can start it: sudo dockerd"):
        setup_with(tmp_path, {"docker info": REFUSED}).engine()


def test_a_compose_cli_of_version_2_or_later_is_used_as_it_is(tmp_path: Path) -> None:
    setup = setup_with(tmp_path, {"docker compose version": Ran(0, "2.29.1\n", "")})
    assert setup.compose_cli() == "docker compose 2.29.1"


def test_an_old_or_missing_compose_cli_without_go_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    setup = setup_with(tmp_path, {"docker compose version": Ran(1, "", "'compose' is not a docker command")})
    with pytest.raises(
        DockerSetupError,
        match=r"no Compose CLI v2\+, and Go .* is needed to build "
        r"github.com/docker/compose/v5@v5\.6\.0",
    ):
        setup.compose_cli()


def test_the_base_image_is_debians_when_present_else_the_one_made_here(tmp_path: Path) -> None:
    present = setup_with(tmp_path, {f"docker image inspect --format {{{{.Id}}}} {DEFAULT_BASE_IMAGE}": OK})
    assert present.base() == f"{DEFAULT_BASE_IMAGE} (present)" and present.base_image == DEFAULT_BASE_IMAGE
    offline = setup_with(
        tmp_path,
        {
            "docker pull": Ran(1, "", "dial tcp: lookup registry-1.docker.io: no such host"),
            f"docker image inspect --format {{{{.Id}}}} {LOCAL_BASE_IMAGE}": OK,
        },
    )
    assert offline.base().startswith(f"{LOCAL_BASE_IMAGE} (made here earlier")
    assert offline.base_image == LOCAL_BASE_IMAGE


def test_a_base_image_asked_for_must_exist(tmp_path: Path) -> None:
    setup = setup_with(tmp_path, {"docker pull": REFUSED}, env={"K2_BASE_IMAGE": "registry.local/debian:12"})
    with pytest.raises(DockerSetupError, match=r"K2_BASE_IMAGE=registry.local/debian:12 is neither present"):
        setup.base()


def test_set_up_writes_the_env_file_with_the_base_image_and_secrets_once(tmp_path: Path) -> None:
    setup = setup_with(tmp_path, {})
    setup.compose_dir.mkdir()
    setup.base_image = LOCAL_BASE_IMAGE
    assert (
        "set K2_BASE_IMAGE, K2_S3_ACCESS_KEY, K2_S3_SECRET_KEY, K2_POSTGRES_PASSWORD, K2_API_KEY, "
        "COMPOSE_PROJECT_NAME" in setup.env_settings()
    )
    first = setup.env_file.read_text()
    assert f"K2_BASE_IMAGE={LOCAL_BASE_IMAGE}\n" in first and setup.env_file.stat().st_mode & 0o777 == 0o600
    password = re.search(r"^K2_POSTGRES_PASSWORD=(.+)$", first, re.MULTILINE)
    assert password and f"COMPOSE_PROJECT_NAME={project_name(tmp_path, password.group(1))}\n" in first
    assert password.group(1) not in first.split("COMPOSE_PROJECT_NAME=")[1]
    assert setup.env_settings().endswith("up to date") and setup.env_file.read_text() == first
    setup.env_file.write_text(first.replace(project_name(tmp_path, password.group(1)), "mine"))
    setup.env_settings()
    assert "COMPOSE_PROJECT_NAME=mine\n" in setup.env_file.read_text(), "a name of the user's own is kept"


def test_each_checkout_and_its_secrets_have_a_compose_project_of_their_own(tmp_path: Path) -> None:
    one, two = tmp_path / "My Clone", tmp_path / "other" / "My Clone"
    assert re.fullmatch(r"k2-acceptance-my-clone-[0-9a-f]{6}", project_name(one, "pw"))
    assert project_name(one, "pw") != project_name(two, "pw"), "another folder"
    assert project_name(one, "pw") != project_name(one, "new-pw"), "cloned again into the same folder"


def test_stopping_the_engine_touches_only_one_set_up_started(tmp_path: Path) -> None:
    setup = setup_with(tmp_path, {})
    assert setup.stop_engine().startswith("no Docker engine was started by make setup-docker")
    setup.state_dir.mkdir()
    setup.pid_file.write_text("999999999\n")  # no such process
    assert "is no longer running" in setup.stop_engine() and not setup.pid_file.exists()
