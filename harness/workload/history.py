"""What the suite can know of trades it did not choose: the exchange's own public REST history.

Against a real exchange the suite cannot ask for trades, so it observes a window instead: the
newest trade id of each symbol when the window opens and when it closes, and in between every
trade the history (Binance's GET /api/v3/historicalTrades) returns. Those are the expected set,
judged exactly once and as sent like the trades the simulator emits on request.
"""

from __future__ import annotations

from typing import Any

import httpx

PAGE = 1000  # the most Binance's historicalTrades returns per call


class HistoryError(AssertionError):
    """The exchange's history did not answer as Binance's does; the message quotes what came."""


class ExchangeHistory:
    def __init__(self, rest_url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=rest_url.rstrip("/"), timeout=timeout, transport=transport)

    def _page(self, symbol: str, from_id: int | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"symbol": symbol, "limit": limit}
        if from_id is not None:
            params["fromId"] = from_id
        r = self.http.get("/api/v3/historicalTrades", params=params)
        if r.status_code != 200:
            raise HistoryError(f"GET /api/v3/historicalTrades {params} answered {r.status_code}: {r.text[:300]}")
        body = r.json()
        if not isinstance(body, list) or not all(isinstance(t, dict) and isinstance(t.get("id"), int) for t in body):
            raise HistoryError(
                f"GET /api/v3/historicalTrades {params} answered no list of trades with ids: {str(body)[:300]}"
            )
        return body

    def latest_id(self, symbol: str) -> int | None:
        """The newest trade id of the symbol now (None: it has not traded yet)."""
        newest = self._page(symbol, None, 1)
        return int(newest[-1]["id"]) if newest else None

    def record(
        self, symbol: str, from_id: int | None = None, to_id: int | None = None
    ) -> tuple[list[dict[str, Any]], set[int]]:
        """The symbol's trades from `from_id` to `to_id`, as stream payloads (the fields a trade
        frame carries); no ids handed out over REST are known (the second item is empty)."""
        out: list[dict[str, Any]] = []
        cursor = from_id if from_id is not None else 0
        while to_id is None or cursor <= to_id:
            page = self._page(symbol, cursor, PAGE)
            out += [payload(symbol, t) for t in page if to_id is None or t["id"] <= to_id]
            if len(page) < PAGE:
                break
            cursor = int(page[-1]["id"]) + 1
        return out, set()

    def pending(self) -> int:
        """Trades asked for and not yet sent: none, the suite asks for none."""
        return 0

    def close(self) -> None:
        self.http.close()


def payload(symbol: str, trade: dict[str, Any]) -> dict[str, Any]:
    """A history item as the stream's trade payload: the fields the expected trade is built from."""
    return {
        "e": "trade",
        "s": symbol,
        "t": int(trade["id"]),
        "p": trade.get("price"),
        "q": trade.get("qty"),
        "T": trade.get("time"),
        "m": trade.get("isBuyerMaker"),
        "M": trade.get("isBestMatch"),
    }
