import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness import measure
from harness.bench.ramp import (
    LagSampler,
    StepResult,
    cpu_per_thousand,
    run_ramp,
    step_from_flow,
    step_verdict,
    total_lag,
)
from harness.checks import exactly_once
from harness.endpoints import Endpoints
from harness.latency import summarize
from harness.measure import FlowResult
from harness.waiting import ConditionTimeout
from harness.workload.exchange import Emission


def flow(
    rate: float, throughput: float, p99: float, lost: int = 0, duplicated: int = 0, timed_out: bool = False
) -> FlowResult:
    expected = [("BTCUSDT", f"BINANCE-{i}") for i in range(100)]
    served = expected[lost:] + expected[:duplicated]
    return FlowResult(
        rate=rate,
        duration_s=10,
        verdict=exactly_once("served", expected, served),
        throughput=throughput,
        end_to_end=summarize([0.1] * 98 + [p99, p99]),
        exchange_to_ingest=summarize([0.01]),
        timed_out=timed_out,
    )


# ---------------------------------------------------------------------------- the verdict of a step
def test_a_step_that_keeps_up_passes() -> None:
    assert step_verdict(1000, 995.0, 0, 0, 1.2) == (True, "")
    assert step_verdict(1000, 900.0, 0, 0, 30.0) == (True, "")  # both limits are inclusive


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((1000, 995.0, 3, 0, 1.0), "lost 3 trades"),
        ((1000, 899.9, 0, 0, 1.0), "throughput 900/s below 90% of 1000/s"),
        ((1000, 995.0, 0, 0, 30.5), "p99 30.5 s above 30 s"),
        ((1000, 995.0, 0, 2, 1.0), "duplicated 2 trades"),
        ((1000, None, 0, 0, None), "throughput unknown below 90% of 1000/s; p99 unknown above 30 s"),
    ],
)
def test_a_step_fails_for_each_reason_and_says_which(args: tuple[Any, ...], reason: str) -> None:
    passed, why = step_verdict(*args)
    assert not passed and why == reason


def test_a_timed_out_step_fails_even_if_what_was_seen_looks_fine() -> None:
    assert step_verdict(100, 100.0, 0, 0, 0.5, timed_out=True) == (False, "not every trade was served in time")


def test_every_reason_is_given_at_once() -> None:
    _, why = step_verdict(10000, 4000.0, 12, 0, 45.0)
    assert why == "lost 12 trades; throughput 4000/s below 90% of 10000/s; p99 45.0 s above 30 s"


# ---------------------------------------------------------------------------- figures of a step
def test_cpu_per_thousand_trades() -> None:
    assert cpu_per_thousand(10.0, 12.5, 5000) == 0.5
    assert cpu_per_thousand(None, 12.5, 5000) is None
    assert cpu_per_thousand(10.0, None, 5000) is None
    assert cpu_per_thousand(10.0, 12.5, 0) is None
    assert cpu_per_thousand(10.0, 2.0, 5000) is None  # restarted during the step: the counter went back


def test_lag_is_summed_over_partitions() -> None:
    assert total_lag({"lag": {"0": 5, "1": 7, "2": 0}}) == 12
    assert total_lag({"lag": {}}) == 0
    assert total_lag({}) == 0


def test_a_step_from_a_flow_carries_its_figures() -> None:
    step = step_from_flow(flow(1000, 998.5, 1.1), {"consumer": 1.0, "api": 2.0}, {"consumer": 1.2, "api": 2.5}, 42)
    assert step.passed and step.reason == ""
    assert (step.emitted, step.served, step.lost, step.duplicated, step.peak_lag) == (100, 100, 0, 0, 42)
    assert step.p99 == 1.1 and step.p50 == 0.1
    assert step.cpu_per_1k == {"consumer": 2.0, "api": 5.0}
    d = step.as_dict()
    json.dumps(d)  # plain JSON
    assert {
        "rate",
        "throughput",
        "p50",
        "p95",
        "p99",
        "max",
        "lost",
        "duplicated",
        "peak_lag",
        "cpu_per_1k",
        "passed",
        "reason",
    } <= set(d)


def test_a_lossy_flow_is_a_failed_step() -> None:
    step = step_from_flow(flow(1000, 998.5, 1.1, lost=4), {}, {}, None)
    assert not step.passed and step.lost == 4 and "lost 4 trades" in step.reason


