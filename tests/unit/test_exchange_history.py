import httpx
import pytest

from harness.workload.history import PAGE, ExchangeHistory, HistoryError


def exchange(trades: list[dict[str, object]], calls: list[dict[str, str]]) -> httpx.MockTransport:
    """Binance's historicalTrades over a fixed history: from fromId ascending, else the newest."""

    def answer(request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        calls.append(q)
        limit = int(q["limit"])
        if "fromId" in q:
            page = [t for t in trades if int(str(t["id"])) >= int(q["fromId"])][:limit]
        else:
            page = trades[-limit:]
        return httpx.Response(200, json=page)

    return httpx.MockTransport(answer)


def trade(i: int) -> dict[str, object]:
    return {
        "id": i,
        "price": "1.00000001",
        "qty": "2.5",
        "quoteQty": "2.5",
        "time": 1_700_000_000_000 + i,
        "isBuyerMaker": i % 2 == 0,
        "isBestMatch": True,
    }


def test_a_window_is_read_page_by_page_up_to_its_last_id_as_stream_payloads() -> None:
    calls: list[dict[str, str]] = []
    history = ExchangeHistory("http://x", transport=exchange([trade(i) for i in range(5000)], calls))
    assert history.latest_id("BTCUSDT") == 4999
    payloads, over_rest = history.record("BTCUSDT", from_id=100, to_id=2600)
    assert [p["t"] for p in payloads] == list(range(100, 2601)) and over_rest == set()
    assert payloads[0] == {
        "e": "trade",
        "s": "BTCUSDT",
        "t": 100,
        "p": "1.00000001",
        "q": "2.5",
        "T": 1_700_000_000_100,
        "m": True,
        "M": True,
    }
    assert [c.get("fromId") for c in calls[1:]] == ["100", str(100 + PAGE), str(100 + 2 * PAGE)]


def test_a_symbol_that_never_traded_has_no_latest_id() -> None:
    assert ExchangeHistory("http://x", transport=exchange([], [])).latest_id("BTCUSDT") is None


def test_an_answer_that_is_not_binances_is_a_violation_quoting_it() -> None:
    refusing = httpx.MockTransport(lambda r: httpx.Response(429, text='{"code":-1003,"msg":"Too many requests"}'))
    with pytest.raises(HistoryError, match=r"answered 429: .*Too many requests"):
        ExchangeHistory("http://x", transport=refusing).latest_id("BTCUSDT")
    odd = httpx.MockTransport(lambda r: httpx.Response(200, json={"trades": []}))
    with pytest.raises(HistoryError, match="no list of trades with ids"):
        ExchangeHistory("http://x", transport=odd).latest_id("BTCUSDT")
