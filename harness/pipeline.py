"""Trades as each stage holds them, keyed the same way so checks can compare stages.

A trade's key is (symbol, trade_id): the exchange numbers trades per symbol, so the contract's
trade_id ("BINANCE-{t}") alone could repeat across symbols.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from harness.endpoints import Endpoints
from harness.probes import iceberg
from harness.probes.api import ApiProbe
from harness.workload.exchange import ExchangeControl

Key = tuple[str, str]


def key_of_payload(payload: dict[str, Any], exchange: str) -> Key:
    return payload["s"], f"{exchange}-{payload['t']}"


def emitted(exchange: ExchangeControl, symbols: Iterable[str], prefix: str) -> dict[Key, dict[str, str]]:
    """What the exchange sent: price and quantity strings exactly as on the wire."""
    return {
        key_of_payload(p, prefix): {"price": p["p"], "quantity": p["q"]} for s in symbols for p in exchange.emitted(s)
    }


def _decimal_text(value: Any) -> str:
    return f"{value:.8f}" if isinstance(value, Decimal) else str(value)


def committed(endpoints: Endpoints, table: str, row_filter: Any = None) -> list[tuple[Key, dict[str, str]]]:
    """Rows of the trades table, all or those matching the filter (duplicates kept, so checks
    can count them)."""
    rows = iceberg.rows(endpoints, table, columns=("symbol", "trade_id", "price", "quantity"), row_filter=row_filter)
    return [
        ((r["symbol"], r["trade_id"]), {"price": _decimal_text(r["price"]), "quantity": _decimal_text(r["quantity"])})
        for r in rows
    ]


def served(api: ApiProbe, symbols: Iterable[str], **filters: Any) -> list[tuple[Key, dict[str, str]]]:
    """Every trade the API serves for the symbols and filters (duplicates kept)."""
    return [
        ((t["symbol"], t["trade_id"]), {"price": t["price"], "quantity": t["quantity"]})
        for s in symbols
        for t in api.trades(s, **filters)
    ]
