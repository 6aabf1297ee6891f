"""Binance trade payloads -> TradeV2 records (pure). Anything malformed raises MalformedFrame."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

QUOTE_ASSETS = ("USDT", "USDC", "BUSD", "TUSD", "USDP", "BTC", "ETH", "BNB", "EUR", "GBP", "AUD", "USD",
                "TRY", "ZAR", "UAH", "NGN")
# longest first, so BTCUSDT is quoted in USDT and not read as ...USD + T
_BY_LENGTH = sorted(QUOTE_ASSETS, key=len, reverse=True)
SCALE = Decimal("0.00000001")
MAX_DECIMAL = Decimal("9999999999.99999999")  # decimal(18,8)
REQUIRED = {"e": str, "E": int, "s": str, "t": int, "p": str, "q": str, "T": int, "m": bool}


class MalformedFrame(ValueError):
    """A frame that is not a valid trade; the message is the reason put on the dead-letter topic."""


def split_symbol(symbol: str) -> tuple[str, str]:
    for quote in _BY_LENGTH:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise MalformedFrame(f"symbol {symbol!r} has no known quote asset")


def parse_frame(text: str | bytes) -> dict[str, Any]:
    """The trade payload of a combined-stream frame or of a raw-stream frame."""
    try:
        frame = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFrame(f"not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise MalformedFrame(f"frame is a JSON {type(frame).__name__}, not an object")
    if "stream" in frame and "data" in frame:
        frame = frame["data"]
        if not isinstance(frame, dict):
            raise MalformedFrame("combined-stream frame whose data is not an object")
    return frame


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _decimal(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise MalformedFrame(f"{name}={raw[:40]!r} is not a decimal") from None
    if not value.is_finite():
        raise MalformedFrame(f"{name}={raw[:40]!r} is not finite")
    if value <= 0:
        raise MalformedFrame(f"{name}={raw[:40]!r} is not positive")
    # magnitude first: quantizing a huge value (1e400) overflows the context and raises
    if value > MAX_DECIMAL:
        raise MalformedFrame(f"{name}={raw[:40]!r} does not fit decimal(18,8)")
    if value.quantize(SCALE) != value:
        raise MalformedFrame(f"{name}={raw[:40]!r} has more than 8 decimal places")
    return value.quantize(SCALE)


def validate(payload: dict[str, Any], symbols: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The payload, checked: right keys and types, a trade event, positive exact decimals."""
    for key, kind in REQUIRED.items():
        if key not in payload:
            raise MalformedFrame(f"missing key {key!r}")
        value = payload[key]
        # bool is an int in Python: an id of True must not pass as 1
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise MalformedFrame(f"key {key!r} is {type(value).__name__}, expected {kind.__name__}")
    if payload["e"] != "trade":
        raise MalformedFrame(f"event type {payload['e']!r} is not 'trade'")
    if payload["t"] < 0:
        raise MalformedFrame(f"trade id {payload['t']} is negative")
    if symbols is not None and payload["s"] not in symbols:
        raise MalformedFrame(f"symbol {payload['s']!r} is not subscribed")
    _decimal("p", payload["p"])
    _decimal("q", payload["q"])
    split_symbol(payload["s"])
    return payload


def to_trade_v2(payload: dict[str, Any], ingestion_micros: int, exchange: str = "BINANCE") -> dict[str, Any]:
    """A validated Binance payload as a TradeV2 record (CONTRACT.md §4)."""
    base, quote = split_symbol(payload["s"])
    return {
        "message_id": str(uuid.uuid4()),
        "trade_id": f"{exchange}-{payload['t']}",
        "symbol": payload["s"],
        "exchange": exchange,
        "asset_class": "crypto",
        "timestamp": payload["T"] * 1000,
        "price": _decimal("p", payload["p"]),
        "quantity": _decimal("q", payload["q"]),
        "currency": quote,
        "side": "SELL" if payload["m"] else "BUY",
        "trade_conditions": [],
        "source_sequence": payload["t"],
        "ingestion_timestamp": ingestion_micros,
        "platform_sequence": None,
        "vendor_data": {
            "is_buyer_maker": str(payload["m"]).lower(),
            "event_type": payload["e"],
            "event_time": str(payload["E"]),
            "trade_time": str(payload["T"]),
            "base_asset": base,
            "quote_asset": quote,
            "is_best_match": str(payload.get("M", True)).lower(),
        },
    }


def from_rest(item: dict[str, Any], symbol: str) -> dict[str, Any]:
    """A /api/v3/historicalTrades item as the WebSocket trade payload it stands for."""
    try:
        return {"e": "trade", "E": item["time"], "s": symbol, "t": item["id"], "p": item["price"],
                "q": item["qty"], "T": item["time"], "m": item["isBuyerMaker"], "M": item.get("isBestMatch", True)}
    except (KeyError, TypeError) as exc:
        raise MalformedFrame(f"backfill item without {exc}") from None
