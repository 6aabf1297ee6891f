"""The platform's contract names are settings (k2/names.py): the defaults keep today's names, and
every service honours other ones (no services; fakes and a SQLite catalog)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from fastavro import parse_schema, schemaless_reader
from pyiceberg.catalog.sql import SqlCatalog

from k2.api.app import create_app
from k2.api.health import DependencyChecks
from k2.api.queries import CatalogHandle, IcebergStore
from k2.api.settings import ApiSettings
from k2.catalog import ensure_table
from k2.consumer.settings import Settings as ConsumerSettings
from k2.consumer.wire import WireDecoder
from k2.exchange.hub import trade_frame
from k2.exchange.market import EmittedTrade, SymbolMarket
from k2.ingest import kafka_io
from k2.ingest.cursor import Cursor
from k2.ingest.feed import Feed
from k2.ingest.mapping import parse_frame, to_trade_v2, validate
from k2.ingest.settings import Settings as IngestSettings
from k2.ingest.wire import WireEncoder
from k2.names import DEFAULT_TABLE, TableId, parse_table
from k2.schemas import HERE, trade_v2, trade_v2_text
from k2.schemas.table import ARROW_SCHEMA, IDENTIFIER
from k2.settings import SettingsError
from tests.unit.test_api_app import ENV, ROWS, FakeHealth, FakeStore
from tests.unit.test_api_models import sample_row

INGEST_ENV = {"K2_SCHEMA_REGISTRY_URL": "http://127.0.0.1:1"}
CONSUMER_ENV = {
    **INGEST_ENV,
    "K2_CATALOG_URI": "postgresql+psycopg2://u:p@127.0.0.1:1/db",
    "K2_S3_ENDPOINT": "http://127.0.0.1:1",
    "K2_S3_ACCESS_KEY": "a",
    "K2_S3_SECRET_KEY": "b",
}
RENAMED_API = {
    "K2_API_PREFIX": "/market/v3",
    "K2_API_KEY_HEADER": "X-K2-Token",
    "K2_API_HEALTH_PATH": "/status/all",
    "K2_API_READY_PATH": "/status/ready",
    "K2_API_LIVE_PATH": "/status/alive",
    "K2_TABLE": "desk.ticks",
}
TOKEN = {"X-K2-Token": ENV["K2_API_KEY"]}
FRAME = trade_frame(EmittedTrade(SymbolMarket(7, "BTCUSDT").take(1)[0], 1_700_000_000_000), False)


# ------------------------------------------------------------------ defaults are today's names
def test_without_the_settings_every_name_is_todays() -> None:
    api = ApiSettings.from_env(ENV)
    assert (str(api.table), api.prefix, api.key_header) == ("market_data.trades", "/v1", "X-API-Key")
    assert (api.health_path, api.ready_path, api.live_path) == ("/health", "/health/ready", "/health/live")
    assert str(ConsumerSettings.from_env(CONSUMER_ENV).table) == IDENTIFIER == "market_data.trades"
    ingest = IngestSettings.from_env(INGEST_ENV)
    assert (ingest.exchange_name, ingest.record_name) == ("BINANCE", "com.k2.marketdata.TradeV2")
    # the registry gets the file's own text, byte for byte, as before the setting existed
    assert trade_v2_text() == (HERE / "TradeV2.avsc").read_text()
    assert trade_v2_text("com.k2.marketdata.TradeV2") == trade_v2_text()


# ------------------------------------------------------------------ K2_TABLE
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("market_data.trades", TableId("market_data", "trades")),
        ("desk.ticks", TableId("desk", "ticks")),
        ("org.desk.ticks", TableId("org.desk", "ticks")),
    ],
)
def test_a_table_setting_is_a_namespace_and_a_table(value: str, expected: TableId) -> None:
    parsed = parse_table(value)
    assert parsed == expected
    assert str(parsed) == value
    assert parsed.parts == tuple(value.split("."))


@pytest.mark.parametrize(
    "value", ["trades", ".trades", "market_data.", "a..trades", "market data.trades", "market_data.trades "]
)
def test_a_table_without_both_parts_is_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(SettingsError) as err:
        ConsumerSettings.from_env({**CONSUMER_ENV, "K2_TABLE": value})
    assert str(err.value) == (
        f"K2_TABLE={value!r} is not namespace.table (a namespace, a dot, a table name); "
        "e.g. K2_TABLE=market_data.trades"
    )
    with pytest.raises(SettingsError, match=r"^K2_TABLE="):
        ApiSettings.from_env({**ENV, "K2_TABLE": value})


def test_consumer_and_api_read_the_table() -> None:
    assert ConsumerSettings.from_env({**CONSUMER_ENV, "K2_TABLE": "desk.ticks"}).table == TableId("desk", "ticks")
    assert ApiSettings.from_env({**ENV, "K2_TABLE": "desk.ticks"}).table == TableId("desk", "ticks")


class SqliteHandle(CatalogHandle):
    def __init__(self, catalog: SqlCatalog, identifier: TableId) -> None:
        self.catalog = catalog
        self.identifier = identifier

    def get(self) -> Any:
        return self.catalog


def test_the_table_is_made_and_read_under_its_configured_name(tmp_path: Path) -> None:
    catalog = SqlCatalog("k2", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    identifier = TableId("desk", "ticks")
    handle = SqliteHandle(catalog, identifier)
    store = IcebergStore(handle, identifier=identifier)
    assert handle.load_table() is None
    assert store.stats().table == "desk.ticks"
    ensure_table(catalog, identifier).append(pa.Table.from_pylist([sample_row()], schema=ARROW_SCHEMA))
    assert catalog.list_tables("desk") == [("desk", "ticks")]
    assert not catalog.table_exists(IDENTIFIER)  # nothing made under the default name
    stats = store.stats()
    assert (stats.table, stats.exists, stats.total_rows) == ("desk.ticks", True, 1)


class ListingCatalog:
    def __init__(self, tables: list[tuple[str, ...]]) -> None:
        self.tables = tables
        self.asked: list[str] = []

    def list_tables(self, namespace: str) -> list[tuple[str, ...]]:
        self.asked.append(namespace)
        return self.tables


@pytest.mark.parametrize(
    ("table", "listed", "status", "message"),
    [
        ("desk.ticks", [("desk", "ticks")], "healthy", "table desk.ticks found"),
        ("desk.ticks", [("desk", "trades")], "degraded", "table desk.ticks does not exist yet"),
        ("org.desk.ticks", [("org", "desk", "ticks")], "healthy", "table org.desk.ticks found"),
    ],
)
def test_the_catalog_check_looks_for_the_configured_table(
    table: str, listed: list[tuple[str, ...]], status: str, message: str
) -> None:
    settings = ApiSettings.from_env({**ENV, "K2_TABLE": table, "K2_API_HEALTH_TIMEOUT_MS": "500"})
    fake = ListingCatalog(listed)
    checks = DependencyChecks(settings, SqliteHandle(fake, settings.table))  # type: ignore[arg-type]
    try:
        catalog, _store = checks.check()
    finally:
        checks.close()
    assert (catalog.status, catalog.message) == (status, message)
    assert fake.asked == [table.rpartition(".")[0]]


# ------------------------------------------------------------------ K2_RECORD_NAME
def test_the_renamed_record_keeps_its_fields_and_changes_name_and_namespace() -> None:
    default, renamed = trade_v2(), trade_v2("org.example.feed.Tick")
    assert (renamed["name"], renamed["namespace"]) == ("Tick", "org.example.feed")
    assert renamed["fields"] == default["fields"]
    assert {k: v for k, v in renamed.items() if k not in ("name", "namespace")} == {
        k: v for k, v in default.items() if k not in ("name", "namespace")
    }
    assert (default["name"], default["namespace"]) == ("TradeV2", "com.k2.marketdata")
    parsed: Any = parse_schema(renamed)
    assert parsed["name"] == "org.example.feed.Tick"
    without_namespace = trade_v2("Tick")
    assert without_namespace["name"] == "Tick" and "namespace" not in without_namespace


@pytest.mark.parametrize("value", ["com.k2.1trade", "com..Trade", "com.k2.Trade V2", "Trade-V2", "com.k2."])
def test_a_record_name_avro_would_refuse_is_refused_at_start(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^K2_RECORD_NAME=.* is not an Avro full name"):
        IngestSettings.from_env({**INGEST_ENV, "K2_RECORD_NAME": value})


def test_ingest_registers_and_writes_the_renamed_record_and_the_consumer_reads_it_all_the_same() -> None:
    settings = IngestSettings.from_env({**INGEST_ENV, "K2_RECORD_NAME": "org.example.feed.Tick"})

    class Registry:
        def __init__(self) -> None:
            self.registered: list[tuple[str, str]] = []

        def register_schema(self, subject: str, schema: Any) -> int:
            self.registered.append((subject, schema.schema_str))
            return 7

        def set_compatibility(self, subject: str, level: str) -> None:
            pass

    registry = Registry()
    assert kafka_io.ensure_subject(registry, settings) == 7  # type: ignore[arg-type]
    ((_subject, text),) = registry.registered
    assert (json.loads(text)["name"], json.loads(text)["namespace"]) == ("Tick", "org.example.feed")

    record = to_trade_v2(validate(parse_frame(FRAME)), 1)
    value = WireEncoder(7, trade_v2(settings.record_name))(record)
    # the consumer decodes with whatever schema the registry holds for the id: the name is not its concern
    decoded = WireDecoder(lambda _id: text)(value)
    assert decoded["trade_id"] == record["trade_id"] and decoded["price"] == record["price"]
    plain: Any = schemaless_reader(io.BytesIO(value[5:]), parse_schema(trade_v2()), None)
    assert plain["trade_id"] == record["trade_id"]  # same fields, same bytes


# ------------------------------------------------------------------ K2_EXCHANGE_NAME
def test_to_trade_v2_writes_the_exchange_name_into_exchange_and_trade_id() -> None:
    payload = validate(parse_frame(FRAME))
    record = to_trade_v2(payload, 1, exchange="BNCX")
    assert record["exchange"] == "BNCX"
    assert record["trade_id"] == f"BNCX-{payload['t']}"
    assert to_trade_v2(payload, 1)["trade_id"] == f"BINANCE-{payload['t']}"


def test_the_feed_produces_records_of_the_configured_exchange() -> None:
    settings = IngestSettings.from_env({**INGEST_ENV, "K2_EXCHANGE_NAME": "BNCX", "K2_SYMBOLS": "BTCUSDT"})

    class Sink:
        def __init__(self) -> None:
            self.records: list[dict[str, Any]] = []

        def send(self, record: dict[str, Any], cursor: bytes | None = None) -> None:
            self.records.append(record)

        def dead_letter(self, reason: str, frame: str | bytes, source: str) -> None:
            raise AssertionError(reason)

        def poll(self, timeout: float = 0.0) -> None:
            pass

    sink = Sink()
    feed = Feed(settings, sink, Cursor(), rest=None)  # type: ignore[arg-type]
    asyncio.run(feed.handle(FRAME))
    (record,) = sink.records
    assert record["exchange"] == "BNCX" and record["trade_id"].startswith("BNCX-")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("BN CX", "contains whitespace"),
        ("BNCX\t", "contains whitespace"),
        ("bncx", "is not upper case"),
    ],
)
def test_a_bad_exchange_name_is_refused_at_start(value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=f"^K2_EXCHANGE_NAME.*{problem}"):
        IngestSettings.from_env({**INGEST_ENV, "K2_EXCHANGE_NAME": value})


def test_an_empty_name_is_unset_and_means_the_default() -> None:
    # as in a compose file's `K2_EXCHANGE_NAME: ${K2_EXCHANGE_NAME:-}`
    assert IngestSettings.from_env({**INGEST_ENV, "K2_EXCHANGE_NAME": ""}).exchange_name == "BINANCE"


# ------------------------------------------------------------------ the API's names
@pytest.fixture
def renamed() -> TestClient:
    app = create_app(ApiSettings.from_env({**ENV, **RENAMED_API}), store=FakeStore(list(ROWS)), health=FakeHealth())
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("route", ["/trades", "/symbols", "/stats", "/snapshots"])
def test_the_api_answers_under_its_prefix_with_its_key_header(renamed: TestClient, route: str) -> None:
    assert renamed.get(f"/market/v3{route}", headers=TOKEN).status_code == 200
    missing = renamed.get(f"/market/v3{route}")
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == "missing X-K2-Token header"
    # the default header is just another header now
    assert renamed.get(f"/market/v3{route}", headers={"X-API-Key": ENV["K2_API_KEY"]}).status_code == 401
    wrong = renamed.get(f"/market/v3{route}", headers={"X-K2-Token": "nope"})
    assert (wrong.status_code, wrong.json()["error"]["message"]) == (403, "invalid X-K2-Token")
    assert renamed.get(f"/v1{route}", headers=TOKEN).status_code == 404


def test_the_health_routes_answer_at_their_paths_without_a_key(renamed: TestClient) -> None:
    assert renamed.get("/status/all").json()["status"] == "healthy"
    assert renamed.get("/status/ready").status_code == 200
    assert renamed.get("/status/alive").json()["version"] == "9.9.9"
    for old in ("/health", "/health/ready", "/health/live"):
        assert renamed.get(old).status_code == 404, old


def test_the_document_names_the_configured_header_prefix_and_table(renamed: TestClient) -> None:
    doc = renamed.get("/openapi.json").json()
    assert set(doc["paths"]) == {
        "/market/v3/trades",
        "/market/v3/symbols",
        "/market/v3/stats",
        "/market/v3/snapshots",
        "/status/all",
        "/status/ready",
        "/status/alive",
        "/metrics",
    }
    assert doc["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-K2-Token"
    responses = doc["paths"]["/market/v3/trades"]["get"]["responses"]
    assert (responses["401"]["description"], responses["403"]["description"]) == (
        "X-K2-Token header missing",
        "X-K2-Token does not match",
    )
    assert "desk.ticks" in doc["info"]["description"]
    text = json.dumps(doc)
    for default in ("X-API-Key", "market_data.trades", "/v1/", '"/health'):
        assert default not in text, default


def test_health_routes_and_metrics_stay_out_of_the_access_log(
    renamed: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="k2.api"):
        for path in ("/status/all", "/status/ready", "/status/alive", "/metrics"):
            renamed.get(path)
        renamed.get("/market/v3/stats", headers=TOKEN)
    logged = [r.__dict__["path"] for r in caplog.records if r.getMessage() == "request"]
    assert logged == ["/market/v3/stats"]


def test_a_missing_key_is_explained_with_the_configured_header() -> None:
    env = {k: v for k, v in ENV.items() if k != "K2_API_KEY"}
    with pytest.raises(SettingsError, match=r"the secret clients send in X-K2-Token$"):
        ApiSettings.from_env({**env, "K2_API_KEY_HEADER": "X-K2-Token"})


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("K2_API_PREFIX", "v1", "is not a path starting with / and not ending with /"),
        ("K2_API_PREFIX", "/v1/", "is not a path starting with / and not ending with /"),
        ("K2_API_PREFIX", "/", "is not a path starting with / and not ending with /"),
        ("K2_API_PREFIX", "/v 1", "is not a path"),
        ("K2_API_HEALTH_PATH", "health", "is not a path"),
        ("K2_API_LIVE_PATH", "/health/ready", "is also K2_API_READY_PATH"),
        ("K2_API_READY_PATH", "/v1/ready", "is under K2_API_PREFIX='/v1'"),
        ("K2_API_HEALTH_PATH", "/metrics", "is the metrics route"),
        ("K2_API_KEY_HEADER", "X K2 Token", "is not an HTTP header name"),
        ("K2_API_KEY_HEADER", "X-K2:Token", "is not an HTTP header name"),
    ],
)
def test_bad_api_names_are_refused_at_start(name: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as err:
        ApiSettings.from_env({**ENV, name: value})
    assert str(err.value).startswith(f"{name}={value!r} {problem}"), str(err.value)


def test_default_table_constants_agree() -> None:
    assert parse_table(IDENTIFIER) == DEFAULT_TABLE
