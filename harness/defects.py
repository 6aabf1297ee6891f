"""Deliberately broken platforms, kept outside the platform, to prove that the suite catches defects.

Each defect is a patch in tests/defects/ (a realistic bug, a few lines) with a header saying what it
breaks and which features should catch it. `python -m harness prove-defects` applies each to a copy
of the platform (`k2/`) in a temporary folder, runs those features on a local stack whose platform
services run that copy (K2_PLATFORM_PATH), stopping at the first failure, and writes the matrix
defect x caught/missed to reports/defects.md. The platform's own code holds no defect switches.

A patch file: `Key: value` lines (a value may go on over lines indented by two spaces), a blank
line, then a unified diff against the repository with paths `a/k2/...` and `b/k2/...`:

    Defect: consumer-autocommit
    Breaks: no loss
    What: the consumer lets Kafka auto-commit its offsets as it polls, ...
    Run: features/recovery.feature features/stack_health.feature
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.stack.settings import REPO_ROOT

DEFECTS_DIR = REPO_ROOT / "tests" / "defects"
REPORTS = REPO_ROOT / "reports"
REQUIRED = ("Defect", "Breaks", "What", "Run")

Say = Callable[[str], None]


class DefectError(ValueError):
    """A defect's patch is malformed or no longer applies; the message names the file and why."""


@dataclass(frozen=True)
class Defect:
    name: str
    breaks: str
    what: str
    run: tuple[str, ...]
    """The behave arguments (features, tags) that should catch it."""
    patch: Path

    @staticmethod
    def read(path: Path) -> Defect:
        text = path.read_text()
        head, found, _ = text.partition("\ndiff --git ")
        if not found:
            raise DefectError(f"{path}: no `diff --git` section: make the patch with `git diff`")
        fields: dict[str, str] = {}
        key = ""
        for line in head.splitlines():
            m = re.match(r"([A-Z][a-z]+): ?(.*)", line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2).strip()
            elif line.startswith("  ") and key:
                fields[key] += " " + line.strip()
            elif line.strip():
                raise DefectError(f"{path}: header line {line!r} is not `Key: value`")
        missing = [k for k in REQUIRED if not fields.get(k)]
        if missing:
            raise DefectError(f"{path}: the header lacks {', '.join(missing)} (each of {', '.join(REQUIRED)})")
        if fields["Defect"] != path.stem:
            raise DefectError(f"{path}: `Defect: {fields['Defect']}` differs from the file name {path.stem}")
        return Defect(
            name=fields["Defect"],
            breaks=fields["Breaks"],
            what=fields["What"],
            run=tuple(fields["Run"].split()),
            patch=path,
        )


def load_all(folder: Path = DEFECTS_DIR) -> list[Defect]:
    return [Defect.read(p) for p in sorted(folder.glob("*.patch"))]


def select(defects: Sequence[Defect], names: Sequence[str]) -> list[Defect]:
    if not names:
        return list(defects)
    known = {d.name: d for d in defects}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DefectError(f"no defect named {', '.join(unknown)}; the defects are {', '.join(known)}")
    return [known[n] for n in names]


def broken_copy(defect: Defect, into: Path, source: Path = REPO_ROOT) -> Path:
    """A copy of the platform (`source/k2`) in `into`, with the defect's patch applied; `into` is
    what K2_PLATFORM_PATH points at."""
    if (into / "k2").exists():
        shutil.rmtree(into / "k2")
    into.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "k2", into / "k2", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # git apply works outside a repository as a strict `patch -p1`: all or nothing
    done = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", str(defect.patch)], cwd=into, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise DefectError(
            f"{defect.patch.name} no longer applies to k2/: {done.stderr.strip()[:500]}; "
            f"make it again against the current code (`git diff` of a broken copy)"
        )
    return into


@dataclass(frozen=True)
class Outcome:
    defect: Defect
    caught: bool
    scenario: str
    """The first failing scenario (`features/x.feature:12  Its name`), or "" when none failed."""
    first_line: str
    """The failure's first words, as the suite said them."""
    seconds: float
    log: Path


