"""Fan-out of frames to the connected WebSocket clients.

Each client has a bounded queue of its own and one sender task. The emitter only appends to
queues (never awaits a socket), so a slow client can neither block the emitter nor the other
clients; a client whose queue overflows is dropped abruptly, like a stalled Binance connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

from k2.exchange.market import EmittedTrade

log = logging.getLogger("k2.exchange.hub")

SendText = Callable[[str], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]
# A text frame, or a binary one (the feed sends text; binary frames only carry malformed input)
Frame = str | bytes
Close = Callable[[int, str], Awaitable[None]]
# Frames sent in a row before the sender yields to the event loop, so one fast client with a
# long backlog cannot starve the emitter's schedule or the other clients.
_YIELD_EVERY = 256
GOING_AWAY = 1001
DEFAULT_LIFETIME_S = 24 * 3600.0  # Binance closes every stream connection after 24 hours
INTERNAL_ERROR = 1011


def wrap(symbol: str, data_json: str) -> str:
    """A combined-stream frame around a payload's JSON text."""
    return f'{{"stream":"{symbol.lower()}@trade","data":{data_json}}}'


def trade_frame(trade: EmittedTrade, combined: bool) -> str:
    """The frame that carries a trade to a client of the combined or of the raw stream."""
    raw = trade.payload_json()
    return wrap(trade.trade.symbol, raw) if combined else raw


class Client:
    """One WebSocket connection: what it subscribed to and the frames waiting to be sent."""

    def __init__(
        self, symbols: tuple[str, ...], combined: bool, limit: int, peer: str, abort: Callable[[], None] | None
    ) -> None:
        self.symbols = symbols
        self.combined = combined
        self.limit = limit
        self.peer = peer
        self._abort = abort
        self._frames: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._close: tuple[int, str] | None = None
        self.connected_at = time.monotonic()
        self.aborted = False
        self.sent = 0
        # symbol -> (first, last) id of the trades queued for this client: what it was sent
        self.offered: dict[str, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"Client({self.peer}, {'/'.join(self.symbols)})"

    @property
    def backlog(self) -> int:
        return len(self._frames)

    def offer(self, frame: Frame) -> bool:
        """Queue a frame; False (and nothing queued) when the queue is full."""
        if len(self._frames) >= self.limit:
            return False
        self._frames.append(frame)
        self._wake.set()
        return True

    def drop_backlog(self) -> None:
        self._frames.clear()

    def close(self, code: int, reason: str) -> None:
        """Ask the sender to close with a close frame; frames still queued are dropped."""
        self._frames.clear()
        self._close = (code, reason)
        self._wake.set()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (no WebSocket closing handshake)."""
        self._frames.clear()
        self.aborted = True
        if self._abort is not None:
            self._abort()
        else:  # served by a server without our abort extension: the nearest thing is an error close
            self._close = (INTERNAL_ERROR, "connection dropped")
        self._wake.set()

    def offered_trade(self, symbol: str, trade_id: int) -> None:
        first, _ = self.offered.get(symbol, (trade_id, trade_id))
        self.offered[symbol] = (first, trade_id)

    async def pump(self, send_text: SendText, close: Close, send_bytes: SendBytes | None = None) -> None:
        """Send queued frames until the client is closed or aborted (the one sender of a client).
        Binary frames need `send_bytes`."""
        in_a_row = 0
        while True:
            if self._close is not None:
                await close(*self._close)
                return
            if self.aborted:
                return
            if not self._frames:
                self._wake.clear()
                await self._wake.wait()
                in_a_row = 0
                continue
            frame = self._frames.popleft()
            if isinstance(frame, bytes):
                if send_bytes is None:
                    raise TypeError("a binary frame was queued for a client without a binary sender")
                await send_bytes(frame)
            else:
                await send_text(frame)
            self.sent += 1
            in_a_row += 1
            if in_a_row >= _YIELD_EVERY:
                in_a_row = 0
                await asyncio.sleep(0)


class Hub:
    """Every connected client, indexed by symbol, and the paused flag of the feed."""

    def __init__(self, lifetime_s: float = DEFAULT_LIFETIME_S) -> None:
        self._clients: set[Client] = set()
        self._by_symbol: dict[str, set[Client]] = {}
        self.paused = False
        self.lifetime_s = lifetime_s
        """How long a connection may last before the exchange closes it, as Binance's do at 24 h."""
        self.connections = 0
        """Connections accepted since start (a client that keeps reconnecting shows here)."""

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[Client]:
        return iter(list(self._clients))

    def add(self, client: Client) -> None:
        self.connections += 1
        self._clients.add(client)
        for symbol in client.symbols:
            self._by_symbol.setdefault(symbol, set()).add(client)

    def remove(self, client: Client) -> None:
        self._clients.discard(client)
        for symbol in client.symbols:
            subscribers = self._by_symbol.get(symbol)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del self._by_symbol[symbol]

    def publish(self, trade: EmittedTrade) -> None:
        """Queue a trade for its subscribers. The JSON is made once, not once per client."""
        if self.paused:
            return  # a stalled feed: the trade is recorded by the emitter but reaches no one
        subscribers = self._by_symbol.get(trade.trade.symbol)
        if not subscribers:
            return
        raw = trade.payload_json()
        combined = wrap(trade.trade.symbol, raw)
        for client in list(subscribers):
            if self.offer(client, combined if client.combined else raw):
                client.offered_trade(trade.trade.symbol, trade.id)

    def offer(self, client: Client, frame: Frame) -> bool:
        if client.offer(frame):
            return True
        log.warning(
            "client queue overflow: dropping the connection",
            extra={"client": client.peer, "streams": list(client.symbols), "queue": client.limit},
        )
        client.abort()
        self.remove(client)
        return False

    def pause(self) -> None:
        self.paused = True
        for client in self._clients:
            client.drop_backlog()  # missed frames are never delivered, not even after resume

    def resume(self) -> None:
        self.paused = False

    def close_expired(self, now: float | None = None) -> int:
        """Close, cleanly, every client connected longer than the lifetime; returns how many."""
        now = time.monotonic() if now is None else now
        expired = [c for c in self._clients if now - c.connected_at >= self.lifetime_s]
        for client in expired:
            client.close(GOING_AWAY, "connection lifetime reached")
            self.remove(client)
        return len(expired)

    def disconnect(self, mode: str) -> int:
        """Close every client, cleanly (1001) or abruptly; returns how many."""
        clients = list(self._clients)
        for client in clients:
            if mode == "abrupt":
                client.abort()
            else:
                client.close(GOING_AWAY, "disconnected by the control API")
            self.remove(client)
        return len(clients)
