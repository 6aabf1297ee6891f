import json
from decimal import Decimal

import pytest

from k2.ingest.cursor import Cursor, Verdict
from k2.ingest.kafka_io import dead_letter_body
from k2.ingest.mapping import (
    MAX_TRADE_FRAME,
    MalformedFrame,
    frame_size,
    from_rest,
    parse_frame,
    split_symbol,
    to_trade_v2,
    validate,
)

# A real Binance spot trade frame (combined stream), with 8-decimal quantity.
BINANCE = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":3279536147,'
    '"p":"37123.45000000","q":"0.00012345","T":1700000000120,"m":true,"M":true}}'
)


def test_a_real_binance_frame_maps_to_trade_v2_exactly() -> None:
    payload = validate(parse_frame(BINANCE), ("BTCUSDT",))
    record = to_trade_v2(payload, ingestion_micros=1700000000200000)
    assert record["trade_id"] == "BINANCE-3279536147"
    assert record["symbol"] == "BTCUSDT" and record["exchange"] == "BINANCE" and record["asset_class"] == "crypto"
    assert record["timestamp"] == 1700000000120000
    assert record["price"] == Decimal("37123.45000000") and str(record["price"]) == "37123.45000000"
    assert record["quantity"] == Decimal("0.00012345")
    assert record["currency"] == "USDT"
    assert record["side"] == "SELL"  # buyer is maker: the aggressor sold
    assert record["trade_conditions"] == []
    assert record["source_sequence"] == 3279536147
    assert record["ingestion_timestamp"] == 1700000000200000
    assert record["vendor_data"] == {
        "is_buyer_maker": "true",
        "event_type": "trade",
        "event_time": "1700000000123",
        "trade_time": "1700000000120",
        "base_asset": "BTC",
        "quote_asset": "USDT",
        "is_best_match": "true",
    }
    assert len(record["message_id"]) == 36


def test_raw_stream_frames_are_the_bare_payload() -> None:
    raw = '{"e":"trade","E":1,"s":"ETHBTC","t":7,"p":"0.05123456","q":"1.00000000","T":1,"m":false,"M":true}'
    record = to_trade_v2(validate(parse_frame(raw)), 5)
    assert (record["side"], record["currency"], record["vendor_data"]["base_asset"]) == ("BUY", "BTC", "ETH")


@pytest.mark.parametrize(
    ("symbol", "base", "quote"),
    [
        ("BTCUSDT", "BTC", "USDT"),
        ("ETHBUSD", "ETH", "BUSD"),
        ("BTCUSD", "BTC", "USD"),
        ("BNBBTC", "BNB", "BTC"),
        ("SOLTUSD", "SOL", "TUSD"),
        ("ADAEUR", "ADA", "EUR"),
        ("USDTTRY", "USDT", "TRY"),
        ("XRPUSDC", "XRP", "USDC"),
    ],
)
def test_quote_currency_is_the_longest_known_suffix(symbol: str, base: str, quote: str) -> None:
    assert split_symbol(symbol) == (base, quote)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not JSON"),
        ('{"e":"trade","E":1,"s":"BTCUSDT"', "truncated JSON"),
        ("[1,2]", "JSON list"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1}', "missing key 'm'"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":"abc","p":"1","q":"1","T":1,"m":true}', "key 't' is a string \"abc\""),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":true,"p":"1","q":"1","T":1,"m":true}', "key 't' is a boolean true"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"0","q":"1","T":1,"m":true}', "p='0' is not positive"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"-5","q":"1","T":1,"m":true}', "not positive"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.123456789","q":"1","T":1,"m":true}', "more than 8 decimal"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"NaN","q":"1","T":1,"m":true}', "not finite"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"Infinity","T":1,"m":true}', "not finite"),
        (
            '{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":1.5,"T":1,"m":true}',
            "key 'q' is a number with a fraction",
        ),
        ('{"e":"aggTrade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true}', "event type 'aggTrade'"),
        ('{"e":"trade","E":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","T":1,"m":true}', "not subscribed"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"12345678901","q":"1","T":1,"m":true}', "decimal(18,8)"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1e400","q":"1","T":1,"m":true}', "decimal(18,8)"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1e-400","q":"1","T":1,"m":true}', "more than 8 decimal"),
        ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"abc","q":"1","T":1,"m":true}', "not a decimal"),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(frame: str, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason.replace("(", r"\(").replace(")", r"\)")):
        validate(parse_frame(frame), ("BTCUSDT",))


