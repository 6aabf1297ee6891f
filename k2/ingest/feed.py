"""The exchange side of ingest: stream trades and produce them; beside the stream, backfill the
gaps it leaves over REST, as fast as the exchange's rate limits allow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import websockets
from websockets.exceptions import WebSocketException

from k2.ingest.cursor import Cursor, Range, Verdict
from k2.ingest.mapping import MalformedFrame, from_rest, parse_frame, to_trade_v2, validate
from k2.ingest.settings import Settings

log = logging.getLogger("k2.ingest.feed")
# The WebSocket's limit: a frame above it closes the connection (1009), so it sits far above
# any frame the exchange could mean; a large frame below it is dead-lettered (mapping.MAX_TRADE_FRAME).
MAX_FRAME = 16 * 2**20
BACKFILL_PAGE = 1000
# How far back a symbol with no last id is looked for (pages of BACKFILL_PAGE): a symbol that
# traded more than this while the stream was away had traded while we listened, and has one.
MAX_PAGES_BACK = 100
UNFILLED_KEPT = 20  # the newest unfillable ranges /status lists
DEFAULT_RETRY_AFTER_S = 60.0


class Sink(Protocol):
    def send(self, record: dict[str, Any], cursor: bytes | None = None) -> None: ...

    def dead_letter(self, reason: str, frame: str | bytes, source: str) -> None: ...

    def poll(self, timeout: float = 0.0) -> None: ...


@dataclass
class Counters:
    frames: int = 0
    produced: int = 0
    backfilled: int = 0
    duplicates: int = 0
    """Stream trades skipped because their id was produced already (a repeat of a trade)."""
    went_backwards: int = 0
    """Of those, the ones whose id was below the last id produced of their symbol."""
    dead_lettered: int = 0
    connects: int = 0
    gaps_opened: int = 0
    """Stream trades that arrived past a missing id: the ids between are owed to the backfill."""
    rate_limited: int = 0
    """History requests the exchange refused for its rate limit (429)."""
    banned: int = 0
    """History requests the exchange refused while it banned us (418)."""
    unfilled_gaps: int = 0
    """Gaps the exchange's REST history could not fill, whole or in part (see Feed.unfilled)."""
    unfilled_trades: int = 0
    """The trade ids in those gaps that were never produced."""


def now_micros() -> int:
    return time.time_ns() // 1000


class RateLimited(Exception):
    """The exchange refused a history request for its rate limit (429) or a ban (418)."""

    def __init__(self, status: int, retry_after_s: float, message: str) -> None:
        super().__init__(f"{status} for {retry_after_s:g} s: {message}")
        self.status = status
        self.retry_after_s = retry_after_s


