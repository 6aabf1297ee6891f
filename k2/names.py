"""The names other systems know the platform by: each one a setting whose default is today's name.

A deployment may run the same platform under its own names (and a test profile does, with every
name different, to show that nothing outside depends on the defaults). Each service reads the
names it uses; a bad one stops it at start with one line naming the variable.

  K2_TABLE            Iceberg table, namespace.table              consumer, api  default market_data.trades
  K2_RECORD_NAME      Avro full name of the trade record          ingest         default com.k2.marketdata.TradeV2
  K2_EXCHANGE_NAME    the records' `exchange`, `trade_id` prefix  ingest         default BINANCE
  K2_API_PREFIX       path prefix of the market-data routes       api            default /v1
  K2_API_KEY_HEADER   header clients send the API key in          api            default X-API-Key
  K2_API_HEALTH_PATH, K2_API_READY_PATH, K2_API_LIVE_PATH
                      the API's health routes                     api            default /health, /health/ready,
                                                                                 /health/live
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from k2.settings import SettingsError, env_str


@dataclass(frozen=True)
class TableId:
    """An Iceberg table identifier. `namespace` may be nested (`a.b`): REST catalogs allow it."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def parts(self) -> tuple[str, ...]:
        """The identifier as the tuple a catalog's list_tables returns for it."""
        return (*self.namespace.split("."), self.name)


DEFAULT_TABLE = TableId("market_data", "trades")
DEFAULT_RECORD_NAME = "com.k2.marketdata.TradeV2"
DEFAULT_EXCHANGE_NAME = "BINANCE"
DEFAULT_API_PREFIX = "/v1"
DEFAULT_API_KEY_HEADER = "X-API-Key"
DEFAULT_HEALTH_PATH = "/health"
DEFAULT_READY_PATH = "/health/ready"
DEFAULT_LIVE_PATH = "/health/live"

_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# RFC 9110 `token`: what a header name may be made of
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _has_space(value: str) -> bool:
    # a trailing blank from an env file would otherwise become part of a name nobody can match
    return any(c.isspace() for c in value)


def parse_table(value: str, name: str = "K2_TABLE") -> TableId:
    parts = value.split(".")
    if len(parts) < 2 or not all(parts) or _has_space(value):
        raise SettingsError(
            f"{name}={value!r} is not namespace.table (a namespace, a dot, a table name); e.g. {name}={DEFAULT_TABLE}"
        )
    return TableId(".".join(parts[:-1]), parts[-1])


def env_table(env: Mapping[str, str], name: str = "K2_TABLE") -> TableId:
    return parse_table(env_str(env, name, str(DEFAULT_TABLE)), name)


def env_record_name(env: Mapping[str, str], name: str = "K2_RECORD_NAME") -> str:
    value = env_str(env, name, DEFAULT_RECORD_NAME)
    if not all(_AVRO_NAME.fullmatch(part) for part in value.split(".")):
        raise SettingsError(
            f"{name}={value!r} is not an Avro full name (dot-separated names of letters, digits "
            f"and _, none starting with a digit); e.g. {name}={DEFAULT_RECORD_NAME}"
        )
    return value


def env_exchange_name(env: Mapping[str, str], name: str = "K2_EXCHANGE_NAME") -> str:
    value = env_str(env, name, DEFAULT_EXCHANGE_NAME)
    if _has_space(value):
        raise SettingsError(f"{name}={value!r} contains whitespace; e.g. {name}={DEFAULT_EXCHANGE_NAME}")
    if value != value.upper():
        # the API upper-cases its exchange filter, so a name in lower case could never be asked for
        raise SettingsError(f"{name}={value!r} is not upper case; e.g. {name}={DEFAULT_EXCHANGE_NAME}")
    return value


def env_path(env: Mapping[str, str], name: str, default: str) -> str:
    """A URL path (or prefix of paths): starts with /, no trailing /, nothing but the path."""
    value = env_str(env, name, default)
    if not value.startswith("/") or value.endswith("/") or _has_space(value) or any(c in value for c in "?#"):
        raise SettingsError(
            f"{name}={value!r} is not a path starting with / and not ending with /; e.g. {name}={default}"
        )
    return value


def env_header_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = env_str(env, name, default)
    if not _HEADER_NAME.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not an HTTP header name; e.g. {name}={default}")
    return value
