"""Soak: the full default suite N times, each from a stopped stack, to find what flakes.

Each run is `behave` in a child process after `stack down`, so no state but the stack's data
carries over. A failed run's reports (Allure results, scenario evidence, the console output)
are kept under reports/soak/run-<n>/, since the next run would clear them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.stack.settings import REPO_ROOT

REPORTS = REPO_ROOT / "reports"
SUMMARY = re.compile(r"(\d+) scenarios? passed, (\d+) failed")
FAILING = re.compile(r"^Failing scenarios:\n((?:  .*\n)+)", re.MULTILINE)


@dataclass(frozen=True)
class RunResult:
    number: int
    passed: bool
    seconds: float
    scenarios_passed: int
    scenarios_failed: int
    failing: tuple[str, ...]

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        extra = "".join(f"\n      {f}" for f in self.failing)
        return (
            f"run {self.number:>3}  {verdict}  {self.seconds:6.0f} s  "
            f"scenarios {self.scenarios_passed} passed, {self.scenarios_failed} failed{extra}"
        )


def parse_output(number: int, returncode: int, seconds: float, output: str) -> RunResult:
    """What one behave run says about itself; a run without a summary line did not pass."""
    summary = SUMMARY.findall(output)
    passed_n, failed_n = (int(summary[-1][0]), int(summary[-1][1])) if summary else (0, 0)
    failing = FAILING.search(output)
    names = tuple(line.strip() for line in failing.group(1).splitlines()) if failing else ()
    return RunResult(number, returncode == 0 and bool(summary) and passed_n > 0, seconds, passed_n, failed_n, names)


def summary(results: Sequence[RunResult]) -> str:
    passes = sum(r.passed for r in results)
    walls = [r.seconds for r in results]
    return (
        (
            f"{passes}/{len(results)} runs passed; wall time per run min {min(walls):.0f} s, "
            f"max {max(walls):.0f} s, mean {sum(walls) / len(walls):.0f} s"
        )
        if results
        else "no runs"
    )


def run(runs: int, behave_args: Sequence[str], say: Callable[[str], None]) -> list[RunResult]:
    python = sys.executable
    results = []
    for n in range(1, runs + 1):
        subprocess.run([python, "-m", "harness", "stack", "down"], cwd=REPO_ROOT, capture_output=True)
        say(f"[soak] run {n}/{runs}: the default features from a stopped stack ...")
        t0 = time.monotonic()
        done = subprocess.run(
            [python, "-m", "behave", "-f", "progress", *behave_args], cwd=REPO_ROOT, capture_output=True, text=True
        )
        output = done.stdout + done.stderr
        result = parse_output(n, done.returncode, time.monotonic() - t0, output)
        if not result.passed:
            keep = REPORTS / "soak" / f"run-{n}"
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir(parents=True)
            (keep / "behave.log").write_text(output)
            for name in ("allure-results", "scenarios"):
                if (REPORTS / name).exists():
                    shutil.copytree(REPORTS / name, keep / name)
        say("[soak] " + result.line())
        results.append(result)
    subprocess.run([python, "-m", "harness", "stack", "down"], cwd=REPO_ROOT, capture_output=True)
    say("[soak] " + summary(results))
    return results
