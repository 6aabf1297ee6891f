"""Memory of the stack's services while a scenario's workload runs: peaks against budgets."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from harness.checks.resources import mib
from harness.stack.driver import EnforcedLimits, StackDriver, StackError


@dataclass
class MemoryWatch:
    """Samples each service's memory (its process tree's proportional set size) every
    `every` seconds on a thread of its own, from `start()` until `stop()`; keeps the peaks."""

    driver: StackDriver
    services: list[str]
    every: float = 1.0
    peaks_mb: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self, service: str) -> tuple[str, float | None]:
        try:
            return service, self.driver.resources(service).memory_mb
        except StackError:  # not running at this instant: no sample
            return service, None

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=len(self.services)) as pool:
            while True:
                for service, mb in pool.map(self._sample, self.services):
                    if mb is not None:
                        self.peaks_mb[service] = max(mb, self.peaks_mb.get(service, 0.0))
                self.samples += 1
                if self._stop.wait(self.every):  # the sampling period, not a wait for state
                    return

    def start(self) -> MemoryWatch:
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.join(timeout=30)
        return dict(self.peaks_mb)


def budget_table(peaks_mb: Mapping[str, float], budgets_mb: Mapping[str, int]) -> str:
    rows = [f"{'service':<16}{'peak MiB':>10}{'budget MiB':>12}{'use':>7}"]
    for n, peak in sorted(peaks_mb.items()):
        rows.append(f"{n:<16}{peak:>10.0f}{budgets_mb[n]:>12}{peak / budgets_mb[n]:>7.0%}")
    return "\n".join(rows)


def engine_limits(driver: StackDriver, services: Iterable[str]) -> dict[str, EnforcedLimits] | None:
    """Each service's engine limits now; None when the driver runs none of them under an engine
    that enforces limits (a service the engine runs without limits shows as having none)."""
    names = list(services)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
        found = dict(zip(names, pool.map(driver.enforced_limits, names), strict=True))
    if all(lim is None for lim in found.values()):
        return None
    none = EnforcedLimits(None, None, None, 0, 0, 0.0, False)
    return {n: none if lim is None else lim for n, lim in found.items()}


def limits_table(limits: Mapping[str, EnforcedLimits], sampled_peaks_mb: Mapping[str, float]) -> str:
    """Each service's limits, its sampled working-set peak and the engine's own peak (page cache
    included on cgroup v1), and how much of the time its CPU quota held it back."""
    rows = [
        f"{'service':<16}{'mem limit':>10}{'cpus':>6}{'peak MiB':>10}{'engine peak':>13}"
        f"{'throttled':>11}{'held back s':>13}{'oom':>5}"
    ]
    for n, lim in sorted(limits.items()):
        share = lim.throttled_periods / lim.cpu_periods if lim.cpu_periods else 0.0
        peak = sampled_peaks_mb.get(n)
        rows.append(
            f"{n:<16}{mib(lim.memory_mb):>10}{'-' if lim.cpus is None else f'{lim.cpus:g}':>6}"
            f"{'-' if peak is None else f'{peak:.0f}':>10}{mib(lim.peak_memory_mb):>13}"
            f"{share:>11.1%}{lim.throttled_seconds:>13.1f}{'yes' if lim.oom_killed else 'no':>5}"
        )
    return "\n".join(rows)


def since(before: Mapping[str, EnforcedLimits], after: Mapping[str, EnforcedLimits]) -> dict[str, EnforcedLimits]:
    """The CPU counters of `after` counted from `before` (the engine's run from the container's
    start), so a table shows what one workload cost; a service restarted meanwhile starts again at zero."""
    found = {}
    for n, now in after.items():
        then = before.get(n)
        if then is None or now.cpu_periods < then.cpu_periods:
            found[n] = now
            continue
        found[n] = replace(
            now,
            cpu_periods=now.cpu_periods - then.cpu_periods,
            throttled_periods=now.throttled_periods - then.throttled_periods,
            throttled_seconds=now.throttled_seconds - then.throttled_seconds,
        )
    return found