def failure_of(output: str) -> tuple[str, str]:
    """The first failing scenario and the first line of its failure, from behave's plain output."""
    scenario = ""
    # a scenario whose after-hook also failed is listed as errored, not failing
    m = re.search(r"^(?:Failing|Errored) scenarios:\n\s+(\S.*)$", output, re.MULTILINE)
    if m:
        scenario = " ".join(m.group(1).split())
    first = ""
    for pattern in (
        r"^\s*(?:Assertion Failed|ASSERT FAILED): *(.*)$",
        r"^\s*(\w+(?:Error|Exception|Timeout): .*)$",
        r"^\s*(Traceback .*)$",
    ):
        found = re.search(pattern, output, re.MULTILINE)
        if found:
            text = found.group(1).strip()
            if not text:  # the message starts on the next lines: PyHamcrest's "Expected: ... but: ..."
                rest = [line.strip() for line in output[found.end() :].lstrip("\n").splitlines()[:3] if line.strip()]
                observed = [line.removeprefix("but:").strip() for line in rest if line.startswith("but:")]
                text = observed[0] if observed else " ".join(rest)
            first = text[:300]
            break
    return scenario, first


BehaveRunner = Callable[[list[str], Mapping[str, str], Path], int]


def run_behave(args: list[str], env: Mapping[str, str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.run(
            [sys.executable, "-m", "behave", *args],
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        ).returncode


def prove(
    defects: Sequence[Defect],
    work: Path,
    stop_stack: Callable[[], object],
    say: Say = print,
    behave_args: Sequence[str] = (),
    runner: BehaveRunner = run_behave,
    reports: Path = REPORTS,
) -> list[Outcome]:
    """Each defect's features against a platform with that defect, from a stopped stack each time."""
    outcomes = []
    for i, defect in enumerate(defects, 1):
        copy = broken_copy(defect, work / defect.name)
        log = reports / "defects" / f"{defect.name}.log"
        say(f"[prove-defects {i}/{len(defects)}] {defect.name} ({defect.breaks}): {' '.join(defect.run)} ...")
        stop_stack()
        t0 = time.monotonic()
        env = {**os.environ, "K2_PLATFORM_PATH": str(copy)}
        code = runner(["-f", "plain", "--stop", *defect.run, *behave_args], env, log)
        stop_stack()
        scenario, first = failure_of(log.read_text(errors="replace")) if log.exists() else ("", "")
        outcome = Outcome(
            defect, caught=code != 0, scenario=scenario, first_line=first, seconds=time.monotonic() - t0, log=log
        )
        outcomes.append(outcome)
        verdict = (
            f"CAUGHT by {scenario or 'a failed run'}: {first}"
            if outcome.caught
            else "MISSED: every scenario passed against it"
        )
        say(f"[prove-defects {i}/{len(defects)}] {defect.name}: {verdict} ({outcome.seconds:.0f} s, log {log})")
    return outcomes


def matrix(outcomes: Sequence[Outcome]) -> str:
    """reports/defects.md: one row a defect, caught or missed, by which scenario, and how it said so."""
    caught = sum(o.caught for o in outcomes)
    rows = [
        "# Defects the suite must catch",
        "",
        f"{caught} of {len(outcomes)} caught. Each defect is a patch in tests/defects/, applied to a copy of k2/; "
        "its features ran from a stopped local stack and stopped at the first failure.",
        "",
        "| defect | breaks | verdict | first failing scenario | the failure's first line | time |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        cells = [
            o.defect.name,
            o.defect.breaks,
            "caught" if o.caught else "**MISSED**",
            o.scenario or "-",
            o.first_line or "-",
            f"{o.seconds:.0f} s",
        ]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    rows += ["", "What each defect does:", ""]
    rows += [f"- **{o.defect.name}**: {o.defect.what}" for o in outcomes]
    return "\n".join(rows) + "\n"
