"""The settings machinery every service shares: one declaration read from the environment, shown
by --help and in docs/settings.md, with refusals that name the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from k2.api.settings import ApiSettings
from k2.consumer.settings import Settings as ConsumerSettings
from k2.exchange.settings import ExchangeSettings
from k2.ingest.settings import Settings as IngestSettings
from k2.settings import K2Settings, SettingsError, describe
from k2.settings_doc import DOC, document
from tests.unit.test_api_app import ENV, KEY

REPO = Path(__file__).resolve().parents[2]
MODELS: list[type[K2Settings]] = [ExchangeSettings, IngestSettings, ConsumerSettings, ApiSettings]


def test_the_process_environment_and_a_given_mapping_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**ENV, "K2_API_PORT": "18123", "K2_TABLE": "desk.ticks", "K2_API_CACHE_ROWS": ""}
    for name in [n for n in list(__import__("os").environ) if n.startswith("K2_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from_process = ApiSettings.from_env()
    assert from_process == ApiSettings.from_env(env)
    assert (from_process.port, str(from_process.table), from_process.cache_rows) == (18123, "desk.ticks", 2_000_000)


def test_a_given_mapping_is_all_that_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K2_EXCHANGE_PORT", "19999")
    assert ExchangeSettings.from_env({}).port == 18765


def test_only_the_variables_names_are_read_not_the_fields() -> None:
    assert ExchangeSettings.from_env({"port": "5", "seed": "7"}).port == 18765
    assert ExchangeSettings.from_env({"K2_EXCHANGE_PORT": "5"}).port == 5


def test_every_problem_gets_its_own_line_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as err:
        ApiSettings.from_env({**ENV, "K2_API_PORT": "x", "K2_API_CACHE_ROWS": "-1", "K2_CATALOG_TYPE": "hive"})
    assert str(err.value).splitlines() == [
        "K2_CATALOG_TYPE='hive' is unknown; use sql or rest",
        "K2_API_PORT='x' is not a whole number; e.g. K2_API_PORT=18000",
        "K2_API_CACHE_ROWS=-1 is below 0",
    ]


def test_a_missing_required_value_says_so_with_an_example() -> None:
    env = {k: v for k, v in ENV.items() if k != "K2_S3_ENDPOINT"}
    with pytest.raises(SettingsError, match=r"^K2_S3_ENDPOINT is not set; e\.g\. K2_S3_ENDPOINT=http://"):
        ApiSettings.from_env(env)


def test_secrets_are_hidden_in_the_repr_and_readable_on_purpose() -> None:
    secrets = {
        "K2_CATALOG_TYPE": "rest",
        "K2_CATALOG_URI": "http://user:catalog-password@127.0.0.1:1",
        "K2_CATALOG_CREDENTIAL": "id:credential-secret",
        "K2_S3_SECRET_KEY": "s3-secret-value",
    }
    settings = ApiSettings.from_env({**ENV, **secrets})
    text = repr(settings) + str(settings.model_dump())
    for secret in (KEY, "catalog-password", "credential-secret", "s3-secret-value"):
        assert secret not in text
    properties = settings.catalog.properties()
    assert properties["credential"] == "id:credential-secret"
    assert properties["s3.secret-access-key"] == "s3-secret-value"
    assert properties["oauth2-server-uri"] == "http://user:catalog-password@127.0.0.1:1/v1/oauth/tokens"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__module__)
def test_help_lists_every_variable_with_its_default(model: type[K2Settings]) -> None:
    text = describe(model)
    names = [name for name, _ in model.variables()]
    assert len(names) == len(model.model_fields) >= 8
    for name in names:
        assert f"  {name} " in text
    if model is ApiSettings:
        assert "K2_API_KEY" in text and "required, secret, never logged" in text
        assert "default 18000, 1..65535" in text


def test_the_settings_page_is_generated_from_the_models() -> None:
    assert DOC.read_text() == document(), "docs/settings.md is stale: python -m k2.settings_doc --write"
    assert document().count("| `K2_API_KEY` |") == 1


@pytest.mark.parametrize("module", ["k2.ingest", "k2.consumer", "k2.exchange"])
def test_each_service_answers_help_from_its_model(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "environment (an empty value is unset" in result.stdout
    assert result.stdout.count("  K2_") >= 8


def test_a_service_with_two_bad_values_prints_two_error_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "k2.ingest"],
        env={"PATH": "/usr/bin:/bin", "K2_INGEST_PORT": "0", "K2_SYMBOLS": " , "},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "error: K2_INGEST_PORT=0 is below 1",
        "error: K2_SCHEMA_REGISTRY_URL is not set; e.g. K2_SCHEMA_REGISTRY_URL=http://127.0.0.1:18081",
        "error: K2_SYMBOLS=' , ' is empty; e.g. K2_SYMBOLS=BTCUSDT,ETHUSDT,BNBUSDT",
    ]
