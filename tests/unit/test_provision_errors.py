"""`harness setup` without a tool it needs: one line naming the tool and how to install it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.stack import provision
from harness.stack.components import kafka_dir
from harness.stack.provision import ProvisionError
from harness.stack.settings import StackSettings


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    return StackSettings.from_env({"K2_STACK_DIR": str(tmp_path / "stack"), "K2_CACHE_DIR": str(tmp_path / "cache")})


def _fake_java(tmp_path: Path, version: str) -> Path:
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\"' >&2\n")
    java.chmod(0o755)
    return java


def test_missing_maven_names_maven_and_the_install_command(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ProvisionError, match=r"Maven \(`mvn`\) is needed .*apt-get install -y maven"):
        provision.install_kafka(settings)
    assert not kafka_dir(settings).exists()  # nothing half-installed


def test_missing_java_names_java_and_the_install_command(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provision, "find_java", lambda: None)
    with pytest.raises(ProvisionError, match=r"Java 17\+ is needed: apt-get install -y openjdk-17"):
        provision.check_java(settings)


@pytest.mark.parametrize("version", ["1.8.0_392", "11.0.21"])
def test_an_old_java_is_named_with_its_version_and_path(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str
) -> None:
    java = _fake_java(tmp_path, version)
    monkeypatch.setattr(provision, "find_java", lambda: java)
    major = version.split(".")[1] if version.startswith("1.") else version.split(".")[0]
    with pytest.raises(ProvisionError, match=rf"Java {major} at {java} is too old; Kafka 4 needs Java 17\+"):
        provision.check_java(settings)


def test_a_new_enough_java_is_reported(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    java = _fake_java(tmp_path, "21.0.5")
    monkeypatch.setattr(provision, "find_java", lambda: java)
    assert provision.check_java(settings) == f"java 21 at {java}"
