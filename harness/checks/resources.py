"""Resource checks: sampled peaks and the engine's limits in, Verdict out (harness.usage samples them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from harness.checks.verdict import Verdict

if TYPE_CHECKING:
    from harness.stack.driver import EnforcedLimits


def within_budgets(peaks_mb: Mapping[str, float], budgets_mb: Mapping[str, int], services: Iterable[str]) -> Verdict:
    """Each service's peak at most its budget; a service never sampled is a failure too."""
    names = list(services)
    over = [
        f"{n}: peak {peaks_mb[n]:.0f} MiB > budget {budgets_mb[n]} MiB"
        for n in names
        if n in peaks_mb and peaks_mb[n] > budgets_mb[n]
    ]
    unsampled = [f"{n}: never sampled" for n in names if n not in peaks_mb]
    return Verdict(
        "memory within budget",
        bool(names) and not over and not unsampled,
        {"services": len(names), "over budget": len(over), "unsampled": len(unsampled)},
        mismatched=over + unsampled,
    )


def within_limits(limits: Mapping[str, EnforcedLimits], budgets_mb: Mapping[str, int]) -> Verdict:
    """Every service ran under an engine memory limit equal to its budget and a CPU limit, and the
    engine never killed it for memory: the engine holds each service to what the stack declares."""
    wrong = []
    for n, lim in sorted(limits.items()):
        if lim.memory_mb is None or round(lim.memory_mb) != budgets_mb.get(n):
            wrong.append(f"{n}: memory limit {mib(lim.memory_mb)}, budget {budgets_mb.get(n, '?')} MiB")
        if lim.cpus is None:
            wrong.append(f"{n}: no CPU limit")
        if lim.oom_killed:
            wrong.append(f"{n}: killed by the engine for passing its memory limit of {mib(lim.memory_mb)}")
    return Verdict(
        "engine limits held",
        bool(limits) and not wrong,
        {"services": len(limits), "wrong or missing limits": len(wrong)},
        mismatched=wrong,
    )


def mib(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f} MiB"