def test_step_figures_are_rounded_for_the_report() -> None:
    d = StepResult(
        rate=100, duration_s=10, passed=True, reason="", throughput=99.987654, p50=0.123456, p95=None, p99=1.0, max=2.0
    ).as_dict()
    assert d["throughput"] == 100.0 and d["p50"] == 0.123 and d["p95"] is None


# ---------------------------------------------------------------------------- the lag sampler
def test_the_lag_sampler_keeps_the_peak_and_survives_failed_reads() -> None:
    values = iter([3, 9, 4])
    enough = threading.Event()

    def read() -> int:
        try:
            return next(values)
        except StopIteration:
            enough.set()
            raise RuntimeError("consumer restarting") from None

    with LagSampler(read, every=0.001) as lag:
        assert enough.wait(5)
    assert lag.peak == 9 and lag.samples[:3] == [3, 9, 4] and lag.errors


def test_no_sample_means_no_peak() -> None:
    def read() -> int:
        raise RuntimeError("down")

    with LagSampler(read, every=0.001) as lag:
        pass
    assert lag.peak is None


# ---------------------------------------------------------------------------- the ramp
def test_the_ramp_stops_after_the_first_failed_step_and_keeps_it() -> None:
    served = {100: 100.0, 1000: 990.0, 5000: 3000.0, 10000: 4000.0}
    calls: list[float] = []
    saved: list[int] = []
    cpu = iter(float(n) for n in range(100))

    def step(rate: float, duration: float) -> FlowResult:
        calls.append(rate)
        return flow(rate, served[int(rate)], 2.0)

    steps = run_ramp(
        [100, 1000, 5000, 10000],
        10,
        step,
        lambda _: next(cpu),
        lambda: 7,
        lambda _: None,
        lag_every=0.001,
        on_step=lambda s: saved.append(len(s)),
    )
    assert calls == [100, 1000, 5000]
    assert [s.passed for s in steps] == [True, True, False]
    assert steps[-1].reason == "throughput 3000/s below 90% of 5000/s"
    assert saved == [1, 2, 3]
    assert all(s.peak_lag == 7 for s in steps)
    assert set(steps[0].cpu_per_1k) == {"exchange", "ingest", "consumer", "api"}


def test_a_step_that_raises_is_a_failed_step_with_the_error_as_its_reason() -> None:
    def step(rate: float, duration: float) -> FlowResult:
        if rate > 100:
            raise ConditionTimeout("all 3000 trades served", 70, 12, "nothing yet")
        return flow(rate, 100.0, 1.0)

    said: list[str] = []
    steps = run_ramp([100, 1000, 5000], 10, step, lambda _: None, lambda: 0, said.append, lag_every=0.001)
    assert [s.rate for s in steps] == [100, 1000]
    assert not steps[1].passed and steps[1].reason.startswith("ConditionTimeout: all 3000 trades served")
    assert steps[1].emitted is None and steps[1].peak_lag == 0
    assert any("FAILED at 1000/s" in line for line in said)


def test_the_warm_up_runs_first_is_not_reported_and_its_failure_does_not_stop_the_ramp() -> None:
    calls: list[tuple[float, float]] = []

    def step(rate: float, duration: float) -> FlowResult:
        calls.append((rate, duration))
        if len(calls) == 1:
            raise ConditionTimeout("all 1000 trades served", 70, 12, "cold JVMs")
        return flow(rate, rate, 1.0)

    said: list[str] = []
    steps = run_ramp([500, 1000], 30, step, lambda _: None, lambda: 0, said.append, lag_every=0.001, warm_up=(100, 10))
    assert calls == [(100, 10), (500, 30), (1000, 30)]
    assert [s.rate for s in steps] == [500, 1000] and all(s.passed for s in steps)
    assert said[0] == "[bench] warm-up: 100 trades/s for 10 s (not reported) ..."
    assert said[1].startswith("[bench]   warm-up failed: ConditionTimeout")


def test_an_interrupt_is_not_swallowed_as_a_failed_step() -> None:
    def step(rate: float, duration: float) -> FlowResult:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ramp([100], 10, step, lambda _: None, lambda: 0, lambda _: None, lag_every=0.001)


# ---------------------------------------------------------------------------- measure_flow's per-symbol polling
class FakeResponse:
    def __init__(self, body: dict[str, Any], status: int = 200) -> None:
        self.status_code, self._body, self.text = status, body, json.dumps(body)

    def json(self) -> dict[str, Any]:
        return self._body