def test_rest_items_become_stream_payloads() -> None:
    item = {
        "id": 28457,
        "price": "4.00000100",
        "qty": "12.00000000",
        "quoteQty": "48.000012",
        "time": 1499865549590,
        "isBuyerMaker": True,
        "isBestMatch": True,
    }
    payload = validate(from_rest(item, "BNBBTC"))
    assert (payload["t"], payload["p"], payload["q"], payload["T"], payload["m"]) == (
        28457,
        "4.00000100",
        "12.00000000",
        1499865549590,
        True,
    )


def test_the_cursor_tells_next_duplicate_gap_and_fill() -> None:
    cursor = Cursor()
    assert cursor.judge("BTCUSDT", 10) is Verdict.FIRST
    assert cursor.advance("BTCUSDT", 10) is None
    assert cursor.judge("BTCUSDT", 11) is Verdict.NEXT
    assert cursor.judge("BTCUSDT", 10) is Verdict.DUPLICATE
    assert cursor.judge("BTCUSDT", 9) is Verdict.DUPLICATE
    assert cursor.judge("BTCUSDT", 15) is Verdict.GAP
    assert cursor.advance("BTCUSDT", 15) == (11, 14)  # past the gap at once: the gap is owed
    assert (cursor.last, cursor.owed("BTCUSDT")) == ({"BTCUSDT": 15}, [(11, 14)])
    assert cursor.judge("BTCUSDT", 12) is Verdict.FILL and cursor.judge("BTCUSDT", 15) is Verdict.DUPLICATE
    cursor.advance("BTCUSDT", 12)
    assert cursor.owed("BTCUSDT") == [(11, 11), (13, 14)] and cursor.judge("BTCUSDT", 12) is Verdict.DUPLICATE
    assert cursor.advance("BTCUSDT", 20, owe_skipped=False) is None  # ids known to be gone are not owed
    assert cursor.owed("BTCUSDT") == [(11, 11), (13, 14)] and cursor.last["BTCUSDT"] == 20
    assert cursor.owed_between("BTCUSDT", 12, 20) == [(13, 14)]
    assert cursor.forget("BTCUSDT", 0, 13) == [(11, 11), (13, 13)] and cursor.owed("BTCUSDT") == [(14, 14)]
    assert cursor.owed("ETHUSDT") == []


def test_the_cursor_travels_in_a_header_only_when_the_record_does_not_say_it_all() -> None:
    cursor = Cursor()
    cursor.advance("BTCUSDT", 10)
    assert cursor.header("BTCUSDT", 10) is None  # the highest id and nothing owed: the record says it
    cursor.advance("BTCUSDT", 15)
    assert cursor.header("BTCUSDT", 15) == b'{"last":15,"gaps":[[11,14]]}'
    cursor.advance("BTCUSDT", 11)
    header = cursor.header("BTCUSDT", 11)
    assert header == b'{"last":15,"gaps":[[12,14]]}'
    resumed = Cursor.from_records({"BTCUSDT": (11, header), "ETHUSDT": (7, None)})
    assert (resumed.last, resumed.gaps) == ({"BTCUSDT": 15, "ETHUSDT": 7}, {"BTCUSDT": [(12, 14)]})
    cursor.forget("BTCUSDT", 12, 14)
    assert cursor.header("BTCUSDT", 14) == b'{"last":15,"gaps":[]}'  # a fill below the highest: it must say so


# --- hostile frames: each is refused with a reason naming its problem ------------------------

TRADE = {
    "e": "trade",
    "E": 1,
    "s": "BTCUSDT",
    "t": 1,
    "p": "1.00000000",
    "q": "1.00000000",
    "T": 1,
    "m": True,
    "M": True,
}


def refusal(frame: str | bytes) -> str:
    with pytest.raises(MalformedFrame) as caught:
        validate(parse_frame(frame), ("BTCUSDT",))
    return str(caught.value)


