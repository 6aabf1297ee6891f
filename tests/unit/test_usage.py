from typing import Any

from harness.checks.resources import within_budgets, within_limits
from harness.stack.compose import limits_from
from harness.stack.driver import EnforcedLimits
from harness.usage import budget_table, engine_limits, limits_table, since

BUDGETS = {"kafka": 768, "api": 320}


def test_peaks_within_budgets_hold() -> None:
    v = within_budgets({"kafka": 400.0, "api": 100.0}, BUDGETS, ["kafka", "api"])
    assert v.valid and v.counts == {"services": 2, "over budget": 0, "unsampled": 0}


def test_a_peak_over_budget_is_named_with_its_figures() -> None:
    v = within_budgets({"kafka": 800.4, "api": 100.0}, BUDGETS, ["kafka", "api"])
    assert not v.valid
    assert v.mismatched == ["kafka: peak 800 MiB > budget 768 MiB"]


def test_a_service_never_sampled_fails_and_nothing_sampled_proves_nothing() -> None:
    assert within_budgets({"kafka": 1.0}, BUDGETS, ["kafka", "api"]).mismatched == ["api: never sampled"]
    assert not within_budgets({}, BUDGETS, []).valid


def test_the_table_shows_use_as_a_share_of_the_budget() -> None:
    assert budget_table({"api": 160.0}, BUDGETS).splitlines()[1].split() == ["api", "160", "320", "50%"]


def held(
    memory: float | None = 768,
    cpus: float | None = 1.0,
    oom: bool = False,
    periods: int = 100,
    throttled: int = 10,
    seconds: float = 0.5,
) -> EnforcedLimits:
    return EnforcedLimits(memory, cpus, 400.0, periods, throttled, seconds, oom)


def test_limits_equal_to_the_budgets_hold() -> None:
    verdict = within_limits({"kafka": held(), "api": held(memory=320)}, {"kafka": 768, "api": 320})
    assert verdict.valid and verdict.counts == {"services": 2, "wrong or missing limits": 0}


def test_a_missing_or_wrong_limit_or_an_oom_kill_is_named() -> None:
    verdict = within_limits(
        {"kafka": held(memory=None, cpus=None), "api": held(memory=512, oom=True)}, {"kafka": 768, "api": 320}
    )
    assert not verdict.valid
    assert verdict.mismatched == [
        "api: memory limit 512 MiB, budget 320 MiB",
        "api: killed by the engine for passing its memory limit of 512 MiB",
        "kafka: memory limit none, budget 768 MiB",
        "kafka: no CPU limit",
    ]
    assert not within_limits({}, {}).valid, "no service at all proves nothing"


def test_throttling_is_counted_from_the_snapshot_before_the_workload() -> None:
    before = {"kafka": held(periods=100, throttled=10, seconds=0.5), "api": held(periods=50)}
    after = {"kafka": held(periods=160, throttled=25, seconds=2.0), "api": held(periods=7, throttled=1)}
    got = since(before, after)
    assert (got["kafka"].cpu_periods, got["kafka"].throttled_periods, got["kafka"].throttled_seconds) == (60, 15, 1.5)
    assert got["api"] == after["api"], "restarted meanwhile: its counters started again"
    table = limits_table(got, {"kafka": 387.4})
    assert table.splitlines()[2].split() == ["kafka", "768", "MiB", "1", "387", "400", "MiB", "25.0%", "1.5", "no"]


class Driver:
    def __init__(self, limits: dict[str, EnforcedLimits | None]) -> None:
        self.limits = limits

    def enforced_limits(self, service: str) -> EnforcedLimits | None:
        return self.limits[service]


def test_a_driver_without_an_engine_has_no_limits_and_a_service_without_limits_shows_none() -> None:
    assert engine_limits(Driver({"kafka": None, "api": None}), ["kafka", "api"]) is None  # type: ignore[arg-type]
    found = engine_limits(Driver({"kafka": held(), "api": None}), ["kafka", "api"])  # type: ignore[arg-type]
    assert found is not None and found["api"].memory_mb is None and found["kafka"] == held()


def test_limits_from_the_engine_api() -> None:
    attrs: dict[str, Any] = {
        "HostConfig": {"Memory": 768 * 2**20, "NanoCpus": 1_500_000_000},
        "State": {"OOMKilled": True},
    }
    stats = {
        "memory_stats": {"max_usage": 400 * 2**20},
        "cpu_stats": {"throttling_data": {"periods": 90, "throttled_periods": 9, "throttled_time": 2_500_000_000}},
    }
    assert limits_from(attrs, stats) == EnforcedLimits(768.0, 1.5, 400.0, 90, 9, 2.5, True)
    quota = {"HostConfig": {"CpuQuota": 50_000, "CpuPeriod": 100_000}}
    assert limits_from(quota, {}) == EnforcedLimits(None, 0.5, None, 0, 0, 0.0, False)