def retry_after(response: httpx.Response) -> float:
    """The seconds the exchange asks us to wait (Binance sends whole seconds); a minute, its
    weight window, when it says nothing usable."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


class Feed:
    def __init__(self, settings: Settings, sink: Sink, cursor: Cursor, rest: httpx.AsyncClient) -> None:
        self.settings = settings
        self.sink = sink
        self.cursor = cursor
        self.rest = rest
        self.counters = Counters()
        self.connected = False
        self.unfilled: list[dict[str, Any]] = []
        """The newest id ranges the history could not serve (symbol, from, to, size), at most UNFILLED_KEPT."""
        self.backfill_waiting: dict[str, Any] | None = None
        """While the backfill waits out a refusal of the exchange: until when, and why."""
        self._work = asyncio.Event()
        self._catch_up: set[str] = set()
        """Symbols to read the history of up to its newest trade (after a (re)connect)."""
        self.listening_since_ms: int | None = None
        """When this process's first connection opened: every trade from then on is owed to Kafka."""
        self._unseen: set[str] = set()
        """Symbols with no trade produced yet when the stream reconnected: what they traded while
        we were away is found in the history by trade time (there is no last id to go on)."""
        self._first_produced: dict[str, int] = {}
        """The first id the stream produced of a symbol that had none (see `_unseen`)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Stream and backfill side by side until `stop`: the stream never waits for the history."""
        worker = asyncio.create_task(self._backfill_worker(stop), name="backfill")
        try:
            await self._stream(stop)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _stream(self, stop: asyncio.Event) -> None:
        """Stay connected: reconnect with capped exponential backoff; after every (re)connect the
        backfill catches up with what was traded meanwhile."""
        backoff = 0.5
        while not stop.is_set():
            try:
                async with websockets.connect(
                    self.settings.stream_url, max_size=MAX_FRAME, open_timeout=10, ping_interval=None
                ) as ws:  # the server pings; we answer
                    self.connected = True
                    self.counters.connects += 1
                    log.info("connected", extra={"url": self.settings.stream_url})
                    self.reconnected()
                    backoff = 0.5
                    async for frame in ws:
                        await self.handle(frame)
                        if stop.is_set():
                            break
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.warning(
                    "exchange connection lost", extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": backoff}
                )
            finally:
                self.connected = False
            if not stop.is_set():
                await _pause(stop, backoff)
                backoff = min(backoff * 2, float(self.settings.reconnect_max_s))

    def reconnected(self, now_ms: int | None = None) -> None:
        """Whatever each symbol traded while we were away is owed: catch up from its last id, or,
        for a symbol with none yet, from its first trade since we began listening."""
        self._catch_up = {s for s in self.settings.symbols if s in self.cursor.last}
        if self.listening_since_ms is None:
            self.listening_since_ms = int(time.time() * 1000) if now_ms is None else now_ms
        else:
            self._unseen |= {s for s in self.settings.symbols if s not in self.cursor.last}
        self._work.set()

    async def handle(self, frame: str | bytes, source: str = "ws") -> None:
        received = now_micros()
        self.counters.frames += 1
        try:
            payload = validate(parse_frame(frame), self.settings.symbols)
        except MalformedFrame as exc:
            self.sink.dead_letter(str(exc), frame, source)
            self.counters.dead_lettered += 1
            return
        except Exception as exc:  # a frame nobody foresaw must not stop the stream: DLQ it too
            log.exception("unexpected error validating a frame")
            self.sink.dead_letter(f"unexpected {type(exc).__name__}: {exc}", frame, source)
            self.counters.dead_lettered += 1
            return
        symbol, trade_id = payload["s"], payload["t"]
        if self.cursor.judge(symbol, trade_id) is Verdict.DUPLICATE:
            self._skip_repeat(symbol, trade_id)
            return
        gap = self._produce(payload, received)
        if gap is not None:
            self.counters.gaps_opened += 1
            log.info("gap opened, backfill owes it", extra={"symbol": symbol, "from": gap[0], "to": gap[1]})
            self._work.set()
        self.sink.poll(0)

    def _skip_repeat(self, symbol: str, trade_id: int) -> None:
        self.counters.duplicates += 1
        if self.cursor.behind(symbol, trade_id):
            self.counters.went_backwards += 1

    def _produce(self, payload: dict[str, Any], received: int, owe_skipped: bool = True) -> Range | None:
        """Produce a trade; the gap it opened below itself, now owed (see Cursor.advance)."""
        symbol, trade_id = payload["s"], payload["t"]
        if symbol not in self.cursor.last:
            self._first_produced[symbol] = trade_id
        gap = self.cursor.advance(symbol, trade_id, owe_skipped)
        self.sink.send(
            to_trade_v2(payload, received, self.settings.exchange_name), self.cursor.header(symbol, trade_id)
        )
        self.counters.produced += 1
        return gap

    # ------------------------------------------------------------------ backfill, beside the stream
    async def _backfill_worker(self, stop: asyncio.Event) -> None:
        """Fetch what is owed whenever something is: waits out the exchange's rate limits and bans
        as long as its Retry-After says, and other failures with capped exponential backoff."""
        delay = 0.5
        while not stop.is_set():
            await self._work.wait()
            self._work.clear()
            try:
                await self.backfill_pending()
                delay = 0.5
                continue
            except RateLimited as exc:
                self.counters.rate_limited += exc.status == 429
                self.counters.banned += exc.status == 418
                wait, why = exc.retry_after_s, f"{exc}"
                log.warning(
                    "history refused, backfill waits as asked",
                    extra={"status": exc.status, "retry_after_s": wait, "owed": self.owed_trades()},
                )
            except (httpx.HTTPError, ValueError) as exc:  # an answer that is no JSON list counts too
                wait, why = delay, f"{type(exc).__name__}: {exc}"
                delay = min(delay * 2, float(self.settings.reconnect_max_s))
                log.warning("backfill failed, retrying", extra={"error": why, "retry_in_s": wait})
            self.backfill_waiting = {"until_ms": int(time.time() * 1000 + wait * 1000), "reason": why[:300]}
            try:
                await _pause(stop, wait)
            finally:
                self.backfill_waiting = None
            self._work.set()

    def _next_work(self) -> tuple[str, int, int | None] | None:
        """A symbol with something owed, from its first owed id to its last (None: to the newest)."""
        for symbol in self.settings.symbols:
            owed = self.cursor.owed(symbol)
            if symbol in self._catch_up:
                return symbol, owed[0][0] if owed else self.cursor.last[symbol] + 1, None
            if owed:
                return symbol, owed[0][0], owed[-1][1]
        return None

    async def backfill_pending(self) -> None:
        """Backfill until nothing is owed. Every pass settles its range: each id is produced or
        recorded as unfillable, so this ends."""
        for symbol in [s for s in self.settings.symbols if s in self._unseen]:
            await self.recover_unseen(symbol)
            self._unseen.discard(symbol)
        while (work := self._next_work()) is not None:
            symbol, first, last = work
            await self.backfill(symbol, first, last)
            if last is None:
                self._catch_up.discard(symbol)

    async def recover_unseen(self, symbol: str) -> None:
        """Owe what a symbol with no trade produced before the reconnect traded since we began
        listening: its first such trade is found in the history by trade time, stepping back a
        page at a time from the newest. The stream may have produced trades of it since (the
        first of them is `_first_produced`); only the ids below those are owed."""
        since = self.listening_since_ms or 0
        page = await self._page(symbol, None)
        start: int | None = None
        reached: int | None = None  # the oldest id the history has shown so far
        for _ in range(MAX_PAGES_BACK):
            if not page:
                break
            times = {i["id"]: i["time"] for i in page if isinstance(i, dict) and isinstance(i.get("id"), int)}
            listened = [i for i, t in times.items() if isinstance(t, int) and t >= since]
            if not times or not listened:
                break
            oldest = min(times)
            if reached is not None and oldest >= reached:
                break  # stepping back brought nothing older: the history keeps no more
            start, reached = min(listened), oldest
            if start > oldest or oldest == 0 or len(page) < BACKFILL_PAGE:
                break  # back past the moment we began listening, or all the history has
            page = await self._page(symbol, max(0, oldest - BACKFILL_PAGE))
        if start is None:
            return  # nothing traded since we began listening that the stream did not bring
        first_live = self._first_produced.get(symbol)
        if first_live is None:  # still nothing on the stream: catch up from `start`, as from a last id
            self.cursor.begin_at(symbol, start)
            self._catch_up.add(symbol)
        elif start < first_live:
            self.cursor.owe(symbol, start, first_live - 1)
        else:
            return
        # from the oldest trade the history keeps, when that is after we began listening
        log.info("trades missed while reconnecting are owed", extra={"symbol": symbol, "from": start})

    def owed_trades(self) -> int:
        return sum(b - a + 1 for gaps in self.cursor.gaps.values() for a, b in gaps)

    def _unfillable(self, symbol: str, first: int, last: int) -> None:
        """Ids `first`..`last` of the symbol will never be produced: the history no longer has them."""
        self.cursor.forget(symbol, first, last)
        size = last - first + 1
        self.counters.unfilled_gaps += 1
        self.counters.unfilled_trades += size
        self.unfilled = [*self.unfilled, {"symbol": symbol, "from": first, "to": last, "size": size}][-UNFILLED_KEPT:]
        log.error("gap could not be backfilled", extra={"symbol": symbol, "from": first, "to": last, "size": size})

    async def _page(self, symbol: str, from_id: int | None) -> list[Any]:
        """A page of the history from `from_id`, or the newest trades when None."""
        params: dict[str, str | int] = {"symbol": symbol, "limit": BACKFILL_PAGE}
        if from_id is not None:
            params["fromId"] = from_id
        r = await self.rest.get("/api/v3/historicalTrades", params=params)
        if r.status_code in (418, 429):
            raise RateLimited(r.status_code, retry_after(r), r.text[:200])
        r.raise_for_status()
        items = r.json()
        if not isinstance(items, list):
            raise ValueError(f"the trade history answered {str(items)[:200]}, not a list of trades")
        return items

    async def backfill(self, symbol: str, first: int, last: int | None) -> None:
        """Produce the owed trades `first`..`last` (or up to the newest) of a symbol from the REST
        history. Owed ids the history no longer serves are recorded as unfillable (counter, log
        line, /status), never counted as filled."""
        next_id = first
        while last is None or next_id <= last:
            items = await self._page(symbol, next_id)
            if not items:
                break
            for item in items:
                received = now_micros()
                try:
                    payload = validate(from_rest(item, symbol), self.settings.symbols)
                except MalformedFrame as exc:
                    self.sink.dead_letter(str(exc), str(item), "rest")
                    self.counters.dead_lettered += 1
                    continue
                trade_id = payload["t"]
                if last is not None and trade_id > last:
                    break  # past the work: the rest of the history is newer
                # the history serves ids in order and without holes: what it skipped, it no longer has
                for a, b in self.cursor.owed_between(symbol, first, trade_id - 1):
                    self._unfillable(symbol, a, b)
                high = self.cursor.last[symbol]
                if trade_id > high + 1:
                    self._unfillable(symbol, high + 1, trade_id - 1)
                if self.cursor.judge(symbol, trade_id) is Verdict.DUPLICATE:
                    continue
                self._produce(payload, received, owe_skipped=False)
                self.counters.backfilled += 1
            else:
                self.sink.poll(0)
                ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
                if not ids or len(items) < BACKFILL_PAGE:
                    break
                next_id = max(ids) + 1
                continue
            break
        self.sink.poll(0)
        if last is not None:  # the history ended before the work did
            for a, b in self.cursor.owed_between(symbol, first, last):
                self._unfillable(symbol, a, b)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """A retry delay, not a wait for state: the next attempt itself tells if it is back."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
