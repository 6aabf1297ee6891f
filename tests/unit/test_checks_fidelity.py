"""Served trades against what the exchange sent, as the contract's text."""

from __future__ import annotations

from typing import Any

from harness.checks.fidelity import expected_trade, fixed8, iso_micros, quote_asset, served_as_sent, served_trade

PAYLOAD = {
    "e": "trade",
    "E": 1_700_000_000_123,
    "s": "BTCUSDT",
    "t": 42,
    "p": "0.00000001",
    "q": "12.50000000",
    "T": 1_700_000_000_123,
    "m": True,
    "M": True,
}
KEY = ("BTCUSDT", "BINANCE-42")


def served(**changes: Any) -> dict[str, Any]:
    trade = {
        "message_id": "m",
        "trade_id": "BINANCE-42",
        "symbol": "BTCUSDT",
        "exchange": "BINANCE",
        "asset_class": "crypto",
        "timestamp": "2023-11-14T22:13:20.123000Z",
        "price": "0.00000001",
        "quantity": "12.50000000",
        "currency": "USDT",
        "side": "SELL",
        "trade_conditions": [],
        "source_sequence": 42,
        "ingestion_timestamp": "x",
        "platform_sequence": None,
        "vendor_data": None,
    }
    return served_trade({**trade, **changes})


def verdict(**changes: Any) -> Any:
    return served_as_sent(
        {KEY: expected_trade(PAYLOAD, "BINANCE", "crypto")}, {KEY: served(**changes)}, lambda key: "by the stream"
    )


def test_a_trade_served_as_sent_holds() -> None:
    assert verdict().valid
    assert verdict().counts == {"expected": 1, "compared": 1, "mismatched": 0}


def test_scientific_notation_or_a_json_number_for_a_decimal_is_a_mismatch() -> None:
    assert verdict(price="1E-8").mismatched == [
        "('BTCUSDT', 'BINANCE-42') (by the stream): price expected '0.00000001' got '1E-8'"
    ]
    assert not verdict(price=1e-08).valid
    assert not verdict(quantity="12.5").valid


def test_times_without_microseconds_or_zone_and_a_wrong_side_are_mismatches() -> None:
    assert not verdict(timestamp="2023-11-14T22:13:20.123Z").valid
    assert not verdict(timestamp="2023-11-14T22:13:20.123000").valid
    assert "side expected 'SELL' got 'BUY'" in verdict(side="BUY").mismatched[0]
    assert not verdict(source_sequence="42").valid  # the right digits, the wrong type


def test_nothing_served_is_a_failure_that_says_compared_0() -> None:
    nothing = served_as_sent({KEY: expected_trade(PAYLOAD, "BINANCE", "crypto")}, {})
    assert not nothing.valid and nothing.counts["compared"] == 0


def test_the_contracts_forms() -> None:
    assert fixed8("60000") == "60000.00000000" and fixed8("1E-8") == "0.00000001" and fixed8("abc") == "abc"
    assert iso_micros(1) == "1970-01-01T00:00:00.000001Z"
    assert quote_asset("BTCUSDT") == "USDT" and quote_asset("ETHBTC") == "BTC" and quote_asset("USDT") is None
