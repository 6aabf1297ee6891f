"""Emitting trades on request: ids reserved at once, trades paced on a monotonic schedule.

Per symbol, emit jobs run strictly one after another on one worker task, so the ids a symbol
puts on the stream always increase; different symbols have their own workers and run side by
side. A trade's time is the wall clock when it is actually emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from k2.exchange.hub import Hub
from k2.exchange.ledger import IdLedger
from k2.exchange.market import EmittedTrade, SymbolMarket
from k2.exchange.tradelog import TradeLog
from k2.exchange.validation import EmitRequest

log = logging.getLogger("k2.exchange.emitter")

# Most trades emitted in one go when the schedule is behind, before yielding to the event loop
# (sockets, control requests). The schedule still catches up: the next tick emits the rest.
_MAX_BURST = 500


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class EmitJob:
    symbol: str
    first_id: int
    last_id: int
    rate: float
    seed: int | None = None

    @property
    def count(self) -> int:
        return self.last_id - self.first_id + 1

    def receipt(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "first_id": self.first_id, "last_id": self.last_id, "count": self.count}


@dataclass
class SymbolFeed:
    """Everything about one symbol: its trade sequence, what it emitted and what is reserved."""

    market: SymbolMarket
    log: TradeLog = field(default_factory=TradeLog)
    next_free_id: int = 0  # the first id no emit has reserved yet
    jobs: asyncio.Queue[EmitJob] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Reserved but not yet emitted."""
        return self.next_free_id - self.market.next_id


class Emitter:
    def __init__(
        self,
        seed: int,
        symbols: tuple[str, ...],
        hub: Hub,
        clock_ms: Callable[[], int] = wall_clock_ms,
        ledger: IdLedger | None = None,
    ) -> None:
        self.seed = seed
        self.hub = hub
        self.ledger = ledger or IdLedger(None)
        self._clock_ms = clock_ms
        self._feeds: dict[str, SymbolFeed] = {}
        self.history_keeps: int | None = None
        """How many of each symbol's newest trades the REST history serves (None: all)."""
        for symbol in symbols:
            self.feed(symbol)

    def known(self, symbol: str) -> bool:
        return symbol in self._feeds

    def feed(self, symbol: str) -> SymbolFeed:
        """The symbol's feed, created on first use (any well-formed symbol may be emitted)."""
        feed = self._feeds.get(symbol)
        if feed is None:
            market = SymbolMarket(self.seed, symbol, self.ledger.next_id(symbol))
            feed = self._feeds[symbol] = SymbolFeed(market, next_free_id=market.next_id)
        return feed

    def trades(self, symbol: str) -> TradeLog:
        feed = self._feeds.get(symbol)
        return feed.log if feed is not None else TradeLog()

    def submit(self, request: EmitRequest) -> EmitJob:
        """Reserve the ids now and queue the job behind the symbol's running ones."""
        feed = self.feed(request.symbol)
        job = EmitJob(
            request.symbol, feed.next_free_id, feed.next_free_id + request.count - 1, request.rate, request.seed
        )
        feed.next_free_id = job.last_id + 1
        self.ledger.save({request.symbol: feed.next_free_id})
        feed.jobs.put_nowait(job)
        if feed.worker is None:
            feed.worker = asyncio.get_running_loop().create_task(self._work(feed), name=f"emit-{request.symbol}")
        log.info("emit queued", extra=job.receipt() | {"rate": job.rate})
        return job

    def status(self) -> dict[str, Any]:
        return {
            symbol: {"emitted": len(feed.log), "last_id": feed.log.last_id, "pending": feed.pending}
            for symbol, feed in sorted(self._feeds.items())
        }

    async def close(self) -> None:
        workers = [feed.worker for feed in self._feeds.values() if feed.worker is not None]
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        # what was reserved but never emitted is given back: a clean restart continues without a gap
        self.ledger.save({symbol: feed.market.next_id for symbol, feed in self._feeds.items()})

    async def _work(self, feed: SymbolFeed) -> None:
        while True:
            job = await feed.jobs.get()
            started = time.monotonic()
            await self._run(feed, job)
            elapsed = time.monotonic() - started
            log.info(
                "emit done",
                extra=job.receipt()
                | {"seconds": round(elapsed, 3), "achieved_rate": round(job.count / max(elapsed, 1e-9), 1)},
            )

    async def _run(self, feed: SymbolFeed, job: EmitJob) -> None:
        # Trade k (0-based) is due at start + k / rate. Each tick emits every trade that is due,
        # so at high rates several go out per tick and timer granularity does not cap the rate.
        if job.seed is not None:
            feed.market.reseed(job.seed)
        loop = asyncio.get_running_loop()
        start = loop.time()
        done = 0
        while done < job.count:
            due = min(job.count, math.floor((loop.time() - start) * job.rate) + 1)
            for _ in range(min(due - done, _MAX_BURST)):
                self._emit_one(feed)
                done += 1
            if done < job.count:
                await asyncio.sleep(max(0.0, start + done / job.rate - loop.time()))

    def _emit_one(self, feed: SymbolFeed) -> None:
        trade = EmittedTrade(feed.market.next_trade(), self._clock_ms())
        feed.log.append(trade)
        self.hub.publish(trade)
