import dataclasses
import signal
from pathlib import Path

import pytest

from harness.stack.components import ComponentMissing, Components
from harness.stack.service import ServiceSpec, StackContext
from harness.stack.services import (
    PROFILES,
    SERVICES,
    ProfileError,
    kafka,
    object_store,
    postgres,
    profile_services,
    services_for,
    start_order,
    toxiproxy,
)
from harness.stack.settings import GRPC_OFFSET, PORTS_WITH_GRPC, Credentials, StackSettings, resolve_ports


def ctx(tmp_path: Path) -> StackContext:
    settings = StackSettings(root=tmp_path, cache=tmp_path / "cache", ports=resolve_ports({}))
    components = Components(
        java=Path("/j/java"),
        kafka_lib=Path("/k/lib"),
        apicurio_jar=Path("/a.jar"),
        weed=Path("/w/weed"),
        postgres_bin=Path("/pg/bin"),
    )
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


def test_an_unknown_profile_names_the_choices() -> None:
    with pytest.raises(ProfileError, match="unknown profile 'bogus'; choose one of infra, full, faultable"):
        profile_services("bogus")


def test_faultable_is_full_with_toxiproxy_started_before_the_platform() -> None:
    assert set(PROFILES["faultable"]) == {*PROFILES["full"], "toxiproxy"}
    specs = services_for("faultable")
    order = start_order(PROFILES["faultable"], specs)
    for client in ("ingest", "consumer", "api"):
        assert "toxiproxy" in specs[client].depends_on
        assert order.index("toxiproxy") < order.index(client)
    assert "toxiproxy" not in specs["exchange"].depends_on
    # elsewhere the platform neither waits for toxiproxy nor pulls it into the stack
    for profile in ("infra", "full", None):
        assert "toxiproxy" not in start_order(PROFILES["full"], services_for(profile))


