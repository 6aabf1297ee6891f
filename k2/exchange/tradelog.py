"""What one symbol has emitted so far, and the REST paging over it. Pure (no I/O)."""

from __future__ import annotations

from bisect import bisect_left

from k2.exchange.market import EmittedTrade


class TradeLog:
    """The emitted trades of one symbol in id order. Ids strictly increase (emits of a symbol run
    one after another), so a position is found by bisection, never by a scan."""

    def __init__(self) -> None:
        self._trades: list[EmittedTrade] = []
        self.served_over_rest: set[int] = set()
        """Ids of trades the REST history has handed out: a client that got them there may not
        have got them on the stream (a test tells by this which path a trade came by)."""

    def __len__(self) -> int:
        return len(self._trades)

    @property
    def last_id(self) -> int | None:
        return self._trades[-1].id if self._trades else None

    def append(self, trade: EmittedTrade) -> None:
        if self._trades and trade.id <= self._trades[-1].id:
            raise ValueError(f"trade id {trade.id} does not follow {self._trades[-1].id}")
        self._trades.append(trade)

    def since(self, from_id: int, limit: int | None = None) -> list[EmittedTrade]:
        """Trades with id >= from_id, ascending, at most `limit` (all when None)."""
        start = bisect_left(self._trades, from_id, key=lambda t: t.id)
        end = len(self._trades) if limit is None else start + limit
        return self._trades[start:end]

    def recent(self, limit: int) -> list[EmittedTrade]:
        """The last `limit` trades, ascending."""
        return self._trades[-limit:] if limit > 0 else []

    def page(self, from_id: int | None, limit: int, keeps: int | None = None) -> list[EmittedTrade]:
        """Binance's historicalTrades: from `from_id` when given (or the oldest it still keeps,
        when that is later), else the most recent. `keeps`: how many of the newest trades the
        history still serves (None: all); the real exchange's history is limited too, so an old
        gap can be only partly filled, or not at all."""
        kept = self._trades if keeps is None else self._trades[max(0, len(self._trades) - keeps) :]
        if from_id is None:
            trades = kept[-limit:] if limit > 0 else []
        else:
            start = bisect_left(kept, from_id, key=lambda t: t.id)
            trades = kept[start : start + limit]
        self.served_over_rest.update(t.id for t in trades)
        return trades
