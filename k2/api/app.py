"""The HTTP surface of CONTRACT.md §6: routes, auth and envelopes over a TradeStore.

`create_app(settings)` wires the real Iceberg store and dependency checks; tests pass fakes
for both (`store=`, `health=`) and exercise everything else for real.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Security
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BeforeValidator

from k2.api import context, errors, filecache, manifests, metadata_cache
from k2.api.cache import SnapshotCache
from k2.api.deadline import DeadlineStore
from k2.api.errors import ApiError
from k2.api.health import DependencyChecks, HealthProbe, report
from k2.api.metrics import CONTENT_TYPE, Metrics
from k2.api.middleware import RequestContext
from k2.api.models import (
    ErrorResponse,
    HealthResponse,
    LiveResponse,
    Meta,
    Pagination,
    SnapshotsResponse,
    StatsResponse,
    SymbolsResponse,
    TradesResponse,
    now_str,
)
from k2.api.queries import CatalogHandle, IcebergStore, StoreUnavailable, TradeQuery, TradeStore
from k2.api.settings import ApiSettings
from k2.api.trades_json import trades_json

MAX_LIMIT = 10_000
# RequestContext answers any route's crash with this 500, so every route's document declares it
_CRASH_RESPONSE: dict[int | str, dict[str, Any]] = {
    500: {"model": ErrorResponse, "description": "unexpected error (details only in the service log)"},
}


def _error_responses(header: str) -> dict[int | str, dict[str, Any]]:
    return {
        401: {"model": ErrorResponse, "description": f"{header} header missing"},
        403: {"model": ErrorResponse, "description": f"{header} does not match"},
        422: {"model": ErrorResponse, "description": "a parameter is invalid; the message names it"},
        **_CRASH_RESPONSE,
        503: {"model": ErrorResponse, "description": "the catalog or the object store did not answer"},
    }


def _auth(expected: str, header: str) -> Any:
    expected_bytes = expected.encode()
    # one per app, not per module: the header's name (K2_API_KEY_HEADER) is a setting of the app
    key_header = APIKeyHeader(
        name=header, auto_error=False, description="the key the service was started with (K2_API_KEY)"
    )

    # a default, not Annotated[...]: annotations are strings here, and FastAPI resolves them in the
    # module's globals, where this function's own key_header is not
    def require_api_key(given: str | None = Security(key_header)) -> None:
        if not given:
            raise ApiError(401, "UNAUTHORIZED", f"missing {header} header", headers={"WWW-Authenticate": "ApiKey"})
        # constant time: the response time must not tell how much of a guessed key was right
        if not hmac.compare_digest(given.encode(), expected_bytes):
            raise ApiError(403, "FORBIDDEN", f"invalid {header}")

    return require_api_key


# An ISO-8601 time starts with its calendar date. pydantic would also read a bare number as Unix
# time ("0.5", "1709251200", even milliseconds "1709251200000"), so a client sending epoch values
# would silently get another window than it meant; the contract and the document say ISO-8601.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_8601(value: object) -> object:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected an ISO-8601 time such as 2024-03-01T09:30:00Z")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_8601)]


def json_response(body: Any) -> Response:
    """What JSONResponse would send, by orjson: the same bytes for text, whole numbers, booleans
    and nulls (all a page holds), in a fraction of the time; json.dumps was 11 % of the API's CPU."""
    return Response(orjson.dumps(body), media_type="application/json")


def _meta() -> Meta:
    return Meta(correlation_id=context.correlation_id.get(), timestamp=now_str())


def _utc(value: datetime | None) -> datetime | None:
    # A time without an offset means UTC, like the table's timestamps. No astimezone(): near
    # datetime.max it would overflow, and comparisons of aware values need no conversion.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _normalise(value: str | None) -> str | None:
    # Symbols and exchanges are upper case in the contract (BTCUSDT, BINANCE); accept any case.
    return value.strip().upper() if value is not None else None


