"""The exchange simulator's ASGI app.

GET  /health/live, /health/ready
WS   /stream?streams=btcusdt@trade/ethusdt@trade   {"stream": ..., "data": <trade>} frames
WS   /ws/btcusdt@trade                             bare <trade> frames
GET  /api/v3/historicalTrades?symbol=&fromId=&limit=   Binance's REST backfill
POST /control/emit, /control/malformed, /control/disconnect, /control/pause, /control/resume,
     /control/lifetime, /control/history, /control/rate-limit
GET  /control/emitted?symbol=&fromId=, /control/status
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from k2.exchange import control, streams
from k2.exchange.emitter import Emitter
from k2.exchange.hub import Hub
from k2.exchange.ledger import IdLedger
from k2.exchange.ratelimit import RateLimit
from k2.exchange.settings import ExchangeSettings
from k2.exchange.validation import EmitRequest, InvalidRequest, parse_history

# Binance's error codes for the REST API
ILLEGAL_PARAMETER = -1100
BAD_SYMBOL = -1121


log = logging.getLogger("k2.exchange")
STEADY_AHEAD_S = 10  # seconds of trades kept queued per steady symbol: never idle, never far ahead


async def trade_steadily(emitter: Emitter, symbol: str, rate: float) -> None:
    """Keep the symbol trading at `rate` until cancelled, as a market trades without being asked:
    whenever less than STEADY_AHEAD_S seconds of its trades are queued, queue that many more."""
    batch = max(1, round(rate * STEADY_AHEAD_S))
    while True:
        if emitter.feed(symbol).pending < batch:
            emitter.submit(EmitRequest(symbol, batch, rate, None))
        await asyncio.sleep(STEADY_AHEAD_S / 4)


async def close_expired_connections(hub: Hub, every_s: float = 0.25) -> None:
    """Close connections at the end of their lifetime, as the real exchange does."""
    while True:
        closed = hub.close_expired()
        if closed:
            log.info("connections closed at their lifetime", extra={"closed": closed, "lifetime_s": hub.lifetime_s})
        await asyncio.sleep(every_s)


def create_app(settings: ExchangeSettings) -> FastAPI:
    hub = Hub()
    emitter = Emitter(settings.seed, settings.symbols, hub, ledger=IdLedger(settings.state_file))
    rate_limit = RateLimit()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(trade_steadily(emitter, symbol, rate), name=f"steady-{symbol}")
            for symbol, rate in settings.steady
        ]
        tasks.append(loop.create_task(close_expired_connections(hub), name="lifetimes"))
        yield
        for task in tasks:
            task.cancel()
        await emitter.close()

    app = FastAPI(
        title="K2 exchange simulator", summary="Binance-compatible trade feed with a control API", lifespan=lifespan
    )
    app.state.emitter = emitter
    app.state.hub = hub

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        # no dependencies: serving requests is being ready
        return {"status": "ready"}

    @app.get("/api/v3/historicalTrades", response_model=None)
    async def historical_trades(request: Request) -> JSONResponse | list[dict[str, Any]]:
        """Already-emitted trades from `fromId` (ascending, at most `limit`), else the most recent."""
        try:
            query = parse_history(request.query_params)
        except InvalidRequest as exc:
            return JSONResponse({"code": ILLEGAL_PARAMETER, "msg": str(exc)}, status_code=400)
        refusal = rate_limit.check()
        if refusal is not None:
            return JSONResponse(
                refusal.body, status_code=refusal.status, headers={"Retry-After": str(refusal.retry_after_s)}
            )
        if not emitter.known(query.symbol):
            return JSONResponse({"code": BAD_SYMBOL, "msg": "Invalid symbol."}, status_code=400)
        return [
            t.historical() for t in emitter.trades(query.symbol).page(query.from_id, query.limit, emitter.history_keeps)
        ]

    app.include_router(streams.router(hub, settings.client_queue))
    app.include_router(control.router(emitter, hub, rate_limit))
    return app
