"""The query API as a client sees it: authenticated httpx calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from harness.checks.paging import Page


@dataclass(frozen=True)
class Envelope:
    """Where a trades answer keeps its rows and its paging: dotted paths into the JSON body (the
    profile's `api.envelope`)."""

    rows: str
    has_more: str
    total: str

    @staticmethod
    def of(api: Mapping[str, Any]) -> Envelope:
        e = api["envelope"]
        return Envelope(e["rows"], e["has_more"], e["total"])

    def get(self, body: Any, which: str) -> Any:
        """The value at one of the paths (`rows`, `has_more`, `total`); None where the body has none."""
        value = body
        for part in getattr(self, which).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


class ApiProbe:
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        header: str,
        trades_path: str,
        max_limit: int,
        envelope: Envelope,
        timeout: float = 30.0,
    ) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), headers={header: api_key}, timeout=timeout)
        self.trades_path = trades_path
        self.max_limit = max_limit
        self.envelope = envelope

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={k: v for k, v in params.items() if v is not None})

    def page(self, symbol: str | None, limit: int, offset: int, **params: Any) -> dict[str, Any]:
        """One page of trades: the answer's body as served."""
        r = self.get(self.trades_path, symbol=symbol, limit=limit, offset=offset, **params)
        if r.status_code != 200:
            raise NonConforming(
                f"GET {self.trades_path} (limit {limit}, offset {offset}) answered {r.status_code}: {r.text[:300]}"
            )
        try:
            body: dict[str, Any] = r.json()
        except ValueError:
            raise NonConforming(
                f"GET {self.trades_path} answered 200 with a body that is not JSON: {r.text[:300]!r}"
            ) from None
        return body

    def trades(self, symbol: str | None = None, page_size: int | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every trade the API serves for the filters, following its pagination (`has_more`)."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self.page(symbol, page_size or self.max_limit, offset, **params)
            data, has_more = envelope(body, self.trades_path, self.envelope)
            out.extend(data)
            if not has_more or not data:
                return out
            offset += len(data)

    def pages(self, symbol: str | None, size: int, offsets: Sequence[int], **params: Any) -> list[Page]:
        """The pages of `size` rows at these offsets, as (offset, limit, keys, total, has_more)."""
        out = []
        for offset in offsets:
            body = self.page(symbol, size, offset, **params)
            data, has_more = envelope(body, self.trades_path, self.envelope)
            out.append(
                Page(
                    offset,
                    size,
                    tuple((t.get("symbol"), t.get("trade_id")) for t in data),
                    self.envelope.get(body, "total"),
                    has_more,
                )
            )
        return out

    def close(self) -> None:
        self.http.close()


def envelope(body: Any, path: str, shape: Envelope) -> tuple[list[dict[str, Any]], bool]:
    """A trades answer's rows and `has_more`, or NonConforming quoting what came instead."""
    data, has_more = shape.get(body, "rows"), shape.get(body, "has_more")
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise NonConforming(f"GET {path} answered without a list of trades in `{shape.rows}`: {str(body)[:300]}")
    if not isinstance(has_more, bool):
        raise NonConforming(f"GET {path} answered without a boolean `{shape.has_more}`: {str(body)[:200]}")
    return data, has_more


Key = tuple[str, str]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NonConforming(AssertionError):
    """An answer that is not what the contract says; the message quotes what came."""


def micros(iso: str) -> int:
    """Exact microseconds since the epoch of an ISO-8601 UTC time the API wrote."""
    try:
        when = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        raise NonConforming(
            f"time {iso!r} is not ISO-8601 (the contract's times look like 2026-01-02T03:04:05.123456Z)"
        ) from None
    if when.tzinfo is None:
        raise NonConforming(f"time {iso!r} has no zone (the contract's times are UTC and end in Z)")
    return (when - EPOCH) // timedelta(microseconds=1)


def iso(epoch_micros: int) -> str:
    return (EPOCH + timedelta(microseconds=epoch_micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AgeSample:
    """At `at` (seconds since the epoch), the newest trade the API served for `symbol` was traded
    at `newest` (seconds since the epoch)."""

    symbol: str
    at: float
    newest: float

    @property
    def age(self) -> float:
        return self.at - self.newest


@dataclass
class SymbolWatch:
    """What polling one symbol showed: when each trade was first served, and the newest trade at
    each poll. The cursor (start_time of the next poll) is the newest trade time seen, inclusive,
    so a poll returns only what is new plus the newest trade again; trades of one symbol share a
    partition and are committed in trade-time order, so nothing appears behind the cursor (except
    trades an ingest backfills after a reconnect: this probe is for a steady flow)."""

    symbol: str
    cursor: int
    """Microseconds since the epoch."""
    first_served: dict[Key, float] = field(default_factory=dict)
    samples: list[AgeSample] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    """Seconds each poll took, request to response: the resolution of a first-served time."""
    errors: list[str] = field(default_factory=list)

    def observe(self, trades: Sequence[dict[str, Any]], sent: float, received: float) -> list[Key]:
        """Take one poll's answer; returns the trades it showed for the first time. A trade's
        first-served time is when the answer arrived: an upper bound, at most one poll late."""
        self.durations.append(received - sent)
        new = []
        newest = None
        for t in trades:
            key = (t["symbol"], t["trade_id"])
            if key not in self.first_served:
                self.first_served[key] = received
                new.append(key)
            traded = micros(t["timestamp"])
            newest = traded if newest is None else max(newest, traded)
        if newest is not None:
            self.cursor = max(self.cursor, newest)
            self.samples.append(AgeSample(self.symbol, received, newest / 1e6))
        return new


class TradePoller:
    """Polls the API for each symbol on a thread of its own, every `every` seconds (or back to
    back when a poll takes longer), from `since` until stopped: when each trade was first served,
    and how old the newest served trade was at each poll. Read-only, like every probe."""

    def __init__(
        self,
        url: str,
        api_key: str,
        symbols: Sequence[str],
        since: datetime,
        header: str,
        trades_path: str,
        max_limit: int,
        envelope: Envelope,
        every: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = (url, api_key, header)
        self._envelope = envelope
        self._paths = (trades_path, max_limit)
        self.every = every
        self.clock = clock
        start = (since.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)
        self.watches = {s: SymbolWatch(s, start) for s in symbols}
        self._lock = threading.Lock()
        self._fresh: dict[Key, float] = {}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(w,), name=f"api-poller-{w.symbol}", daemon=True)
            for w in self.watches.values()
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def _run(self, watch: SymbolWatch) -> None:
        url, api_key, header = self._client
        api = ApiProbe(
            url,
            api_key,
            header=header,
            timeout=10.0,
            trades_path=self._paths[0],
            max_limit=self._paths[1],
            envelope=self._envelope,
        )
        try:
            while not self._stop.is_set():
                sent = self.clock()
                try:
                    trades = api.trades(watch.symbol, start_time=iso(watch.cursor))
                except Exception as exc:  # an answer that failed or made no sense: note it, keep polling
                    with self._lock:
                        watch.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                else:
                    received = self.clock()
                    with self._lock:
                        for key in watch.observe(trades, sent, received):
                            self._fresh[key] = watch.first_served[key]
                # pacing, not waiting for state: the next poll starts `every` after this one did
                self._stop.wait(max(0.0, self.every - (self.clock() - sent)))
        finally:
            api.close()

    def drain(self) -> dict[Key, float]:
        """The trades first served since the last drain, with when."""
        with self._lock:
            fresh, self._fresh = self._fresh, {}
        return fresh

    def samples(self) -> list[AgeSample]:
        with self._lock:
            return [s for w in self.watches.values() for s in w.samples]

    def durations(self) -> list[float]:
        with self._lock:
            return [d for w in self.watches.values() for d in w.durations]

    def errors(self) -> list[str]:
        with self._lock:
            return [f"{w.symbol}: {e}" for w in self.watches.values() for e in w.errors]

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=15)


# How a client may ask for trades, in the words of the feature files.
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "without an API key": ("none", {}),
    "with a wrong API key": ("wrong", {}),
    "with a limit of 0": ("right", {"limit": 0}),
    "with a limit of 10001": ("right", {"limit": 10001}),
    "with a malformed start time": ("right", {"start_time": "yesterday-ish"}),
    "with an end time before its start time": (
        "right",
        {"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"},
    ),
    "with a valid key and limit": ("right", {"limit": 5}),
}


def answer_to(url: str, api_key: str, how: str, header: str, path: str) -> httpx.Response:
    """The API's answer to a trades request made `how` (a key of REQUESTS)."""
    if how not in REQUESTS:
        raise AssertionError(f"no such request {how!r}; known: {', '.join(REQUESTS)}")
    key, params = REQUESTS[how]
    headers = {} if key == "none" else {header: api_key if key == "right" else api_key + "-wrong"}
    return httpx.get(url.rstrip("/") + path, params=params, headers=headers, timeout=30)


@dataclass(frozen=True)
class HealthPaths:
    """Where the API reports its health (the profile's `api.health`, `health_ready`, `health_live`)."""

    health: str
    ready: str
    live: str

    @staticmethod
    def of(api: dict[str, Any]) -> HealthPaths:
        return HealthPaths(api["health"], api["health_ready"], api["health_live"])


def health_expected(api: Mapping[str, Any], healthy: bool) -> dict[str, Any]:
    """The answers of a healthy (or an unhealthy but running) API, in the profile's meaning:
    its health code and status word, the same code for readiness, and liveness 200 either way."""
    state = api["health_meaning"]["healthy" if healthy else "unhealthy"]
    return {"health": state["code"], "status": state["status"], "ready": state["code"], "live": 200}


def health(url: str, paths: HealthPaths) -> dict[str, Any]:
    """What the API says about itself: its health answer (code and status) and its readiness and
    liveness codes. A body that is not JSON, or has no status, is reported as it came."""
    base = url.rstrip("/")
    with httpx.Client(timeout=10) as http:
        h = http.get(base + paths.health)
        try:
            status = h.json().get("status")
        except (ValueError, AttributeError):
            status = f"not a JSON object: {h.text[:100]!r}"
        ready = http.get(base + paths.ready)
        return {
            "health": h.status_code,
            "status": status,
            "ready": ready.status_code,
            "live": http.get(base + paths.live).status_code,
            "bodies": {paths.health: h.text[:240], paths.ready: ready.text[:160]},
        }


class HealthMismatch(AssertionError):
    """The API's health is not what was expected; the message has what it answered."""


def health_is(
    url: str, expected: dict[str, Any], paths: HealthPaths, read: Callable[[str, HealthPaths], dict[str, Any]] = health
) -> dict[str, Any]:
    """The API's health if it is `expected`; else raises with what it said instead, so that a wait
    that runs out shows the last answer, not only that the condition was false."""
    got = read(url, paths)
    differ = {k: got.get(k) for k in expected if got.get(k) != expected[k]}
    if differ:
        bodies = got.get("bodies") or {}
        answered = (
            f"GET {paths.health} {got.get('health')} (status {got.get('status')!r}), GET {paths.ready} "
            f"{got.get('ready')}, GET {paths.live} {got.get('live')}"
        )
        raise HealthMismatch(
            f"the API answered {answered} ({', '.join(f'{k} {v!r}' for k, v in differ.items())} where "
            f"{', '.join(f'{k} {expected[k]!r}' for k in differ)} was expected)"
            + "".join(f"; body of {path}: {body!r}" for path, body in bodies.items())
        )
    return {k: v for k, v in got.items() if k != "bodies"}