def create_app(settings: ApiSettings, store: TradeStore | None = None, health: HealthProbe | None = None) -> FastAPI:
    metrics = Metrics()
    owned: list[DependencyChecks | DeadlineStore] = []
    if store is None or health is None:
        catalog = CatalogHandle(settings.catalog, settings.table)
        if store is None:
            cache = SnapshotCache(max_rows=settings.cache_rows)
            metrics.add_collector(cache.exposition)
            manifest_cache = manifests.install(settings.manifest_cache_entries)
            if manifest_cache is not None:
                metrics.add_collector(manifest_cache.exposition)
            metrics.add_collector(metadata_cache.install().exposition)
            file_cache = filecache.install(settings.file_cache_mb)
            if file_cache is not None:
                metrics.add_collector(file_cache.exposition)
            store = IcebergStore(catalog, cache, settings.table)
        if health is None:
            checks = DependencyChecks(settings, catalog)
            owned.append(checks)
            health = checks
    trade_store = DeadlineStore(store, settings.query_timeout_s)
    owned.append(trade_store)
    probe: HealthProbe = health

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for c in owned:
            c.close()

    app = FastAPI(
        title="K2 market data API",
        version=settings.version,
        lifespan=lifespan,
        description=f"Trades of the Iceberg table {settings.table} (CONTRACT.md §6).",
    )
    errors.install(app)

    async def _unavailable(_: Any, exc: Exception) -> JSONResponse:
        return errors.error_response(503, "SERVICE_UNAVAILABLE", str(exc))

    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_middleware(
        RequestContext,
        metrics=metrics,
        quiet_routes={settings.health_path, settings.ready_path, settings.live_path, "/metrics"},
    )

    # ------------------------------------------------------------------ health and metrics
    @app.get(
        settings.health_path,
        response_model=HealthResponse,
        tags=["health"],
        responses={503: {"model": HealthResponse, "description": "a dependency is down"}, **_CRASH_RESPONSE},
    )
    def get_health() -> JSONResponse:
        body = report(settings.version, probe.check())
        return JSONResponse(body.model_dump(mode="json"), status_code=503 if body.status == "unhealthy" else 200)

    @app.get(settings.live_path, response_model=LiveResponse, tags=["health"], responses=_CRASH_RESPONSE)
    def get_live() -> LiveResponse:
        return LiveResponse(version=settings.version, timestamp=now_str())

    @app.get(
        settings.ready_path,
        response_model=HealthResponse,
        tags=["health"],
        responses={503: {"model": HealthResponse, "description": "a dependency does not answer"}, **_CRASH_RESPONSE},
    )
    def get_ready() -> JSONResponse:
        # Ready means the dependencies answer; a table not created yet is "degraded" but ready.
        body = report(settings.version, probe.check())
        return JSONResponse(body.model_dump(mode="json"), status_code=503 if body.status == "unhealthy" else 200)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        tags=["health"],
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **_CRASH_RESPONSE},
    )
    def get_metrics() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    # ------------------------------------------------------------------ K2_API_PREFIX (/v1)
    v1 = APIRouter(
        prefix=settings.prefix,
        tags=["market data"],
        dependencies=[Depends(_auth(settings.api_key.get_secret_value(), settings.key_header))],
        responses=_error_responses(settings.key_header),
    )

    @v1.get("/trades", response_model=TradesResponse, summary="Trades, newest first")
    def get_trades(
        symbol: Annotated[str | None, Query(min_length=1, max_length=64, description="e.g. BTCUSDT")] = None,
        exchange: Annotated[str | None, Query(min_length=1, max_length=64, description="e.g. BINANCE")] = None,
        start_time: Annotated[IsoTime | None, Query(description="ISO-8601, inclusive; no offset means UTC")] = None,
        end_time: Annotated[IsoTime | None, Query(description="ISO-8601, inclusive; no offset means UTC")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        start, end = _utc(start_time), _utc(end_time)
        if start is not None and end is not None and start > end:
            raise ApiError(422, "INVALID_PARAMETER", f"start_time: {start_time} is after end_time {end_time}")
        query = TradeQuery(
            symbol=_normalise(symbol), exchange=_normalise(exchange), start=start, end=end, limit=limit, offset=offset
        )
        page = trade_store.trades(query)
        # JSON built from the columns, not through a Trade model per row (k2/api/trades_json.py);
        # returning a response skips FastAPI's second validation of every row against the model.
        data = trades_json(page.rows)
        pagination = Pagination(limit=limit, offset=offset, total=page.total, has_more=offset + len(data) < page.total)
        return json_response(
            {"success": True, "meta": _meta().model_dump(), "data": data, "pagination": pagination.model_dump()}
        )

    @v1.get("/symbols", response_model=SymbolsResponse, summary="Distinct symbols in the table")
    def get_symbols(
        exchange: Annotated[str | None, Query(min_length=1, max_length=64, description="e.g. BINANCE")] = None,
    ) -> SymbolsResponse:
        return SymbolsResponse(meta=_meta(), data=trade_store.symbols(_normalise(exchange)))

    @v1.get("/stats", response_model=StatsResponse, summary="Row counts and snapshot count")
    def get_stats() -> StatsResponse:
        return StatsResponse(meta=_meta(), data=trade_store.stats())

    @v1.get("/snapshots", response_model=SnapshotsResponse, summary="Iceberg snapshots, newest first")
    def get_snapshots(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> SnapshotsResponse:
        snapshots, total = trade_store.snapshots(limit, offset)
        return SnapshotsResponse(
            meta=_meta(),
            data=snapshots,
            pagination=Pagination(limit=limit, offset=offset, total=total, has_more=offset + len(snapshots) < total),
        )

    app.include_router(v1)
    return app
