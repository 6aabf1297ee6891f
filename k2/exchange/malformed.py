"""Frames that look like feed traffic but are not valid trades, for checking that a client sends
them to its dead-letter path and keeps flowing. Pure and deterministic: frame n of a kind is
always the same text. None of them carries a real trade id (they use 0 or none at all), so a
client that wrongly accepts one produces a trade the workload never emitted."""

from __future__ import annotations

import json
from typing import Any

from k2.exchange.validation import MALFORMED_KINDS

# Prices no decimal(18,8) column can hold or that are no price at all.
_BAD_PRICES = ("abc", "-1.00000000", "NaN", "1e400", "0.000000001", "", "12345678901.00000000")


def kind_of(n: int, kind: str | None) -> str:
    """The kind of the n-th frame of a request: the one asked for, or every kind in turn."""
    return kind if kind is not None else MALFORMED_KINDS[n % len(MALFORMED_KINDS)]


def _sample(symbol: str, time_ms: int) -> dict[str, Any]:
    return {"e": "trade", "E": time_ms, "s": symbol, "t": 0, "p": "1.00000000", "q": "1.00000000",
            "T": time_ms, "m": False, "M": True}


def _data(kind: str, n: int, symbol: str, time_ms: int) -> dict[str, Any]:
    data = _sample(symbol, time_ms)
    if kind == "missing_keys":
        for key in ("t", "p", "q"):
            del data[key]
    elif kind == "wrong_types":
        data.update({"t": "zero", "p": 1.5, "q": None, "T": "now", "m": "yes"})
    elif kind == "bad_price":
        data["p"] = _BAD_PRICES[n % len(_BAD_PRICES)]
    elif kind == "unknown_event":
        data = {"e": "mysteryEvent", "E": time_ms, "s": symbol, "x": [1, 2, 3]}
    return data


def malformed_frame(kind: str, n: int, symbol: str, combined: bool, time_ms: int) -> str:
    """The n-th malformed frame of `kind` for a client of `symbol`'s stream. On the combined
    stream the JSON kinds are wrapped like any frame, so only the data inside is wrong."""
    if kind not in MALFORMED_KINDS:
        raise ValueError(f"unknown malformed kind {kind!r}")
    if kind == "not_json":
        return f"this is not JSON #{n} {{trade"
    data = _sample(symbol, time_ms) if kind == "truncated" else _data(kind, n, symbol, time_ms)
    obj: dict[str, Any] = {"stream": f"{symbol.lower()}@trade", "data": data} if combined else data
    text = json.dumps(obj, separators=(",", ":"))
    # a frame cut in the middle, as a broken proxy might deliver it
    return text[: len(text) // 2] if kind == "truncated" else text
