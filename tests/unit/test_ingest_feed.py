"""The ingest feed's handling of a stream that mixes real trades with every hostile frame the
exchange simulator can send (its pure frame makers, fed straight into Feed.handle; no network):
each malformed frame is dead-lettered with a reason naming its problem, each replay is skipped
and counted, and every real trade is produced exactly once, in order."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Any

import httpx
import pytest

from harness import hostile
from harness.targets import Target
from k2.exchange.hub import trade_frame
from k2.exchange.malformed import malformed_frame, replay_frame
from k2.exchange.market import EmittedTrade, SymbolMarket
from k2.exchange.validation import MALFORMED_KINDS, REPLAY_KINDS
from k2.ingest.cursor import Cursor
from k2.ingest.feed import Feed, RateLimited
from k2.ingest.kafka_io import dead_letter_body
from k2.ingest.settings import Settings

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
# what each kind's dead letter must say
REASONS = {
    "not_json": r"^not JSON",
    "truncated": r"^truncated JSON",
    "invalid_utf8": r"^not valid UTF-8: byte 0x",
    "oversized": r"^frame of 4194304 bytes is larger than",
    "missing_keys": r"^missing key",
    "wrong_types": r"^key '.' is .*, expected",
    "bad_price": r"^p=.*(not a decimal|does not fit)",
    "not_positive": r"^[pq]=.* is not positive",
    "too_many_decimals": r"^[pq]=.* has more than 8 decimal places",
    "not_finite": r"not finite",
    "unknown_event": r"^event type '\w+' is not 'trade'",
    "unknown_symbol": r"^symbol '\w+' is not subscribed",
    "futures_trade": r"^not a spot trade: a futures-style frame \(order type X 'MARKET', best-match flag M 'absent'\)",
}


class FakeSink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.headers: list[bytes | None] = []
        self.letters: list[dict[str, Any]] = []

    def send(self, record: dict[str, Any], cursor: bytes | None = None) -> None:
        self.records.append(record)
        self.headers.append(cursor)

    def dead_letter(self, reason: str, frame: str | bytes, source: str) -> None:
        self.letters.append(json.loads(json.dumps(dead_letter_body(reason, frame, source, 0))))

    def poll(self, timeout: float = 0.0) -> None:
        pass


def settings() -> Settings:
    return Settings(
        ws_url="ws://x",
        rest_url="http://x",
        symbols=SYMBOLS,
        bootstrap="x",
        registry_url="http://x",
        topic="t",
        dlq_topic="t.dlq",
        partitions=1,
        replication=1,
        min_isr=1,
        host="127.0.0.1",
        port=1,
        reconnect_max_s=1,
        exchange_name="BINANCE",
        record_name="com.k2.marketdata.TradeV2",
    )


def feed(cursor: Cursor | None = None) -> tuple[Feed, FakeSink]:
    sink = FakeSink()
    # no backfill runs here, so the REST client is never used
    return Feed(settings(), sink, cursor or Cursor(), rest=None), sink  # type: ignore[arg-type]


def trades(symbol: str, n: int) -> list[EmittedTrade]:
    return [EmittedTrade(t, 1_700_000_000_000 + i) for i, t in enumerate(SymbolMarket(7, symbol).take(n))]


def kind_of_letter(letter: dict[str, Any]) -> str:
    found = re.search(r"malformed:([a-z0-9_]+)", letter["frame"])
    assert found, letter
    return found.group(1)


@pytest.mark.parametrize("combined", [True, False])
def test_every_hostile_kind_between_trades_is_set_aside_or_skipped_and_every_trade_produced_once(
    combined: bool,
) -> None:
    ingest, sink = feed()
    real = trades("BNBUSDT", 70)  # a hostile kind after every 4th trade: each kind at least once
    sent: Counter[str] = Counter()
    kinds = (*MALFORMED_KINDS, *REPLAY_KINDS)

    async def stream() -> None:
        for i, trade in enumerate(real):
            await ingest.handle(trade_frame(trade, combined))
            if i < 3 or i % 4:
                continue
            kind = kinds[(i // 4) % len(kinds)]
            for n in range(3):
                frame = (
                    replay_frame(kind, n, real[: i + 1], combined)
                    if kind in REPLAY_KINDS
                    else malformed_frame(kind, n, "BNBUSDT", combined, 1000, SYMBOLS)
                )
                assert frame is not None
                await ingest.handle(frame)
                sent[kind] += 1

    asyncio.run(stream())
    assert set(sent) == set(kinds)  # every kind was sent
    produced = [r["source_sequence"] for r in sink.records]
    assert produced == [t.id for t in real]  # every real trade once, in order, nothing else
    letters = Counter(kind_of_letter(x) for x in sink.letters)
    assert letters == Counter({k: n for k, n in sent.items() if k in MALFORMED_KINDS})
    suite = hostile.reason_patterns(Target.load())  # what the acceptance suite will hold the reasons to
    for letter in sink.letters:
        assert re.search(REASONS[kind_of_letter(letter)], letter["reason"]), letter["reason"]
        assert suite[kind_of_letter(letter)].search(letter["reason"]), letter["reason"]
        assert hostile.kind_of_letter(letter) == kind_of_letter(letter)
        assert letter["source"] == "ws"
    counters = ingest.counters
    assert counters.duplicates == sent["duplicate_id"] + sent["backwards_id"]
    assert counters.went_backwards == sent["backwards_id"]
    assert counters.dead_lettered == len(sink.letters) == sum(sent[k] for k in MALFORMED_KINDS)
    assert counters.produced == len(real) and counters.frames == len(real) + sum(sent.values())


def test_a_replayed_trade_is_skipped_even_when_it_is_the_first_frame_after_a_restart() -> None:
    real = trades("BTCUSDT", 5)
    ingest, sink = feed(Cursor({"BTCUSDT": real[-1].id}))  # resumed from Kafka: the last id produced
    asyncio.run(ingest.handle(trade_frame(real[2], True)))
    asyncio.run(ingest.handle(trade_frame(real[-1], True)))
    assert sink.records == [] and sink.letters == []
    assert (ingest.counters.duplicates, ingest.counters.went_backwards) == (2, 1)


def test_a_frame_nobody_foresaw_is_dead_lettered_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest, sink = feed()

    def boom(*_: object) -> dict[str, Any]:
        raise KeyError("surprise")

    monkeypatch.setattr("k2.ingest.feed.validate", boom)
    asyncio.run(ingest.handle('{"e":"trade"}'))
    assert [x["reason"] for x in sink.letters] == ["unexpected KeyError: 'surprise'"]
    assert ingest.counters.dead_lettered == 1


def history_of(
    log: list[EmittedTrade], keeps: int | None = None, refusals: list[tuple[int, str]] | None = None
) -> httpx.AsyncClient:
    """The exchange's historicalTrades over `log`, keeping only its newest `keeps` trades; the
    first requests answered with `refusals` (status, Retry-After) instead, as a rate limit does."""
    from k2.exchange.tradelog import TradeLog

    trade_log = TradeLog()
    for t in log:
        trade_log.append(t)
    refusing = list(refusals or ())

    def answer(request: httpx.Request) -> httpx.Response:
        if refusing:
            status, wait = refusing.pop(0)
            return httpx.Response(status, headers={"Retry-After": wait}, json={"code": -1003, "msg": "Too many"})
        q = request.url.params
        if log and q["symbol"] != log[0].trade.symbol:
            return httpx.Response(200, json=[])  # the other symbols traded nothing
        page = trade_log.page(int(q["fromId"]) if "fromId" in q else None, int(q["limit"]), keeps=keeps)
        return httpx.Response(200, json=[t.historical() for t in page])

    return httpx.AsyncClient(base_url="http://exchange", transport=httpx.MockTransport(answer))


def ids(sink: FakeSink) -> list[int]:
    return [r["source_sequence"] for r in sink.records]


def test_a_gap_the_history_can_no_longer_serve_is_reported_with_its_range_not_counted_as_filled() -> None:
    real = trades("BNBUSDT", 300)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor({"BNBUSDT": real[9].id}), rest=history_of(real, keeps=100))
    ingest.reconnected()  # after a reconnect: from the last id produced on
    asyncio.run(ingest.backfill_pending())
    assert ids(sink) == [t.id for t in real[200:]]
    assert (ingest.counters.unfilled_gaps, ingest.counters.unfilled_trades) == (1, 190)
    assert ingest.unfilled == [{"symbol": "BNBUSDT", "from": real[10].id, "to": real[199].id, "size": 190}]
    assert ingest.owed_trades() == 0


def test_a_gap_in_the_stream_filled_only_in_part_reports_the_part_it_could_not_fill() -> None:
    real = trades("BNBUSDT", 50)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor({"BNBUSDT": real[0].id}), rest=history_of(real[:40], keeps=10))

    async def run() -> None:
        await ingest.handle(trade_frame(real[45], True))  # ids 1..44 owed; the history has 30..39
        assert ids(sink) == [real[45].id]  # the live trade did not wait for the backfill
        await ingest.backfill_pending()

    asyncio.run(run())
    assert ids(sink) == [t.id for t in (real[45], *real[30:40])]
    assert ingest.unfilled == [
        {"symbol": "BNBUSDT", "from": real[1].id, "to": real[29].id, "size": 29},
        {"symbol": "BNBUSDT", "from": real[40].id, "to": real[44].id, "size": 5},
    ]
    assert (ingest.counters.unfilled_gaps, ingest.counters.unfilled_trades) == (2, 34)
    assert ingest.owed_trades() == 0


def test_live_trades_flow_while_the_history_refuses_and_the_gap_is_filled_once_when_it_serves_again() -> None:
    real = trades("ETHUSDT", 80)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor({"ETHUSDT": real[9].id}), rest=history_of(real, refusals=[(429, "3")]))

    async def run() -> None:
        ingest.reconnected()
        for t in real[30:60]:  # live, after a gap of 10..29
            await ingest.handle(trade_frame(t, True))
        assert ids(sink) == [t.id for t in real[30:60]]
        with pytest.raises(RateLimited) as refused:
            await ingest.backfill_pending()
        assert (refused.value.status, refused.value.retry_after_s) == (429, 3.0)
        for t in real[60:70]:  # the stream goes on while the backfill waits
            await ingest.handle(trade_frame(t, True))
        await ingest.backfill_pending()
        for t in real[65:80]:  # the stream repeats what the backfill already produced: skipped
            await ingest.handle(trade_frame(t, True))

    asyncio.run(run())
    assert sorted(ids(sink)) == [t.id for t in real[10:]]  # every trade once
    assert ids(sink)[:40] == [t.id for t in real[30:70]]  # live first, the gap after
    assert ingest.counters.unfilled_trades == 0 and ingest.owed_trades() == 0


def test_every_record_that_does_not_extend_the_run_carries_the_cursor_a_restart_resumes_from() -> None:
    real = trades("BTCUSDT", 40)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor({"BTCUSDT": real[0].id}), rest=history_of(real[:25]))

    async def run() -> None:
        await ingest.handle(trade_frame(real[20], True))  # owes 1..19
        await ingest.handle(trade_frame(real[21], True))
        assert [Cursor.from_records({"BTCUSDT": (ids(sink)[-1], sink.headers[-1])}).owed("BTCUSDT")] == [
            [(real[1].id, real[19].id)]
        ]  # a restart now would owe the gap still
        await ingest.backfill_pending()

    asyncio.run(run())
    resumed = Cursor.from_records({"BTCUSDT": (ids(sink)[-1], sink.headers[-1])})
    assert (resumed.last, resumed.gaps) == ({"BTCUSDT": real[21].id}, {})  # nothing owed, no catch-up asked
    assert sink.headers[0] == f'{{"last":{real[20].id},"gaps":[[{real[1].id},{real[19].id}]]}}'.encode()
    assert sink.headers[-1] == f'{{"last":{real[21].id},"gaps":[]}}'.encode()


def test_the_backfill_waits_as_long_as_the_exchange_asks_and_stops_while_banned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = trades("BNBUSDT", 30)
    sink = FakeSink()
    ingest = Feed(
        settings(),
        sink,
        Cursor({"BNBUSDT": real[4].id}),
        rest=history_of(real, refusals=[(429, "2"), (418, "120"), (429, "soon")]),
    )
    waits: list[float] = []

    async def pause(stop: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)  # instead of waiting: what the worker would wait
        assert ingest.backfill_waiting is not None and ingest.backfill_waiting["reason"].startswith(("429", "418"))

    monkeypatch.setattr("k2.ingest.feed._pause", pause)

    async def run() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(ingest._backfill_worker(stop))
        ingest.reconnected()
        for _ in range(100):  # yield to the worker until it is done; it never sleeps here
            if ingest.owed_trades() == 0 and not ingest._catch_up:
                break
            await asyncio.sleep(0)
        stop.set()
        worker.cancel()

    asyncio.run(run())
    assert waits == [2.0, 120.0, 60.0]  # Retry-After, the ban's Retry-After, a minute when it says nothing usable
    assert (ingest.counters.rate_limited, ingest.counters.banned) == (2, 1)
    assert ids(sink) == [t.id for t in real[5:]] and ingest.backfill_waiting is None


def listening_from(log: list[EmittedTrade], i: int) -> int:
    """The moment trade i was made (trade i-1 was a millisecond before)."""
    return log[i].time_ms


def test_a_symbol_first_traded_while_the_stream_reconnected_is_recovered_from_when_we_began_listening() -> None:
    # The ingest listened from before trade 5 but produced nothing of BTCUSDT before its
    # connection closed; trades 5..39 went by meanwhile. No last id to catch up from: the
    # history is searched by trade time, over more than one page.
    real = trades("BTCUSDT", 2500)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor(), rest=history_of(real))
    ingest.reconnected(now_ms=listening_from(real, 5))  # the first connection
    ingest.reconnected()  # the stream came back

    async def run() -> None:
        for t in real[2400:2500]:  # live again before the backfill ran
            await ingest.handle(trade_frame(t, True))
        await ingest.backfill_pending()

    asyncio.run(run())
    assert sorted(ids(sink)) == [t.id for t in real[5:]]  # every trade since we listened, once
    assert ingest.owed_trades() == 0 and ingest.counters.unfilled_trades == 0


def test_with_nothing_live_yet_the_symbol_is_caught_up_from_its_first_trade_since_we_listened() -> None:
    real = trades("ETHUSDT", 30)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor(), rest=history_of(real))
    ingest.reconnected(now_ms=listening_from(real, 12))
    ingest.reconnected()
    asyncio.run(ingest.backfill_pending())
    assert ids(sink) == [t.id for t in real[12:]]
    asyncio.run(ingest.handle(trade_frame(real[29], True)))  # the stream repeats the newest: skipped
    assert ids(sink) == [t.id for t in real[12:]]


def test_a_symbol_that_traded_nothing_since_we_began_listening_owes_nothing() -> None:
    real = trades("BNBUSDT", 10)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor(), rest=history_of(real))
    ingest.reconnected(now_ms=real[-1].time_ms + 1)
    ingest.reconnected()
    asyncio.run(ingest.backfill_pending())
    assert ids(sink) == [] and ingest.owed_trades() == 0


@pytest.mark.timeout(10)  # the defect this guards against asked the history forever
def test_a_history_that_does_not_reach_back_to_when_we_began_listening_ends_the_search() -> None:
    # The exchange's history keeps only trades 30..49 (it restarted, or keeps little); we began
    # listening before trade 10. The search must stop at the oldest it has, not ask forever.
    real = trades("BTCUSDT", 50)
    sink = FakeSink()
    ingest = Feed(settings(), sink, Cursor(), rest=history_of(real, keeps=20))
    ingest.reconnected(now_ms=listening_from(real, 10))
    ingest.reconnected()

    asyncio.run(ingest.backfill_pending())
    assert ids(sink) == [t.id for t in real[30:]]
