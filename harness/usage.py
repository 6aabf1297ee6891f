"""Memory of the stack's services while a scenario's workload runs: peaks against budgets."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from harness.checks import Verdict
from harness.stack.driver import StackDriver, StackError


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


def within_budgets(peaks_mb: Mapping[str, float], budgets_mb: Mapping[str, int],
                   services: Iterable[str]) -> Verdict:
    """Each service's peak at most its budget; a service never sampled is a failure too."""
    names = list(services)
    over = [f"{n}: peak {peaks_mb[n]:.0f} MiB > budget {budgets_mb[n]} MiB"
            for n in names if n in peaks_mb and peaks_mb[n] > budgets_mb[n]]
    unsampled = [f"{n}: never sampled" for n in names if n not in peaks_mb]
    return Verdict("memory within budget", bool(names) and not over and not unsampled,
                   {"services": len(names), "over budget": len(over), "unsampled": len(unsampled)},
                   mismatched=over + unsampled)


def budget_table(peaks_mb: Mapping[str, float], budgets_mb: Mapping[str, int]) -> str:
    rows = [f"{'service':<16}{'peak MiB':>10}{'budget MiB':>12}{'use':>7}"]
    for n, peak in sorted(peaks_mb.items()):
        rows.append(f"{n:<16}{peak:>10.0f}{budgets_mb[n]:>12}{peak / budgets_mb[n]:>7.0%}")
    return "\n".join(rows)
