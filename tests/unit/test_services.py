import signal
from pathlib import Path

import pytest

from harness.stack.components import Components
from harness.stack.service import ServiceSpec, StackContext
from harness.stack.services import (
    PROFILES,
    SERVICES,
    ProfileError,
    kafka,
    object_store,
    postgres,
    profile_services,
    start_order,
)
from harness.stack.settings import Credentials, StackSettings, resolve_ports


def ctx(tmp_path: Path) -> StackContext:
    settings = StackSettings(root=tmp_path, cache=tmp_path / "cache", ports=resolve_ports({}))
    components = Components(java=Path("/j/java"), kafka_lib=Path("/k/lib"), apicurio_jar=Path("/a.jar"),
                            weed=Path("/w/weed"), postgres_bin=Path("/pg/bin"))
    return StackContext(settings, components, Credentials("ak", "sk", "k2", "pw", "key"))


def spec(name: str, *deps: str) -> ServiceSpec:
    return ServiceSpec(name=name, depends_on=deps, ports=(), command=lambda c: [], ready=lambda c: "")


def test_dependencies_start_first() -> None:
    order = start_order(PROFILES["infra"])
    assert set(order) == {"kafka", "schema-registry", "object-store", "postgres"}
    assert order.index("postgres") < order.index("schema-registry")


def test_a_dependency_cycle_is_named() -> None:
    specs = {"a": spec("a", "b"), "b": spec("b", "a")}
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        start_order(["a"], specs)


def test_an_unknown_dependency_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown service 'ghost'"):
        start_order(["a"], {"a": spec("a", "ghost")})


def test_every_declared_dependency_exists() -> None:
    for s in SERVICES.values():
        assert set(s.depends_on) <= set(SERVICES), s.name


def test_profiles_that_are_not_built_yet_say_so() -> None:
    with pytest.raises(ProfileError, match="not available yet"):
        profile_services("faultable")
    with pytest.raises(ProfileError, match="unknown profile 'bogus'; choose one of infra, full"):
        profile_services("bogus")


def test_kafka_listens_only_on_the_stack_ports(tmp_path: Path) -> None:
    props = kafka.server_properties(ctx(tmp_path))
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in props
    assert "offsets.topic.replication.factor=1" in props
    assert f"log.dirs={tmp_path / 'data' / 'kafka'}" in props


def test_object_store_gets_every_port_explicitly_and_closes_unused_servers(tmp_path: Path) -> None:
    cmd = object_store.command(ctx(tmp_path))
    for flag in ("-master.port=19333", "-volume.port=18080", "-filer.port=18888", "-s3.port=18333",
                 "-admin.port=18646", "-s3.port.iceberg=0", "-s3.port.lance=0", "-ip.bind=127.0.0.1"):
        assert flag in cmd
    assert object_store.env(ctx(tmp_path)) == {"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"}


def test_postgres_listens_on_tcp_only_and_stops_fast(tmp_path: Path) -> None:
    cmd = postgres.command(ctx(tmp_path))
    assert "listen_addresses=127.0.0.1" in cmd
    assert "unix_socket_directories=" in cmd
    assert postgres.SPEC.stop_signal == signal.SIGINT
    assert postgres.dsn(ctx(tmp_path), "catalog") == "postgresql://k2:pw@127.0.0.1:15432/catalog"


def test_a_cluster_id_starting_with_a_dash_is_not_read_as_an_option(tmp_path: Path) -> None:
    # Regression: one random id in 64 starts with "-" and made `kafka-storage format` fail.
    cmd = kafka.format_command(ctx(tmp_path), "-Abc123")
    assert "--cluster-id=-Abc123" in cmd
    assert "-t" not in cmd
