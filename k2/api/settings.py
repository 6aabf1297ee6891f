"""The query API's settings, read once from the environment.

K2_API_HOST                 bind address                       default 127.0.0.1
K2_API_PORT                 port                               default 18000
K2_API_KEY                  the key clients send in the header K2_API_KEY_HEADER   required, never logged
K2_API_KEY_HEADER           the header the key is sent in      default X-API-Key
K2_API_VERSION              version reported by the health routes                  default 0.1.0
K2_API_HEALTH_TIMEOUT_MS    budget of one dependency check     default 1500 (100..2000)
K2_API_CACHE_ROWS           rows of query results kept per snapshot (0 = off)   default 2000000
K2_API_FILE_CACHE_MB        MiB of Iceberg file bytes kept (0 = off)             default 64
K2_API_QUERY_TIMEOUT_MS     longest a K2_API_PREFIX request waits for storage before a 503  default 20000
K2_API_PREFIX               path prefix of the market-data routes   default /v1
K2_API_HEALTH_PATH          health route                       default /health
K2_API_READY_PATH           readiness route                    default /health/ready
K2_API_LIVE_PATH            liveness route                     default /health/live
K2_TABLE                    the Iceberg table served, namespace.table   default market_data.trades
K2_LOG_LEVEL                default INFO
plus the catalog variables of k2/catalog.py (K2_CATALOG_TYPE, K2_CATALOG_URI, K2_WAREHOUSE, K2_S3_*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from k2.catalog import CatalogSettings
from k2.names import (
    DEFAULT_API_KEY_HEADER,
    DEFAULT_API_PREFIX,
    DEFAULT_HEALTH_PATH,
    DEFAULT_LIVE_PATH,
    DEFAULT_READY_PATH,
    TableId,
    env_header_name,
    env_path,
    env_table,
)
from k2.settings import SettingsError, env_int, env_str

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# /health must answer quickly even when a dependency hangs, so one check never gets more than this.
MAX_HEALTH_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class ApiSettings:
    host: str
    port: int
    # repr=False: a settings object printed in a log or a traceback must not reveal the key
    api_key: str = field(repr=False)
    version: str
    health_timeout_s: float
    cache_rows: int
    manifest_cache_entries: int
    file_cache_mb: int
    query_timeout_s: float
    log_level: str
    catalog: CatalogSettings = field(repr=False)  # holds the S3 secret and the database password
    table: TableId
    prefix: str
    """Of every market-data route; all of them, and only they, want the key."""
    key_header: str
    health_path: str
    ready_path: str
    live_path: str

    @staticmethod
    def from_env(env: Mapping[str, str]) -> ApiSettings:
        port = env_int(env, "K2_API_PORT", 18000, minimum=1)
        if port > 65535:
            raise SettingsError(f"K2_API_PORT={port} is above 65535")
        timeout_ms = env_int(env, "K2_API_HEALTH_TIMEOUT_MS", 1500, minimum=100)
        if timeout_ms > MAX_HEALTH_TIMEOUT_MS:
            raise SettingsError(f"K2_API_HEALTH_TIMEOUT_MS={timeout_ms} is above {MAX_HEALTH_TIMEOUT_MS}")
        level = env_str(env, "K2_LOG_LEVEL", "INFO").upper()
        if level not in LOG_LEVELS:
            raise SettingsError(f"K2_LOG_LEVEL={level!r} is unknown; use one of {', '.join(LOG_LEVELS)}")
        key_header = env_header_name(env, "K2_API_KEY_HEADER", DEFAULT_API_KEY_HEADER)
        api_key = env.get("K2_API_KEY", "")
        if not api_key.strip():
            # not env_str: its message would suggest an example value, and a key has no sensible default
            raise SettingsError(f"K2_API_KEY is not set; set it to the secret clients send in {key_header}")
        prefix = env_path(env, "K2_API_PREFIX", DEFAULT_API_PREFIX)
        health_paths = {
            "K2_API_HEALTH_PATH": env_path(env, "K2_API_HEALTH_PATH", DEFAULT_HEALTH_PATH),
            "K2_API_READY_PATH": env_path(env, "K2_API_READY_PATH", DEFAULT_READY_PATH),
            "K2_API_LIVE_PATH": env_path(env, "K2_API_LIVE_PATH", DEFAULT_LIVE_PATH),
        }
        check_health_paths(health_paths, prefix)
        catalog = CatalogSettings.from_env(env)
        warehouse_bucket(catalog.warehouse)  # fail at start, not at the first health check
        return ApiSettings(
            host=env_str(env, "K2_API_HOST", "127.0.0.1"),
            port=port,
            api_key=api_key,
            version=env_str(env, "K2_API_VERSION", "0.1.0"),
            health_timeout_s=timeout_ms / 1000,
            cache_rows=env_int(env, "K2_API_CACHE_ROWS", 2_000_000, minimum=0),
            manifest_cache_entries=env_int(env, "K2_API_MANIFEST_CACHE_ENTRIES", 20_000, minimum=0),
            file_cache_mb=env_int(env, "K2_API_FILE_CACHE_MB", 64, minimum=0),
            query_timeout_s=env_int(env, "K2_API_QUERY_TIMEOUT_MS", 20_000, minimum=100) / 1000,
            log_level=level,
            catalog=catalog,
            table=env_table(env),
            prefix=prefix,
            key_header=key_header,
            health_path=health_paths["K2_API_HEALTH_PATH"],
            ready_path=health_paths["K2_API_READY_PATH"],
            live_path=health_paths["K2_API_LIVE_PATH"],
        )


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


def warehouse_bucket(warehouse: str) -> str:
    """The bucket of an `s3://bucket/prefix` warehouse: what the object-store health check asks for."""
    parsed = urlparse(warehouse)
    if parsed.scheme not in ("s3", "s3a") or not parsed.netloc:
        raise SettingsError(f"K2_WAREHOUSE={warehouse!r} is not an S3 location; e.g. K2_WAREHOUSE=s3://warehouse/")
    return parsed.netloc