def test_a_frame_of_several_megabytes_is_refused_by_its_size_before_it_is_read() -> None:
    big = json.dumps({**TRADE, "padding": "0" * 4 * 2**20})
    assert refusal(big) == (
        f"frame of {len(big)} bytes is larger than {MAX_TRADE_FRAME} bytes, the most a trade frame may have"
    )
    assert "larger than" in refusal(big.encode())
    # the size is in bytes, not characters: 20,000 three-byte characters are 60,000 bytes
    wide = json.dumps({**TRADE, "x": "€" * 22_000}, ensure_ascii=False)
    assert len(wide) < MAX_TRADE_FRAME < len(wide.encode())
    assert "larger than" in refusal(wide)
    assert validate(parse_frame(json.dumps({**TRADE, "x": "€" * 100}, ensure_ascii=False)))["t"] == 1


def test_frame_size_is_exact_up_to_the_limit() -> None:
    assert frame_size("abc", 10) == 3
    assert frame_size("ééé", 10) == 6  # between limit/4 and the limit: counted in bytes
    assert frame_size(b"\xff" * 11, 10) == 11
    assert frame_size("a" * 11, 10) == 11


@pytest.mark.parametrize("bad", [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80"])
def test_a_binary_frame_that_is_no_utf8_is_refused_naming_the_byte(bad: bytes) -> None:
    frame = json.dumps(TRADE).encode().replace(b"BTCUSDT", b"BTC" + bad + b"USDT")
    at = frame.index(bad)
    assert refusal(frame).startswith(f"not valid UTF-8: byte {bad[0]:#04x} at position {at} (")


def test_a_binary_frame_of_utf8_json_is_read_like_text() -> None:
    assert validate(parse_frame(json.dumps(TRADE).encode()), ("BTCUSDT",))["t"] == 1


@pytest.mark.parametrize("cut", [10, 25, 40, 55, 70, 85, 100])
def test_json_cut_off_anywhere_is_refused_as_truncated(cut: int) -> None:
    text = json.dumps({"stream": "btcusdt@trade", "data": TRADE}, separators=(",", ":"))
    assert refusal(text[:cut]).startswith(f"truncated JSON: the text ends after {cut} characters, inside the JSON (")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("this is not JSON {trade", "not JSON: Expecting value"),
        ('{"e":"trade"} trailing words', "not JSON: Extra data"),
        ("", "empty frame"),
        ("   ", "empty frame"),
        ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
    ],
)
def test_text_that_is_no_json_is_refused_and_not_called_truncated(frame: str, reason: str) -> None:
    assert reason in refusal(frame)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("p", "NaN", "p='NaN' is not finite"),
        ("q", "Infinity", "q='Infinity' is not finite"),
        ("p", "-Infinity", "p='-Infinity' is not finite"),
        ("p", "sNaN", "p='sNaN' is not finite"),
        ("p", float("nan"), "bare NaN is no JSON number, and not finite"),
        ("q", float("inf"), "bare Infinity is no JSON number, and not finite"),
        ("q", float("-inf"), "bare -Infinity is no JSON number, and not finite"),
    ],
)
def test_nan_and_infinity_are_refused_as_strings_and_as_bare_constants(key: str, value: object, reason: str) -> None:
    assert reason in refusal(json.dumps({**TRADE, key: value}))


@pytest.mark.parametrize(
    ("key", "value"),
    [("p", "0"), ("p", "0.00000000"), ("p", "-0"), ("q", "0.00000000"), ("q", "-1.00000000"), ("p", "-0.00000001")],
)
def test_zero_or_negative_prices_and_quantities_are_refused(key: str, value: str) -> None:
    assert refusal(json.dumps({**TRADE, key: value})) == f"{key}={value!r} is not positive"


@pytest.mark.parametrize(("key", "value"), [("p", "1.123456789"), ("q", "0.000000001"), ("q", "2.1234567891234")])
def test_more_than_eight_decimals_are_refused(key: str, value: str) -> None:
    assert refusal(json.dumps({**TRADE, key: value})) == f"{key}={value!r} has more than 8 decimal places"


def test_eight_decimals_and_trailing_zeros_beyond_them_are_the_same_exact_value() -> None:
    assert to_trade_v2(validate(parse_frame(json.dumps({**TRADE, "q": "1.0000000000"}))), 1)["quantity"] == 1


