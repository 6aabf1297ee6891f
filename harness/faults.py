"""Faults a scenario injects into the stack: each one recorded in the history, each one healed.

A fault registers its heal when it is injected, so the heal runs even when a later step fails:
`heal_all()` runs after every scenario (see harness.session). A step that ends a fault on
purpose ("the object store starts again") calls `heal(...)` for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.history import History
from harness.stack.driver import StackDriver


@dataclass
class Faults:
    driver: StackDriver
    history: History
    profile: str = "full"
    pending: dict[str, Callable[[], object]] = field(default_factory=dict)
    crashed: set[str] = field(default_factory=set)
    """Services this scenario crashed on purpose: their restart by the supervisor is expected."""

    def _inject(self, name: str, act: Callable[[], object], heal: Callable[[], object], **detail: object) -> None:
        self.pending[name] = heal  # first: if `act` fails halfway, the heal still runs
        self.history.fault(name, **detail)
        act()

    def stop(self, service: str) -> None:
        self._inject(f"{service} stopped", lambda: self.driver.stop(service), lambda: self.driver.start(service),
                     service=service)

    def crash(self, service: str) -> None:
        """SIGKILL, like a crash. The heal makes sure it runs again (the supervisor may have
        restarted it already; starting a running service is a no-op)."""
        self.crashed.add(service)
        self._inject(f"{service} crashed", lambda: self.driver.kill(service), lambda: self.driver.start(service),
                     service=service)

    def pause(self, service: str) -> None:
        self._inject(f"{service} paused", lambda: self.driver.pause(service), lambda: self.driver.resume(service),
                     service=service)

    def restart(self, service: str) -> None:
        """Stop and start: the fault heals itself; recorded as both, in order."""
        self._inject(f"{service} restarted", lambda: self.driver.restart(service), lambda: self.driver.start(service),
                     service=service)
        self.heal(f"{service} restarted")

    def stop_stack(self) -> None:
        self._inject("stack stopped", self.driver.down, lambda: self.driver.up(self.profile), profile=self.profile)

    def heal(self, name: str) -> None:
        heal = self.pending.pop(name)
        heal()
        self.history.heal(name)

    def heal_all(self) -> list[str]:
        """Heal every fault still open, newest first; returns the heals that failed (and why)."""
        errors = []
        for name in reversed(list(self.pending)):
            try:
                self.heal(name)
            except Exception as exc:  # every heal is tried; the errors are reported
                self.pending.pop(name, None)
                errors.append(f"healing '{name}' failed: {exc}")
        return errors
