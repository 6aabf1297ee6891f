"""Stacks of the integration tests' own: each in its own directory on its own ports, so tests
never touch a developer's stack (.stack) or each other's."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping

from harness.stack.local import LocalDriver
from harness.stack.settings import StackSettings


def _say(msg: str) -> None:
    print(msg, flush=True)


@contextlib.contextmanager
def own_stack(env: Mapping[str, str], profile: str) -> Iterator[LocalDriver]:
    """A stack of a test module's own (its own directory and ports), purged before and after."""
    driver = LocalDriver(StackSettings.from_env(env), say=_say)
    driver.down(purge=True)  # leftovers of an interrupted earlier run
    try:
        driver.up(profile)
        yield driver
    finally:
        driver.down(purge=True)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a service a test started itself: SIGTERM, then SIGKILL if it has not exited in 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