@pytest.mark.parametrize("event", ["aggTrade", "kline", "depthUpdate", "mysteryEvent"])
def test_another_event_is_named_even_without_a_trades_keys(event: str) -> None:
    frame = json.dumps({"stream": "btcusdt@trade", "data": {"e": event, "E": 1, "s": "BTCUSDT", "x": [1]}})
    assert refusal(frame) == f"event type {event!r} is not 'trade'"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("t", "abc", "key 't' is a string \"abc\", expected an integer"),
        ("p", 1.5, "key 'p' is a number with a fraction 1.5, expected a string"),
        ("q", None, "key 'q' is null, expected a string"),
        ("T", "now", "key 'T' is a string \"now\", expected an integer"),
        ("m", "yes", "key 'm' is a string \"yes\", expected a boolean"),
        ("E", [1], "key 'E' is an array [1], expected an integer"),
        ("s", {"a": 1}, "key 's' is an object {\"a\": 1}, expected a string"),
    ],
)
def test_wrong_types_are_named_in_jsons_words(key: str, value: object, reason: str) -> None:
    assert refusal(json.dumps({**TRADE, key: value})) == reason


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("t", 2**63, "trade id 9223372036854775808 is out of range"),
        ("T", 2**62, "time T=4611686018427387904 is out of range"),
        ("E", -1, "time E=-1 is out of range"),
    ],
)
def test_ids_and_times_a_long_cannot_hold_are_refused(key: str, value: int, reason: str) -> None:
    assert reason in refusal(json.dumps({**TRADE, key: value}))


def test_a_symbol_nobody_subscribed_to_is_refused() -> None:
    assert refusal(json.dumps({**TRADE, "s": "DOGEUSDT"})) == "symbol 'DOGEUSDT' is not subscribed"


def test_the_cursor_tells_a_repeat_below_the_last_id_from_one_of_the_last() -> None:
    cursor = Cursor({"BTCUSDT": 10})
    assert cursor.judge("BTCUSDT", 10) is Verdict.DUPLICATE and not cursor.behind("BTCUSDT", 10)
    assert cursor.judge("BTCUSDT", 9) is Verdict.DUPLICATE and cursor.behind("BTCUSDT", 9)
    assert not cursor.behind("BTCUSDT", 11) and not cursor.behind("ETHUSDT", 1)


def test_a_dead_letter_keeps_the_reason_and_the_start_of_the_frame() -> None:
    text = dead_letter_body("why", "x" * 70_000, "ws", 5)
    assert (text["reason"], text["source"], text["received_at_ms"], text["frame_type"]) == ("why", "ws", 5, "text")
    assert len(text["frame"]) == 65536 and text["frame_length"] == 70_000
    binary = dead_letter_body("not valid UTF-8", b'{"s":"BTC\xffUSDT"}', "ws", 5)
    assert binary["frame"] == '{"s":"BTC\ufffdUSDT"}' and binary["frame_length"] == 16
    assert binary["frame_type"] == "binary"
    json.dumps(binary)  # it goes on the topic as JSON


@pytest.mark.parametrize(
    ("extra", "without", "shown"),
    [
        ({"X": "MARKET"}, "M", "order type X 'MARKET', best-match flag M 'absent'"),
        ({}, "M", "order type X 'absent', best-match flag M 'absent'"),
        ({"X": "LIQUIDATION"}, "", "order type X 'LIQUIDATION', best-match flag M True"),
    ],
)
def test_a_futures_style_frame_is_no_spot_trade(extra: dict[str, str], without: str, shown: str) -> None:
    frame = {**{k: v for k, v in TRADE.items() if k != without}, **extra, "t": 9_000_000_000}
    assert refusal(json.dumps(frame)) == f"not a spot trade: a futures-style frame ({shown})"


def test_vendor_data_holds_only_what_the_frame_carried() -> None:
    assert to_trade_v2(TRADE, 0)["vendor_data"]["is_best_match"] == "true"
    assert "is_best_match" not in to_trade_v2({k: v for k, v in TRADE.items() if k != "M"}, 0)["vendor_data"]
