"""The exchange simulator's settings, read once from the environment.

K2_EXCHANGE_HOST             default 127.0.0.1
K2_EXCHANGE_PORT             default 18765
K2_EXCHANGE_SEED             default 1 (same seed, same trades per symbol)
K2_EXCHANGE_SYMBOLS          default BTCUSDT,ETHUSDT,BNBUSDT (known before any emit)
K2_EXCHANGE_PING_INTERVAL_S  default 20 (server WebSocket pings, like Binance)
K2_EXCHANGE_CLIENT_QUEUE     default 100000 frames a client may lag behind before it is dropped
K2_EXCHANGE_STATE_FILE       default none: where trade ids continue after a restart (see ledger.py)
K2_EXCHANGE_STEADY           default none: symbols that trade on their own, as a real exchange's do,
                             SYMBOL:TRADES_PER_S[,...], e.g. SOLUSDT:20
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k2.exchange.validation import SYMBOL_PATTERN
from k2.settings import SettingsError, env_int, env_list, env_str

ENV_VARS = {
    "K2_EXCHANGE_HOST": "127.0.0.1",
    "K2_EXCHANGE_PORT": "18765",
    "K2_EXCHANGE_SEED": "1",
    "K2_EXCHANGE_SYMBOLS": "BTCUSDT,ETHUSDT,BNBUSDT",
    "K2_EXCHANGE_PING_INTERVAL_S": "20",
    "K2_EXCHANGE_CLIENT_QUEUE": "100000",
    "K2_EXCHANGE_STATE_FILE": "",
    "K2_EXCHANGE_STEADY": "",
}


@dataclass(frozen=True)
class ExchangeSettings:
    host: str
    port: int
    seed: int
    symbols: tuple[str, ...]
    ping_interval_s: int
    client_queue: int
    state_file: Path | None = None
    steady: tuple[tuple[str, float], ...] = ()
    """Symbols that trade on their own, and at what rate (trades per second)."""

    @staticmethod
    def from_env(env: Mapping[str, str]) -> ExchangeSettings:
        port = env_int(env, "K2_EXCHANGE_PORT", int(ENV_VARS["K2_EXCHANGE_PORT"]), minimum=1)
        if port > 65535:
            raise SettingsError(f"K2_EXCHANGE_PORT={port} is above 65535")
        symbols = env_list(env, "K2_EXCHANGE_SYMBOLS", ENV_VARS["K2_EXCHANGE_SYMBOLS"])
        for symbol in symbols:
            if not SYMBOL_PATTERN.fullmatch(symbol):
                raise SettingsError(
                    f"K2_EXCHANGE_SYMBOLS has {symbol!r}, not an upper-case symbol of 5 to 20 "
                    f"letters or digits; e.g. K2_EXCHANGE_SYMBOLS={ENV_VARS['K2_EXCHANGE_SYMBOLS']}"
                )
        return ExchangeSettings(
            host=env_str(env, "K2_EXCHANGE_HOST", ENV_VARS["K2_EXCHANGE_HOST"]),
            port=port,
            seed=env_int(env, "K2_EXCHANGE_SEED", int(ENV_VARS["K2_EXCHANGE_SEED"]), minimum=0),
            symbols=tuple(dict.fromkeys(symbols)),  # drop repeats, keep the order given
            ping_interval_s=env_int(
                env, "K2_EXCHANGE_PING_INTERVAL_S", int(ENV_VARS["K2_EXCHANGE_PING_INTERVAL_S"]), minimum=1
            ),
            client_queue=env_int(env, "K2_EXCHANGE_CLIENT_QUEUE", int(ENV_VARS["K2_EXCHANGE_CLIENT_QUEUE"]), minimum=1),
            state_file=Path(env["K2_EXCHANGE_STATE_FILE"]) if env.get("K2_EXCHANGE_STATE_FILE") else None,
            steady=parse_steady(env.get("K2_EXCHANGE_STEADY", "")),
        )


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
