"""The outermost layer of every request: correlation id, metrics, access log, last-resort 500.

A plain ASGI middleware rather than an exception handler for `Exception`: Starlette runs that
handler outside all middleware, so its 500 would lose the X-Correlation-ID header and the metric.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from k2.api import context
from k2.api.errors import error_response
from k2.api.metrics import Metrics

log = logging.getLogger("k2.api")


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics, quiet_routes: Collection[str]) -> None:
        """`quiet_routes`: route templates left out of the access log (probes and scrapes, which
        would drown the requests of clients)."""
        self.app = app
        self.metrics = metrics
        self.quiet_routes = frozenset(quiet_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = context.accept_or_generate(Headers(scope=scope).get(context.HEADER))
        token = context.correlation_id.set(cid)
        started = False
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[context.HEADER] = cid
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # the full error goes to the log under the correlation id; the client only gets the id
            log.exception("unhandled error", extra={"correlation_id": cid, "path": scope.get("path")})
            if started:
                raise
            await error_response(500, "INTERNAL_ERROR", f"internal error; quote correlation id {cid}")(
                scope, receive, send_with_id
            )
        finally:
            elapsed = time.perf_counter() - t0
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope.get("method", "?"), template, status, elapsed)
            if template not in self.quiet_routes:
                log.info(
                    "request",
                    extra={
                        "correlation_id": cid,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                    },
                )
            context.correlation_id.reset(token)
