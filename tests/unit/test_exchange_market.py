"""The exchange simulator's pure logic: trade generation, wire formats, paging, validation,
malformed frames, settings, and the client fan-out (no network)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import re
import zlib
from decimal import Context, Decimal, Inexact
from pathlib import Path
from typing import Any

import pytest

from k2.exchange.hub import Client, Hub, trade_frame
from k2.exchange.malformed import OVERSIZED_BYTES, kind_of, malformed_frame, replay_frame, tag, unknown_symbol
from k2.exchange.market import (
    BOUNDARY_CASES,
    BOUNDARY_EVERY,
    EmittedTrade,
    SymbolMarket,
    Trade,
    first_trade_id,
    format_decimal,
    quote_qty,
)
from k2.exchange.settings import ExchangeSettings
from k2.exchange.tradelog import TradeLog
from k2.exchange.validation import (
    MALFORMED_KINDS,
    REPLAY_KINDS,
    InvalidRequest,
    parse_disconnect,
    parse_emit,
    parse_history,
    parse_malformed,
    parse_streams,
)
from k2.settings import SettingsError

EIGHT_PLACES = re.compile(r"[0-9]+\.[0-9]{8}")
WIDE = Context(prec=80, traps=[Inexact])


def sequence(seed: int, symbol: str, n: int) -> list[Trade]:
    return SymbolMarket(seed, symbol).take(n)


def walk(trades: list[Trade]) -> list[Trade]:
    """The trades of the random walk, without the boundary cases placed among them."""
    return [t for i, t in enumerate(trades) if i % BOUNDARY_EVERY != BOUNDARY_EVERY // 2]


def boundaries(trades: list[Trade]) -> list[Trade]:
    return [t for i, t in enumerate(trades) if i % BOUNDARY_EVERY == BOUNDARY_EVERY // 2]


def test_every_tenth_trade_is_a_boundary_case_in_turn_and_the_walk_goes_on_around_them() -> None:
    trades = sequence(4, "BTCUSDT", 60)
    cases = boundaries(trades)
    assert len(cases) == len(BOUNDARY_CASES) == 6
    smallest_price, largest_price, smallest_qty, largest_qty, whole, trailing = cases
    assert smallest_price.price == "0.00000001"
    assert (largest_price.price, largest_price.qty) == ("9999999999.99999999", "0.00000001")
    assert smallest_qty.qty == "0.00000001" and Decimal(smallest_qty.price) > 30_000
    assert largest_qty.qty == "9999999999.99999999" and largest_qty.price.endswith(".00000000")
    assert whole.price.endswith(".00000000") and whole.qty.endswith(".00000000")
    assert trailing.price.endswith("0000000") and not trailing.price.endswith(".00000000")
    assert {t.is_buyer_maker for t in sequence(4, "BTCUSDT", 600)[5::10]} == {True, False}  # both sides
    # the boundary cases do not move the walk: its steps stay within ±0.02 %
    prices = [Decimal(t.price) for t in walk(trades)]
    assert all(abs(b - a) / a <= Decimal("0.00021") for a, b in itertools.pairwise(prices))


# --- generation ---------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_trades_and_another_seed_other_ones() -> None:
    first = sequence(7, "BTCUSDT", 500)
    assert first == sequence(7, "BTCUSDT", 500)
    other = sequence(8, "BTCUSDT", 500)
    assert [t.id for t in other] == [t.id for t in first]  # ids depend on the symbol only
    assert sum(a.price != b.price for a, b in zip(first, other, strict=True)) > 450
    assert sum(a.qty != b.qty for a, b in zip(first, other, strict=True)) > 450


def test_a_symbols_sequence_does_not_depend_on_other_symbols_interleaving() -> None:
    btc, eth = SymbolMarket(3, "BTCUSDT"), SymbolMarket(3, "ETHUSDT")
    mixed_btc: list[Trade] = []
    for i in range(300):  # uneven interleaving: 1, 2, 3, ... ETH trades between BTC ones
        mixed_btc.append(btc.next_trade())
        eth.take(i % 4)
    assert mixed_btc == sequence(3, "BTCUSDT", 300)


def test_ids_start_at_the_symbols_fixed_first_id_and_increase_by_one() -> None:
    for symbol in ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT"):
        expected_first = 1_000_000 * (1 + zlib.crc32(symbol.encode()) % 97)
        assert first_trade_id(symbol) == expected_first
        ids = [t.id for t in sequence(1, symbol, 1000)]
        assert ids == list(range(expected_first, expected_first + 1000))
    assert len({first_trade_id(s) for s in ("BTCUSDT", "ETHUSDT", "BNBUSDT")}) == 3


def test_prices_and_quantities_have_eight_places_and_fit_decimal_18_8() -> None:
    for symbol in ("BTCUSDT", "ETHUSDT", "BNBUSDT", "DOGEUSDT", "XYZ123"):
        trades = sequence(11, symbol, 20_000)
        for t in trades:
            assert EIGHT_PLACES.fullmatch(t.price), t
            assert EIGHT_PLACES.fullmatch(t.qty), t
            assert Decimal(0) < Decimal(t.price) < Decimal(10) ** 10, t
            assert Decimal(0) < Decimal(t.qty) < Decimal(10) ** 10, t
        # some quantities use all 8 decimals, some are round lots
        assert sum(not t.qty.endswith("0") for t in trades) > 5000, symbol
        assert sum(t.qty.endswith("00000") for t in trades) > 1000, symbol
        assert 0.3 < sum(t.is_buyer_maker for t in trades) / len(trades) < 0.7


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [
        ("BTCUSDT", 30_000, 90_000),
        ("ETHUSDT", 1_500, 4_500),
        ("BNBUSDT", 300, 900),
        ("DOGEUSDT", 0.5, 150),
    ],
)
def test_prices_walk_around_a_realistic_level(symbol: str, low: float, high: float) -> None:
    prices = [Decimal(t.price) for t in walk(sequence(5, symbol, 20_000))]
    assert Decimal(low) < min(prices) and max(prices) < Decimal(high)
    assert len(set(prices)) > 1000  # it moves


def test_format_decimal_shows_eight_places_and_refuses_to_round() -> None:
    assert format_decimal(Decimal("42000.12345678")) == "42000.12345678"
    assert format_decimal(Decimal("0.001")) == "0.00100000"
    assert format_decimal(Decimal("1E+2")) == "100.00000000"
    with pytest.raises(Inexact):
        format_decimal(Decimal("0.000000001"))


def test_quote_qty_is_the_exact_product() -> None:
    assert quote_qty("42000.12345678", "0.00100000") == "42.00012345678"
    assert quote_qty("2.00000000", "3.00000000") == "6.00000000"
    assert quote_qty("99999.99999999", "0.99999999") == "99999.9989999900000001"
    for t in sequence(2, "BTCUSDT", 2000):
        shown = quote_qty(t.price, t.qty)
        assert Decimal(shown) == WIDE.multiply(Decimal(t.price), Decimal(t.qty)), t
        assert len(shown.partition(".")[2]) >= 8


# --- wire formats -------------------------------------------------------------------------


def test_the_payload_is_binances_trade_object_and_its_json_matches() -> None:
    trade = EmittedTrade(Trade("BTCUSDT", 71000000, "42000.12345678", "0.00100000", True), 1_700_000_000_123)
    expected = {
        "e": "trade",
        "E": 1_700_000_000_123,
        "s": "BTCUSDT",
        "t": 71000000,
        "p": "42000.12345678",
        "q": "0.00100000",
        "T": 1_700_000_000_123,
        "m": True,
        "M": True,
    }
    assert trade.payload() == expected
    assert json.loads(trade.payload_json()) == expected
    assert list(json.loads(trade.payload_json())) == ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
    seller = EmittedTrade(Trade("ETHUSDT", 5, "1.00000000", "2.00000000", False), 1)
    assert json.loads(seller.payload_json())["m"] is False


def test_the_historical_item_carries_the_exact_quote_quantity() -> None:
    trade = EmittedTrade(Trade("BTCUSDT", 9, "42000.12345678", "0.00100000", False), 1234)
    assert trade.historical() == {
        "id": 9,
        "price": "42000.12345678",
        "qty": "0.00100000",
        "quoteQty": "42.00012345678",
        "time": 1234,
        "isBuyerMaker": False,
        "isBestMatch": True,
    }


# --- paging -------------------------------------------------------------------------------


def log_of(ids: list[int]) -> TradeLog:
    log = TradeLog()
    for i in ids:
        log.append(EmittedTrade(Trade("BTCUSDT", i, "1.00000000", "1.00000000", False), i))
    return log


def test_paging_from_an_id_returns_ascending_ids_up_to_the_limit() -> None:
    log = log_of(list(range(100, 110)))
    assert [t.id for t in log.page(103, 4)] == [103, 104, 105, 106]
    assert [t.id for t in log.page(107, 500)] == [107, 108, 109]
    assert [t.id for t in log.page(0, 2)] == [100, 101]
    assert log.page(110, 10) == []
    assert [t.id for t in log.since(105)] == [105, 106, 107, 108, 109]


def test_the_log_remembers_which_trades_it_handed_out_over_rest() -> None:
    log = log_of(list(range(100, 110)))
    log.since(100)  # reading the log is not handing trades out
    assert log.served_over_rest == set()
    log.page(103, 2)
    log.page(None, 1)
    assert log.served_over_rest == {103, 104, 109}


def test_paging_without_an_id_returns_the_most_recent() -> None:
    log = log_of(list(range(1, 21)))
    assert [t.id for t in log.page(None, 3)] == [18, 19, 20]
    assert len(log.page(None, 1000)) == 20
    assert log.recent(0) == []
    assert log_of([]).page(None, 5) == []


def test_paging_finds_the_next_id_after_a_gap() -> None:
    log = log_of([1, 2, 3, 10, 11])
    assert [t.id for t in log.page(4, 10)] == [10, 11]
    assert log.last_id == 11 and len(log) == 5


def test_the_log_refuses_ids_that_do_not_increase() -> None:
    log = log_of([5, 6])
    with pytest.raises(ValueError, match="does not follow 6"):
        log.append(EmittedTrade(Trade("BTCUSDT", 6, "1.00000000", "1.00000000", False), 0))


# --- validation ---------------------------------------------------------------------------


def test_stream_names_become_symbols() -> None:
    assert parse_streams("btcusdt@trade/ethusdt@trade") == ("BTCUSDT", "ETHUSDT")
    assert parse_streams("btcusdt@trade/btcusdt@trade") == ("BTCUSDT",)


@pytest.mark.parametrize(
    "spec", [None, "", "btcusdt@depth", "BTCUSDT@trade", "btcusdt", "btc@trade", "btcusdt@trade/", "btcusdt@trade/../x"]
)
def test_bad_stream_names_are_refused(spec: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_streams(spec)
    assert caught.value.field == "streams"


def test_a_good_emit_request_is_read() -> None:
    request = parse_emit({"symbol": "BTCUSDT", "count": 500, "rate": 200})
    assert (request.symbol, request.count, request.rate) == ("BTCUSDT", 500, 200.0)
    assert parse_emit({"symbol": "NEWCOIN1", "count": 1_000_000, "rate": 0.5}).rate == 0.5


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"symbol": "BTCUSDT", "count": 0, "rate": 1}, "count", "count must be a whole number from 1 to 1000000"),
        ({"symbol": "BTCUSDT", "count": 1_000_001, "rate": 1}, "count", "got 1000001"),
        ({"symbol": "BTCUSDT", "count": True, "rate": 1}, "count", "count must"),
        ({"symbol": "BTCUSDT", "count": 1.5, "rate": 1}, "count", "count must"),
        ({"symbol": "BTCUSDT", "rate": 1}, "count", "got None"),
        ({"symbol": "BTCUSDT", "count": 1, "rate": 0}, "rate", "rate must be a number of trades per second above 0"),
        ({"symbol": "BTCUSDT", "count": 1, "rate": 100_001}, "rate", "at most 100000"),
        ({"symbol": "BTCUSDT", "count": 1, "rate": "fast"}, "rate", "got 'fast'"),
        ({"symbol": "BTCUSDT", "count": 1}, "rate", "rate must"),
        ({"symbol": "btcusdt", "count": 1, "rate": 1}, "symbol", "symbol must be 5 to 20 upper-case"),
        ({"symbol": "BTC", "count": 1, "rate": 1}, "symbol", "symbol must"),
        ({"count": 1, "rate": 1}, "symbol", "symbol is required"),
        ({"symbol": "BTCUSDT", "count": 1, "rate": 1, "cnt": 2}, "cnt", "unknown field 'cnt'"),
        ([1, 2], "body", "JSON object"),
    ],
)
def test_a_bad_emit_request_names_the_field(body: object, field: str, words: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(words)) as caught:
        parse_emit(body)
    assert caught.value.field == field


def test_history_parameters_are_read_with_binances_defaults() -> None:
    query = parse_history({"symbol": "BTCUSDT"})
    assert (query.symbol, query.from_id, query.limit) == ("BTCUSDT", None, 500)
    query = parse_history({"symbol": "ETHUSDT", "fromId": "123", "limit": "1000"})
    assert (query.symbol, query.from_id, query.limit) == ("ETHUSDT", 123, 1000)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({}, "symbol", "Mandatory parameter 'symbol'"),
        ({"symbol": "btc-usdt"}, "symbol", "parameter 'symbol'"),
        ({"symbol": "BTCUSDT", "fromId": "-1"}, "fromId", "parameter 'fromId'"),
        ({"symbol": "BTCUSDT", "fromId": "abc"}, "fromId", "parameter 'fromId'"),
        ({"symbol": "BTCUSDT", "limit": "0"}, "limit", "Parameter 'limit' must be a whole number from 1 to 1000"),
        ({"symbol": "BTCUSDT", "limit": "1001"}, "limit", "got '1001'"),
        ({"symbol": "BTCUSDT", "limit": "ten"}, "limit", "Parameter 'limit'"),
    ],
)
def test_bad_history_parameters_are_named(params: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(words)) as caught:
        parse_history(params)
    assert caught.value.field == field


def test_malformed_and_disconnect_requests() -> None:
    assert parse_malformed({"count": 3, "kind": "bad_price"}).kind == "bad_price"
    assert parse_malformed({"count": 3}).kind is None
    assert parse_malformed({"count": 1, "kind": "backwards_id", "symbol": "BNBUSDT"}).symbol == "BNBUSDT"
    assert parse_malformed({"count": 1}).symbol is None
    with pytest.raises(InvalidRequest, match=r"kind must be one of not_json.*, duplicate_id, backwards_id; got"):
        parse_malformed({"count": 3, "kind": "weird"})
    with pytest.raises(InvalidRequest, match="symbol must be 5 to 20 upper-case") as caught:
        parse_malformed({"count": 3, "symbol": "bnb"})
    assert caught.value.field == "symbol"
    with pytest.raises(InvalidRequest, match="count must be a whole number from 1 to 10000"):
        parse_malformed({"count": 0})
    assert parse_disconnect({"mode": "abrupt"}) == "abrupt"
    assert parse_disconnect({}) == "clean"
    with pytest.raises(InvalidRequest, match="mode must be one of clean, abrupt; got 'rude'"):
        parse_disconnect({"mode": "rude"})


# --- malformed frames ---------------------------------------------------------------------


def is_valid_trade(frame: str | bytes, combined: bool, symbol: str = "BTCUSDT") -> bool:
    """A spot trade of `symbol` a strict client would accept: text, UTF-8, small, every key of the
    right type (the best-match flag `M` and no futures order type `X`), positive finite prices and
    quantities of at most 8 decimals."""
    try:
        if not isinstance(frame, str) or len(frame) > 64 * 2**10:
            return False
        parsed = json.loads(frame, parse_constant=lambda name: float(name))
        data = parsed["data"] if combined else parsed
        if not isinstance(data["p"], str) or not isinstance(data["q"], str):
            return False
        price, qty = Decimal(data["p"]), Decimal(data["q"])
        return (
            data["e"] == "trade"
            and data["s"] == symbol
            and isinstance(data["t"], int)
            and isinstance(data["T"], int)
            and isinstance(data["E"], int)
            and isinstance(data["m"], bool)
            and not isinstance(data["t"], bool)
            and isinstance(data["M"], bool)
            and "X" not in data
            and price.is_finite()
            and 0 < price < 10**10
            and price == price.quantize(Decimal("1E-8"))
            and qty.is_finite()
            and 0 < qty < 10**10
            and qty == qty.quantize(Decimal("1E-8"))
        )
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return False


@pytest.mark.parametrize("combined", [True, False])
def test_no_malformed_frame_is_a_valid_trade(combined: bool) -> None:
    for kind in MALFORMED_KINDS:
        for n in range(14):
            frame = malformed_frame(kind, n, "BTCUSDT", combined, 1000, ("BTCUSDT", "ETHUSDT"))
            assert not is_valid_trade(frame, combined), (kind, n, frame[:300])
            assert frame == malformed_frame(kind, n, "BTCUSDT", combined, 1000, ("BTCUSDT", "ETHUSDT"))
    # and the check above does tell a valid trade
    assert is_valid_trade(trade_frame(emitted("BTCUSDT", 1), combined), combined)


def test_malformed_json_kinds_are_wrapped_on_the_combined_stream() -> None:
    for kind in (
        "missing_keys",
        "wrong_types",
        "bad_price",
        "unknown_event",
        "not_positive",
        "too_many_decimals",
        "oversized",
    ):
        frame = json.loads(malformed_frame(kind, 0, "ETHUSDT", True, 1000))
        assert frame["stream"] == "ethusdt@trade" and isinstance(frame["data"], dict), kind
        assert "stream" not in json.loads(malformed_frame(kind, 0, "ETHUSDT", False, 1000))
    for kind in ("not_json", "truncated"):
        with pytest.raises(ValueError):
            json.loads(malformed_frame(kind, 0, "ETHUSDT", True, 1000))


def test_every_malformed_frame_names_its_kind_in_its_first_bytes() -> None:
    for kind in MALFORMED_KINDS:
        for combined in (True, False):
            frame = malformed_frame(kind, 3, "ETHUSDT", combined, 1000)
            head = frame[:64].decode() if isinstance(frame, bytes) else frame[:64]
            assert tag(kind) in head, (kind, head)


def test_a_frame_of_4_mib_is_one_string_however_many_are_asked_for() -> None:
    frames = [malformed_frame("oversized", n, "BNBUSDT", True, 1000) for n in range(3)]
    assert all(len(f) == OVERSIZED_BYTES for f in frames)
    assert frames[0] is frames[1] is frames[2]  # queued many times, held once
    data = json.loads(frames[0])["data"]
    assert (data["e"], data["s"], data["t"], set(data["padding"])) == ("trade", "BNBUSDT", 0, {"0"})


def test_invalid_utf8_is_a_binary_frame_whose_json_only_breaks_in_the_symbol() -> None:
    for n in range(5):
        frame = malformed_frame("invalid_utf8", n, "BTCUSDT", True, 1000)
        assert isinstance(frame, bytes)
        with pytest.raises(UnicodeDecodeError):
            frame.decode("utf-8")
        # with the bad bytes gone, it is a trade frame
        text = frame.decode("utf-8", errors="ignore")
        assert json.loads(text)["data"]["s"].startswith("BTC")


@pytest.mark.parametrize(
    ("kind", "key", "words"),
    [
        ("not_positive", None, lambda v: Decimal(v) <= 0),
        ("too_many_decimals", None, lambda v: Decimal(v) != Decimal(v).quantize(Decimal("1E-8"))),
        ("not_finite", None, lambda v: not Decimal(str(v)).is_finite()),
    ],
)
def test_bad_numbers_take_turns_between_price_and_quantity(kind: str, key: None, words: Any) -> None:
    seen = set()
    for n in range(5):
        data = json.loads(malformed_frame(kind, n, "BTCUSDT", False, 1000), parse_constant=float)
        bad = [k for k in ("p", "q") if data[k] != "1.00000000"]
        assert len(bad) == 1 and words(data[bad[0]]), (kind, n, data)
        seen.add(bad[0])
    assert seen == {"p", "q"}


def test_an_unknown_symbol_is_one_the_client_did_not_subscribe_to() -> None:
    data = json.loads(malformed_frame("unknown_symbol", 0, "BTCUSDT", True, 1000, ("BTCUSDT", "DOGEUSDT")))
    assert data["stream"] == "shibusdt@trade" and data["data"]["s"] == "SHIBUSDT"
    assert unknown_symbol(("BTCUSDT",)) == "DOGEUSDT"


def test_replays_are_the_very_frames_of_trades_already_sent() -> None:
    sent = [emitted("BNBUSDT", i) for i in (7, 8, 9, 10)]
    for combined in (True, False):
        assert [replay_frame("duplicate_id", n, sent, combined) for n in range(2)] == [
            trade_frame(sent[-1], combined)
        ] * 2
        assert [replay_frame("backwards_id", n, sent, combined) for n in range(4)] == [
            trade_frame(sent[i], combined) for i in (2, 1, 0, 2)
        ]
    assert replay_frame("duplicate_id", 0, [], True) is None
    assert replay_frame("backwards_id", 0, sent[:1], True) is None  # nothing before the latest
    with pytest.raises(ValueError, match="unknown replay kind"):
        replay_frame("not_json", 0, sent, True)
    assert set(REPLAY_KINDS).isdisjoint(MALFORMED_KINDS)


def test_without_a_kind_every_malformed_kind_comes_in_turn_and_no_replay() -> None:
    every = len(MALFORMED_KINDS)
    assert [kind_of(n, None) for n in range(every + 1)] == [*MALFORMED_KINDS, MALFORMED_KINDS[0]]
    assert {kind_of(n, "truncated") for n in range(7)} == {"truncated"}


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults_and_overrides() -> None:
    s = ExchangeSettings.from_env({})
    assert (s.host, s.port, s.seed, s.symbols, s.ping_interval_s, s.client_queue) == (
        "127.0.0.1",
        18765,
        1,
        ("BTCUSDT", "ETHUSDT", "BNBUSDT"),
        20,
        100_000,
    )
    s = ExchangeSettings.from_env({"K2_EXCHANGE_PORT": "9000", "K2_EXCHANGE_SYMBOLS": "SOLUSDT, BTCUSDT"})
    assert (s.port, s.symbols) == (9000, ("SOLUSDT", "BTCUSDT"))


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"K2_EXCHANGE_PORT": "abc"}, "K2_EXCHANGE_PORT='abc' is not a whole number"),
        ({"K2_EXCHANGE_PORT": "70000"}, "K2_EXCHANGE_PORT=70000 is above 65535"),
        ({"K2_EXCHANGE_PORT": "0"}, "K2_EXCHANGE_PORT=0 is below 1"),
        ({"K2_EXCHANGE_SEED": "x"}, "K2_EXCHANGE_SEED"),
        ({"K2_EXCHANGE_SYMBOLS": "btcusdt"}, "K2_EXCHANGE_SYMBOLS has 'btcusdt'"),
        ({"K2_EXCHANGE_SYMBOLS": " , "}, "K2_EXCHANGE_SYMBOLS=' , ' is empty; e.g. K2_EXCHANGE_SYMBOLS=BTCUSDT"),
        ({"K2_EXCHANGE_PING_INTERVAL_S": "0"}, "K2_EXCHANGE_PING_INTERVAL_S=0 is below 1"),
        ({"K2_EXCHANGE_CLIENT_QUEUE": "-5"}, "K2_EXCHANGE_CLIENT_QUEUE=-5 is below 1"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(words)):
        ExchangeSettings.from_env(env)


# --- fan-out ------------------------------------------------------------------------------


def emitted(symbol: str, trade_id: int) -> EmittedTrade:
    return EmittedTrade(Trade(symbol, trade_id, "1.00000000", "2.00000000", False), 5)


def test_frames_reach_only_subscribers_in_their_form() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        hub = Hub()
        combined = Client(("BTCUSDT", "ETHUSDT"), True, 100, "a", None)
        raw = Client(("ETHUSDT",), False, 100, "b", None)
        hub.add(combined)
        hub.add(raw)
        for trade in (emitted("BTCUSDT", 1), emitted("ETHUSDT", 2), emitted("BNBUSDT", 3)):
            hub.publish(trade)
        return await drain(combined), await drain(raw)

    to_combined, to_raw = asyncio.run(scenario())
    assert [json.loads(f)["stream"] for f in to_combined] == ["btcusdt@trade", "ethusdt@trade"]
    assert [json.loads(f)["data"]["t"] for f in to_combined] == [1, 2]
    assert [json.loads(f)["t"] for f in to_raw] == [2]


async def drain(client: Client) -> list[str]:
    """Everything queued for a client (at least one frame), through its real sender; the last
    send asks for a clean close, so the sender ends by itself. Binary frames come as bytes."""
    sent: list[Any] = []
    closed: list[int] = []

    async def send(frame: str | bytes) -> None:
        sent.append(frame)
        if client.backlog == 0:
            client.close(1001, "done")

    async def close(code: int, reason: str) -> None:
        closed.append(code)

    await asyncio.wait_for(client.pump(send, close, send), timeout=5)
    assert closed == [1001]
    return sent


def test_binary_frames_go_out_as_binary_in_their_place_in_the_queue() -> None:
    async def scenario() -> list[Any]:
        hub = Hub()
        client = Client(("BTCUSDT",), True, 100, "a", None)
        hub.add(client)
        hub.publish(emitted("BTCUSDT", 1))
        hub.offer(client, b"\xff not text")
        hub.publish(emitted("BTCUSDT", 2))
        return await drain(client)

    frames = asyncio.run(scenario())
    assert [type(f) for f in frames] == [str, bytes, str] and frames[1] == b"\xff not text"


def test_a_binary_frame_without_a_binary_sender_is_an_error_not_a_silent_text() -> None:
    client = Client(("BTCUSDT",), True, 100, "a", None)
    client.offer(b"\xff")

    async def text(frame: str) -> None:
        raise AssertionError("sent as text")

    async def close(code: int, reason: str) -> None:
        pass

    with pytest.raises(TypeError, match="binary frame"):
        asyncio.run(client.pump(text, close))


def test_the_hub_remembers_which_trades_each_client_was_sent() -> None:
    hub = Hub()
    both = Client(("BTCUSDT", "ETHUSDT"), True, 100, "a", None)
    late = Client(("BTCUSDT",), False, 100, "b", None)
    hub.add(both)
    for i in (5, 6):
        hub.publish(emitted("BTCUSDT", i))
    hub.add(late)
    for i in (7, 8):
        hub.publish(emitted("BTCUSDT", i))
    hub.publish(emitted("ETHUSDT", 40))
    assert both.offered == {"BTCUSDT": (5, 8), "ETHUSDT": (40, 40)}
    assert late.offered == {"BTCUSDT": (7, 8)}


def test_a_client_whose_queue_overflows_is_dropped_and_the_others_keep_receiving() -> None:
    aborted: list[str] = []
    hub = Hub()
    slow = Client(("BTCUSDT",), True, 3, "slow", lambda: aborted.append("slow"))
    fast = Client(("BTCUSDT",), True, 1000, "fast", lambda: aborted.append("fast"))
    hub.add(slow)
    hub.add(fast)
    for i in range(10):
        hub.publish(emitted("BTCUSDT", i))
    assert aborted == ["slow"]
    assert slow.aborted and slow.backlog == 0
    assert len(hub) == 1 and fast.backlog == 10


def test_a_paused_hub_delivers_nothing_and_drops_what_was_queued() -> None:
    hub = Hub()
    client = Client(("BTCUSDT",), False, 100, "c", None)
    hub.add(client)
    hub.publish(emitted("BTCUSDT", 1))
    hub.pause()
    hub.publish(emitted("BTCUSDT", 2))
    assert client.backlog == 0
    hub.resume()
    hub.publish(emitted("BTCUSDT", 3))
    assert client.backlog == 1


def test_disconnecting_closes_or_aborts_every_client() -> None:
    aborted: list[str] = []
    hub = Hub()
    for name in ("a", "b"):
        hub.add(Client(("BTCUSDT",), True, 10, name, functools.partial(aborted.append, name)))
    assert hub.disconnect("abrupt") == 2
    assert sorted(aborted) == ["a", "b"] and len(hub) == 0
    hub.add(Client(("BTCUSDT",), True, 10, "c", lambda: aborted.append("c")))
    assert hub.disconnect("clean") == 1
    assert "c" not in aborted and len(hub) == 0


def test_trade_ids_continue_after_a_restart_with_the_same_ledger(tmp_path: Path) -> None:
    from k2.exchange.ledger import IdLedger

    ledger = IdLedger(tmp_path / "ids.json")
    assert ledger.next_id("BTCUSDT") is None
    ledger.save({"BTCUSDT": 71001000})
    again = IdLedger(tmp_path / "ids.json")
    assert again.next_id("BTCUSDT") == 71001000
    market = SymbolMarket(1, "BTCUSDT", again.next_id("BTCUSDT"))
    assert [t.id for t in market.take(2)] == [71001000, 71001001]
    assert IdLedger(None).next_id("BTCUSDT") is None


def test_a_reseeded_market_replays_the_seeds_trades_whatever_came_before() -> None:
    fresh, used = SymbolMarket(1, "ETHUSDT"), SymbolMarket(1, "ETHUSDT")
    used.take(37)
    fresh.reseed(99)
    used.reseed(99)
    values = [[(t.price, t.qty, t.is_buyer_maker) for t in m.take(20)] for m in (fresh, used)]
    assert values[0] == values[1]
    assert used.next_id == fresh.next_id + 37


def test_an_emission_may_carry_a_seed_and_a_bad_one_is_named() -> None:
    assert parse_emit({"symbol": "BTCUSDT", "count": 5, "rate": 1, "seed": 7}).seed == 7
    assert parse_emit({"symbol": "BTCUSDT", "count": 5, "rate": 1}).seed is None
    for bad in (-1, "7", True, 2**31):
        with pytest.raises(InvalidRequest, match="seed must be a whole number"):
            parse_emit({"symbol": "BTCUSDT", "count": 5, "rate": 1, "seed": bad})


def test_a_history_that_keeps_only_the_newest_trades_serves_from_the_oldest_it_keeps() -> None:
    log = log_of(list(range(100, 110)))
    assert [t.id for t in log.page(100, 4, keeps=3)] == [107, 108, 109]
    assert [t.id for t in log.page(108, 4, keeps=3)] == [108, 109]
    assert [t.id for t in log.page(None, 5, keeps=2)] == [108, 109]
    assert log.page(100, 4, keeps=0) == []
    assert [t.id for t in log.page(100, 2, keeps=None)] == [100, 101]


def test_connections_are_closed_cleanly_at_the_end_of_their_lifetime() -> None:
    hub = Hub(lifetime_s=2.0)
    old, young = (Client(("BTCUSDT",), True, 10, peer, None) for peer in ("old", "young"))
    young.connected_at = old.connected_at + 1.5
    hub.add(old)
    hub.add(young)
    assert hub.close_expired(now=old.connected_at + 1.9) == 0
    assert hub.close_expired(now=old.connected_at + 2.0) == 1 and list(hub) == [young]
    assert hub.close_expired(now=old.connected_at + 3.5) == 1 and len(hub) == 0
