"""Response models (they define /openapi.json) and the conversion of stored rows into them.

Decimals leave the API as strings with exactly the table's 8 decimal places, never as floats,
so a price round-trips exactly. Times are ISO-8601 UTC with microseconds and a `Z`, always the
same width, so clients can compare them as strings too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCALE = 8  # decimal(18,8) in the table
DECIMAL_PATTERN = r"^-?[0-9]{1,10}\.[0-9]{8}$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"

DecimalString = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        examples=["42000.12345678"],
        description="decimal(18,8) as a string with exactly 8 decimals",
    ),
]
UtcTimestamp = Annotated[
    str,
    Field(
        pattern=TIMESTAMP_PATTERN,
        examples=["2024-01-15T09:30:00.123456Z"],
        json_schema_extra={"format": "date-time"},
        description="ISO-8601 UTC with microseconds",
    ),
]
Status = Literal["healthy", "degraded", "unhealthy"]
EPOCH = datetime(1970, 1, 1)  # naive UTC, like the table's timestamps


class _Model(BaseModel):
    # extra="forbid": the OpenAPI schema says exactly what a response holds, nothing slips out unseen.
    # defaults required: a field with a default (success, status) is still always sent, so the
    # document must require it, or a client checking it would accept a response without it.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


# ------------------------------------------------------------------ envelope parts
class Meta(_Model):
    correlation_id: str
    timestamp: UtcTimestamp


class Pagination(_Model):
    limit: int
    offset: int
    total: int = Field(description="rows matching the filters, over all pages")
    has_more: bool


class ErrorDetail(_Model):
    code: str = Field(examples=["INVALID_PARAMETER"])
    message: str


class ErrorResponse(_Model):
    success: Literal[False] = False
    meta: Meta
    error: ErrorDetail


# ------------------------------------------------------------------ /v1 payloads
class Trade(_Model):
    """One row of the trades table: the 15 fields of the Avro trade record."""

    message_id: str
    trade_id: str
    symbol: str
    exchange: str
    asset_class: str
    timestamp: UtcTimestamp
    price: DecimalString
    quantity: DecimalString
    currency: str
    side: str
    trade_conditions: list[str]
    source_sequence: int | None
    ingestion_timestamp: UtcTimestamp
    platform_sequence: int | None
    vendor_data: dict[str, str] | None


class TradesResponse(_Model):
    success: Literal[True] = True
    meta: Meta
    data: list[Trade]
    pagination: Pagination


class SymbolsResponse(_Model):
    success: Literal[True] = True
    meta: Meta
    data: list[str]


class TableStats(_Model):
    table: str
    exists: bool
    total_rows: int
    rows_per_symbol: dict[str, int]
    snapshot_count: int
    current_snapshot_id: int | None
    total_data_files: int | None
    last_updated: UtcTimestamp | None


class StatsResponse(_Model):
    success: Literal[True] = True
    meta: Meta
    data: TableStats


class Snapshot(_Model):
    snapshot_id: int
    parent_snapshot_id: int | None
    sequence_number: int | None
    timestamp: UtcTimestamp
    timestamp_ms: int
    operation: str
    summary: dict[str, str]


class SnapshotsResponse(_Model):
    success: Literal[True] = True
    meta: Meta
    data: list[Snapshot]
    pagination: Pagination


# ------------------------------------------------------------------ health
class DependencyHealth(_Model):
    name: str
    status: Status
    latency_ms: float
    message: str


class HealthResponse(_Model):
    status: Status
    version: str
    timestamp: UtcTimestamp
    dependencies: list[DependencyHealth]


class LiveResponse(_Model):
    status: Literal["alive"] = "alive"
    version: str
    timestamp: UtcTimestamp


# ------------------------------------------------------------------ serialization
def decimal_str(value: Decimal) -> str:
    """Exactly 8 decimals, fixed notation: Decimal('1E-8') -> '0.00000001'."""
    if not isinstance(value, Decimal):
        # a float here would already have lost digits; refuse rather than serve a rounded price
        raise TypeError(f"expected a Decimal, got {type(value).__name__}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -SCALE:
        raise ValueError(f"{value} has more than {SCALE} decimals")
    return f"{value:.{SCALE}f}"


def timestamp_str(value: datetime) -> str:
    """ISO-8601 UTC with microseconds and Z. Naive values are UTC: the table stores them so."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def millis_str(epoch_ms: int) -> str:
    # integer arithmetic: a float of epoch seconds can be off by a microsecond
    return timestamp_str(EPOCH + timedelta(milliseconds=epoch_ms))


def now_str() -> str:
    return timestamp_str(datetime.now(UTC))


def json_list(raw: str | None, field: str) -> list[str]:
    if raw is None or raw == "":
        return []
    value = json.loads(raw)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"{field} is not a JSON list of strings: {raw[:80]!r}")
    return value


def json_map(raw: str | None, field: str) -> dict[str, str] | None:
    if raw is None:
        return None
    value = json.loads(raw)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{field} is not a JSON object: {raw[:80]!r}")
    # Avro map<string>: values are strings; a writer that stored numbers still gets served exactly
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def trade_from_row(row: Mapping[str, Any]) -> Trade:
    """A row as pyarrow gives it (Decimal, naive datetime, JSON strings) -> the API's Trade."""
    return Trade(
        message_id=row["message_id"],
        trade_id=row["trade_id"],
        symbol=row["symbol"],
        exchange=row["exchange"],
        asset_class=row["asset_class"],
        timestamp=timestamp_str(row["timestamp"]),
        price=decimal_str(row["price"]),
        quantity=decimal_str(row["quantity"]),
        currency=row["currency"],
        side=row["side"],
        trade_conditions=json_list(row["trade_conditions"], "trade_conditions"),
        source_sequence=row["source_sequence"],
        ingestion_timestamp=timestamp_str(row["ingestion_timestamp"]),
        platform_sequence=row["platform_sequence"],
        vendor_data=json_map(row["vendor_data"], "vendor_data"),
    )
