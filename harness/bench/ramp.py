"""Pipeline ramp: offer rising rates of trades to the full stack and record, per step, what it
served and how late, until a step fails.

Each step is one `measure_flow` (per-symbol polling, so the bench's own polls stay small at
high rates), with two extras around it: a thread that reads the consumer's lag from its
/status every 0.5 s (the peak is reported), and each platform service's CPU seconds before and
after (reported per 1,000 trades; the API's includes serving the bench's own polls), and the
rate the exchange simulator really emitted at, so that a shortfall is put where it belongs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from harness.measure import FlowResult

RATES: tuple[float, ...] = (100, 500, 1000, 2000, 3000, 5000, 10000)
QUICK_RATES: tuple[float, ...] = (100, 1000, 5000)
DURATION_S = 30.0
"""Served/s is counted between the first and last trades served, so latency that drifts by a
second within a step moves it by a second's share of the step: on 20 s steps, runs of the same
1,000/s step read 898 to 1,003/s."""
QUICK_DURATION_S = 10.0
WARM_UP = (100.0, 10.0)
"""Trades/s and seconds of flow before the first step, not reported: on cold JVMs a first 10 s
step at 100/s read 80/s."""
SETTLE_S = 60.0
"""How long after emitting a step waits for its last trades (then it reports what it has)."""
MIN_THROUGHPUT_SHARE = 0.9
MAX_P99_S = 30.0
LAG_EVERY_S = 0.5
CPU_SERVICES = ("exchange", "ingest", "consumer", "api")

Say = Callable[[str], None]


@dataclass(frozen=True)
class StepResult:
    rate: float
    duration_s: float
    passed: bool
    reason: str
    """Why the step failed ("" when it passed)."""
    emitted: int | None = None
    served: int | None = None
    traded_rate: float | None = None
    """The rate the exchange really emitted at (by trade times): a throughput below the offered
    rate with this one as low says the simulator, not the pipeline, fell short."""
    throughput: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    lost: int | None = None
    duplicated: int | None = None
    unmeasured: int | None = None
    peak_lag: int | None = None
    cpu_per_1k: dict[str, float | None] = field(default_factory=dict)
    """CPU seconds each service spent per 1,000 trades emitted, over the whole step."""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("p50", "p95", "p99", "max"):
            out[k] = None if out[k] is None else round(out[k], 3)
        for k in ("throughput", "traded_rate"):
            out[k] = None if out[k] is None else round(out[k], 1)
        return out


def step_verdict(
    rate: float,
    throughput: float | None,
    lost: int | None,
    duplicated: int | None,
    p99: float | None,
    timed_out: bool = False,
) -> tuple[bool, str]:
    """Whether a step passed, and if not, every reason why (joined by "; ")."""
    reasons = []
    if lost:
        reasons.append(f"lost {lost} trades")
    if duplicated:
        reasons.append(f"duplicated {duplicated} trades")
    if timed_out:
        reasons.append("not every trade was served in time")
    if throughput is None or throughput < MIN_THROUGHPUT_SHARE * rate:
        shown = "unknown" if throughput is None else f"{throughput:.0f}/s"
        reasons.append(f"throughput {shown} below {MIN_THROUGHPUT_SHARE:.0%} of {rate:g}/s")
    if p99 is None or p99 > MAX_P99_S:
        reasons.append(f"p99 {'unknown' if p99 is None else f'{p99:.1f} s'} above {MAX_P99_S:g} s")
    return not reasons, "; ".join(reasons)


def cpu_per_thousand(before: float | None, after: float | None, trades: int | None) -> float | None:
    """CPU seconds per 1,000 trades; None when unknown (a reading failed, no trades, or the
    service restarted during the step so its counter went back)."""
    if before is None or after is None or not trades or after < before:
        return None
    return round((after - before) / trades * 1000, 4)


def total_lag(status: Mapping[str, Any]) -> int:
    """The consumer's lag over all its partitions, from its /status body."""
    lag = status.get("lag") or {}
    return sum(int(v) for v in lag.values())


