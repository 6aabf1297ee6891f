"""The query API's settings, read once from the environment (docs/settings.md lists them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, SecretStr, model_validator
from pydantic_settings import NoDecode

from k2.catalog import CatalogSettings, warehouse_bucket
from k2.names import (
    DEFAULT_API_KEY_HEADER,
    DEFAULT_API_PREFIX,
    DEFAULT_HEALTH_PATH,
    DEFAULT_LIVE_PATH,
    DEFAULT_READY_PATH,
    DEFAULT_TABLE,
    TableId,
    check_header_name,
    check_path,
    check_table,
)
from k2.settings import SettingsError, var

__all__ = ["ApiSettings", "check_health_paths", "warehouse_bucket"]

# /health must answer quickly even when a dependency hangs, so one check never gets more than this.
MAX_HEALTH_TIMEOUT_MS = 2000

RoutePath = Annotated[str, AfterValidator(check_path)]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class ApiSettings(CatalogSettings):
    host: str = var("K2_API_HOST", "127.0.0.1", "bind address")
    port: int = var("K2_API_PORT", 18000, "port", ge=1, le=65535)
    api_key: SecretStr = var(
        "K2_API_KEY", SecretStr(""), "the secret clients send in the K2_API_KEY_HEADER header", required=True
    )
    key_header: Annotated[str, AfterValidator(check_header_name)] = var(
        "K2_API_KEY_HEADER", DEFAULT_API_KEY_HEADER, "the header the key is sent in"
    )
    version: str = var("K2_API_VERSION", "0.1.0", "version reported by the health routes")
    health_timeout_ms: int = var(
        "K2_API_HEALTH_TIMEOUT_MS", 1500, "budget of one dependency check", ge=100, le=MAX_HEALTH_TIMEOUT_MS
    )
    cache_rows: int = var(
        "K2_API_CACHE_ROWS",
        2_000_000,
        "query result rows kept per Iceberg snapshot (0 = off; large results are narrow: sort keys or one "
        "column, a page's rows are at most 10000)",
        ge=0,
    )
    manifest_cache_entries: int = var(
        "K2_API_MANIFEST_CACHE_ENTRIES", 20_000, "decoded manifest entries (data files) kept (0 = off)", ge=0
    )
    file_cache_mb: int = var(
        "K2_API_FILE_CACHE_MB",
        64,
        "MiB of Iceberg file bytes kept, files of at most an eighth of it (0 = off); Iceberg never rewrites "
        "a file, so kept bytes are never stale",
        ge=0,
    )
    query_timeout_ms: int = var(
        "K2_API_QUERY_TIMEOUT_MS",
        20_000,
        "longest a K2_API_PREFIX request waits for storage before a 503",
        ge=100,
    )
    prefix: RoutePath = var(
        "K2_API_PREFIX",
        DEFAULT_API_PREFIX,
        "path prefix of the market-data routes; all of them, and only they, want the key",
    )
    health_path: RoutePath = var("K2_API_HEALTH_PATH", DEFAULT_HEALTH_PATH, "health route (no key)")
    ready_path: RoutePath = var("K2_API_READY_PATH", DEFAULT_READY_PATH, "readiness route (no key)")
    live_path: RoutePath = var("K2_API_LIVE_PATH", DEFAULT_LIVE_PATH, "liveness route (no key)")
    table: Annotated[TableId, NoDecode, BeforeValidator(check_table)] = var(
        "K2_TABLE", str(DEFAULT_TABLE), "the Iceberg table served, namespace.table"
    )
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = var(
        "K2_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if not self.api_key.get_secret_value().strip():
            # a key has no sensible default, so the message says what it is for instead of an example
            raise SettingsError(f"K2_API_KEY is not set; set it to the secret clients send in {self.key_header}")
        check_health_paths(
            {
                "K2_API_HEALTH_PATH": self.health_path,
                "K2_API_READY_PATH": self.ready_path,
                "K2_API_LIVE_PATH": self.live_path,
            },
            self.prefix,
        )
        return self

    @property
    def health_timeout_s(self) -> float:
        return self.health_timeout_ms / 1000

    @property
    def query_timeout_s(self) -> float:
        return self.query_timeout_ms / 1000


def check_health_paths(paths: Mapping[str, str], prefix: str) -> None:
    """Health routes answer without the key: two on one path would leave one unreachable, and one
    under the prefix would break the rule that everything under it wants the key."""
    seen: dict[str, str] = {}
    for name, path in paths.items():
        if path in seen:
            raise SettingsError(f"{name}={path!r} is also {seen[path]}; each health route needs its own path")
        if path == "/metrics":
            raise SettingsError(f"{name}={path!r} is the metrics route; choose another path")
        if path == prefix or path.startswith(prefix + "/"):
            raise SettingsError(
                f"{name}={path!r} is under K2_API_PREFIX={prefix!r}, where every route "
                f"wants the key; choose a path outside it"
            )
        seen[path] = name
