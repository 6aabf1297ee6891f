"""How quickly live trades reach the query API while something else is wrong upstream (the
exchange refusing its trade history, a gap the ingest still owes): for each trade of one emission,
from its trade time on the exchange to the first poll of the API that served it."""

from __future__ import annotations

import sys
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harness.checks import Verdict
from harness.checks.latency import live_in_time
from harness.freshness import POLL_EVERY
from harness.latency import summarize
from harness.probes.api import Envelope, TradePoller
from harness.scenario import Key, PipelineRun
from harness.waiting import ConditionTimeout, eventually
from harness.workload.exchange import Emission


@dataclass
class LiveWatch:
    run: PipelineRun
    poller: TradePoller
    emission: Emission

    @staticmethod
    def trade(run: PipelineRun, symbol: str, count: int, rate: float) -> LiveWatch:
        """Start polling the API for `symbol`, then ask the exchange for the trades."""
        api, names = run.endpoints.api, run.target.api
        poller = TradePoller(
            api.url,
            api.api_key,
            [symbol],
            since=datetime.now(UTC) - timedelta(seconds=5),
            header=names["key_header"],
            trades_path=names["trades"],
            max_limit=int(names["max_limit"]),
            envelope=Envelope.of(names),
            every=POLL_EVERY,
        )
        poller.start()  # before the first trade, so no first-served time is missed
        try:
            emission = run.trade(symbol, count, rate)
        except BaseException:
            poller.stop()
            raise
        return LiveWatch(run, poller, emission)

    def keys(self) -> set[Key]:
        prefix = f"{self.run.target.exchange}-"
        return {(self.emission.symbol, f"{prefix}{i}") for i in self.emission.ids}

    def served(self, within: float) -> dict[Key, float]:
        """When each trade was first served (seconds since the epoch), once all were or `within`
        has passed; the poller stops."""
        keys = self.keys()
        seen: dict[Key, float] = {}

        def all_served() -> bool:
            seen.update({k: t for k, t in self.poller.drain().items() if k in keys})
            if len(seen) < len(keys):
                raise AssertionError(f"{len(seen)} of the {len(keys)} live trades served")
            return True

        with suppress(ConditionTimeout):  # the verdict says which were not served
            eventually(
                all_served, within=within, every=0.25, describe=f"the query API serving the {len(keys)} live trades"
            )
        self.poller.stop()
        seen.update({k: t for k, t in self.poller.drain().items() if k in keys})
        return seen

    def delays(self, within: float) -> tuple[dict[Key, float], dict[Key, float]]:
        """Per trade served: seconds from its trade time to first served; and when it was served."""
        served = self.served(within)
        prefix = f"{self.run.target.exchange}-"
        traded = {
            (self.emission.symbol, f"{prefix}{t['t']}"): t["T"] / 1000
            for t in self.run.control.emitted(self.emission.symbol, self.emission.first_id)
            if t["t"] in self.emission.ids
        }
        delays = {k: at - traded[k] for k, at in served.items() if k in traded}
        if delays:
            figures = summarize(sorted(delays.values()))
            self.run.history.record("check", f"live trades served: {figures}", served=len(delays))
            print(
                f"[latency] {len(delays)} of {len(self.keys())} live {self.emission.symbol} trades "
                f"served, trade time to first served: {figures}",
                file=sys.stderr,
                flush=True,
            )
        return delays, served

    def in_time(self, seconds: float, within: float) -> Verdict:
        """Each trade served within `seconds` of its trade time, and while the exchange still
        refused its history (when the scenario made it refuse)."""
        delays, served = self.delays(within)
        until = self.run.history_refused_until
        return live_in_time(
            delays,
            served,
            self.keys(),
            seconds,
            before=until if until is not None else float("inf"),
            before_what="before the exchange served its trade history again",
        )

    def close(self) -> None:
        self.poller.stop()
