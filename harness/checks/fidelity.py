"""Is each served trade what the exchange sent, in the contract's form? Pure.

The contract fixes how the API writes what the exchange sent: `BINANCE-{t}` ids, decimals as
fixed-point text with exactly 8 places ("0.00000001", never "1E-8" or a JSON number), trade
times as ISO-8601 UTC with 6 fraction digits and "Z", the quote asset from the symbol's suffix.
Values are compared as the text served, so a number that is equal but written otherwise fails.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from harness.checks.verdict import EXAMPLES, Verdict, field_differences

K = TypeVar("K", bound=Hashable)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# CONTRACT.md §4: the quote assets, longest first so that BTCUSDT is quoted in USDT, not USD
QUOTE_ASSETS = sorted(
    (
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
    ),
    key=len,
    reverse=True,
)
FIELDS = (
    "trade_id",
    "symbol",
    "exchange",
    "asset_class",
    "timestamp",
    "price",
    "quantity",
    "currency",
    "side",
    "trade_conditions",
    "source_sequence",
)
"""The served fields that follow from the exchange's frame alone (message_id, ingestion time,
platform sequence and vendor data are the platform's own)."""


def fixed8(text: str) -> str:
    """The contract's text of a decimal the exchange sent: fixed-point, exactly 8 places."""
    try:
        return format(Decimal(text).quantize(Decimal("0.00000001")), "f")
    except InvalidOperation:
        return text  # not a number: shown as sent, and it will not match


def iso_micros(micros: int) -> str:
    return (EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quote_asset(symbol: str) -> str | None:
    return next((q for q in QUOTE_ASSETS if symbol.endswith(q) and len(symbol) > len(q)), None)


def expected_trade(payload: Mapping[str, Any], exchange: str, asset_class: str) -> dict[str, Any]:
    """What the API must serve for a Binance trade payload (the fields in FIELDS)."""
    return {
        "trade_id": f"{exchange}-{payload['t']}",
        "symbol": payload["s"],
        "exchange": exchange,
        "asset_class": asset_class,
        "timestamp": iso_micros(payload["T"] * 1000),
        "price": fixed8(payload["p"]),
        "quantity": fixed8(payload["q"]),
        "currency": quote_asset(payload["s"]),
        "side": "SELL" if payload["m"] else "BUY",
        "trade_conditions": [],
        "source_sequence": payload["t"],
    }


def served_trade(trade: Mapping[str, Any]) -> dict[str, Any]:
    """The served trade's FIELDS, as served (a missing field is None)."""
    return {f: trade.get(f) for f in FIELDS}


def served_as_sent(
    expected: Mapping[K, Mapping[str, Any]],
    served: Mapping[K, Mapping[str, Any]],
    path: Callable[[K], str] = lambda _: "",
) -> Verdict:
    """Every expected trade that is served equals its expectation field by field, as text. A
    mismatch names the path the trade came by, when `path` knows it ("by backfill"). Comparing
    nothing is a failure: "compared 0" means that none of the trades was served."""
    compared, mismatched = field_differences(expected, served, strict_types=True, label=path)
    counts = {"expected": len(expected), "compared": compared, "mismatched": len(mismatched)}
    return Verdict(
        "served trades equal what the exchange sent",
        compared > 0 and not mismatched,
        counts,
        mismatched=mismatched[:EXAMPLES],
    )