def step_from_flow(
    flow: FlowResult,
    cpu_before: Mapping[str, float | None],
    cpu_after: Mapping[str, float | None],
    peak_lag: int | None,
) -> StepResult:
    counts = flow.verdict.counts
    emitted = int(counts["expected"])
    lost, duplicated = int(counts["lost"]), int(counts["duplicated"])
    e = flow.end_to_end
    passed, reason = step_verdict(flow.rate, flow.throughput, lost, duplicated, e.p99, flow.timed_out)
    return StepResult(
        rate=flow.rate,
        duration_s=flow.duration_s,
        passed=passed,
        reason=reason,
        emitted=emitted,
        served=int(counts.get("served", 0)),
        traded_rate=flow.traded_rate,
        throughput=flow.throughput,
        p50=e.p50,
        p95=e.p95,
        p99=e.p99,
        max=e.max,
        lost=lost,
        duplicated=duplicated,
        unmeasured=flow.unmeasured,
        peak_lag=peak_lag,
        cpu_per_1k={s: cpu_per_thousand(cpu_before.get(s), cpu_after.get(s), emitted) for s in cpu_before},
    )


class LagSampler:
    """Reads the consumer's lag every `every` seconds on a thread of its own; keeps the peak.
    A failed read is counted, not fatal (the consumer may be busy or restarting)."""

    def __init__(self, read: Callable[[], int], every: float = LAG_EVERY_S) -> None:
        self.read = read
        self.every = every
        self.samples: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lag-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.samples.append(self.read())
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            # pacing, not waiting for state: the next read starts `every` after this one did
            self._stop.wait(max(0.0, self.every - (time.monotonic() - t0)))

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def peak(self) -> int | None:
        return max(self.samples) if self.samples else None


def consumer_lag_reader(status_url: str) -> Callable[[], int]:
    def read() -> int:
        r = httpx.get(status_url, timeout=5.0)
        r.raise_for_status()
        return total_lag(r.json())

    return read


def run_ramp(
    rates: Sequence[float],
    duration: float,
    measure: Callable[[float, float], FlowResult],
    cpu: Callable[[str], float | None],
    read_lag: Callable[[], int],
    say: Say,
    lag_every: float = LAG_EVERY_S,
    services: Sequence[str] = CPU_SERVICES,
    on_step: Callable[[list[StepResult]], None] | None = None,
    warm_up: tuple[float, float] | None = None,
) -> list[StepResult]:
    """One step per rate, in order, until a step fails; the failed step is kept, with its reason.
    A step that raises (say, nothing was served at all) is a failed step too. `on_step` gets the
    steps so far after each one (to save partial results). `warm_up` (rate, seconds): a flow
    before the first step, not reported."""
    if warm_up is not None:
        say(f"[bench] warm-up: {warm_up[0]:g} trades/s for {warm_up[1]:g} s (not reported) ...")
        try:
            measure(*warm_up)
        except Exception as exc:  # the steps will fail for the same reason, and say it
            say(f"[bench]   warm-up failed: {type(exc).__name__}: {exc}"[:300])
    steps: list[StepResult] = []
    for n, rate in enumerate(rates, 1):
        say(f"[bench] pipeline step {n}/{len(rates)}: {rate:g} trades/s for {duration:g} s ...")
        before = {s: cpu(s) for s in services}
        flow: FlowResult | None = None
        error = ""
        with LagSampler(read_lag, lag_every) as lag:
            try:
                flow = measure(rate, duration)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        if flow is None:
            step = StepResult(rate=rate, duration_s=duration, passed=False, reason=error, peak_lag=lag.peak)
        else:
            step = step_from_flow(flow, before, {s: cpu(s) for s in services}, lag.peak)
        steps.append(step)
        if on_step is not None:
            on_step(steps)
        if step.passed:
            say(
                f"[bench]   ok: served {step.throughput or 0:.1f}/s, p50 {step.p50 or 0:.3f} s, "
                f"p99 {step.p99 or 0:.3f} s, peak lag {'-' if lag.peak is None else lag.peak}"
            )
        else:
            say(f"[bench]   FAILED at {rate:g}/s: {step.reason}; not ramping further")
            break
    return steps
