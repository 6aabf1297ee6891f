"""The control API: how a test drives the simulator (emit, look, inject malformed frames,
disconnect, stall). Not part of Binance's surface."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from k2.exchange.emitter import Emitter, wall_clock_ms
from k2.exchange.hub import Client, Frame, Hub
from k2.exchange.malformed import kind_of, malformed_frame, replay_frame
from k2.exchange.ratelimit import RateLimit
from k2.exchange.validation import (
    REPLAY_KINDS,
    InvalidRequest,
    MalformedRequest,
    parse_disconnect,
    parse_emit,
    parse_from_id,
    parse_malformed,
    parse_rate_limit,
    parse_symbol,
)

log = logging.getLogger("k2.exchange.control")


def invalid(exc: InvalidRequest) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=422)


async def json_body(request: Request) -> object:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body: object = json.loads(raw)
    except ValueError:
        raise InvalidRequest("body", "the body is not JSON") from None
    return body


def router(emitter: Emitter, hub: Hub, rate_limit: RateLimit) -> APIRouter:
    routes = APIRouter(prefix="/control")

    @routes.post("/emit", response_model=None)
    async def emit(request: Request) -> JSONResponse | dict[str, Any]:
        """Reserve `count` trade ids for `symbol` now; emit them at `rate` per second."""
        try:
            job = emitter.submit(parse_emit(await json_body(request)))
        except InvalidRequest as exc:
            return invalid(exc)
        return job.receipt()

    @routes.get("/emitted", response_model=None)
    async def emitted(request: Request) -> JSONResponse | dict[str, Any]:
        """Every trade emitted so far for a symbol (from `fromId`), as sent on the stream."""
        try:
            symbol = parse_symbol(request.query_params.get("symbol"))
            from_id = parse_from_id(request.query_params.get("fromId"))
        except InvalidRequest as exc:
            return invalid(exc)
        log = emitter.trades(symbol)
        trades = log.since(from_id or 0)
        return {
            "symbol": symbol,
            "count": len(trades),
            "trades": [t.payload() for t in trades],
            "over_rest": sorted(i for i in log.served_over_rest if i >= (from_id or 0)),
        }

    @routes.get("/status")
    async def status() -> dict[str, Any]:
        return {
            "symbols": emitter.status(),
            "clients": len(hub),
            "connections": hub.connections,
            "paused": hub.paused,
            "rate_limit": rate_limit.status(),
        }

    @routes.post("/malformed", response_model=None)
    async def malformed(request: Request) -> JSONResponse | dict[str, Any]:
        """Send `count` malformed frames (or replays of trades already sent) to every connected
        client, or to those of `symbol`; the answer counts what was sent, per kind."""
        try:
            ask = parse_malformed(await json_body(request))
        except InvalidRequest as exc:
            return invalid(exc)
        clients = [c for c in hub if ask.symbol is None or ask.symbol in c.symbols]
        kinds: dict[str, int] = {}
        if not hub.paused:  # a stalled feed delivers nothing, broken frames included
            now = wall_clock_ms()
            for client in clients:
                for n in range(ask.count):
                    kind = kind_of(n, ask.kind)
                    frame = _frame(ask, kind, n, client, now)
                    if frame is None:
                        continue  # a replay with nothing sent yet to replay
                    if not hub.offer(client, frame):
                        break
                    kinds[kind] = kinds.get(kind, 0) + 1
        sent = sum(kinds.values())
        log.info(
            "malformed frames sent",
            extra={"sent": sent, "clients": len(clients), "kind": ask.kind, "symbol": ask.symbol},
        )
        return {"sent": sent, "clients": len(clients), "kinds": kinds}

    def _frame(ask: MalformedRequest, kind: str, n: int, client: Client, now: int) -> Frame | None:
        if kind not in REPLAY_KINDS:
            return malformed_frame(kind, n, ask.symbol or client.symbols[0], client.combined, now, client.symbols)
        # replays: trades this client was sent, of the symbol asked for or else of its first that had any
        symbol = ask.symbol or next((s for s in client.symbols if s in client.offered), None)
        if symbol is None or symbol not in client.offered:
            return None
        first, last = client.offered[symbol]
        recent = [t for t in emitter.trades(symbol).since(max(first, last - 1000)) if t.id <= last]
        return replay_frame(kind, n, recent, client.combined)

    @routes.post("/disconnect", response_model=None)
    async def disconnect(request: Request) -> JSONResponse | dict[str, Any]:
        try:
            mode = parse_disconnect(await json_body(request))
        except InvalidRequest as exc:
            return invalid(exc)
        dropped = hub.disconnect(mode)
        log.info("clients disconnected", extra={"mode": mode, "dropped": dropped})
        return {"dropped": dropped}

    @routes.post("/lifetime", response_model=None)
    async def lifetime(request: Request) -> JSONResponse | dict[str, Any]:
        """Close every connection once it has lasted `seconds` (the real exchange: 24 h)."""
        body = await json_body(request)
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0.5 <= seconds <= 86400:
            return invalid(InvalidRequest("seconds", f"seconds must be a number from 0.5 to 86400; got {seconds!r}"))
        hub.lifetime_s = float(seconds)
        log.info("connection lifetime set", extra={"seconds": seconds})
        return {"seconds": seconds}

    @routes.post("/history", response_model=None)
    async def history(request: Request) -> JSONResponse | dict[str, Any]:
        """Keep only the newest `keep` trades of every symbol in the REST history (null: all)."""
        body = await json_body(request)
        keep = body.get("keep") if isinstance(body, dict) else "?"
        if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 0):
            return invalid(
                InvalidRequest(
                    "keep", f"keep must be a whole number of trades of 0 or more, or null for all; got {keep!r}"
                )
            )
        emitter.history_keeps = keep
        log.info("history limited", extra={"keep": keep})
        return {"keep": keep}

    @routes.post("/rate-limit", response_model=None)
    async def limit(request: Request) -> JSONResponse | dict[str, Any]:
        """Refuse history requests with 429 for `seconds` (0 lifts the limit and any ban); a
        client that asks again before `retry_after_s` has passed `ban_after` times is banned (418)
        for `ban_s`."""
        try:
            ask = parse_rate_limit(await json_body(request))
        except InvalidRequest as exc:
            return invalid(exc)
        rate_limit.limit(ask.seconds, ask.retry_after_s, ask.ban_after, ask.ban_s)
        log.info("history rate-limited", extra=vars(ask))
        return {**vars(ask), **rate_limit.status()}

    @routes.post("/pause")
    async def pause() -> dict[str, Any]:
        """Stall the feed: trades are still emitted and recorded, but no frame is delivered."""
        hub.pause()
        log.info("feed paused")
        return {"paused": True}

    @routes.post("/resume")
    async def resume() -> dict[str, Any]:
        """Deliver again, from the next trade on; what was missed is only in REST."""
        hub.resume()
        log.info("feed resumed")
        return {"paused": False}

    return routes
