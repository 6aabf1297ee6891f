"""The one way the suite waits: poll a condition until it holds or its budget runs out.

Nothing in the harness, the steps or the tests sleeps to wait for state. A condition is a
callable that either returns a truthy value (done) or returns a falsy value / raises (not yet).
The last reason it gave is kept, so a timeout says *why* it was still not true.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    """The condition did not hold within its budget. An AssertionError so behave and pytest
    report it as a failed check, not as a crash of the suite."""

    def __init__(self, describe: str, within: float, attempts: int, last: str) -> None:
        self.describe = describe
        self.within = within
        self.attempts = attempts
        self.last = last
        super().__init__(f"{describe}: still not true after {within:.1f} s ({attempts} attempts); last: {last}")


def eventually(
    condition: Callable[[], T | None],
    *,
    within: float,
    describe: str,
    every: float = 0.2,
    fatal: tuple[type[BaseException], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> T:
    """Call `condition` every `every` seconds until it returns a truthy value, and return it.

    An exception from the condition counts as "not yet" (its message becomes the reason shown
    on timeout), so probes can simply raise while a service is still coming up. Exceptions of a
    `fatal` type mean "this will never become true" (a process died) and propagate at once.
    `clock` and `pause` exist for unit tests of this function only.
    """
    if within <= 0:
        raise ValueError(f"within must be positive, got {within}")
    deadline = clock() + within
    attempts = 0
    last = "condition returned nothing"
    while True:
        attempts += 1
        try:
            result = condition()
        except fatal:
            raise
        except Exception as exc:  # not yet: remember why
            last = f"{type(exc).__name__}: {exc}".strip()
        else:
            if result:
                return result
            last = f"condition returned {result!r}"
        remaining = deadline - clock()
        if remaining <= 0:
            raise ConditionTimeout(describe, within, attempts, last[:1000])
        pause(min(every, remaining))
