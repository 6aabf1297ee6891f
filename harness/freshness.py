"""A steady flow of trades, observed at every stage: latency per trade, freshness, gaps.

While the exchange trades, a poller asks the API for each symbol's newest trades every 100 ms on
threads of its own (the first time each trade is served, and how old the newest served trade
is). Once the API served every trade, the upstream times are read once, cheaply: the Kafka
message timestamps and the Iceberg snapshots committed since the scenario began. Every time
goes into the scenario's History (first_seen), which latency is computed from.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from harness import plots
from harness.breakdown import (
    TableShape,
    as_report,
    breakdown_text,
    consumer_commits,
    table_shape,
)
from harness.checks import Verdict
from harness.checks.freshness import never_older_than, no_gaps
from harness.checks.latency import every_trade_within, p99_within
from harness.config import P99Target
from harness.endpoints import Endpoints
from harness.history import History
from harness.latency import (
    STAGES,
    LatencyFigures,
    Percentiles,
    commit_times,
    figures,
    summarize,
    write_rate,
    write_report,
)
from harness.probes import iceberg
from harness.probes.api import AgeSample, Envelope, TradePoller
from harness.probes.iceberg import Commit
from harness.report import attach_png, attach_text
from harness.scenario import PipelineRun
from harness.stack.settings import REPO_ROOT
from harness.targets import Target
from harness.waiting import ConditionTimeout, eventually

Key = tuple[str, str]
LATENCY_JSON = REPO_ROOT / "reports" / "latency.json"
BREAKDOWN_JSON = REPO_ROOT / "reports" / "latency-breakdown.json"
POLL_EVERY = 0.1


def symbols_in(text: str) -> list[str]:
    """ "BTCUSDT, ETHUSDT and BNBUSDT" -> the three symbols."""
    return [s.strip() for s in text.replace(" and ", ",").split(",") if s.strip()]


# ---------------------------------------------------------------- gaps (pure)
# ---------------------------------------------------------------- freshness (pure)
def flow_windows(
    first_seen: Mapping[str, Mapping[Hashable, float]], keys: Iterable[Key]
) -> dict[str, tuple[float, float]]:
    """Per symbol, while its trades flowed: from the first of them being served to the trade
    time of the last one. Outside it the newest trade ages by design (before the flow, after it)."""
    served, traded = first_seen.get("served", {}), first_seen.get("emitted", {})
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for key in keys:
        symbol = key[0]
        if key in served:
            starts[symbol] = min(starts.get(symbol, served[key]), served[key])
        if key in traded:
            ends[symbol] = max(ends.get(symbol, traded[key]), traded[key])
    return {s: (starts[s], ends[s]) for s in starts if s in ends and starts[s] <= ends[s]}


@dataclass(frozen=True)
class Freshness:
    """The age samples taken while the trades flowed, and what they add up to."""

    samples: list[AgeSample]
    percentiles: Percentiles | None
    widest_interval: float
    """The longest time between two samples of one symbol (seconds)."""

    def over(self, budget: float) -> list[AgeSample]:
        return [s for s in self.samples if s.age > budget]


def freshness(samples: Iterable[AgeSample], windows: Mapping[str, tuple[float, float]]) -> Freshness:
    """The samples taken inside their symbol's window, their age percentiles and spacing."""

    def flowing(s: AgeSample) -> bool:
        start, end = windows.get(s.symbol, (math.inf, -math.inf))
        return start <= s.at <= end

    inside = sorted(filter(flowing, samples), key=lambda s: (s.symbol, s.at))
    widest = max((b.at - a.at for a, b in pairwise(inside) if a.symbol == b.symbol), default=0.0)
    return Freshness(inside, summarize([s.age for s in inside]) if inside else None, widest)


