"""Checking what clients send (stream names, query parameters, control bodies). Pure: each
problem raises InvalidRequest naming the field, which the app turns into 400/422 or close 1008."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

SYMBOL_PATTERN = re.compile(r"[A-Z0-9]{5,20}")
STREAM_PATTERN = re.compile(r"([a-z0-9]{5,20})@trade")
ID_PATTERN = re.compile(r"[0-9]{1,20}")
MAX_EMIT_COUNT = 1_000_000
MAX_EMIT_RATE = 100_000
MAX_MALFORMED_COUNT = 10_000
MAX_STREAMS = 1024  # Binance's limit of streams on one connection
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
# Frames that are no valid trade: a client must set each aside (dead-letter it) with a reason.
# Without a kind, a request cycles through these in this order.
MALFORMED_KINDS = (
    "not_json",
    "truncated",
    "missing_keys",
    "wrong_types",
    "bad_price",
    "unknown_event",
    "invalid_utf8",
    "oversized",
    "not_positive",
    "too_many_decimals",
    "not_finite",
    "unknown_symbol",
    "futures_trade",
)
# Real trades already sent on the stream, sent again: a client must skip each as a repeat of a
# trade id it has (duplicate_id: the latest trade again; backwards_id: an earlier one again).
# Only on request, never in the cycle: they are no malformed frames.
REPLAY_KINDS = ("duplicate_id", "backwards_id")
FRAME_KINDS = (*MALFORMED_KINDS, *REPLAY_KINDS)
DISCONNECT_MODES = ("clean", "abrupt")


class InvalidRequest(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EmitRequest:
    symbol: str
    count: int
    rate: float  # trades per second; pacing only, never a price, so a float is fine
    seed: int | None = None  # given: this emission's trades replay exactly for the same seed


@dataclass(frozen=True)
class MalformedRequest:
    count: int
    kind: str | None  # None: cycle through every malformed kind
    symbol: str | None = None  # only clients of this symbol, with frames of it; None: each client's first


@dataclass(frozen=True)
class RateLimitRequest:
    seconds: int
    retry_after_s: int
    ban_after: int
    ban_s: int


@dataclass(frozen=True)
class HistoryQuery:
    symbol: str
    from_id: int | None
    limit: int


def parse_streams(spec: str | None) -> tuple[str, ...]:
    """'btcusdt@trade/ethusdt@trade' -> ('BTCUSDT', 'ETHUSDT'). Only trade streams exist here."""
    if not spec:
        raise InvalidRequest("streams", "no stream given; e.g. streams=btcusdt@trade")
    names = spec.split("/")
    if len(names) > MAX_STREAMS:
        raise InvalidRequest("streams", f"too many streams ({len(names)}); at most {MAX_STREAMS}")
    symbols: list[str] = []
    for name in names:
        match = STREAM_PATTERN.fullmatch(name)
        if match is None:
            raise InvalidRequest("streams", f"invalid stream name {name[:40]!r}; expected <symbol>@trade")
        symbols.append(match.group(1).upper())
    return tuple(dict.fromkeys(symbols))


def parse_symbol(value: object, field: str = "symbol") -> str:
    if not isinstance(value, str) or not SYMBOL_PATTERN.fullmatch(value):
        raise InvalidRequest(
            field, f"{field} must be 5 to 20 upper-case letters or digits, like BTCUSDT; got {value!r}"
        )
    return value


def _body(body: object, allowed: tuple[str, ...]) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise InvalidRequest("body", "the body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(unknown[0], f"unknown field {unknown[0]!r}; expected {', '.join(allowed)}")
    return body


def _whole(body: Mapping[str, object], field: str, low: int, high: int, default: int | None = None) -> int:
    value = body.get(field, default)
    # bool is an int in Python but `true` is no count
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequest(field, f"{field} must be a whole number from {low} to {high}; got {value!r}")
    return value


def parse_emit(body: object) -> EmitRequest:
    fields = _body(body, ("symbol", "count", "rate", "seed"))
    if "symbol" not in fields:
        raise InvalidRequest("symbol", "symbol is required, like BTCUSDT")
    symbol = parse_symbol(fields["symbol"])
    count = _whole(fields, "count", 1, MAX_EMIT_COUNT)
    rate = fields.get("rate")
    if (
        not isinstance(rate, int | float)
        or isinstance(rate, bool)
        or not math.isfinite(rate)
        or not 0 < rate <= MAX_EMIT_RATE
    ):
        raise InvalidRequest(
            "rate", f"rate must be a number of trades per second above 0 and at most {MAX_EMIT_RATE}; got {rate!r}"
        )
    seed = fields.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31):
        raise InvalidRequest("seed", f"seed must be a whole number from 0 to {2**31 - 1}; got {seed!r}")
    return EmitRequest(symbol, count, float(rate), seed)


def parse_malformed(body: object) -> MalformedRequest:
    fields = _body(body, ("count", "kind", "symbol"))
    count = _whole(fields, "count", 1, MAX_MALFORMED_COUNT, default=1)
    kind = fields.get("kind")
    if kind is not None and kind not in FRAME_KINDS:
        raise InvalidRequest("kind", f"kind must be one of {', '.join(FRAME_KINDS)}; got {kind!r}")
    symbol = fields.get("symbol")
    return MalformedRequest(count, kind, None if symbol is None else parse_symbol(symbol))


def parse_rate_limit(body: object) -> RateLimitRequest:
    fields = _body(body, ("seconds", "retry_after_s", "ban_after", "ban_s"))
    if "seconds" not in fields:
        raise InvalidRequest("seconds", "seconds is required: how long the history refuses requests (0 lifts it)")
    return RateLimitRequest(
        _whole(fields, "seconds", 0, 86400),
        _whole(fields, "retry_after_s", 1, 3600, default=1),
        _whole(fields, "ban_after", 1, 1000, default=3),
        _whole(fields, "ban_s", 1, 86400, default=10),
    )


def parse_disconnect(body: object) -> str:
    fields = _body(body, ("mode",))
    mode = fields.get("mode", "clean")
    if not isinstance(mode, str) or mode not in DISCONNECT_MODES:
        raise InvalidRequest("mode", f"mode must be one of {', '.join(DISCONNECT_MODES)}; got {mode!r}")
    return mode


def parse_from_id(value: str | None) -> int | None:
    if value is None:
        return None
    if not ID_PATTERN.fullmatch(value):
        raise InvalidRequest(
            "fromId", f"Illegal characters found in parameter 'fromId'; legal range is '{ID_PATTERN.pattern}'."
        )
    return int(value)


def parse_history(params: Mapping[str, str]) -> HistoryQuery:
    """The query of GET /api/v3/historicalTrades, with Binance's wording for the problems."""
    symbol = params.get("symbol")
    if not symbol:
        raise InvalidRequest("symbol", "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise InvalidRequest(
            "symbol", f"Illegal characters found in parameter 'symbol'; legal range is '^{SYMBOL_PATTERN.pattern}$'."
        )
    raw_limit = params.get("limit")
    if raw_limit is None:
        limit = DEFAULT_LIMIT
    elif not ID_PATTERN.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidRequest(
            "limit", f"Parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}; got {raw_limit[:40]!r}."
        )
    else:
        limit = int(raw_limit)
    return HistoryQuery(symbol, parse_from_id(params.get("fromId")), limit)
