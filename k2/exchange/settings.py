"""The exchange simulator's settings, read once from the environment (docs/settings.md lists them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

from k2.exchange.validation import SYMBOL_PATTERN
from k2.settings import K2Settings, SettingsError, split_list, var

DEFAULT_SYMBOLS = "BTCUSDT,ETHUSDT,BNBUSDT"


def _symbols(value: Any) -> Any:
    items = split_list(value)
    if isinstance(items, tuple):
        for symbol in items:
            if not SYMBOL_PATTERN.fullmatch(symbol):
                raise SettingsError(
                    f"K2_EXCHANGE_SYMBOLS has {symbol!r}, not an upper-case symbol of 5 to 20 "
                    f"letters or digits; e.g. K2_EXCHANGE_SYMBOLS={DEFAULT_SYMBOLS}"
                )
        return tuple(dict.fromkeys(items))  # drop repeats, keep the order given
    return items


def _steady(value: Any) -> Any:
    return parse_steady(value) if isinstance(value, str) else value


class ExchangeSettings(K2Settings):
    host: str = var("K2_EXCHANGE_HOST", "127.0.0.1", "bind address")
    port: int = var("K2_EXCHANGE_PORT", 18765, "port", ge=1, le=65535)
    seed: int = var("K2_EXCHANGE_SEED", 1, "same seed, same trades per symbol", ge=0)
    symbols: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_symbols)] = var(
        "K2_EXCHANGE_SYMBOLS", DEFAULT_SYMBOLS, "symbols known before any emit, comma-separated"
    )
    ping_interval_s: int = var("K2_EXCHANGE_PING_INTERVAL_S", 20, "server WebSocket pings, like Binance's", ge=1)
    client_queue: int = var(
        "K2_EXCHANGE_CLIENT_QUEUE", 100_000, "frames a client may lag behind before it is dropped", ge=1
    )
    state_file: Path | None = var(
        "K2_EXCHANGE_STATE_FILE", None, "where trade ids continue after a restart (none: they start again)"
    )
    steady: Annotated[tuple[tuple[str, float], ...], NoDecode, BeforeValidator(_steady)] = var(
        "K2_EXCHANGE_STEADY",
        "",
        "symbols that trade on their own, as a real exchange's do: SYMBOL:TRADES_PER_S[,...]",
        example="SOLUSDT:20",
    )
    """Symbols that trade on their own, and at what rate (trades per second)."""


def parse_steady(raw: str) -> tuple[tuple[str, float], ...]:
    """K2_EXCHANGE_STEADY: SYMBOL:TRADES_PER_S pairs, comma-separated (empty: none)."""
    out = []
    for item in (i.strip() for i in raw.split(",") if i.strip()):
        symbol, _, rate = item.partition(":")
        try:
            per_s = float(rate)
        except ValueError:
            per_s = 0.0
        if not SYMBOL_PATTERN.fullmatch(symbol) or not 0 < per_s <= 1000:
            raise SettingsError(
                f"K2_EXCHANGE_STEADY has {item!r}, not SYMBOL:TRADES_PER_S with a rate above 0 "
                f"and at most 1000; e.g. K2_EXCHANGE_STEADY=SOLUSDT:20"
            )
        out.append((symbol, per_s))
    return tuple(out)
