"""Frames that look like feed traffic but are not valid trades, and replays of real trades, for
checking that a client sets the first aside (its dead-letter path) and skips the second, and
keeps flowing. Pure and deterministic: frame n of a kind is always the same text (or bytes).

Every malformed frame starts with a tag, `malformed:<kind>`, in its first bytes (a `probe` key
of the JSON ones, leading words of the others), so whoever reads a client's dead letters can
tell which kind each one was, even from a copy cut after its first kilobytes. None of them
carries a real trade id (they use 0 or none at all), so a client that wrongly accepts one
produces a trade the workload never emitted.

Replays (duplicate_id, backwards_id) are the very frames of trades the client was already sent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from k2.exchange.hub import Frame, trade_frame
from k2.exchange.market import EmittedTrade
from k2.exchange.validation import MALFORMED_KINDS, REPLAY_KINDS

# Prices no decimal(18,8) column can hold or that are no number at all.
_BAD_PRICES = ("abc", "", "1e400", "12345678901.00000000", "1.2.3", "0x10")
# (key, value): zero or negative, for the price and the quantity in turn
_NOT_POSITIVE = (("p", "0.00000000"), ("q", "-1.00000000"), ("p", "-0.00000001"), ("q", "0"), ("p", "-60000.5"))
# (key, value): more than the 8 decimal places of Binance and of decimal(18,8)
_TOO_MANY_DECIMALS = (("p", "1.123456789"), ("q", "0.000000001"), ("p", "60000.000000001"), ("q", "2.1234567891234"))
# (key, value): not finite; a float is a bare JSON constant (NaN, Infinity), which JSON does not allow
_NOT_FINITE: tuple[tuple[str, str | float], ...] = (
    ("p", "NaN"),
    ("q", "Infinity"),
    ("p", "-Infinity"),
    ("p", float("nan")),
    ("q", float("inf")),
)
# one wrong type at a time: a word for the id, a number for the price, null, a word for a time
_WRONG_TYPES: tuple[tuple[str, Any], ...] = (
    ("t", "abc"),
    ("p", 1.5),
    ("q", None),
    ("T", "now"),
    ("m", "yes"),
    ("E", [1]),
)
_MISSING_KEYS = (("t",), ("p",), ("q",), ("t", "p", "q"), ("T", "m"))
_OTHER_EVENTS = ("aggTrade", "kline", "depthUpdate", "mysteryEvent")
# byte sequences no UTF-8 decoder accepts: a lone 0xFF, a broken 2-byte sequence, an encoded
# surrogate, a sequence cut short, an old 5-byte form
_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80")
_UNKNOWN_SYMBOLS = ("DOGEUSDT", "SHIBUSDT", "PEPEUSDT")
# Binance's futures trade streams number their trades apart from spot's: an id far past any spot
# id, so a client that takes one for a spot trade moves its cursor past the spot trades to come.
FUTURES_ID_BASE = 9_000_000_000
OVERSIZED_BYTES = 4 * 2**20  # 4 MiB: Binance trade frames are some 200 bytes


def kind_of(n: int, kind: str | None) -> str:
    """The kind of the n-th frame of a request: the one asked for, or every malformed kind in turn."""
    return kind if kind is not None else MALFORMED_KINDS[n % len(MALFORMED_KINDS)]


def tag(kind: str) -> str:
    return f"malformed:{kind}"


def _sample(symbol: str, time_ms: int) -> dict[str, Any]:
    return {
        "e": "trade",
        "E": time_ms,
        "s": symbol,
        "t": 0,
        "p": "1.00000000",
        "q": "1.00000000",
        "T": time_ms,
        "m": False,
        "M": True,
    }


def unknown_symbol(subscribed: Sequence[str]) -> str:
    """A well-formed symbol none of `subscribed` is."""
    return next(s for s in _UNKNOWN_SYMBOLS if s not in subscribed)


def _data(kind: str, n: int, symbol: str, time_ms: int) -> dict[str, Any]:
    data = _sample(symbol, time_ms)
    if kind == "missing_keys":
        for key in _MISSING_KEYS[n % len(_MISSING_KEYS)]:
            del data[key]
    elif kind == "wrong_types":
        key, value = _WRONG_TYPES[n % len(_WRONG_TYPES)]
        data[key] = value
    elif kind == "bad_price":
        data["p"] = _BAD_PRICES[n % len(_BAD_PRICES)]
    elif kind == "not_positive":
        key, value = _NOT_POSITIVE[n % len(_NOT_POSITIVE)]
        data[key] = value
    elif kind == "too_many_decimals":
        key, value = _TOO_MANY_DECIMALS[n % len(_TOO_MANY_DECIMALS)]
        data[key] = value
    elif kind == "not_finite":
        key, constant = _NOT_FINITE[n % len(_NOT_FINITE)]
        data[key] = constant
    elif kind == "unknown_event":
        data = {"e": _OTHER_EVENTS[n % len(_OTHER_EVENTS)], "E": time_ms, "s": symbol, "x": [1, 2, 3]}
    elif kind == "futures_trade":
        # a futures trade frame: an order type `X`, no best-match flag `M`, its own id sequence
        del data["M"]
        data["X"] = "MARKET"
        data["t"] = FUTURES_ID_BASE + n
    return data


def _json(kind: str, symbol: str, combined: bool, data: dict[str, Any]) -> str:
    """The frame's JSON: the tag first, then the payload, wrapped on the combined stream."""
    obj: dict[str, Any] = (
        {"probe": tag(kind), "stream": f"{symbol.lower()}@trade", "data": data}
        if combined
        else {"probe": tag(kind), **data}
    )
    # allow_nan: the not_finite kind writes NaN and Infinity as bare constants, on purpose
    return json.dumps(obj, separators=(",", ":"), allow_nan=True)


