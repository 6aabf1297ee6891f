"""The WebSocket endpoints: Binance's combined stream and raw stream of trades."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from k2.exchange.hub import Client, Hub
from k2.exchange.protocol import abort_of
from k2.exchange.validation import InvalidRequest, parse_streams

log = logging.getLogger("k2.exchange.streams")

POLICY_VIOLATION = 1008
_MAX_REASON = 120  # a close reason must fit in 123 bytes


def router(hub: Hub, client_queue: int) -> APIRouter:
    routes = APIRouter()

    @routes.websocket("/stream")
    async def combined_stream(websocket: WebSocket) -> None:
        """Frames are {"stream": "<symbol>@trade", "data": <trade>}."""
        await serve(websocket, hub, websocket.query_params.get("streams"), combined=True, limit=client_queue)

    @routes.websocket("/ws/{streams:path}")
    async def raw_stream(websocket: WebSocket, streams: str) -> None:
        """Frames are the bare trade objects."""
        await serve(websocket, hub, streams, combined=False, limit=client_queue)

    return routes


async def serve(websocket: WebSocket, hub: Hub, spec: str | None, combined: bool, limit: int) -> None:
    # Accept first even for a bad stream name: only an open WebSocket can carry close code 1008
    # and its reason (a refused handshake is a bare HTTP 403).
    await websocket.accept()
    try:
        symbols = parse_streams(spec)
    except InvalidRequest as exc:
        log.info("stream refused", extra={"streams": (spec or "")[:200], "reason": str(exc)})
        await websocket.close(POLICY_VIOLATION, str(exc)[:_MAX_REASON])
        return
    peer = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
    client = Client(symbols, combined, limit, peer, abort_of(websocket.scope))
    hub.add(client)
    log.info("client connected", extra={"client": peer, "streams": list(symbols), "combined": combined})
    sender = asyncio.create_task(client.pump(websocket.send_text, websocket.close, websocket.send_bytes))
    listener = asyncio.create_task(_until_disconnect(websocket))
    try:
        done, _ = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            # the peer going away mid-send is the normal end of a connection, not a failure
            if not task.cancelled() and isinstance(task.exception(), WebSocketDisconnect | OSError):
                continue
            task.result()
    finally:
        for task in (sender, listener):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                await task
        hub.remove(client)
        log.info("client gone", extra={"client": peer, "sent": client.sent, "aborted": client.aborted})


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes away: that is how we learn of it."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
