"""Deterministic trade generation and the Binance wire formats of a trade. Pure: no I/O, no clock.

For a seed, each symbol has its own random generator seeded from (seed, crc32(symbol)), so a
symbol's sequence of (id, price, quantity, buyer-is-maker) never depends on timing or on how
emits for different symbols interleave. Prices and quantities are Decimal end to end (a float
would not survive the decimal(18,8) round trip the pipeline is checked for).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, localcontext
from typing import Any

PLACES = 8
QUANTUM = Decimal(1).scaleb(-PLACES)  # 0.00000001, Binance's smallest step
# decimal(18,8) keeps 10 digits before the point: every price and quantity stays below this.
UPPER_BOUND = Decimal(10) ** 10
# Our own context: the process-wide decimal context could be changed by anyone; trapping
# Inexact turns any silent rounding in a product into an error instead of a wrong quoteQty.
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[Inexact])
_ROUND = Context(prec=60, rounding=ROUND_HALF_EVEN)

# Realistic price levels by base asset; any other symbol gets a level between 1 and 100.
_LEVELS = {"BTC": Decimal(60000), "ETH": Decimal(3000), "BNB": Decimal(600)}
# Largest notional of one trade, in quote currency: keeps quantities realistic for each level.
_MAX_NOTIONAL = Decimal(20000)
# The walk moves at most this many 1/100000 of the price per trade (±0.02 %).
_MAX_STEP = 20
# Every BOUNDARY_EVERY-th trade (the 5th, 15th, ... after a reseed) is a boundary case instead of
# a step of the walk, so that any flow of ten trades or more carries the values a pipeline most
# often gets wrong; the cases take turns.
BOUNDARY_EVERY = 10
SMALLEST = QUANTUM
LARGEST = Decimal("9999999999.99999999")  # the largest decimal(18,8)
BOUNDARY_CASES = (
    "smallest price",
    "largest price",
    "smallest quantity",
    "largest quantity",
    "whole numbers",
    "trailing zeros",
)


def first_trade_id(symbol: str) -> int:
    """Where a symbol's ids start: fixed per symbol, far apart, so ids of two symbols rarely meet."""
    return 1_000_000 * (1 + zlib.crc32(symbol.encode()) % 97)


def price_level(symbol: str) -> Decimal:
    for base, level in _LEVELS.items():
        if symbol.startswith(base):
            return level
    # 1.00 .. 99.99, fixed per symbol
    return Decimal(100 + (zlib.crc32(symbol.encode()) >> 8) % 9900).scaleb(-2)


def format_decimal(value: Decimal) -> str:
    """Binance's form: plain digits with exactly 8 decimal places ("0.00100000"). Refuses values
    that would need rounding, so a formatted number always equals the number."""
    return format(value.quantize(QUANTUM, context=_EXACT), "f")


