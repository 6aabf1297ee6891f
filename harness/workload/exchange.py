"""A client of the exchange simulator's control API (over HTTP; the suite never imports k2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Emission:
    symbol: str
    first_id: int
    last_id: int
    count: int

    @property
    def ids(self) -> range:
        return range(self.first_id, self.last_id + 1)


class ExchangeControl:
    def __init__(self, control_url: str, timeout: float = 10.0) -> None:
        self.http = httpx.Client(base_url=control_url.rstrip("/"), timeout=timeout)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.http.post(path, json=body or {})
        if r.status_code >= 400:
            raise AssertionError(f"exchange control POST {path} {body} answered {r.status_code}: {r.text[:300]}")
        out: dict[str, Any] = r.json()
        return out

    def emit(self, symbol: str, count: int, rate: float, seed: int | None = None) -> Emission:
        """Ask for `count` trades of `symbol` at `rate` trades/s; returns at once with their ids.
        With a seed, the trades' prices, quantities and sides are the ones that seed always gives."""
        body: dict[str, object] = {"symbol": symbol, "count": count, "rate": rate}
        if seed is not None:
            body["seed"] = seed
        out = self._post("/emit", body)
        return Emission(out["symbol"], out["first_id"], out["last_id"], out["count"])

    def emitted(self, symbol: str, from_id: int | None = None) -> list[dict[str, Any]]:
        """The trades emitted so far for a symbol (from `from_id` on), as the Binance payloads sent."""
        return self.record(symbol, from_id)[0]

    def record(
        self, symbol: str, from_id: int | None = None, to_id: int | None = None
    ) -> tuple[list[dict[str, Any]], set[int]]:
        """The symbol's trades emitted so far (from `from_id` on; `to_id` is for the history's
        sake, the scenario keeps only its own ids), and the ids of those the REST history handed
        out: a client may have got these by backfill rather than on the stream."""
        body = self._emitted(symbol, from_id)
        return body["trades"], set(body.get("over_rest", []))

    def _emitted(self, symbol: str, from_id: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"symbol": symbol}
        if from_id is not None:
            params["fromId"] = from_id
        r = self.http.get("/emitted", params=params)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def status(self) -> dict[str, Any]:
        r = self.http.get("/status")
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def pending(self) -> int:
        """Trades reserved by emits but not emitted yet, over all symbols."""
        symbols = self.status().get("symbols", {})
        return sum(int(s.get("pending", 0)) for s in symbols.values())

    def malformed(self, count: int, kind: str | None = None, symbol: str | None = None) -> dict[str, Any]:
        """Send `count` hostile frames of `kind` (every malformed kind in turn when None) to each
        client, or to the clients of `symbol`; the answer counts what was sent, per kind."""
        body: dict[str, Any] = {"count": count}
        if kind:
            body["kind"] = kind
        if symbol:
            body["symbol"] = symbol
        return self._post("/malformed", body)

    def disconnect(self, mode: str = "abrupt") -> int:
        return int(self._post("/disconnect", {"mode": mode})["dropped"])

    def lifetime(self, seconds: float) -> None:
        """Close every stream connection once it has lasted `seconds`."""
        self._post("/lifetime", {"seconds": seconds})

    def history(self, keep: int | None) -> None:
        """Keep only each symbol's newest `keep` trades in the REST history (None: all)."""
        self._post("/history", {"keep": keep})

    def rate_limit(self, seconds: int, retry_after_s: int = 1, ban_after: int = 3, ban_s: int = 10) -> dict[str, Any]:
        """Refuse history requests as too many (429, `Retry-After: retry_after_s`) for `seconds`
        (0: serve again, ban lifted); a client that asks again too soon `ban_after` times is
        banned (418) for `ban_s`."""
        return self._post(
            "/rate-limit", {"seconds": seconds, "retry_after_s": retry_after_s, "ban_after": ban_after, "ban_s": ban_s}
        )

    def refusals(self) -> dict[str, int]:
        """How the history refused so far: answered_429, answered_418, bans."""
        limit = self.status().get("rate_limit", {})
        return {k: int(limit.get(k, 0)) for k in ("answered_429", "answered_418", "bans")}

    def pause(self) -> None:
        self._post("/pause")

    def resume(self) -> None:
        self._post("/resume")

    def close(self) -> None:
        self.http.close()
