"""The defects kept outside the platform: their patches, how they are applied, how a run is judged."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from harness.defects import DEFECTS_DIR, Defect, DefectError, broken_copy, failure_of, load_all, matrix, prove, select
from harness.stack.settings import REPO_ROOT


def test_every_defect_has_its_header_and_still_applies_to_the_platform(tmp_path: Path) -> None:
    defects = load_all()
    assert len(defects) >= 12  # the matrix covers ingest, consumer and API, each in several ways
    assert {d.name.split("-")[0] for d in defects} == {"ingest", "consumer", "api"}
    for d in defects:
        copy = broken_copy(d, tmp_path / d.name)
        changed = [
            p for p in (copy / "k2").rglob("*.py") if p.read_bytes() != (REPO_ROOT / p.relative_to(copy)).read_bytes()
        ]
        assert changed, f"{d.name} changes nothing"
        for path in changed:  # a broken platform, not a platform that does not start
            compile(path.read_text(), str(path), "exec")
        assert all((REPO_ROOT / arg).exists() for arg in d.run if arg.startswith("features/")), d.run


def test_the_platform_itself_holds_no_defect_switch() -> None:
    for path in (REPO_ROOT / "k2").rglob("*.py"):
        text = path.read_text()
        assert "K2_CONSUMER_DEFECT" not in text and "DEFECT" not in text, path


def write(folder: Path, name: str, header: str, diff: str = "diff --git a/k2/x.py b/k2/x.py\n") -> Path:
    path = folder / f"{name}.patch"
    path.write_text(header + "\n" + diff)
    return path


def test_a_header_value_may_run_over_indented_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "api-sci",
        "Defect: api-sci\nBreaks: fidelity\nWhat: prices as 1E-8\n  and more\n"
        "Run: features/pipeline.feature --tags=@api\n",
    )
    d = Defect.read(path)
    assert (d.name, d.breaks, d.what, d.run) == (
        "api-sci",
        "fidelity",
        "prices as 1E-8 and more",
        ("features/pipeline.feature", "--tags=@api"),
    )


@pytest.mark.parametrize(
    ("header", "diff", "said"),
    [
        ("Defect: x\nBreaks: b\nWhat: w\nRun: r\n", "", "no `diff --git` section"),
        ("Defect: x\nBreaks: b\nRun: r\n", "diff --git a/k2/x b/k2/x\n", "the header lacks What"),
        ("Defect: y\nBreaks: b\nWhat: w\nRun: r\n", "diff --git a/k2/x b/k2/x\n", "differs from the file name x"),
        ("Defect: x\nbreaks it all\n", "diff --git a/k2/x b/k2/x\n", "is not `Key: value`"),
    ],
)
def test_a_malformed_patch_is_named_with_what_is_wrong(tmp_path: Path, header: str, diff: str, said: str) -> None:
    with pytest.raises(DefectError, match=said):
        Defect.read(write(tmp_path, "x", header, diff))


def test_a_patch_that_no_longer_applies_says_so(tmp_path: Path) -> None:
    stale = write(
        tmp_path,
        "stale",
        "Defect: stale\nBreaks: b\nWhat: w\nRun: features/pipeline.feature\n",
        "diff --git a/k2/nothing.py b/k2/nothing.py\n--- a/k2/nothing.py\n+++ b/k2/nothing.py\n"
        "@@ -1 +1 @@\n-there\n+here\n",
    )
    with pytest.raises(DefectError, match=r"stale.patch no longer applies to k2/"):
        broken_copy(Defect.read(stale), tmp_path / "copy")


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(DefectError, match=r"no defect named nope; the defects are api-any-key-accepted, "):
        select(load_all(), ["nope"])


PLAIN_FAILURE = """\
  Scenario: The consumer crashes mid-stream
    Then within 60 seconds every trade is served exactly once ... failed in 61.2s
ASSERT FAILED:
Expected: exactly once
     but: exactly once: VIOLATED (expected 600, lost 24, duplicated 0)

Failing scenarios:
  features/recovery.feature:44  The consumer crashes mid-stream and comes back with every trade exactly once

0 features passed, 1 failed, 0 skipped
"""


def test_the_first_failure_is_read_from_behaves_output() -> None:
    scenario, first = failure_of(PLAIN_FAILURE)
    assert (
        scenario == "features/recovery.feature:44 The consumer crashes mid-stream and comes back with every "
        "trade exactly once"
    )
    assert first == "exactly once: VIOLATED (expected 600, lost 24, duplicated 0)"  # what it saw, not wanted
    assert failure_of("1 feature passed, 0 failed\n") == ("", "")
    assert failure_of("ConditionTimeout: the API served 0 of 300 trades\n")[1].startswith("ConditionTimeout: ")
    assert failure_of("Assertion Failed: 401 expected, got 200\n")[1] == "401 expected, got 200"
    errored = "ASSERT FAILED: lost 600\n\nErrored scenarios:\n  features/pipeline.feature:10  Trades flow\n"
    assert failure_of(errored) == ("features/pipeline.feature:10 Trades flow", "lost 600")


def test_each_defect_runs_its_features_on_its_own_copy_from_a_stopped_stack(tmp_path: Path) -> None:
    defects = load_all()[:2]
    ran: list[tuple[list[str], str]] = []
    stops: list[int] = []

    def behave(args: list[str], env: Mapping[str, str], log: Path) -> int:
        ran.append((args, env["K2_PLATFORM_PATH"]))
        log.parent.mkdir(parents=True, exist_ok=True)
        caught = len(ran) == 1
        log.write_text(PLAIN_FAILURE if caught else "4 features passed, 0 failed\n")
        return 1 if caught else 0

    outcomes = prove(
        defects,
        tmp_path / "work",
        lambda: stops.append(1),
        say=lambda _: None,
        behave_args=["-D", "seed=7"],
        runner=behave,
        reports=tmp_path / "reports",
    )
    assert [o.caught for o in outcomes] == [True, False]
    assert ran[0][0] == ["-f", "plain", "--stop", *defects[0].run, "-D", "seed=7"]
    assert ran[0][1] == str(tmp_path / "work" / defects[0].name)
    assert len(stops) == 4, "a stopped stack before and after each run"
    table = matrix(outcomes)
    assert "1 of 2 caught" in table
    assert f"| {defects[0].name} | {defects[0].breaks} | caught | features/recovery.feature:44" in table
    assert f"| {defects[1].name} | {defects[1].breaks} | **MISSED** | - | - |" in table


def test_the_defects_folder_is_where_the_command_looks() -> None:
    assert DEFECTS_DIR == REPO_ROOT / "tests" / "defects" and DEFECTS_DIR.is_dir()
