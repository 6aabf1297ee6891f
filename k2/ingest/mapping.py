"""Binance trade payloads -> TradeV2 records (pure). Anything malformed raises MalformedFrame."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from random import getrandbits
from typing import Any

from k2.names import DEFAULT_EXCHANGE_NAME

QUOTE_ASSETS = (
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "USDP",
    "BTC",
    "ETH",
    "BNB",
    "EUR",
    "GBP",
    "AUD",
    "USD",
    "TRY",
    "ZAR",
    "UAH",
    "NGN",
)
# longest first, so BTCUSDT is quoted in USDT and not read as ...USD + T
_BY_LENGTH = sorted(QUOTE_ASSETS, key=len, reverse=True)
SCALE = Decimal("0.00000001")
MAX_DECIMAL = Decimal("9999999999.99999999")  # decimal(18,8)
REQUIRED = {"e": str, "E": int, "s": str, "t": int, "p": str, "q": str, "T": int, "m": bool}
# A Binance trade frame is some 200 bytes; anything near this is no trade, whatever it holds.
# (The WebSocket's own limit, far above, only guards the connection.)
MAX_TRADE_FRAME = 64 * 2**10
MAX_LONG = 2**63 - 1  # Avro long: trade ids, and times in microseconds


class MalformedFrame(ValueError):
    """A frame that is not a valid trade; the message is the reason put on the dead-letter topic."""


def split_symbol(symbol: str) -> tuple[str, str]:
    for quote in _BY_LENGTH:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise MalformedFrame(f"symbol {symbol!r} has no known quote asset")


class _NotFinite(ValueError):
    pass


def frame_size(frame: str | bytes, limit: int) -> int:
    """The frame's size in bytes, exactly up to `limit` (above it: some size over the limit)."""
    if isinstance(frame, bytes) or len(frame) > limit or len(frame) * 4 <= limit:
        return len(frame)  # text: at least one byte per character, at most four
    return len(frame.encode("utf-8", errors="surrogatepass"))


def _cut_short(exc: json.JSONDecodeError) -> bool:
    """The JSON was fine as far as it went, and then the text ended."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip())


def parse_frame(frame: str | bytes, max_bytes: int = MAX_TRADE_FRAME) -> dict[str, Any]:
    """The trade payload of a combined-stream frame or of a raw-stream frame (text, or a binary
    frame that holds UTF-8 text)."""
    size = frame_size(frame, max_bytes)
    if size > max_bytes:
        raise MalformedFrame(f"frame of {size} bytes is larger than {max_bytes} bytes, the most a trade frame may have")
    if isinstance(frame, bytes):
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedFrame(
                f"not valid UTF-8: byte {frame[exc.start]:#04x} at position {exc.start} ({exc.reason})"
            ) from None
    else:
        text = frame
    if not text.strip():
        raise MalformedFrame("empty frame")
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except _NotFinite as exc:
        raise MalformedFrame(f"not JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        if _cut_short(exc):
            raise MalformedFrame(
                f"truncated JSON: the text ends after {len(text)} characters, inside the JSON ({exc.msg})"
            ) from None
        raise MalformedFrame(f"not JSON: {exc}") from None
    except RecursionError:
        raise MalformedFrame("not JSON this ingest reads: nested too deeply") from None
    if not isinstance(parsed, dict):
        raise MalformedFrame(f"frame is a JSON {type(parsed).__name__}, not an object")
    if "stream" in parsed and "data" in parsed:
        data = parsed["data"]
        if not isinstance(data, dict):
            raise MalformedFrame("combined-stream frame whose data is not an object")
        return data
    return parsed


def _json_type(value: object) -> str:
    """What a parsed JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Decimal | float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _shown(value: object) -> str:
    if value is None:
        return ""
    return " " + (str(value) if isinstance(value, Decimal) else json.dumps(value))[:40]


def _reject_constant(name: str) -> Any:
    raise _NotFinite(f"bare {name} is no JSON number, and not finite")


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
    """The payload, checked: a trade event, right keys and types, ids and times a long holds, a
    subscribed symbol, positive exact decimals."""
    event = payload.get("e")
    if isinstance(event, str) and event != "trade":  # another event need not have a trade's keys
        raise MalformedFrame(f"event type {event[:40]!r} is not 'trade'")
    for key, kind in REQUIRED.items():
        if key not in payload:
            raise MalformedFrame(f"missing key {key!r}")
        value = payload[key]
        # bool is an int in Python: an id of True must not pass as 1
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise MalformedFrame(f"key {key!r} is {_json_type(value)}{_shown(value)}, expected {_json_type(kind())}")
    if payload["e"] != "trade":
        raise MalformedFrame(f"event type {payload['e']!r} is not 'trade'")
    if payload["t"] < 0:
        raise MalformedFrame(f"trade id {payload['t']} is negative")
    if payload["t"] > MAX_LONG:
        raise MalformedFrame(f"trade id {payload['t']} is out of range (above {MAX_LONG})")
    for key in ("E", "T"):
        if not 0 <= payload[key] <= MAX_LONG // 1000:
            raise MalformedFrame(f"time {key}={payload[key]} is out of range of milliseconds since 1970")
    if symbols is not None and payload["s"] not in symbols:
        raise MalformedFrame(f"symbol {payload['s']!r} is not subscribed")
    _decimal("p", payload["p"])
    _decimal("q", payload["q"])
    split_symbol(payload["s"])
    # Binance's futures streams send trade events too, numbered apart from spot's: one taken for a
    # spot trade would move the cursor past the spot trades to come. Spot frames carry the
    # best-match flag `M` and no order type `X`.
    if "X" in payload or not isinstance(payload.get("M"), bool):
        raise MalformedFrame(
            f"not a spot trade: a futures-style frame (order type X {payload.get('X', 'absent')!r}, "
            f"best-match flag M {payload.get('M', 'absent')!r})"
        )
    return payload


def message_id() -> str:
    """A random (version 4) UUID as text. uuid.uuid4() asks the kernel for 16 bytes every call,
    a system call per trade: 8 % of the ingest's CPU at 5,000 trades/s. The id only has to be
    unique, not unguessable, so the process's own generator (seeded from the kernel) does."""
    n = getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)  # version 4
    n = n & ~(0xC000 << 48) | (0x8000 << 48)  # the RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_trade_v2(
    payload: dict[str, Any], ingestion_micros: int, exchange: str = DEFAULT_EXCHANGE_NAME
) -> dict[str, Any]:
    """A validated Binance payload as a TradeV2 record (CONTRACT.md §4) of `exchange` (K2_EXCHANGE_NAME)."""
    base, quote = split_symbol(payload["s"])
    return {
        "message_id": message_id(),
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
            # only what the frame said: a frame without the flag claims no best match
            **({"is_best_match": str(payload["M"]).lower()} if "M" in payload else {}),
        },
    }


def from_rest(item: dict[str, Any], symbol: str) -> dict[str, Any]:
    """A /api/v3/historicalTrades item as the WebSocket trade payload it stands for."""
    try:
        return {
            "e": "trade",
            "E": item["time"],
            "s": symbol,
            "t": item["id"],
            "p": item["price"],
            "q": item["qty"],
            "T": item["time"],
            "m": item["isBuyerMaker"],
            "M": item.get("isBestMatch", True),
        }
    except (KeyError, TypeError) as exc:
        raise MalformedFrame(f"backfill item without {exc}") from None