def quote_qty(price: str, qty: str) -> str:
    """price × qty, exact (up to 16 decimal places), shown with at least 8 like Binance."""
    product = _EXACT.multiply(Decimal(price), Decimal(qty))
    whole, _, fraction = format(product, "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(PLACES, '0')}"


@dataclass(frozen=True, slots=True)
class Trade:
    """One generated trade before it is emitted: what is fixed by the seed."""

    symbol: str
    id: int
    price: str  # 8 decimal places
    qty: str  # 8 decimal places
    is_buyer_maker: bool


@dataclass(frozen=True, slots=True)
class EmittedTrade:
    """A trade as it went out: `time_ms` is when it was emitted (Binance's T and E)."""

    trade: Trade
    time_ms: int

    @property
    def id(self) -> int:
        return self.trade.id

    def payload(self) -> dict[str, Any]:
        t = self.trade
        return {
            "e": "trade",
            "E": self.time_ms,
            "s": t.symbol,
            "t": t.id,
            "p": t.price,
            "q": t.qty,
            "T": self.time_ms,
            "m": t.is_buyer_maker,
            "M": True,
        }

    def payload_json(self) -> str:
        """The payload as compact JSON text, built directly: it is made once per trade on the hot
        path, and every part is already a safe JSON literal (symbols are [A-Z0-9], numbers digits)."""
        t = self.trade
        maker = "true" if t.is_buyer_maker else "false"
        return (
            f'{{"e":"trade","E":{self.time_ms},"s":"{t.symbol}","t":{t.id},"p":"{t.price}",'
            f'"q":"{t.qty}","T":{self.time_ms},"m":{maker},"M":true}}'
        )

    def historical(self) -> dict[str, Any]:
        """The item of GET /api/v3/historicalTrades."""
        t = self.trade
        return {
            "id": t.id,
            "price": t.price,
            "qty": t.qty,
            "quoteQty": quote_qty(t.price, t.qty),
            "time": self.time_ms,
            "isBuyerMaker": t.is_buyer_maker,
            "isBestMatch": True,
        }


class SymbolMarket:
    """The endless, reproducible trade sequence of one symbol."""

    def __init__(self, seed: int, symbol: str, first_id: int | None = None) -> None:
        self.symbol = symbol
        self.next_id = first_trade_id(symbol) if first_id is None else first_id
        self.level = price_level(symbol)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Begin the sequence this seed gives, from the next trade id on: prices, quantities and
        sides replay exactly whatever was emitted before (ids and times move on)."""
        self._rng = random.Random((seed << 32) | zlib.crc32(self.symbol.encode()))
        self._n = 0  # trades since the reseed: where the boundary cases fall
        # start within ±0.5 % of the level, so two seeds differ from the first trade on
        with localcontext(_ROUND):
            start = self.level * (1 + Decimal(self._rng.randint(-500, 500)).scaleb(-5))
            self._price = start.quantize(QUANTUM)

    def next_trade(self) -> Trade:
        with localcontext(_ROUND):  # our arithmetic, whatever the caller's decimal context is
            if self._n % BOUNDARY_EVERY == BOUNDARY_EVERY // 2:
                price, qty = self._boundary(BOUNDARY_CASES[(self._n // BOUNDARY_EVERY) % len(BOUNDARY_CASES)])
            else:
                self._price = self._step(self._price)
                price, qty = self._price, self._quantity()
        trade = Trade(
            self.symbol, self.next_id, format_decimal(price), format_decimal(qty), self._rng.getrandbits(1) == 1
        )
        self.next_id += 1
        self._n += 1
        return trade

    def _boundary(self, case: str) -> tuple[Decimal, Decimal]:
        """A boundary case's (price, quantity); the walk's own price does not move."""
        if case == "smallest price":
            return SMALLEST, self._quantity()
        if case == "largest price":
            return LARGEST, SMALLEST
        if case == "smallest quantity":
            return self._price, SMALLEST
        if case == "largest quantity":
            return self._price.quantize(Decimal(1)), LARGEST
        if case == "whole numbers":
            return self._price.quantize(Decimal(1)), Decimal(1 + self._rng.randrange(9))
        # trailing zeros: one decimal in use of eight
        return self._price.quantize(Decimal("0.1")), Decimal(self._rng.randint(1, 9)).scaleb(-1)

    def take(self, n: int) -> list[Trade]:
        return [self.next_trade() for _ in range(n)]

    def _step(self, price: Decimal) -> Decimal:
        step = self._rng.randint(-_MAX_STEP, _MAX_STEP)
        # Pull back toward the level when the walk strays beyond ±50 %: prices stay realistic
        # (and far from 0 and from the decimal(18,8) limit) however long a run is.
        if price > self.level * Decimal("1.5"):
            step = -abs(step) or -1
        elif price < self.level * Decimal("0.5"):
            step = abs(step) or 1
        moved = (price * (1 + Decimal(step).scaleb(-5))).quantize(QUANTUM)
        return max(moved, QUANTUM)

    def _quantity(self) -> Decimal:
        # Most trades have a quantity with all 8 decimals in use (the hardest case for exact
        # decimals downstream); the rest are round lots like 0.00100000, as on a real book.
        max_units = max(1, int(_MAX_NOTIONAL / self._price * 10**PLACES))
        if self._rng.randrange(10) < 7:
            units = self._rng.randint(1, max_units)
        else:
            lot = 10 ** self._rng.randint(3, 6)
            units = lot * self._rng.randint(1, max(1, min(50, max_units // lot)))
        return Decimal(units).scaleb(-PLACES)