# ---------------------------------------------------------------- the flow (on the stack)
@dataclass
class Flow:
    """One scenario's steady flow: `rate` trades/s in total over `symbols`, for `seconds`."""

    run: PipelineRun
    rate: float
    seconds: float
    poller: TradePoller
    began: float
    notes: dict[str, str] = field(default_factory=dict)
    """How each upstream time was obtained, for the report."""
    commits: list[Commit] = field(default_factory=list)
    """The table's snapshots since the flow began (read once every trade was served)."""
    shape: TableShape | None = None
    _figures: LatencyFigures | None = None

    @staticmethod
    def start(
        endpoints: Endpoints,
        target: Target,
        history: History,
        seed: int | None,
        symbols: Sequence[str],
        rate: float,
        seconds: float,
    ) -> Flow:
        if not symbols or rate <= 0 or seconds <= 0:
            raise ValueError(f"a flow needs symbols, a rate and a duration; got {symbols}, {rate}, {seconds}")
        run = PipelineRun(endpoints, target, history, seed)
        for stage in STAGES:  # the stage table lists stages in the order trades pass them
            history.first_seen.setdefault(stage, {})
        api = endpoints.api
        poller = TradePoller(
            api.url,
            api.api_key,
            symbols,
            since=run.started,
            header=target.api["key_header"],
            trades_path=target.api["trades"],
            max_limit=target.api["max_limit"],
            envelope=Envelope.of(target.api),
            every=POLL_EVERY,
        )
        poller.start()  # before the first trade, so its first-served time is not missed
        flow = Flow(run, rate, seconds, poller, began=time.time())
        per_symbol = rate / len(symbols)
        try:
            for symbol in symbols:
                run.trade(symbol, max(1, round(per_symbol * seconds)), per_symbol)
        except BaseException:
            flow.close()  # the caller never gets the flow to close
            raise
        return flow

    @property
    def history(self) -> History:
        return self.run.history

    def keys(self) -> set[Key]:
        prefix = f"{self.run.target.exchange}-"
        return {(e.symbol, f"{prefix}{i}") for e in self.run.emissions for i in e.ids}

    def _take_served(self, keys: Collection[Key]) -> int:
        new: dict[Hashable, float] = {k: t for k, t in self.poller.drain().items() if k in keys}
        self.history.saw("served", new, new)
        served = self.history.first_seen["served"]
        return sum(1 for k in keys if k in served)

    def settle(self, within: float) -> list[Verdict]:
        """Wait until the API served every trade, at most `within` seconds after the flow's
        planned end; then record the upstream stage times and judge exactly-once (which records
        the trades' exchange times)."""
        keys = self.keys()
        deadline = self.began + self.seconds + within
        # on timeout, the exactly-once verdicts below say which trades are missing where
        with suppress(ConditionTimeout):
            eventually(
                lambda: self._take_served(keys) == len(keys) or None,
                within=max(1.0, deadline - time.time()),
                every=0.25,
                describe=f"the query API serving all {len(keys)} trades",
            )
        self.poller.stop()
        self._take_served(keys)
        self._record_upstream(keys)
        return self.run.wait_exactly_once(within=max(1.0, deadline - time.time()))

    def _record_upstream(self, keys: set[Key]) -> None:
        """The Kafka and Iceberg times of the trades; their exchange trade times (T) are recorded
        by the exactly-once check, from the exchange's own record of what it sent."""
        produced: dict[Hashable, float] = {}
        kinds = set()
        for key, r in self.run.produced():
            kinds.add(r["timestamp_type"])
            if r["timestamp_ms"] is not None:
                produced[key] = min(produced.get(key, r["timestamp_ms"] / 1000), r["timestamp_ms"] / 1000)
        self.history.saw("produced", produced, produced)
        self.notes["kafka"] = (
            f"Kafka message timestamp, type {' and '.join(sorted(kinds)) or 'none seen'} "
            "(CreateTime: the ingest producer's clock at produce(), before the broker's ack; "
            "LogAppendTime: the broker's clock at append), milliseconds"
        )
        t0 = time.monotonic()
        table = iceberg.table_or_none(self.run.endpoints, self.run.target.table)
        commits = [] if table is None else iceberg.commits_since(table, int(self.run.started.timestamp() * 1000))

        def keys_in(path: str) -> list[Key]:
            return [(r["symbol"], r["trade_id"]) for r in iceberg.read_file(table, path, ("symbol", "trade_id"))]

        self.commits = commits
        self.shape = None if table is None else table_shape(table)
        committed = commit_times(commits, keys_in, keys)
        self.history.saw("committed", committed, committed)
        self.notes["iceberg"] = (
            f"timestamp of the Iceberg snapshot that added the trade, milliseconds: the "
            f"consumer's clock once the data file and manifests were written, before the table "
            f"metadata file and the catalog update (which so count in iceberg_to_api); "
            f"{len(commits)} snapshots, {sum(len(c.added_files) for c in commits)} data files "
            f"read in {time.monotonic() - t0:.2f} s"
        )

    def latency(self) -> LatencyFigures:
        if self._figures is None:
            self._figures = figures(self.history.first_seen, self.keys())
        return self._figures

    def precision(self) -> str:
        durations = self.poller.durations()
        polls = summarize(durations) if durations else None
        errors = self.poller.errors()
        return "\n".join(
            [
                "How each stage's time was taken (all on this machine's clock):",
                "  emitted    the exchange's trade time T, milliseconds",
                f"  produced   {self.notes.get('kafka', 'not read')}",
                f"  committed  {self.notes.get('iceberg', 'not read')}",
                "  served     when the answer of the first poll that held the trade arrived (an upper bound, at "
                f"most one poll late): per symbol one poll every {POLL_EVERY:g} s or back to back, cursor on the "
                "newest trade time; "
                + (
                    f"{polls.count} polls, request p50 {polls.p50 * 1000:.0f} ms, p99 {polls.p99 * 1000:.0f} ms, "
                    f"max {polls.max * 1000:.0f} ms"
                    if polls
                    else "no polls answered"
                )
                + f", {len(errors)} failed"
                + (f" (first: {errors[0]})" if errors else ""),
            ]
        )

    def every_trade_within(self, seconds: float) -> Verdict:
        return every_trade_within(self.latency(), seconds)

    def p99_within(self, target: P99Target) -> Verdict:
        return p99_within(self.latency(), target.seconds, target.why)

    def freshness(self) -> Freshness:
        return freshness(self.poller.samples(), flow_windows(self.history.first_seen, self.keys()))

    def freshness_verdict(self, budget: float) -> Verdict:
        return never_older_than(self.freshness(), budget)

    def gaps(self) -> Verdict:
        served: dict[str, set[int]] = defaultdict(set)
        prefix = f"{self.run.target.exchange}-"
        for (symbol, trade_id), _ in self.run.served():
            served[symbol].add(int(trade_id.removeprefix(prefix)))
        return no_gaps(self.run.emissions, served)

    def close(self) -> None:
        self.poller.stop()
        self.run.close()


