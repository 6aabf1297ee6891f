"""The platform's record schema (Avro TradeV2) and its Iceberg table, shared by k2's services."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def trade_v2_text() -> str:
    return (HERE / "TradeV2.avsc").read_text()


def trade_v2() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(trade_v2_text())
    return schema