@functools.lru_cache(maxsize=4)
def _oversized(symbol: str, combined: bool, time_ms: int) -> str:
    """A trade-shaped frame of exactly OVERSIZED_BYTES, padded inside its data. Cached: a request
    for many of them queues one 4 MiB string many times, not many strings."""
    data = {**_sample(symbol, time_ms), "padding": ""}
    size = len(_json("oversized", symbol, combined, data))
    data["padding"] = "0" * (OVERSIZED_BYTES - size)
    return _json("oversized", symbol, combined, data)


def malformed_frame(
    kind: str, n: int, symbol: str, combined: bool, time_ms: int, subscribed: Sequence[str] = ()
) -> Frame:
    """The n-th malformed frame of `kind` for a client of `symbol`'s stream (that subscribed to
    `subscribed`). On the combined stream the JSON kinds are wrapped like any frame, so only the
    data inside is wrong. invalid_utf8 is the only binary frame (a text frame must be UTF-8)."""
    if kind not in MALFORMED_KINDS:
        raise ValueError(f"unknown malformed kind {kind!r}")
    if kind == "not_json":
        return f"{tag(kind)} #{n}: this is not JSON {{trade"
    if kind == "oversized":
        return _oversized(symbol, combined, time_ms)
    if kind == "invalid_utf8":
        # the symbol with bytes in it that are no UTF-8: put in as ASCII, then swapped for them
        text = _json(kind, symbol, combined, _sample(f"{symbol}~BAD~", time_ms))
        return text.encode().replace(b"~BAD~", _INVALID_UTF8[n % len(_INVALID_UTF8)])
    if kind == "unknown_symbol":
        other = unknown_symbol((symbol, *subscribed))
        return _json(kind, other, combined, _sample(other, time_ms))
    data = _sample(symbol, time_ms) if kind == "truncated" else _data(kind, n, symbol, time_ms)
    text = _json(kind, symbol, combined, data)
    # a frame cut in the middle, as a broken proxy might deliver it
    return text[: len(text) // 2 + n % 7] if kind == "truncated" else text


def replay_frame(kind: str, n: int, offered: Sequence[EmittedTrade], combined: bool) -> str | None:
    """The n-th replay of `kind` among the trades a client was sent of one symbol (`offered`,
    ascending ids): duplicate_id sends the latest again, backwards_id an earlier one (the one
    before the latest, then the one before that, ...). None when there is nothing to replay."""
    if kind not in REPLAY_KINDS:
        raise ValueError(f"unknown replay kind {kind!r}")
    if kind == "duplicate_id":
        return trade_frame(offered[-1], combined) if offered else None
    if len(offered) < 2:
        return None
    earlier = offered[:-1]
    return trade_frame(earlier[-1 - n % len(earlier)], combined)
