"""The names other systems know the platform by: each one a setting whose default is today's name.

A deployment may run the same platform under its own names (and a test profile does, with every
name different, to show that nothing outside depends on the defaults). Each service reads the
names it uses (K2_TABLE, K2_RECORD_NAME, K2_EXCHANGE_NAME, K2_API_PREFIX, K2_API_KEY_HEADER and
the health paths: docs/settings.md lists them with the services that read them); a bad one stops
the service at start with one line naming the variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from k2.settings import SettingsError


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
    try:
        return check_table(value)
    except ValueError as exc:
        raise SettingsError(f"{name}={value!r} {exc}; e.g. {name}={DEFAULT_TABLE}") from None


# Validators of the settings models (k2/settings.py names the variable and adds the example).


def check_table(value: object) -> TableId:
    if isinstance(value, TableId):
        return value
    text = str(value)
    parts = text.split(".")
    if len(parts) < 2 or not all(parts) or _has_space(text):
        raise ValueError("is not namespace.table (a namespace, a dot, a table name)")
    return TableId(".".join(parts[:-1]), parts[-1])


def check_record_name(value: str) -> str:
    if not all(_AVRO_NAME.fullmatch(part) for part in value.split(".")):
        raise ValueError(
            "is not an Avro full name (dot-separated names of letters, digits and _, none starting with a digit)"
        )
    return value


def check_exchange_name(value: str) -> str:
    if _has_space(value):
        raise ValueError("contains whitespace")
    if value != value.upper():
        # the API upper-cases its exchange filter, so a name in lower case could never be asked for
        raise ValueError("is not upper case")
    return value


def check_path(value: str) -> str:
    """A URL path (or prefix of paths): starts with /, no trailing /, nothing but the path."""
    if not value.startswith("/") or value.endswith("/") or _has_space(value) or any(c in value for c in "?#"):
        raise ValueError("is not a path starting with / and not ending with /")
    return value


def check_header_name(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError("is not an HTTP header name")
    return value
