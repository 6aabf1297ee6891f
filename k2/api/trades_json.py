"""A page of the trades table as the JSON of the API's `Trade` model, built column by column.

Building a pydantic `Trade` per row (`trade_from_row`) and dumping it again took 40 % of the API's
CPU while the bench polled at 2,000 trades/s (py-spy). Here Arrow formats each column at once and
the JSON text columns are parsed once per distinct value (nearly every trade has `[]` and one of
a few vendor maps). `trade_from_row` stays the definition of a served trade: a unit test holds
both to the same output, and the API's fuzz test checks the responses against the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from k2.api.models import SCALE, Trade, json_list, json_map

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow's %S carries the microseconds of a timestamp[us]
AS_IS = (
    "message_id",
    "trade_id",
    "symbol",
    "exchange",
    "asset_class",
    "currency",
    "side",
    "source_sequence",
    "platform_sequence",
)
FIELDS = tuple(Trade.model_fields)  # the model's order, which model_dump keeps


def trades_json(rows: pa.Table) -> list[dict[str, Any]]:
    """Every row of `rows` (the trades table's columns) as `trade_from_row(row).model_dump()` gives it."""
    if rows.num_rows == 0:
        return []
    columns: dict[str, list[Any]] = {name: rows.column(name).to_pylist() for name in AS_IS}
    for name in ("timestamp", "ingestion_timestamp"):
        columns[name] = pc.strftime(rows.column(name), format=TIME_FORMAT).to_pylist()
    for name in ("price", "quantity"):
        columns[name] = decimal_strings(rows.column(name))
    columns["trade_conditions"] = parsed_once(
        rows.column("trade_conditions"), lambda raw: json_list(raw, "trade_conditions")
    )
    columns["vendor_data"] = parsed_once(rows.column("vendor_data"), lambda raw: json_map(raw, "vendor_data"))
    ordered = [columns[name] for name in FIELDS]
    return [dict(zip(FIELDS, values, strict=True)) for values in zip(*ordered, strict=True)]


def decimal_strings(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """decimal(18,8) as fixed-point text with 8 decimals. Arrow writes values under 1e-6 in
    scientific notation ('1E-8'); those few are formatted again through Decimal."""
    out: list[str] = pc.cast(column, pa.string()).to_pylist()
    return [text if "E" not in text else f"{Decimal(text):.{SCALE}f}" for text in out]


def parsed_once(column: pa.ChunkedArray | pa.Array, parse: Callable[[Any], Any]) -> list[Any]:
    """parse(value) for every value, computed once per distinct value. Parsed lists and maps are
    shared between rows: the caller only serializes them."""
    seen: dict[Any, Any] = {}
    out = []
    for raw in column.to_pylist():
        if raw not in seen:
            seen[raw] = parse(raw)
        out.append(seen[raw])
    return out
