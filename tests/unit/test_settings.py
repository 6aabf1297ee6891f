import os
import stat
from pathlib import Path

import pytest

from harness.stack.settings import DEFAULT_PORTS, Credentials, SettingsError, StackSettings, resolve_ports

WELL_KNOWN = {9092, 9093, 8081, 5432, 8333, 9333, 8080, 8888, 23646}


def test_default_ports_avoid_the_services_usual_ones() -> None:
    ports = resolve_ports({})
    assert ports == DEFAULT_PORTS
    assert not WELL_KNOWN & set(ports.values())


def test_offset_shifts_every_port_and_a_single_override_wins() -> None:
    ports = resolve_ports({"K2_STACK_PORT_OFFSET": "100", "K2_PORT_KAFKA": "29092"})
    assert ports["kafka"] == 29092
    assert ports["postgres"] == DEFAULT_PORTS["postgres"] + 100
    assert ports["schema-registry"] == DEFAULT_PORTS["schema-registry"] + 100


def test_a_malformed_port_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="K2_PORT_POSTGRES='abc' is not a whole number"):
        resolve_ports({"K2_PORT_POSTGRES": "abc"})


def test_two_services_on_one_port_are_refused() -> None:
    with pytest.raises(SettingsError, match="given to both"):
        resolve_ports({"K2_PORT_KAFKA": str(DEFAULT_PORTS["postgres"])})


def test_a_port_clashing_with_a_grpc_port_is_refused() -> None:
    # SeaweedFS listens on <port> + 10000 for gRPC as well
    with pytest.raises(SettingsError, match="given to both"):
        resolve_ports({"K2_PORT_KAFKA": str(DEFAULT_PORTS["object-store-s3"] + 10000)})


def test_a_port_out_of_range_is_refused() -> None:
    with pytest.raises(SettingsError, match="outside"):
        resolve_ports({"K2_PORT_OBJECT_STORE_S3": "60000"})  # its gRPC port would be 70000


def test_stack_dir_and_cache_come_from_the_environment(tmp_path: Path) -> None:
    s = StackSettings.from_env({"K2_STACK_DIR": str(tmp_path / "st"), "K2_CACHE_DIR": str(tmp_path / "c")})
    assert s.root == tmp_path / "st"
    assert s.logs == tmp_path / "st" / "logs"
    assert s.cache == tmp_path / "c"


def test_credentials_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    first = Credentials.load_or_create(path, {})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first.s3_secret_key) >= 24
    assert Credentials.load_or_create(path, {}) == first
    assert Credentials.load_or_create(tmp_path / "other.json", {}).s3_secret_key != first.s3_secret_key


def test_credentials_from_the_environment_are_used(tmp_path: Path) -> None:
    creds = Credentials.load_or_create(tmp_path / "c.json", {"K2_S3_ACCESS_KEY": "ak", "K2_S3_SECRET_KEY": "sk"})
    assert (creds.s3_access_key, creds.s3_secret_key) == ("ak", "sk")
    assert "sk" not in str(creds.redacted())


def test_a_secret_added_later_is_generated_once_for_an_older_stack(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    old = Credentials.load_or_create(path, {}).__dict__
    del old["api_key"]
    path.write_text(__import__("json").dumps(old))
    first = Credentials.load_or_create(path, {})
    assert first.api_key and first.s3_secret_key == old["s3_secret_key"]
    assert Credentials.load_or_create(path, {}).api_key == first.api_key
