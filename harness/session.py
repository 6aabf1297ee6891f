"""One run of the suite: its configuration, its stack driver, and what it must clean up.

behave's environment.py only forwards its hooks here, so the logic is testable and small.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import RunConfig
from harness.stack.driver import StackDriver, StackStatus
from harness.stack.local import LocalDriver
from harness.stack.services import profile_services
from harness.stack.settings import REPO_ROOT, StackSettings
from harness.targets import DEFAULT as DEFAULT_TARGET
from harness.targets import Target

ALLURE_RESULTS = REPO_ROOT / "reports" / "allure-results"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_driver(config: RunConfig, say: Callable[[str], None] = _say) -> StackDriver:
    if config.driver == "local":
        return LocalDriver(StackSettings.from_env(), say=say)
    raise ValueError(f"driver {config.driver!r} is not available")  # RunConfig already refuses others


def write_report_environment(config: RunConfig, target: Target, versions: dict[str, str],
                             results: Path = ALLURE_RESULTS) -> None:
    """Seed, commit and settings on the Allure report's front page (its environment.properties)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=REPO_ROOT, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        sha = "unknown"
    props = {"seed": config.seed, "git.sha": sha, "driver": config.driver, "target": target.name,
             "timeout.multiplier": config.timeout_multiplier, **{f"version.{k}": v for k, v in versions.items()}}
    results.mkdir(parents=True, exist_ok=True)
    (results / "environment.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))


@dataclass
class SuiteSession:
    config: RunConfig
    driver: StackDriver
    target: Target
    started_stack: bool = False
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @staticmethod
    def open(userdata: Mapping[str, str]) -> SuiteSession:
        config = RunConfig.from_sources(userdata)
        _say(f"[suite] seed {config.seed} (replay with -D seed={config.seed}), driver {config.driver}, "
             f"timeout multiplier {config.timeout_multiplier}")
        target = Target.load(userdata.get("target") or DEFAULT_TARGET)
        _say(f"[suite] target profile {target.name}")
        session = SuiteSession(config=config, driver=make_driver(config), target=target)
        write_report_environment(config, target, session.driver.versions())
        return session

    def ensure_stack(self, profile: str, within: float) -> StackStatus:
        """The stack with this profile, ready within the budget; started (and later stopped)
        by this run if it was not already up."""
        t0 = time.monotonic()
        current = self.driver.status()
        if current.ready and current.profile and set(profile_services(profile)) <= set(
                profile_services(current.profile)):
            return current  # a bigger profile that is up serves a smaller one as well
        self.started_stack = True
        status = self.driver.up(profile)
        took = time.monotonic() - t0
        if took > within:
            raise AssertionError(f"the {profile} stack became ready in {took:.1f} s, over its budget of {within:.0f} s")
        return status

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.cleanups.clear()
        if self.started_stack and not self.config.keep_stack:
            self.driver.down()
        elif self.started_stack:
            _say("[suite] keep_stack=true: the stack stays up; `python -m harness stack down` stops it")
