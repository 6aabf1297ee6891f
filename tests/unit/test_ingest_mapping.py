from decimal import Decimal

import pytest

from k2.ingest.cursor import Cursor, Verdict
from k2.ingest.mapping import MalformedFrame, from_rest, parse_frame, split_symbol, to_trade_v2, validate

# A real Binance spot trade frame (combined stream), with 8-decimal quantity.
BINANCE = ('{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":3279536147,'
           '"p":"37123.45000000","q":"0.00012345","T":1700000000120,"m":true,"M":true}}')


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
    assert record["vendor_data"] == {"is_buyer_maker": "true", "event_type": "trade", "event_time": "1700000000123",
                                     "trade_time": "1700000000120", "base_asset": "BTC", "quote_asset": "USDT",
                                     "is_best_match": "true"}
    assert len(record["message_id"]) == 36


def test_raw_stream_frames_are_the_bare_payload() -> None:
    raw = '{"e":"trade","E":1,"s":"ETHBTC","t":7,"p":"0.05123456","q":"1.00000000","T":1,"m":false,"M":true}'
    record = to_trade_v2(validate(parse_frame(raw)), 5)
    assert (record["side"], record["currency"], record["vendor_data"]["base_asset"]) == ("BUY", "BTC", "ETH")


@pytest.mark.parametrize(("symbol", "base", "quote"), [
    ("BTCUSDT", "BTC", "USDT"), ("ETHBUSD", "ETH", "BUSD"), ("BTCUSD", "BTC", "USD"), ("BNBBTC", "BNB", "BTC"),
    ("SOLTUSD", "SOL", "TUSD"), ("ADAEUR", "ADA", "EUR"), ("USDTTRY", "USDT", "TRY"), ("XRPUSDC", "XRP", "USDC"),
])
def test_quote_currency_is_the_longest_known_suffix(symbol: str, base: str, quote: str) -> None:
    assert split_symbol(symbol) == (base, quote)


@pytest.mark.parametrize(("frame", "reason"), [
    ("not json", "not JSON"),
    ('{"e":"trade","E":1,"s":"BTCUSDT"', "not JSON"),
    ("[1,2]", "JSON list"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1}', "missing key 'm'"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":"abc","p":"1","q":"1","T":1,"m":true}', "key 't' is str"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":true,"p":"1","q":"1","T":1,"m":true}', "key 't' is bool"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"0","q":"1","T":1,"m":true}', "p='0' is not positive"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"-5","q":"1","T":1,"m":true}', "not positive"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.123456789","q":"1","T":1,"m":true}', "more than 8 decimal"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"NaN","q":"1","T":1,"m":true}', "not finite"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"Infinity","T":1,"m":true}', "not finite"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":1.5,"T":1,"m":true}', "key 'q' is Decimal"),
    ('{"e":"aggTrade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true}', "event type 'aggTrade'"),
    ('{"e":"trade","E":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","T":1,"m":true}', "not subscribed"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"12345678901","q":"1","T":1,"m":true}', "decimal(18,8)"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1e400","q":"1","T":1,"m":true}', "decimal(18,8)"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1e-400","q":"1","T":1,"m":true}', "more than 8 decimal"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"abc","q":"1","T":1,"m":true}', "not a decimal"),
])
def test_malformed_frames_are_refused_with_a_reason(frame: str, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason.replace("(", r"\(").replace(")", r"\)")):
        validate(parse_frame(frame), ("BTCUSDT",))


def test_rest_items_become_stream_payloads() -> None:
    item = {"id": 28457, "price": "4.00000100", "qty": "12.00000000", "quoteQty": "48.000012",
            "time": 1499865549590, "isBuyerMaker": True, "isBestMatch": True}
    payload = validate(from_rest(item, "BNBBTC"))
    assert (payload["t"], payload["p"], payload["q"], payload["T"], payload["m"]) == \
        (28457, "4.00000100", "12.00000000", 1499865549590, True)


def test_the_cursor_tells_next_duplicate_and_gap() -> None:
    cursor = Cursor()
    assert cursor.judge("BTCUSDT", 10) is Verdict.FIRST
    cursor.advance("BTCUSDT", 10)
    assert cursor.judge("BTCUSDT", 11) is Verdict.NEXT
    assert cursor.judge("BTCUSDT", 10) is Verdict.DUPLICATE
    assert cursor.judge("BTCUSDT", 9) is Verdict.DUPLICATE
    assert cursor.judge("BTCUSDT", 15) is Verdict.GAP
    assert cursor.missing("BTCUSDT", 15) == (11, 14)
    assert cursor.missing("BTCUSDT", 11) is None
    assert cursor.missing("ETHUSDT", 5) is None
