"""A time limit on every storage call, so a hung dependency costs a 503, not a hung request.

pyiceberg has no per-call timeout, and a PostgreSQL server that stops answering on an open
connection blocks the calling thread until it answers. Calls therefore run on a small pool of
their own and the request waits at most `timeout_s` (queueing included). A call that overruns
keeps its worker until the dependency answers or fails, so at most `workers` threads can be
stuck; further requests then wait in the queue and also get their 503 in time.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from k2.api.models import Snapshot, TableStats
from k2.api.queries import StoreUnavailable, TradePage, TradeQuery, TradeStore

T = TypeVar("T")


class DeadlineStore:
    """A TradeStore whose every call answers within timeout_s, or raises StoreUnavailable."""

    def __init__(self, inner: TradeStore, timeout_s: float, workers: int = 8) -> None:
        self._inner = inner
        self._timeout = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        # the copied context carries the correlation id into the worker's log lines
        future = self._pool.submit(contextvars.copy_context().run, fn)
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            future.cancel()  # still queued: never run it
            raise StoreUnavailable(f"{what}: storage did not answer within {self._timeout:g} s") from None

    def trades(self, query: TradeQuery) -> TradePage:
        return self._call("trades query", lambda: self._inner.trades(query))

    def symbols(self, exchange: str | None) -> list[str]:
        return self._call("symbols query", lambda: self._inner.symbols(exchange))

    def stats(self) -> TableStats:
        return self._call("stats query", self._inner.stats)

    def snapshots(self, limit: int, offset: int) -> tuple[list[Snapshot], int]:
        return self._call("snapshots query", lambda: self._inner.snapshots(limit, offset))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
