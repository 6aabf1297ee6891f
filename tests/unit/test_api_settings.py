"""The API's settings: defaults, errors that name the variable, and `python -m k2.api` exiting 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from k2.api.settings import ApiSettings, warehouse_bucket
from k2.settings import SettingsError
from tests.unit.test_api_app import ENV, KEY

REPO = Path(__file__).resolve().parents[2]


def test_defaults_and_the_catalog_settings() -> None:
    s = ApiSettings.from_env({k: v for k, v in ENV.items() if k != "K2_API_VERSION"})
    assert (s.host, s.port, s.version, s.health_timeout_s, s.log_level) == ("127.0.0.1", 18000, "0.1.0", 1.5, "INFO")
    assert s.api_key.get_secret_value() == KEY
    assert s.catalog.uri.get_secret_value() == ENV["K2_CATALOG_URI"]
    assert s.catalog.warehouse == "s3://warehouse/"


def test_the_key_and_the_catalog_secrets_never_appear_in_the_repr() -> None:
    text = repr(ApiSettings.from_env(ENV))
    assert KEY not in text
    assert "u:p@" not in text
    assert "port=18000" in text


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"K2_API_KEY": ""}, "K2_API_KEY is not set"),
        ({"K2_API_KEY": "   "}, "K2_API_KEY is not set"),
        ({"K2_API_PORT": "http"}, "K2_API_PORT='http' is not a whole number"),
        ({"K2_API_PORT": "70000"}, "K2_API_PORT=70000 is above 65535"),
        ({"K2_API_HEALTH_TIMEOUT_MS": "5000"}, "K2_API_HEALTH_TIMEOUT_MS=5000 is above 2000"),
        ({"K2_LOG_LEVEL": "chatty"}, "K2_LOG_LEVEL='CHATTY' is unknown"),
        ({"K2_CATALOG_URI": ""}, "K2_CATALOG_URI is not set"),
        ({"K2_S3_ENDPOINT": "nowhere"}, "K2_S3_ENDPOINT='nowhere' is not a http/https URL"),
        ({"K2_WAREHOUSE": "file:///tmp/wh"}, "K2_WAREHOUSE='file:///tmp/wh' is not an S3 location"),
    ],
)
def test_a_bad_setting_names_the_variable(override: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        ApiSettings.from_env({**ENV, **override})


def test_warehouse_bucket() -> None:
    assert warehouse_bucket("s3://warehouse/") == "warehouse"
    assert warehouse_bucket("s3://lake/prefix/x") == "lake"


def run_module(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "k2.api", *args], env=env, capture_output=True, text=True, timeout=60, cwd=REPO
    )


def test_main_exits_2_with_one_line_naming_the_variable() -> None:
    result = run_module({"PATH": "/usr/bin:/bin", **{k: v for k, v in ENV.items() if k != "K2_API_KEY"}})
    assert result.returncode == 2
    assert result.stderr == "error: K2_API_KEY is not set; set it to the secret clients send in X-API-Key\n"
    assert "Traceback" not in result.stderr + result.stdout

    result = run_module({"PATH": "/usr/bin:/bin", **ENV, "K2_API_PORT": "x"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: K2_API_PORT='x' is not a whole number; e.g. K2_API_PORT=18000"
    ]


def test_help_lists_the_environment() -> None:
    result = run_module({"PATH": "/usr/bin:/bin"}, "--help")
    assert result.returncode == 0
    for var in ("K2_API_KEY", "K2_API_PORT", "K2_CATALOG_URI", "K2_S3_ENDPOINT"):
        assert var in result.stdout
