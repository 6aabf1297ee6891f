"""The local stack's supervisor: Docker Compose's `restart: on-failure`, for native processes.

The services outlive every harness command, so their supervisor must too: `up` starts it as a
process of its own (in `.stack/run/supervisor`, logging to `.stack/logs/supervisor.log`) when
the profile has a service with a restart policy, and `down` stops it before any service.

A service the driver stopped on purpose is recorded as wanted "stopped" and left alone. One that
is gone while wanted "running" (a crash, an OOM kill, `stack kill`) is started again, with
capped exponential backoff when the start itself fails (a dependency that is down, say).

    python -m harness.stack.supervisor      # normally started by `stack up`, not by hand
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 15.0


def due(
    state: Mapping[str, Any],
    policies: Mapping[str, str],
    alive: Callable[[str], bool],
    profile_members: tuple[str, ...],
) -> list[str]:
    """The services to start again: in the profile, with a restart policy, wanted running, gone."""
    services = state.get("services", {})
    return [
        name
        for name in profile_members
        if policies.get(name, "no") == "on-failure"
        and services.get(name, {}).get("wanted") == "running"
        and not alive(name)
    ]


@dataclass
class Backoff:
    """When each service may next be tried: 1, 2, 4 ... up to 15 s after consecutive failures."""

    not_before: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def ready(self, name: str, now: float) -> bool:
        return now >= self.not_before.get(name, 0.0)

    def failed(self, name: str, now: float) -> float:
        n = self.failures.get(name, 0) + 1
        self.failures[name] = n
        delay: float = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** (n - 1))
        self.not_before[name] = now + delay
        return delay

    def succeeded(self, name: str) -> None:
        self.failures.pop(name, None)
        self.not_before.pop(name, None)


def _say(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [supervisor] {msg}", flush=True)


def run(stop: threading.Event, every: float = 0.5) -> None:
    # imported here so `--help` stays instant and the module's pure parts import nothing heavy
    from harness.stack.driver import StackError
    from harness.stack.local import LocalDriver
    from harness.stack.services import SERVICES, profile_services

    driver = LocalDriver(say=_say)
    policies = {name: spec.restart for name, spec in SERVICES.items()}
    backoff = Backoff()
    _say(
        f"watching {driver.settings.root}; restart policy on-failure for "
        + ", ".join(n for n, p in policies.items() if p == "on-failure")
    )
    while not stop.wait(every):
        state = driver.read_state()
        profile = state.get("profile")
        if not profile:
            continue
        now = time.monotonic()
        for name in due(state, policies, driver.alive, profile_services(profile)):
            if not backoff.ready(name, now):
                continue
            _say(f"{name} exited unexpectedly; starting it again")
            try:
                if driver.revive(name):
                    backoff.succeeded(name)
                    _say(f"{name} is ready again")
            except StackError as exc:
                delay = backoff.failed(name, time.monotonic())
                _say(f"{name} did not start ({str(exc).splitlines()[0]}); next try in {delay:.0f} s")


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m harness.stack.supervisor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run(stop)
    _say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