def test_faultable_points_the_platform_through_the_proxies(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    behind = services_for("faultable")
    direct = services_for("full")
    for name in ("ingest", "consumer", "api"):
        env = behind[name].env(c)
        assert env.get("K2_KAFKA_BOOTSTRAP") == "127.0.0.1:19095", name
        assert env.get("K2_SCHEMA_REGISTRY_URL") == "http://127.0.0.1:18082/apis/ccompat/v7", name
        assert direct[name].env(c)["K2_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092", name
    for name in ("consumer", "api"):
        assert behind[name].env(c)["K2_S3_ENDPOINT"] == "http://127.0.0.1:18334"
        assert direct[name].env(c)["K2_S3_ENDPOINT"] == "http://127.0.0.1:18333"
        # the catalog's database is never behind a proxy
        assert behind[name].env(c)["K2_CATALOG_URI"] == direct[name].env(c)["K2_CATALOG_URI"]
    assert behind["exchange"].env(c) == direct["exchange"].env(c)


def test_each_proxy_leads_from_its_own_port_to_the_real_service(tmp_path: Path) -> None:
    got = {p["name"]: (p["listen"], p["upstream"]) for p in toxiproxy.proxies(ctx(tmp_path))}
    assert got == {
        "kafka": ("127.0.0.1:19095", "127.0.0.1:19094"),
        "schema-registry": ("127.0.0.1:18082", "127.0.0.1:18081"),
        "object-store": ("127.0.0.1:18334", "127.0.0.1:18333"),
    }
    assert set(toxiproxy.SPEC.ports) == {
        "toxiproxy",
        "kafka-via-proxy",
        "schema-registry-via-proxy",
        "object-store-via-proxy",
    }
    assert toxiproxy.SPEC.restart == "no"


def test_toxiproxy_without_its_binary_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ComponentMissing, match=r"Toxiproxy is not installed.*make setup"):
        toxiproxy.prepare(ctx(tmp_path))
    with_binary = dataclasses.replace(
        ctx(tmp_path), components=dataclasses.replace(ctx(tmp_path).components, toxiproxy=Path("/t/toxiproxy-server"))
    )
    assert toxiproxy.command(with_binary) == ["/t/toxiproxy-server", "-host", "127.0.0.1", "-port", "18474"]


@pytest.mark.parametrize("offset", ["0", "100", "600", "700"])
def test_every_port_of_a_stack_is_its_own(offset: str) -> None:
    ports = resolve_ports({"K2_STACK_PORT_OFFSET": offset})
    used = [*ports.values(), *(ports[n] + GRPC_OFFSET for n in PORTS_WITH_GRPC)]
    assert len(used) == len(set(used))
    # toxiproxy of profile cluster listens on the links between the nodes as well
    cluster_links = [p for p in toxiproxy.CLUSTER_SPEC.ports if p not in toxiproxy.SPEC.ports]
    every_spec_port = [p for s in SERVICES.values() for p in s.ports] + cluster_links
    assert sorted(every_spec_port) == sorted(set(every_spec_port)), "two services claim one port"
    assert set(every_spec_port) == set(ports)


def test_stacks_a_hundred_ports_apart_share_no_port() -> None:
    # the test and developer stacks run side by side at offsets 0, 100, 200, ...: the new ports
    # must not land on another stack's
    stacks = [resolve_ports({"K2_STACK_PORT_OFFSET": str(100 * i)}) for i in range(10)]
    used = [
        p
        for ports in stacks
        for n, port in ports.items()
        for p in (port, *((port + GRPC_OFFSET,) if n in PORTS_WITH_GRPC else ()))
    ]
    assert len(used) == len(set(used))


def test_kafka_listens_only_on_the_stack_ports(tmp_path: Path) -> None:
    props = kafka.server_properties(ctx(tmp_path))
    assert "listeners=PLAINTEXT://127.0.0.1:19092,PROXIED://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093" in props
    # endpoints arriving on the proxied listener are told toxiproxy's address, so they stay behind it
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:19092,PROXIED://127.0.0.1:19095\n" in props
    assert "offsets.topic.replication.factor=1" in props
    assert f"log.dirs={tmp_path / 'data' / 'kafka'}" in props


def test_object_store_gets_every_port_explicitly_and_closes_unused_servers(tmp_path: Path) -> None:
    cmd = object_store.command(ctx(tmp_path))
    for flag in (
        "-master.port=19333",
        "-volume.port=18080",
        "-filer.port=18888",
        "-s3.port=18333",
        "-admin.port=18646",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-ip.bind=127.0.0.1",
    ):
        assert flag in cmd
    assert object_store.env(ctx(tmp_path)) == {
        "AWS_ACCESS_KEY_ID": "ak",
        "AWS_SECRET_ACCESS_KEY": "sk",
        "GOMEMLIMIT": "288MiB",
    }  # three quarters of its budget


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


def test_the_rest_catalog_is_the_object_stores_own_with_a_region_and_the_platform_gets_its_credential(
    tmp_path: Path,
) -> None:
    from harness.stack import catalog
    from harness.stack.services import object_store, platform

    sql = ctx(tmp_path)
    assert "-s3.port.iceberg=0" in object_store.command(sql) and catalog.properties(sql)["type"] == "sql"
    rest = dataclasses.replace(sql, settings=dataclasses.replace(sql.settings, catalog="rest"))
    command = object_store.command(rest)
    assert "-s3.port.iceberg=18191" in command and "-tableBucket=k2-tables" in command
    props = catalog.properties(rest)
    assert props["type"] == "rest" and props["uri"] == "http://127.0.0.1:18191"
    assert props["warehouse"] == "s3://k2-tables" and props["s3.region"] == "us-east-1"
    assert props["credential"] == "ak:sk" and props["oauth2-server-uri"] == "http://127.0.0.1:18191/v1/oauth/tokens"
    consumer = {s.name: s for s in platform.specs()}["consumer"].env(rest)
    assert consumer["K2_CATALOG_TYPE"] == "rest" and consumer["K2_CATALOG_CREDENTIAL"] == "ak:sk"
    assert {s.name: s for s in platform.specs()}["consumer"].env(sql)["K2_CATALOG_CREDENTIAL"] == ""


def test_an_unknown_catalog_kind_is_refused_with_the_choices() -> None:
    from harness.stack.settings import SettingsError

    with pytest.raises(SettingsError, match="K2_STACK_CATALOG='hive' is unknown; use sql"):
        StackSettings.from_env({"K2_STACK_CATALOG": "hive"})


# ------------------------------------------------------------------ profile cluster
def test_a_cluster_node_votes_in_one_quorum_of_three_and_keeps_every_topic_on_three_replicas(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    props = dict(line.split("=", 1) for line in kafka.server_properties(c, kafka.NODES["kafka-2"]).splitlines())
    assert props["node.id"] == "2"
    # node 2 votes to 1 and 3 through its own proxies 2->1 and 2->3, to itself directly
    p = c.settings.ports
    assert props["controller.quorum.voters"] == (
        f"1@127.0.0.1:{p['kafka-2-to-1-controller']},2@127.0.0.1:19021,3@127.0.0.1:{p['kafka-2-to-3-controller']}"
    )
    assert props["listeners"] == (
        f"PLAINTEXT://127.0.0.1:19020,CONTROLLER://127.0.0.1:19021,"
        f"FROM1://127.0.0.1:{p['kafka-2-from-1']},FROM2://127.0.0.1:{p['kafka-2-from-2']},"
        f"FROM3://127.0.0.1:{p['kafka-2-from-3']}"
    )
    # node k finds node 2 at the proxy k->2, whose upstream is node 2's listener FROMk
    assert props["advertised.listeners"] == (
        f"PLAINTEXT://127.0.0.1:19020,CONTROLLER://127.0.0.1:{p['kafka-2-raft']},"
        f"FROM1://127.0.0.1:{p['kafka-1-to-2']},"
        f"FROM2://127.0.0.1:{p['kafka-2-from-2']},"
        f"FROM3://127.0.0.1:{p['kafka-3-to-2']}"
    )
    assert props["inter.broker.listener.name"] == "FROM2"
    upstream = {x["name"]: x["upstream"] for x in toxiproxy.cluster_proxies(c)}
    assert upstream["kafka-1-to-2"] == f"127.0.0.1:{p['kafka-2-from-1']}"
    assert upstream["kafka-3-to-2-controller"] == "127.0.0.1:19021"
    assert upstream["kafka-2-raft"] == "127.0.0.1:19021"  # the quorum's endpoint of node 2
    pairs = ["kafka-1-to-2", "kafka-2-to-1", "kafka-2-to-3", "kafka-3-to-2"]
    assert sorted(toxiproxy.between(2)) == sorted(["kafka-2-raft", *pairs, *(f"{x}-controller" for x in pairs)])
    assert (props["default.replication.factor"], props["min.insync.replicas"]) == ("3", "2")
    assert (props["offsets.topic.replication.factor"], props["unclean.leader.election.enable"]) == ("3", "false")
    assert props["log.dirs"].endswith("/kafka-2")
    assert kafka.cluster_id(c) == kafka.cluster_id(ctx(tmp_path)) != kafka.cluster_id(ctx(tmp_path / "other"))
    single = dict(line.split("=", 1) for line in kafka.server_properties(c).splitlines())
    assert (single["node.id"], single["default.replication.factor"], single["min.insync.replicas"]) == ("1", "1", "1")


def test_the_cluster_profile_runs_three_nodes_and_two_consumers_that_bootstrap_on_every_node(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    specs = services_for("cluster")
    assert set(PROFILES["cluster"]) == {
        "toxiproxy",
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "schema-registry",
        "object-store",
        "postgres",
        "exchange",
        "ingest",
        "consumer-1",
        "consumer-2",
        "api",
    }
    assert set(specs["ingest"].depends_on) >= {"kafka-1", "kafka-2", "kafka-3"}
    every_node = "127.0.0.1:19010,127.0.0.1:19020,127.0.0.1:19030"
    ingest = specs["ingest"].env(c)
    assert (ingest["K2_KAFKA_BOOTSTRAP"], ingest["K2_TOPIC_REPLICATION"], ingest["K2_TOPIC_MIN_ISR"]) == (
        every_node,
        "3",
        "2",
    )
    ids = {n: specs[n].env(c)["K2_CONSUMER_INSTANCE_ID"] for n in ("consumer-1", "consumer-2")}
    assert ids == {"consumer-1": "k2-iceberg-writer-1", "consumer-2": "k2-iceberg-writer-2"}
    assert specs["consumer-2"].env(c)["K2_CONSUMER_PORT"] == "18704"
    assert specs["consumer-2"].env(c)["K2_KAFKA_BOOTSTRAP"] == every_node
    full = services_for("full")["ingest"].env(c)  # one broker elsewhere, as before
    assert (full["K2_KAFKA_BOOTSTRAP"], full["K2_TOPIC_REPLICATION"]) == ("127.0.0.1:19092", "1")
    assert services_for("full")["consumer"].env(c)["K2_CONSUMER_INSTANCE_ID"] == "k2-iceberg-writer-1"
