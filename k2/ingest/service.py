"""The ingest process: start-up (topics, subject, resume point), the feed, and health endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import httpx
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from k2.ingest import kafka_io
from k2.ingest.cursor import Cursor
from k2.ingest.feed import Feed
from k2.ingest.settings import Settings

log = logging.getLogger("k2.ingest")


class Ingest:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stage = "starting"
        self.problem = ""
        self.fatal = ""
        self.feed: Feed | None = None
        self.producer: kafka_io.TradeProducer | None = None
        self.stop = asyncio.Event()

    def on_fatal(self, reason: str) -> None:
        log.error("fatal producer error, stopping", extra={"reason": reason})
        self.fatal = reason
        self.stop.set()

    async def prepare(self) -> tuple[kafka_io.TradeProducer, Cursor]:
        """Topics, registry subject and resume point; retried until Kafka and the registry answer."""
        registry = SchemaRegistryClient({"url": self.settings.registry_url})
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(kafka_io.ensure_topics, self.settings)
                schema_id = await asyncio.to_thread(kafka_io.ensure_subject, registry, self.settings)
                cursor = await asyncio.to_thread(kafka_io.resume_cursor, self.settings, registry)
                producer = kafka_io.TradeProducer(self.settings, schema_id, self.on_fatal)
                log.info(
                    "prepared",
                    extra={
                        "schema_id": schema_id,
                        "resume_from": cursor.last,
                        "owed": {s: [list(g) for g in gaps] for s, gaps in cursor.gaps.items()},
                    },
                )
                return producer, cursor
            except Exception as exc:  # dependencies not there yet: say so, and retry
                self.problem = f"{type(exc).__name__}: {exc}"
                log.warning("start-up step failed, retrying", extra={"error": self.problem})
                try:
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)
                    raise asyncio.CancelledError from None
                except TimeoutError:
                    delay = min(delay * 2, 5.0)

    async def run(self) -> None:
        self.producer, cursor = await self.prepare()
        self.problem = ""
        self.stage = "streaming"
        async with httpx.AsyncClient(base_url=self.settings.rest_url, timeout=10) as rest:
            self.feed = Feed(self.settings, self.producer, cursor, rest)
            poller = asyncio.create_task(self._serve_callbacks())
            try:
                await self.feed.run(self.stop)
            finally:
                poller.cancel()
                left = await asyncio.to_thread(self.producer.flush, 15)
                log.info("stopped", extra={"unflushed": left, **asdict(self.feed.counters)})

    async def _serve_callbacks(self) -> None:
        assert self.producer is not None
        while True:
            await asyncio.to_thread(self.producer.poll, 0.1)

    def ready(self) -> tuple[bool, str]:
        if self.fatal:
            return False, self.fatal
        if self.stage != "streaming":
            return False, self.problem or "preparing topics, schema and resume point"
        if self.feed is None or not self.feed.connected:
            return False, "not connected to the exchange"
        return True, "streaming"

    def status(self) -> dict[str, Any]:
        ok, detail = self.ready()
        counters = asdict(self.feed.counters) if self.feed else {}
        delivered = self.producer.delivered if self.producer else 0
        return {
            "ready": ok,
            "detail": detail,
            "stage": self.stage,
            "delivered": delivered,
            "last_trade_ids": dict(self.feed.cursor.last) if self.feed else {},
            "unfilled": list(self.feed.unfilled) if self.feed else [],
            "owed": owed(self.feed.cursor) if self.feed else [],
            "backfill_waiting": self.feed.backfill_waiting if self.feed else None,
            **counters,
        }


def owed(cursor: Cursor) -> list[dict[str, Any]]:
    """The gaps the backfill still owes, as /status lists them."""
    return [
        {"symbol": s, "from": a, "to": b, "size": b - a + 1} for s, gaps in sorted(cursor.gaps.items()) for a, b in gaps
    ]


def create_app(settings: Settings) -> FastAPI:
    ingest = Ingest(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(ingest.run())

        def finished(t: asyncio.Task[None]) -> None:
            if not t.cancelled() and (t.exception() or ingest.fatal):
                log.error("ingest stopped unexpectedly", extra={"error": str(t.exception() or ingest.fatal)})
                os.kill(os.getpid(), signal.SIGTERM)  # let the supervisor restart a clean process

        task.add_done_callback(finished)
        yield
        ingest.stop.set()
        # the feed may be blocked reading a quiet stream: cancel it; run() still flushes Kafka
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=20)

    app = FastAPI(title="K2 ingest", lifespan=lifespan)
    app.state.ingest = ingest

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready")
    def ready() -> JSONResponse:
        ok, detail = ingest.ready()
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "detail": detail}, status_code=200 if ok else 503
        )

    @app.get("/status")
    def status() -> dict[str, Any]:
        return ingest.status()

    return app
