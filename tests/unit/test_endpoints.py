from pathlib import Path

import pytest

from harness.endpoints import Endpoints, EndpointsError, MissingEndpoint

FULL = {
    "kafka": {"bootstrap.servers": "b1:9092,b2:9092"},
    "schema_registry": {"url": "http://registry:8080/apis/ccompat/v7/"},
    "catalog": {"name": "prod", "properties": {"type": "rest", "uri": "http://cat:8181", "s3.region": "eu-west-1"}},
    "api": {"url": "http://api:8000/", "api_key": "${THEIR_KEY}"},
    "exchange": {"ws_url": "wss://stream.example", "rest_url": "https://api.example"},
    "dead_letters": {"files": "/var/k2/dlq/*.jsonl"},
    "logs": {"consumer": "/var/log/k2/consumer.log"},
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    return path


def test_an_endpoints_file_loads_into_typed_endpoints_with_secrets_from_the_environment(tmp_path: Path) -> None:
    import yaml

    e = Endpoints.load(write(tmp_path, yaml.safe_dump(FULL)), env={"THEIR_KEY": "s3cret"})
    assert e.kafka.bootstrap == "b1:9092,b2:9092"
    assert e.registry.url == "http://registry:8080/apis/ccompat/v7"
    assert e.catalog.kind == "rest" and e.catalog.properties["s3.region"] == "eu-west-1"
    assert e.api.url == "http://api:8000" and e.api.api_key == "s3cret"
    assert "s3cret" not in repr(e)
    assert e.exchange.control_url is None and e.dead_letters.files == "/var/k2/dlq/*.jsonl"
    assert e.log_files == {"consumer": Path("/var/log/k2/consumer.log")}


def test_what_a_deployment_lacks_names_the_key_the_file_would_need(tmp_path: Path) -> None:
    e = Endpoints.from_json({"kafka": {"bootstrap.servers": "b:9092"}}, source="endpoints file their.yaml")
    with pytest.raises(MissingEndpoint, match=r"endpoints file their.yaml gives no query API \(key `api:`\)"):
        _ = e.api
    assert e.has("kafka") and not e.has("api") and not e.has("control") and not e.has("consumer")


def test_a_real_exchange_has_no_control_api_and_the_message_says_why_it_matters() -> None:
    e = Endpoints.from_json({"exchange": {"ws_url": "wss://x", "rest_url": "https://x"}})
    with pytest.raises(MissingEndpoint, match="a real exchange cannot be told what to trade"):
        e.control_url()


def test_every_problem_of_an_endpoints_file_is_named_at_once(tmp_path: Path) -> None:
    text = "kafka: {}\napi: {url: http://a}\nbrokers: x\ncatalog: {name: k2, properties: 3}\n"
    with pytest.raises(EndpointsError) as err:
        Endpoints.load(write(tmp_path, text), env={})
    message = str(err.value)
    assert "has 4 problems" in message
    for line in (
        "brokers: unknown section",
        "kafka.bootstrap.servers: required",
        "api.api_key: required",
        "catalog.properties: must be a mapping",
    ):
        assert line in message


def test_an_unset_variable_is_named_not_left_empty(tmp_path: Path) -> None:
    with pytest.raises(EndpointsError, match="not set: THEIR_KEY"):
        Endpoints.load(write(tmp_path, "api: {url: http://a, api_key: '${THEIR_KEY}'}\n"), env={})


def test_a_missing_file_says_where_its_shape_is_described(tmp_path: Path) -> None:
    with pytest.raises(EndpointsError, match=r"does not exist; see docs/verifying-your-k2\.md"):
        Endpoints.load(tmp_path / "nope.yaml")


def test_the_shape_round_trips_as_stack_status_prints_it() -> None:
    e = Endpoints.from_json({**FULL, "api": {"url": "http://api:8000", "api_key": "k"}})
    assert Endpoints.from_json(e.to_json()) == e
