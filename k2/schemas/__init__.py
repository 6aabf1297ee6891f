"""The platform's record schema (Avro TradeV2) and its Iceberg table, shared by k2's services."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from k2.names import DEFAULT_RECORD_NAME

HERE = Path(__file__).parent


@cache
def trade_v2_text(full_name: str = DEFAULT_RECORD_NAME) -> str:
    """The record schema as Avro JSON text, the record named `full_name` (K2_RECORD_NAME)."""
    text = (HERE / "TradeV2.avsc").read_text()
    schema = json.loads(text)
    if full_name == f"{schema['namespace']}.{schema['name']}":
        # the file's own text, byte for byte: what registries of existing deployments hold already
        return text
    return json.dumps(renamed(schema, full_name), indent=2)


def trade_v2(full_name: str = DEFAULT_RECORD_NAME) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(trade_v2_text(full_name))
    return schema


def renamed(schema: dict[str, Any], full_name: str) -> dict[str, Any]:
    """The record schema under another full name; its fields unchanged. A name without a dot has
    no namespace (Avro's null namespace), so the record's named types (enums) get none either."""
    namespace, _, name = full_name.rpartition(".")
    out = {**schema, "name": name, "namespace": namespace}
    if not namespace:
        del out["namespace"]
    return out
