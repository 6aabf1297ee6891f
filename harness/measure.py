"""Measure the pipeline under a steady load: throughput served and latency per trade.

Emits `rate` trades/s spread over the symbols for `duration` seconds and polls the API (one
query every 100 ms, cursor on trade time) to record when each trade is first served.
Latency of a trade = first time served - its exchange trade time (both wall clock, one machine).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.checks import Verdict, exactly_once
from harness.latency import Percentiles, summarize
from harness.probes.api import ApiProbe
from harness.waiting import eventually
from harness.workload.exchange import ExchangeControl

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
POLL_EVERY = 0.1
CURSOR_LAG = timedelta(seconds=2)  # a commit (1 s of trades) may land out of time order across partitions


@dataclass(frozen=True)
class FlowResult:
    rate: float
    duration_s: float
    verdict: Verdict
    throughput: float
    end_to_end: Percentiles
    exchange_to_ingest: Percentiles

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "duration_s": self.duration_s, "throughput": round(self.throughput, 1),
                "counts": self.verdict.counts, "end_to_end": self.end_to_end.as_dict(),
                "exchange_to_ingest": self.exchange_to_ingest.as_dict()}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def measure_flow(clients: dict[str, Any], rate: float, duration: float,
                 symbols: tuple[str, ...] = SYMBOLS, say: Any = print) -> FlowResult:
    exchange = ExchangeControl(clients["exchange"]["control_url"])
    api = ApiProbe(clients["api"]["url"], clients["api"]["api_key"])
    try:
        per_symbol = rate / len(symbols)
        count = max(1, round(per_symbol * duration))
        started = time.time()
        emissions = [exchange.emit(s, count, per_symbol) for s in symbols]
        expected = {(e.symbol, f"BINANCE-{i}") for e in emissions for i in e.ids}
        say(f"[measure] {len(expected)} trades at {rate:g}/s over {len(symbols)} symbols for {duration:g} s")
        seen: dict[tuple[str, str], tuple[float, float, float]] = {}  # first served, trade time, ingested
        cursor = datetime.fromtimestamp(started, UTC) - CURSOR_LAG

        def poll() -> bool:
            nonlocal cursor
            r = api.get("/v1/trades", start_time=_iso(cursor), limit=10000)
            now = time.time()
            if r.status_code != 200:
                raise AssertionError(f"GET /v1/trades answered {r.status_code}: {r.text[:200]}")
            newest = cursor
            for t in r.json()["data"]:
                key = (t["symbol"], t["trade_id"])
                if key in expected and key not in seen:
                    traded = _parse(t["timestamp"])
                    seen[key] = (now, traded.timestamp(), _parse(t["ingestion_timestamp"]).timestamp())
                    newest = max(newest, traded)
            cursor = max(cursor, newest - CURSOR_LAG)
            return len(seen) == len(expected)

        eventually(poll, within=duration + 120, every=POLL_EVERY,
                   describe=f"all {len(expected)} trades served (seen {len(seen)})")
        served = [(t["symbol"], t["trade_id"]) for s in symbols
                  for t in api.trades(s, start_time=_iso(datetime.fromtimestamp(started, UTC) - CURSOR_LAG))]
        verdict = exactly_once("served", expected, served)
        served_at = sorted(v[0] for v in seen.values())
        # steady-state rate at the API: trades served per second between the first and the last
        window = max(served_at[-1] - served_at[0], 1e-9)
        return FlowResult(
            rate=rate, duration_s=duration, verdict=verdict, throughput=(len(served_at) - 1) / window,
            end_to_end=summarize([v[0] - v[1] for v in seen.values()]),
            exchange_to_ingest=summarize([v[2] - v[1] for v in seen.values()]),
        )
    finally:
        exchange.close()
        api.close()
