"""One run of the suite: its configuration, its stack driver, and what it must clean up.

behave's environment.py only forwards its hooks here, so the logic is testable and small.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import report
from harness.checks import Verdict
from harness.config import RunConfig
from harness.endpoints import Endpoints
from harness.evidence import PLATFORM_SERVICES, ScenarioLogs, cause_of_failure
from harness.faults import Faults
from harness.history import History
from harness.scenario import PipelineRun
from harness.stack import drivers
from harness.stack.driver import StackDriver, StackStatus
from harness.stack.external import PROFILE as EXTERNAL
from harness.stack.services import SERVICES, profile_services
from harness.stack.settings import REPO_ROOT
from harness.targets import DEFAULT as DEFAULT_TARGET
from harness.targets import Target
from harness.waiting import ConditionTimeout, eventually

ALLURE_RESULTS = REPO_ROOT / "reports" / "allure-results"
SCENARIO_REPORTS = REPO_ROOT / "reports" / "scenarios"
JUNIT_FEATURES = REPO_ROOT / "reports" / "junit" / "features"  # behave.ini's junit_directory
FAILED_LOG_LINES = 150  # per service, attached to the report of a failed scenario


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_driver(config: RunConfig, target: Target, say: Callable[[str], None] = _say) -> StackDriver:
    return drivers.make_driver(
        config.driver,
        config.compose_file,
        say=say,
        endpoints=config.endpoints,
        api_ready_path=target.api["health_ready"],
    )


def write_report_environment(
    config: RunConfig, target: Target, versions: dict[str, str], results: Path = ALLURE_RESULTS
) -> None:
    """Seed, commit and settings on the Allure report's front page (its environment.properties)."""
    try:
        sha = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.TimeoutExpired):
        sha = "unknown"
    props = {
        "seed": config.seed,
        "git.sha": sha,
        "driver": config.driver,
        "target": target.name,
        "timeout.multiplier": config.timeout_multiplier,
        "p99.target": config.p99_setting(),
        **{f"version.{k}": v for k, v in versions.items()},
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "environment.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))


def slug(text: str) -> str:
    """A file-name-safe form of a feature or scenario name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "unnamed"


@dataclass
class ScenarioRecord:
    """One scenario's history, faults and logs; see SuiteSession.begin_scenario."""

    name: str
    directory: Path
    seed: int
    """The scenario's workload seed, from the run's seed and the scenario's name."""
    history: History
    faults: Faults
    logs: ScenarioLogs
    run: PipelineRun | None = None
    """The scenario's flow of trades, once a step asked for it."""


@dataclass
class SuiteSession:
    config: RunConfig
    driver: StackDriver
    target: Target
    started_stack: bool = False
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    scenario: ScenarioRecord | None = None

    @staticmethod
    def open(userdata: Mapping[str, str]) -> SuiteSession:
        config = RunConfig.from_sources(userdata)
        _say(
            f"[suite] seed {config.seed} (replay with -D seed={config.seed}), driver {config.driver}, "
            f"timeout multiplier {config.timeout_multiplier}"
        )
        target = Target.load(userdata.get("target") or DEFAULT_TARGET)
        _say(f"[suite] target profile {target.name}")
        session = SuiteSession(config=config, driver=make_driver(config, target), target=target)
        # this run's evidence only: results of an earlier run would show in its report as this one's
        shutil.rmtree(SCENARIO_REPORTS, ignore_errors=True)
        shutil.rmtree(JUNIT_FEATURES, ignore_errors=True)
        for stale in ALLURE_RESULTS.glob("*"):
            if stale.is_file():
                stale.unlink()
        write_report_environment(config, target, session.driver.versions())
        return session

    def ensure_stack(self, profile: str, within: float) -> StackStatus:
        """The stack with this profile, ready within the budget; started (and later stopped)
        by this run if it was not already up."""
        t0 = time.monotonic()
        current = self.driver.status(resources=False)
        if current.profile == EXTERNAL:  # nothing to start: the deployment must be ready as it is
            if not current.ready:
                raise AssertionError(
                    "the deployment is not ready: "
                    + "; ".join(f"{n} {s.state}: {s.detail}" for n, s in current.services.items() if not s.ready)
                )
            return current
        if (
            current.ready
            and current.profile
            and set(profile_services(profile)) <= set(profile_services(current.profile))
        ):
            return current  # a bigger profile that is up serves a smaller one as well
        self.started_stack = True
        status = self.driver.up(profile)
        took = time.monotonic() - t0
        if took > within:
            raise AssertionError(f"the {profile} stack became ready in {took:.1f} s, over its budget of {within:.0f} s")
        return status

    @staticmethod
    def say(message: str) -> None:
        _say(message)

    def cannot_run(self, tags: Iterable[str]) -> str | None:
        """Why a scenario with these tags cannot run against this deployment, if it cannot:
        @needs-simulator (the exchange simulator's control API, to choose the trades), @observes-exchange
        (an exchange that trades on its own, whose window the suite watches), @needs-faults
        and @needs-stack (a stack whose processes the suite started and controls), @cluster (profile
        cluster: three brokers and two consumers, on the local driver)."""
        tags = set(tags)
        controls = getattr(self.driver, "controls_processes", True)
        if "cluster" in tags and self.config.driver != "local":
            return (
                f"it needs profile cluster (three Kafka brokers, two consumers), which only the local driver "
                f"runs; driver {self.config.driver} has one broker and one consumer"
            )
        if not controls and "needs-faults" in tags:
            return (
                f"it injects faults into the platform's processes and links, and driver {self.config.driver} "
                f"did not start them"
            )
        if not controls and "needs-stack" in tags:
            return f"it starts, stops and measures the stack's own processes, and driver {self.config.driver} has none"
        # A stack the suite starts always has the simulator, though its endpoints may not show it
        # yet (the stack is started by the scenario's first step); a deployment's file says.
        simulator = controls or self.driver.endpoints().has("control")
        if "observes-exchange" in tags and simulator:
            return (
                "it watches the trades an exchange makes on its own, and this one is the simulator, which trades "
                "only when asked (its control API is given); see docs/verifying-your-k2.md"
            )
        if "needs-simulator" in tags and not simulator:
            return (
                f"it chooses the trades through the exchange simulator's control API, and "
                f"{self.driver.endpoints().source} gives none (exchange.control_url)"
            )
        return None

    def begin_scenario(self, feature: str, scenario: str) -> ScenarioRecord:
        history = History()
        record = ScenarioRecord(
            name=scenario,
            directory=SCENARIO_REPORTS / slug(feature) / slug(scenario),
            seed=zlib.crc32(f"{self.config.seed}:{feature}:{scenario}".encode()) % 2**31,
            history=history,
            faults=Faults(self.driver, history),
            logs=ScenarioLogs.begin(self.driver, SERVICES),
        )
        self.scenario = record
        return record

    def pipeline(self, endpoints: Endpoints) -> PipelineRun:
        """The current scenario's flow of trades, created on first use and closed with the scenario."""
        record = self.scenario
        if record is None:
            raise RuntimeError("no scenario is running")
        if record.run is None:
            record.run = PipelineRun(endpoints, self.target, record.history, record.seed)
        return record.run

    def with_causes(self, verdicts: list[Verdict]) -> list[Verdict]:
        """The verdicts, each failed one carrying what the stack showed meanwhile that may explain
        it: dead letters written during the scenario and the platform's error lines."""
        if all(v.valid for v in verdicts) or self.scenario is None:
            return verdicts
        letters = self.scenario.run.dead_letters_now() if self.scenario.run is not None else []
        causes = cause_of_failure(letters, self.scenario.logs.since_start(), self._platform_health())
        return [v if v.valid else replace(v, evidence=causes) for v in verdicts]

    def _platform_health(self) -> dict[str, str]:
        """Each platform service's state and its last readiness answer, as the driver sees them."""
        try:
            services = self.driver.status(resources=False).services
        except Exception as exc:  # the evidence must not hide the verdict it explains
            return {"stack": f"status unavailable: {type(exc).__name__}: {exc}"}
        return {n: f"{s.state} ({s.detail[:160]})" for n, s in services.items() if n in PLATFORM_SERVICES}

    def end_scenario(self, failed: bool) -> None:
        """Heal what the scenario broke, keep its history and logs under reports/scenarios/, attach
        them to the report, and fail it on a crash signature in any service's log."""
        record, self.scenario = self.scenario, None
        if record is None:
            return
        if record.run is not None:
            record.run.close()
        heal_errors = record.faults.heal_all()
        slices = record.logs.since_start()
        record.history.write(record.directory / "history.json")
        (record.directory / "timeline.txt").write_text(record.history.timeline() + "\n")
        ScenarioLogs.save(slices, record.directory / "logs")
        report.attach_text("timeline", record.history.timeline())
        if failed:
            for name, text in slices.items():
                if text:
                    report.attach_text(
                        f"log {name} (last {FAILED_LOG_LINES} lines)", "\n".join(text.splitlines()[-FAILED_LOG_LINES:])
                    )
        problems = heal_errors + record.logs.findings(slices, record.faults.crashed)
        if problems:
            raise AssertionError(
                "after the scenario:\n  " + "\n  ".join(problems) + f"\nlogs: {record.directory / 'logs'}"
            )

    def end_feature(self, within: float = 90.0) -> None:
        """The stack is healthy again after every feature; if it is not, say which service is not."""
        status = self.driver.status(resources=False)
        running = any(s.state != "stopped" for s in status.services.values())
        if not status.profile or not (running or self.started_stack):
            return  # no stack of this run's to judge
        try:
            eventually(
                lambda: self.driver.status(resources=False).ready,
                within=self.config.budget(within),
                every=1.0,
                describe="every service of the stack ready after the feature",
            )
        except ConditionTimeout:
            services = self.driver.status(resources=False).services
            bad = {n: f"{s.state} ({s.detail})" for n, s in services.items() if not s.ready}
            raise AssertionError(f"the stack is not healthy after the feature: {bad}") from None

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.cleanups.clear()
        if self.started_stack and not self.config.keep_stack:
            self.driver.down()
        elif self.started_stack:
            _say("[suite] keep_stack=true: the stack stays up; `python -m harness stack down` stops it")