def report_latency(
    flow: Flow, consumer_log: str | None = None, path: Path = LATENCY_JSON, breakdown_path: Path = BREAKDOWN_JSON
) -> LatencyFigures:
    """The flow's latency table, how it was measured, where the time went and its plots in the
    report; its rate's figures in reports/latency.json and latency-breakdown.json (merged with the
    other rates of this run). `consumer_log`: the consumer's lines of this scenario, if readable."""
    fig = flow.latency()
    name = f"latency at {flow.rate:g} trades per second"
    consumer = None if consumer_log is None else consumer_commits(consumer_log)
    polls = flow.poller.durations()
    since = min(flow.history.first_seen.get("emitted", {}).values(), default=0.0)
    where = breakdown_text(flow.commits, flow.shape, consumer, polls, since)
    text = f"{name}, {fig.trades} trades\n{fig.table()}\n\n{where}\n\n{flow.precision()}"
    print(f"[latency] {text}", file=sys.stderr, flush=True)
    attach_text(name, text)
    traded = flow.history.first_seen.get("emitted", {})
    attach_png(f"{name}: latency over time per stage", plots.latency_over_time(fig, traded, name))
    attach_png(
        f"{name}: end-to-end histogram",
        plots.histogram(list(fig.values["end_to_end"].values()), fig.spans.get("end_to_end"), name),
    )
    write_report(path, flow.rate, fig)
    write_rate(breakdown_path, flow.rate, as_report(flow.commits, flow.shape, consumer, polls, since))
    return fig


def report_freshness(fresh: Freshness, budget: float) -> None:
    attach_png(
        "age of the newest served trade",
        plots.ages_over_time(fresh.samples, budget, "age of the newest served trade per symbol"),
    )
