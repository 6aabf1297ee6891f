"""The consumer process: the loop on a thread, health and status over HTTP."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from k2.consumer.loop import ConsumerLoop
from k2.consumer.settings import Settings

log = logging.getLogger("k2.consumer")


def create_app(settings: Settings) -> FastAPI:
    loop = ConsumerLoop(settings)

    def run() -> None:
        try:
            loop.run()
        except Exception:
            log.exception("consumer loop crashed")
            os.kill(os.getpid(), signal.SIGTERM)  # exit; the supervisor restarts a clean process

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=run, name="consumer-loop", daemon=True)
        thread.start()
        yield
        loop.stopping.set()
        thread.join(timeout=25)

    app = FastAPI(title="K2 consumer", lifespan=lifespan)

    def readiness() -> tuple[bool, str]:
        if not loop.started.is_set():
            return False, loop.stats.last_error or "opening the table"
        if loop.failing:
            return False, loop.stats.last_error
        if not loop.kafka_ok:
            return False, loop.stats.last_error or "checking kafka"
        return True, "consuming"

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready")
    def ready() -> JSONResponse:
        ok, detail = readiness()
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "detail": detail}, status_code=200 if ok else 503
        )

    @app.get("/status")
    def status() -> dict[str, Any]:
        ok, detail = readiness()
        conflicts = loop.writer.conflicts if loop.writer is not None else 0
        return {
            "ready": ok,
            "detail": detail,
            **asdict(loop.stats),
            "commit_conflicts": conflicts,
            "instance_id": settings.instance_id,
        }

    return app
