"""Measure the pipeline under a steady load: throughput served and latency per trade.

Emits `rate` trades/s spread over the symbols for `duration` seconds and polls the API (one
query every 100 ms, cursor on trade time) to record when each trade is first served.
Latency of a trade = first time served - its exchange trade time (both wall clock, one machine).

Two ways to poll: one query over all symbols whose cursor trails the newest trade seen by
CURSOR_LAG, or one query per symbol whose cursor is that symbol's newest trade seen
(`per_symbol=True`: `harness measure` and the benchmarks). A symbol's trades share a Kafka
partition and are committed in trade-time order, so each poll returns only what is new. The
single query misses every trade of a partition committed more than CURSOR_LAG behind another's,
as two consumers writing one table do at 1,000 trades/s (profile cluster). Either way every page
of an answer is read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.checks import Verdict, exactly_once
from harness.endpoints import Endpoints
from harness.latency import Percentiles, summarize
from harness.probes.api import ApiProbe, Envelope, iso, micros
from harness.targets import Target
from harness.waiting import ConditionTimeout, eventually
from harness.workload.exchange import ExchangeControl

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
POLL_EVERY = 0.1
CURSOR_LAG = timedelta(seconds=2)  # a commit (1 s of trades) may land out of time order across partitions


@dataclass(frozen=True)
class FlowResult:
    rate: float
    duration_s: float
    verdict: Verdict
    throughput: float | None
    """Trades served per second in the steady part of the flow (served_rate); None if unknown."""
    end_to_end: Percentiles
    exchange_to_ingest: Percentiles
    timed_out: bool = False
    """Only with strict=False: not every trade was seen served within the budget; the figures
    are over those that were."""
    unmeasured: int = 0
    """Expected trades the polls never saw served (so without a latency)."""
    traded_rate: float | None = None
    """Trades per second by their exchange trade times (first to last seen): the rate the exchange
    really emitted at, which a throughput below the asked rate is to be compared with."""

    def as_dict(self) -> dict[str, Any]:
        served = None if self.throughput is None else round(self.throughput, 1)
        return {
            "rate": self.rate,
            "duration_s": self.duration_s,
            "throughput": served,
            "counts": self.verdict.counts,
            "end_to_end": self.end_to_end.as_dict(),
            "exchange_to_ingest": self.exchange_to_ingest.as_dict(),
        }


TRIM = 0.05
"""Share of the trades served first and last that the throughput leaves out (see served_rate)."""


def served_rate(served_at: Sequence[float], trim: float = TRIM) -> float | None:
    """Trades served per second while the flow was steady: over the trades between the first and
    the last `trim` of them in serving order.

    Counted from the first to the very last trade served, one slow commit at the end of a short
    step stretched the window by its own duration: a 10 s step at 100/s whose last commit took
    2 s more read 86/s, although the pipeline kept up. A pipeline that falls behind serves
    slower all along, and that still shows between the trimmed ends. None with fewer than 3
    trades between them, or when they were all served at once (no rate to speak of).
    """
    times = sorted(served_at)
    first, last = int(len(times) * trim), len(times) - 1 - int(len(times) * trim)
    if last - first < 2 or times[last] <= times[first]:
        return None
    return (last - first) / (times[last] - times[first])


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _page(api: ApiProbe, **params: Any) -> list[dict[str, Any]]:
    """Every trade of a trades query, all pages (newest first), from one poll."""
    out: list[dict[str, Any]] = []
    while True:
        r = api.get(api.trades_path, limit=api.max_limit, offset=len(out) or None, **params)
        if r.status_code != 200:
            raise AssertionError(f"GET {api.trades_path} answered {r.status_code}: {r.text[:200]}")
        body = r.json()
        out.extend(body["data"])
        if not body["data"] or not body.get("pagination", {}).get("has_more"):
            return out


def measure_flow(
    endpoints: Endpoints,
    rate: float,
    duration: float,
    symbols: tuple[str, ...] = SYMBOLS,
    say: Any = print,
    *,
    per_symbol: bool = False,
    settle: float = 120.0,
    strict: bool = True,
) -> FlowResult:
    """Emit `rate` trades/s for `duration` s and wait up to `settle` s more for all to be served.

    strict (the default): a trade not served in time raises ConditionTimeout. strict=False
    reports instead (timed_out, and the lost count of the final read); it still raises when
    nothing at all was served, as there would be no latency to report.
    """
    exchange = ExchangeControl(endpoints.control_url())
    target = Target.load()
    api = ApiProbe(
        endpoints.api.url,
        endpoints.api.api_key,
        header=target.api["key_header"],
        trades_path=target.api["trades"],
        max_limit=target.api["max_limit"],
        envelope=Envelope.of(target.api),
    )
    try:
        per_symbol_rate = rate / len(symbols)
        count = max(1, round(per_symbol_rate * duration))
        started = time.time()
        emissions = [exchange.emit(s, count, per_symbol_rate) for s in symbols]
        expected = {(e.symbol, f"{target.exchange}-{i}") for e in emissions for i in e.ids}
        say(f"[measure] {len(expected)} trades at {rate:g}/s over {len(symbols)} symbols for {duration:g} s")
        seen: dict[tuple[str, str], tuple[float, float, float]] = {}  # first served, trade time, ingested
        since = datetime.fromtimestamp(started, UTC) - CURSOR_LAG
        cursor = since
        cursors = {s: micros(_iso(since)) for s in symbols}  # per symbol: newest trade seen, inclusive

        def take(trades: list[dict[str, Any]], now: float) -> datetime | None:
            newest = None
            for t in trades:
                key = (t["symbol"], t["trade_id"])
                if key in expected and key not in seen:
                    traded = _parse(t["timestamp"])
                    seen[key] = (now, traded.timestamp(), _parse(t["ingestion_timestamp"]).timestamp())
                    newest = traded if newest is None else max(newest, traded)
            return newest

        def poll() -> bool:
            nonlocal cursor
            if per_symbol:
                for s in symbols:
                    trades = _page(api, symbol=s, start_time=iso(cursors[s]))
                    take(trades, time.time())
                    if trades:
                        cursors[s] = max(cursors[s], max(micros(t["timestamp"]) for t in trades))
            else:
                newest = take(_page(api, start_time=_iso(cursor)), time.time())
                if newest is not None:
                    cursor = max(cursor, newest - CURSOR_LAG)
            if len(seen) < len(expected):  # raised, so that a timeout says how many were seen
                raise AssertionError(f"{len(seen)} of {len(expected)} seen served")
            return True

        timed_out = False
        try:
            eventually(
                poll,
                within=duration + settle,
                every=POLL_EVERY,
                describe=f"all {len(expected)} trades served",
            )
        except ConditionTimeout:
            if strict or not seen:
                raise
            timed_out = True
            say(f"[measure] only {len(seen)} of {len(expected)} trades served within {duration + settle:g} s")
        served = [(t["symbol"], t["trade_id"]) for s in symbols for t in api.trades(s, start_time=_iso(since))]
        verdict = exactly_once("served", expected, served)
        traded_at = sorted(v[1] for v in seen.values())
        traded_rate = (len(traded_at) - 1) / (traded_at[-1] - traded_at[0]) if traded_at[-1] > traded_at[0] else None
        return FlowResult(
            rate=rate,
            duration_s=duration,
            verdict=verdict,
            throughput=served_rate([v[0] for v in seen.values()]),
            end_to_end=summarize([v[0] - v[1] for v in seen.values()]),
            exchange_to_ingest=summarize([v[2] - v[1] for v in seen.values()]),
            timed_out=timed_out,
            unmeasured=len(expected) - len(seen),
            traded_rate=traded_rate,
        )
    finally:
        exchange.close()
        api.close()
