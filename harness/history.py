"""History: what one scenario did and what the harness saw, in time order.

Jepsen's idea in small: the workload, the faults and the observations of each stage join one
record, so a failed check can be read against what happened around it. Per trade, the history
keeps the first time each stage was seen holding it; those times are also what per-stage
latency is computed from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Clock = Callable[[], float]


@dataclass(frozen=True)
class Event:
    at: float
    """Seconds since the epoch."""
    kind: str
    """workload | fault | heal | stage | check | note"""
    name: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class History:
    clock: Clock = time.time
    began: float = field(init=False)
    events: list[Event] = field(default_factory=list)
    first_seen: dict[str, dict[Hashable, float]] = field(default_factory=dict)
    """stage -> trade key -> when the harness first saw that stage hold the trade."""

    def __post_init__(self) -> None:
        self.began = self.clock()

    def record(self, kind: str, name: str, **detail: Any) -> Event:
        event = Event(self.clock(), kind, name, detail)
        self.events.append(event)
        return event

    def fault(self, name: str, **detail: Any) -> Event:
        return self.record("fault", name, **detail)

    def heal(self, name: str, **detail: Any) -> Event:
        return self.record("heal", name, **detail)

    def saw(self, stage: str, keys: Iterable[Hashable], times: Mapping[Hashable, float] | None = None) -> int:
        """One observation of a stage; returns how many trades it showed for the first time.
        `times` gives a trade's own time at that stage when the stage records it (the exchange's
        trade time), else the time of this observation counts. A stage event is recorded only
        when something new appeared, so polls do not flood the history."""
        now = self.clock()
        seen = self.first_seen.setdefault(stage, {})
        new = 0
        for key in keys:
            if key not in seen:
                seen[key] = times[key] if times and key in times else now
                new += 1
        if new:
            self.record("stage", stage, new=new, total=len(seen))
        return new

    def faults(self) -> list[Event]:
        return [e for e in self.events if e.kind == "fault"]

    def unhealed(self) -> list[Event]:
        """Faults with no heal of the same name after them."""
        open_: list[Event] = []
        for e in self.events:
            if e.kind == "fault":
                open_.append(e)
            elif e.kind == "heal":
                open_ = [f for f in open_ if f.name != e.name]
        return open_

    def caught_up_after_heal(self, stage: str, keys: Collection[Hashable]) -> float | None:
        """Seconds from the last heal until the stage held the last of these trades (0 when it
        already held them all at the heal); None if there was no heal or it never held them all."""
        heals = [e.at for e in self.events if e.kind == "heal"]
        seen = self.first_seen.get(stage, {})
        if not heals or not keys or any(k not in seen for k in keys):
            return None
        return max(0.0, max(seen[k] for k in keys) - heals[-1])

    def timeline(self) -> str:
        """The events as lines relative to the scenario's start, for a report."""
        lines = []
        for e in self.events:
            detail = ", ".join(f"{k} {v}" for k, v in e.detail.items())
            lines.append(f"+{e.at - self.began:7.2f} s  {e.kind:<8} {e.name}{'  (' + detail + ')' if detail else ''}")
        return "\n".join(lines)

    def stage_table(self, expected: Collection[Hashable]) -> str:
        """Per stage: how many of the expected trades were seen, and when the first and last
        of them appeared (relative to the start): the "history diff" of a report."""
        rows = [f"{'stage':<12}{'expected':>10}{'seen':>8}{'missing':>9}{'first':>10}{'last':>10}"]
        for stage, seen in self.first_seen.items():
            times = [t for k, t in seen.items() if k in expected]
            missing = sum(1 for k in expected if k not in seen)
            first = f"+{min(times) - self.began:.2f}s" if times else "-"
            last = f"+{max(times) - self.began:.2f}s" if times else "-"
            rows.append(f"{stage:<12}{len(expected):>10}{len(times):>8}{missing:>9}{first:>10}{last:>10}")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "began": self.began,
            "events": [asdict(e) for e in self.events],
            "stages": {
                stage: {
                    "trades": len(seen),
                    "first": min(seen.values(), default=None),
                    "last": max(seen.values(), default=None),
                }
                for stage, seen in self.first_seen.items()
            },
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str))
