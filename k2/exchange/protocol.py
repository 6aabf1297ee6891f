"""uvicorn's WebSocket protocol plus a way for the app to drop a connection abruptly.

ASGI can only close a WebSocket politely (a close frame). A stalled or crashed exchange does
not say goodbye, and clients must survive that too, so this protocol puts the transport's
`abort` (close the TCP connection, no close frame) into the scope as an extension:
`scope["extensions"][ABORT_EXTENSION]["abort"]()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

ABORT_EXTENSION = "k2.abort"


class AbortableWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The scope exists only once the handshake was accepted; the app's task, created by the
        # parent, has not run yet, so it sees the extension from its first line.
        scope = self.__dict__.get("scope")
        if scope is not None:
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = {"abort": self.transport.abort}


def abort_of(scope: Mapping[str, Any]) -> Callable[[], None] | None:
    """The connection's abort function, when the server provides our extension."""
    entry = scope.get("extensions", {}).get(ABORT_EXTENSION, {})
    abort = entry.get("abort")
    return abort if callable(abort) else None
