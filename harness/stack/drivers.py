"""The one place that turns a driver's name into a StackDriver, for the suite and the command line."""

from __future__ import annotations

from collections.abc import Callable

from harness.config import DRIVERS
from harness.stack.driver import StackDriver
from harness.stack.local import LocalDriver
from harness.stack.settings import StackSettings

__all__ = ["DRIVERS", "make_driver"]


def make_driver(
    driver: str,
    compose_file: str = "",
    say: Callable[[str], None] = print,
    endpoints: str = "",
    api_ready_path: str = "",
) -> StackDriver:
    """`local`: native processes; `compose`: Docker Compose (`compose_file`, empty for compose/'s);
    `external`: a K2 the suite did not start, described by the `endpoints` file."""
    if driver == "external":
        from harness.stack.external import ExternalDriver

        return ExternalDriver.from_file(endpoints, ready_path=api_ready_path, say=say)
    if driver == "local":
        return LocalDriver(StackSettings.from_env(), say=say)
    if driver == "compose":
        from harness.stack.compose import ComposeDriver, ComposeSettings  # the Docker SDK, only when asked

        return ComposeDriver(ComposeSettings.from_env(compose_file=compose_file or None), say=say)
    raise ValueError(f"driver {driver!r} is unknown; choose one of {', '.join(DRIVERS)}")