class FakeApi:
    """Serves every trade of the emissions (optionally minus some), newest first, in pages."""

    trades_path, max_limit = "/v1/trades", 10000

    def __init__(self, trades: list[dict[str, Any]], page: int = 2) -> None:
        self.all, self.page = trades, page
        self.calls: list[dict[str, Any]] = []

    def get(self, path: str, **params: Any) -> FakeResponse:
        self.calls.append(params)
        rows = [
            t
            for t in self.all
            if (params.get("symbol") in (None, t["symbol"])) and t["timestamp"] >= params.get("start_time", "")
        ]
        rows.sort(key=lambda t: t["timestamp"], reverse=True)
        offset, limit = params.get("offset") or 0, min(params.get("limit", 100), self.page)
        data = rows[offset : offset + limit]
        return FakeResponse(
            {"data": data, "pagination": {"has_more": offset + len(data) < len(rows), "total": len(rows)}}
        )

    def trades(self, symbol: str | None = None, **params: Any) -> list[dict[str, Any]]:
        return measure._page(self, symbol=symbol, **params)  # type: ignore[arg-type]

    def close(self) -> None:
        pass


class FakeExchange:
    def __init__(self, *_: Any) -> None:
        pass

    def emit(self, symbol: str, count: int, rate: float) -> Emission:
        return Emission(symbol, 1, count, count)

    def close(self) -> None:
        pass


def trade(symbol: str, i: int, base: datetime) -> dict[str, Any]:
    at = (base + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"symbol": symbol, "trade_id": f"BINANCE-{i}", "timestamp": at, "ingestion_timestamp": at}


def fake_flow(monkeypatch: pytest.MonkeyPatch, trades: list[dict[str, Any]]) -> FakeApi:
    api = FakeApi(trades)
    monkeypatch.setattr(measure, "ExchangeControl", FakeExchange)
    monkeypatch.setattr(measure, "ApiProbe", lambda *_, **__: api)
    return api


CLIENTS = Endpoints.from_json(
    {
        "exchange": {"ws_url": "ws://x", "rest_url": "http://x", "control_url": "http://x"},
        "api": {"url": "http://a", "api_key": "k"},
    }
)


def test_per_symbol_polling_reads_every_page_and_measures_every_trade(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    api = fake_flow(monkeypatch, [trade(s, i, now) for s in ("AUSDT", "BUSDT") for i in range(1, 6)])
    result = measure.measure_flow(
        CLIENTS,
        rate=10,
        duration=1.0,
        symbols=("AUSDT", "BUSDT"),
        say=lambda _: None,
        per_symbol=True,
        settle=5,
        strict=False,
    )
    assert result.verdict.valid and result.end_to_end.count == 10 and result.unmeasured == 0
    assert not result.timed_out
    assert result.traded_rate == pytest.approx(9 / 0.004, rel=1e-3)  # 10 trades over 4 ms, by trade time
    assert {c.get("symbol") for c in api.calls} == {"AUSDT", "BUSDT"}
    assert any(c.get("offset") for c in api.calls)  # 5 trades in pages of 2


def test_not_strict_reports_a_loss_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    fake_flow(monkeypatch, [trade("AUSDT", i, now) for i in range(1, 4)])  # 3 of the 5 emitted
    result = measure.measure_flow(
        CLIENTS,
        rate=10,
        duration=0.5,
        symbols=("AUSDT",),
        say=lambda _: None,
        per_symbol=True,
        settle=0.3,
        strict=False,
    )
    assert result.timed_out and result.verdict.counts["lost"] == 2 and result.unmeasured == 2


def test_strict_still_raises_on_a_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    fake_flow(monkeypatch, [trade("AUSDT", i, now) for i in range(1, 4)])
    with pytest.raises(ConditionTimeout):
        measure.measure_flow(CLIENTS, rate=10, duration=0.5, symbols=("AUSDT",), say=lambda _: None, settle=0.3)


def test_the_default_polling_also_reads_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    api = fake_flow(monkeypatch, [trade(s, i, now) for s in ("AUSDT", "BUSDT") for i in range(1, 6)])
    result = measure.measure_flow(
        CLIENTS, rate=10, duration=1.0, symbols=("AUSDT", "BUSDT"), say=lambda _: None, settle=5
    )
    assert result.verdict.valid and result.end_to_end.count == 10
    assert api.calls[0] == {"limit": 10000, "offset": None, "start_time": api.calls[0]["start_time"]}
