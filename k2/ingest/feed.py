"""The exchange side of ingest: stream trades, notice gaps, backfill them over REST, produce."""

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

from k2.ingest.cursor import Cursor, Verdict
from k2.ingest.mapping import MalformedFrame, from_rest, parse_frame, to_trade_v2, validate
from k2.ingest.settings import Settings

log = logging.getLogger("k2.ingest.feed")
# The WebSocket's limit: a frame above it closes the connection (1009), so it sits far above
# any frame the exchange could mean; a large frame below it is dead-lettered (mapping.MAX_TRADE_FRAME).
MAX_FRAME = 16 * 2**20
BACKFILL_PAGE = 1000
UNFILLED_KEPT = 20  # the newest unfillable ranges /status lists


class Sink(Protocol):
    def send(self, record: dict[str, Any]) -> None: ...

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
    unfilled_gaps: int = 0
    """Gaps the exchange's REST history could not fill, whole or in part (see Feed.unfilled)."""
    unfilled_trades: int = 0
    """The trade ids in those gaps that were never produced."""


def now_micros() -> int:
    return time.time_ns() // 1000


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

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop`: reconnect with capped exponential backoff, and after
        every (re)connect backfill what was missed before reading the stream."""
        backoff = 0.5
        while not stop.is_set():
            try:
                async with websockets.connect(self.settings.stream_url, max_size=MAX_FRAME, open_timeout=10,
                                              ping_interval=None) as ws:  # the server pings; we answer
                    self.connected = True
                    self.counters.connects += 1
                    log.info("connected", extra={"url": self.settings.stream_url})
                    await self.backfill_all()
                    backoff = 0.5
                    async for frame in ws:
                        await self.handle(frame)
                        if stop.is_set():
                            break
            except (OSError, WebSocketException, TimeoutError, httpx.HTTPError) as exc:
                log.warning("exchange connection lost", extra={"error": f"{type(exc).__name__}: {exc}",
                                                                "retry_in_s": backoff})
            finally:
                self.connected = False
            if not stop.is_set():
                # a retry delay, not a wait for state: the next attempt itself tells if it is back
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, float(self.settings.reconnect_max_s))

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
        verdict = self.cursor.judge(symbol, trade_id)
        if verdict is Verdict.DUPLICATE:
            self._skip_repeat(symbol, trade_id)
            return
        if verdict is Verdict.GAP:
            gap = self.cursor.missing(symbol, trade_id)
            assert gap is not None
            await self.backfill(symbol, gap[0], gap[1])
            if self.cursor.judge(symbol, trade_id) is Verdict.DUPLICATE:
                self._skip_repeat(symbol, trade_id)
                return
        self._produce(payload, received)
        self.sink.poll(0)

    def _skip_repeat(self, symbol: str, trade_id: int) -> None:
        self.counters.duplicates += 1
        if self.cursor.behind(symbol, trade_id):
            self.counters.went_backwards += 1

    def _produce(self, payload: dict[str, Any], received: int) -> None:
        self.sink.send(to_trade_v2(payload, received, self.settings.exchange_name))
        self.cursor.advance(payload["s"], payload["t"])
        self.counters.produced += 1

    async def backfill_all(self) -> None:
        for symbol in self.settings.symbols:
            last = self.cursor.last.get(symbol)
            if last is not None:
                await self.backfill(symbol, last + 1, None)

    def _unfillable(self, symbol: str, first: int, last: int) -> None:
        """Ids `first`..`last` of the symbol will never be produced: the history no longer has them."""
        size = last - first + 1
        self.counters.unfilled_gaps += 1
        self.counters.unfilled_trades += size
        self.unfilled = [*self.unfilled, {"symbol": symbol, "from": first, "to": last, "size": size}][-UNFILLED_KEPT:]
        log.error("gap could not be backfilled", extra={"symbol": symbol, "from": first, "to": last, "size": size})

    async def backfill(self, symbol: str, first: int, last: int | None) -> None:
        """Produce trades `first`..`last` (or up to the newest) of a symbol from the REST API. Ids
        the history no longer serves are recorded as unfillable (counter, log line, /status),
        never counted as filled."""
        next_id = first
        expected = first  # the lowest id of the gap not yet produced
        while last is None or next_id <= last:
            r = await self.rest.get("/api/v3/historicalTrades",
                                    params={"symbol": symbol, "fromId": next_id, "limit": BACKFILL_PAGE})
            r.raise_for_status()
            items = r.json()
            if not isinstance(items, list) or not items:
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
                    break  # past the gap: the rest of the history is newer
                if trade_id > expected:  # the history begins past the ids still missing
                    self._unfillable(symbol, expected, trade_id - 1)
                expected = max(expected, trade_id + 1)
                if self.cursor.judge(symbol, trade_id) is Verdict.DUPLICATE:
                    continue
                self._produce(payload, received)
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
        if last is not None and expected <= last:
            self._unfillable(symbol, expected, last)
