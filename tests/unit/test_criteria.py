import json
import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from behave.parser import parse_file

from harness import allure_results
from harness.allure_results import ResultsMissing, RunResults, ScenarioResult, StepResult
from harness.checks import exactly_once
from harness.checks.verdict import Verdict, read_summaries
from harness.cli import main
from harness.criteria import CRITERIA, MET, NOT_MET, NOT_RUN, PART_RUN, Criterion, Scenarios, evaluate, judge, render
from harness.criteria_figures import Counts, Evidence, ExactlyOnce, LatencyPercentiles, StepSeconds, WallTime
from harness.criteria_report import run_commit

FEATURES = Path(__file__).resolve().parents[2] / "features"


def once(stage: str, n: int, lost: int = 0) -> str:
    return str(exactly_once(stage, range(n), range(n - lost)))


def verdicts(n: int, lost: int = 0) -> str:
    return "\n".join(once(stage, n, lost) for stage in ("produced", "committed", "served"))


def scenario(
    title: str,
    feature: str = "Recovery",
    status: str = "passed",
    texts: Mapping[str, tuple[str, ...]] | None = None,
    start: int = 1_000_000,
    stop: int = 1_010_000,
    tags: frozenset[str] = frozenset(),
    steps: tuple[StepResult, ...] = (),
    message: str = "",
) -> ScenarioResult:
    return ScenarioResult(feature, title, status, start, stop, message, tags, steps, texts or {})


def run_of(*scenarios: ScenarioResult, driver: str = "local") -> RunResults:
    return RunResults(Path("reports/allure-results"), scenarios, {"driver": driver, "git.sha": "abc1234"})


# ---------------------------------------------------------------- verdicts read back
def test_a_verdicts_summary_reads_back_its_check_state_and_counts() -> None:
    shared = Verdict(
        "the 3 partitions shared by consumer-1 and consumer-2 (consumer-1: [0, 1]; consumer-2: [2])",
        True,
        {"partitions": 3, "owned twice": 0},
    )
    text = "\n".join([once("served", 600), str(exactly_once("committed", range(10), [1, 1])), str(shared)])
    found = read_summaries(text + "\n  meanwhile: a line that is no summary")
    assert [(v.check, v.valid) for v in found] == [
        ("exactly once at served", True),
        ("exactly once at committed", False),
        ("the 3 partitions shared by consumer-1 and consumer-2 (consumer-1: [0, 1]; consumer-2: [2])", True),
    ]
    assert found[0].counts == {"expected": 600, "served": 600, "lost": 0, "duplicated": 0, "unexpected": 0}
    assert found[1].counts["lost"] == 9 and found[1].counts["duplicated"] == 1
    assert found[2].counts == {"partitions": 3, "owned twice": 0}


# ---------------------------------------------------------------- reading a results folder
def write_result(folder: Path, name: str, raw: dict[str, Any]) -> None:
    (folder / f"{name}-result.json").write_text(json.dumps(raw))


def test_a_results_folder_reads_as_scenarios_with_their_verdicts_and_environment(tmp_path: Path) -> None:
    (tmp_path / "v1-attachment.txt").write_text(verdicts(600))
    (tmp_path / "environment.properties").write_text("seed=7\ngit.sha=abc1234\ndriver=compose\n")
    write_result(
        tmp_path,
        "a",
        {
            "name": "At 10 trades per second every trade is served -- @1.1 the loads of the plan",
            "fullName": "Freshness: At 10 trades per second every trade is served",
            "status": "failed",
            "statusDetails": {"message": "AssertionError: exactly once at served: VIOLATED (lost 3)"},
            "start": 1000,
            "stop": 9000,
            "labels": [{"name": "feature", "value": "Freshness"}, {"name": "tag", "value": "slow"}],
            "steps": [
                {
                    "name": "Then within 30 seconds ...",
                    "status": "failed",
                    "start": 2000,
                    "stop": 4500,
                    "attachments": [{"name": "verdicts", "source": "v1-attachment.txt", "type": "text/plain"}],
                }
            ],
        },
    )
    (tmp_path / "b-result.json").write_text("{not json")
    run = allure_results.load(tmp_path)
    (s,) = run.scenarios
    assert (s.feature, s.title, s.status, s.tags) == (
        "Freshness",
        "At 10 trades per second every trade is served",
        "failed",
        frozenset({"slow"}),
    )
    assert [v.counts["served"] for v in s.verdicts() if v.check == "exactly once at served"] == [600]
    assert s.steps[0].seconds == 2.5
    assert run.environment == {"seed": "7", "git.sha": "abc1234", "driver": "compose"}
    assert run.seconds == 8.0
    assert len(run.problems) == 1 and run.problems[0].startswith("b-result.json: ")


def test_a_missing_results_folder_names_the_path_and_what_writes_it(tmp_path: Path) -> None:
    with pytest.raises(ResultsMissing) as missing:
        allure_results.load(tmp_path / "allure-results")
    assert str(missing.value) == (
        f"no Allure results at {tmp_path / 'allure-results'} (no folder): the features write them "
        "(`make features`, `make acceptance` or `.venv/bin/behave`)"
    )


def test_the_cli_says_one_line_and_exits_1_without_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["criteria", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "out.md")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no Allure results at ") and "Traceback" not in err
    assert not (tmp_path / "out.md").exists()


# ---------------------------------------------------------------- judging
REGISTRY = Criterion(
    "a schema-registry outage loses nothing", (Scenarios("Recovery", "While the schema registry"),), (ExactlyOnce(),)
)


def test_a_criterion_whose_scenarios_passed_is_met_with_its_figure() -> None:
    # the scenario judged its flow twice; the second verdict covers the first's trades too
    texts = {"verdicts": (verdicts(400), verdicts(500))}
    row = judge(REGISTRY, run_of(scenario("While the schema registry is down, trades keep flowing", texts=texts)), None)
    assert (row.result, row.passed, row.ran) == (MET, 1, 1)
    assert row.figure == "emitted 500, produced 500, committed 500, served 500, lost 0, duplicated 0"


def test_a_criterion_whose_scenarios_did_not_run_is_not_run_never_met() -> None:
    row = judge(REGISTRY, run_of(scenario("The object store is unavailable for a while")), None)
    assert (row.result, row.passed, row.ran, row.figure) == (NOT_RUN, 0, 0, "–")
    skipped = judge(REGISTRY, run_of(scenario("While the schema registry is down", status="skipped")), None)
    assert (skipped.result, skipped.skipped) == (NOT_RUN, 1)


def test_one_failed_scenario_makes_it_not_met_and_names_the_losses() -> None:
    texts = {"verdicts": (verdicts(600, lost=2),)}
    crit = Criterion(
        "a consumer crash loses nothing",
        (Scenarios("Recovery", "The consumer crashes"),),
        (ExactlyOnce(),),
    )
    run = run_of(
        scenario("The consumer crashes mid-stream", texts={"verdicts": (verdicts(300),)}),
        scenario("The consumer crashes while the object store is down", status="failed", texts=texts),
    )
    row = judge(crit, run, None)
    assert (row.result, row.passed, row.ran) == (NOT_MET, 1, 2)
    assert row.figure == "emitted 900, produced 898, committed 898, served 898, lost 2, duplicated 0"


def test_a_required_scenario_missing_is_not_run_in_full() -> None:
    crit = Criterion(
        "latency at 10, 50, 100",
        tuple(Scenarios("Freshness", f"At {r} trades", f"{r} trades/s") for r in ("10", "50", "100")),
    )
    row = judge(crit, run_of(scenario("At 100 trades per second", "Freshness")), None)
    assert row.result == f"{PART_RUN}: no 10 trades/s, 50 trades/s"
    assert row.outcome == PART_RUN


def test_an_optional_scenario_counts_when_it_ran_and_is_not_missed_when_not() -> None:
    crit = Criterion(
        "broker restart",
        (
            Scenarios("Recovery", "The message broker crashes and"),
            Scenarios("Recovery", "The broker X", required=False),
        ),
    )
    assert judge(crit, run_of(scenario("The message broker crashes and starts again")), None).result == MET


def test_a_criterion_of_another_driver_or_of_the_default_run_only_says_why_it_did_not_run() -> None:
    timed = Criterion(
        "under 5 minutes",
        (Scenarios("Recovery"),),
        (WallTime(300),),
        environment={"driver": "local"},
        not_with_tags=frozenset({"slow"}),
    )
    assert (
        judge(timed, run_of(scenario("x"), driver="compose"), None).result == f"{NOT_RUN} (driver compose, not local)"
    )
    slow_run = run_of(scenario("x"), scenario("y", tags=frozenset({"slow", "window"})))
    assert judge(timed, slow_run, None).result == f"{NOT_RUN} (it ran @slow scenarios, so it is not the default run)"


def test_our_own_p99_target_is_judged_from_the_figures_of_local_runs() -> None:
    own = next(c for c in CRITERIA if c.text.startswith("our own target: p99"))
    rows = [
        scenario(f"At {r} trades per second every trade is served within the SLA and the data stays fresh", "Freshness")
        for r in (10, 50, 100)
    ]

    def latency(*p99: float) -> dict[str, Any]:
        return {r: {"end_to_end": {"p50": 0.5, "p99": v}} for r, v in zip(("10", "50", "100"), p99, strict=True)}

    def on(driver: str, *p99: float) -> str:
        run = RunResults(Path("r"), tuple(rows), {"driver": driver, "git.sha": "abc1234"})
        return judge(own, run, latency(*p99)).result

    assert on("compose", 0.8, 0.8, 0.8).startswith(f"{NOT_RUN} (driver compose, not local")
    assert on("local", 0.8, 0.95, 1.0) == MET
    # every scenario passed (their step holds 2 s), yet one row's p99 missed our own 1 s
    assert on("local", 0.8, 1.12, 0.9) == f"{NOT_MET} (figure over its bound)"


def test_a_figure_over_its_bound_is_not_met() -> None:
    timed = Criterion("under 5 minutes", (Scenarios("Recovery"),), (WallTime(300),))
    slow = run_of(scenario("a", start=0, stop=10_000), scenario("b", start=250_000, stop=316_000))
    row = judge(timed, slow, None)
    assert row.result == f"{NOT_MET} (figure over its bound)"
    assert row.figure == "5 min 16 s for 2 scenarios (limit 5 min 0 s)"
    fast = run_of(scenario("a", start=0, stop=10_000), scenario("b", start=250_000, stop=256_500))
    assert judge(timed, fast, None).figure == "4 min 16 s for 2 scenarios (limit 5 min 0 s)"


def test_latency_figures_come_from_latency_json_per_rate() -> None:
    latency = {
        "10": {"end_to_end": {"p50": 0.627, "p99": 0.9753}},
        "100": {"end_to_end": {"p50": 0.5236, "p99": 0.8313}},
    }
    evidence = Evidence((), run_of(), latency)
    shown = LatencyPercentiles()(evidence)
    assert shown is not None and shown.text == "p99 0.98 / – / 0.83 s, p50 0.63 / – / 0.52 s at 10 / 50 / 100 trades/s"
    bounded = LatencyPercentiles(p99_limit=1.0)(evidence)
    assert bounded is not None and bounded.ok is True and bounded.text.endswith("(limit p99 1 s)")
    none = LatencyPercentiles()(Evidence((), run_of(), None))
    assert none is not None and none.text == "no latency.json of this run"


def test_counts_and_step_times_are_summed_and_ranged_over_the_scenarios() -> None:
    fid = "served trades equal what the exchange sent: holds (expected 200, compared 200, mismatched 0)"
    steps = (StepResult("Then within 30 seconds the supervisor has started the consumer again", "passed", 0, 3100),)
    slower = (StepResult("Then within 30 seconds the supervisor has started the api again", "passed", 0, 14900),)
    evidence = Evidence(
        (
            scenario("a", texts={"verdicts": (fid,)}, steps=steps),
            scenario("b", texts={"verdicts": (fid,)}, steps=slower),
        ),
        run_of(),
        None,
    )
    counts = Counts(r"^served trades equal", ("compared", "mismatched"), "served as sent")(evidence)
    assert counts is not None and counts.text == "served as sent: compared 400, mismatched 0"
    took = StepSeconds(r"has started the .* again", "ready within")(evidence)
    assert took is not None and took.text == "ready within 3.1–14.9 s"


def test_the_report_has_the_run_the_total_the_table_and_what_failed() -> None:
    run = run_of(
        scenario("While the schema registry is down", texts={"verdicts": (verdicts(500),)}),
        scenario(
            "The object store is unavailable | for a while",
            status="failed",
            message="AssertionError: exactly once at served: VIOLATED (lost 3)\n  lost (first 3): a, b, c",
        ),
    )
    store = Criterion("an object-store failure loses nothing", (Scenarios("Recovery", "The object store"),))
    partition = Criterion("a network partition loses nothing", (Scenarios("Recovery", "The network"),))
    rows = evaluate(run, None, (REGISTRY, store, partition))
    text = render(rows, run, commit="abc1234", written=datetime(2026, 12, 7, 11, 0, tzinfo=UTC))
    assert "at commit abc1234; driver local." in text
    assert "**1 of 3 criteria met, 1 NOT MET, 1 not run in this run, 0 not run in full.**" in text
    assert "| an object-store failure loses nothing | 0 / 1 | – | **NOT MET** |" in text
    assert "| a network partition loses nothing | 0 / 0 | – | not run in this run |" in text
    assert (
        "- Recovery: The object store is unavailable | for a while (failed): "
        "AssertionError: exactly once at served: VIOLATED (lost 3)"
    ) in text


# ---------------------------------------------------------------- the plan against the features
def feature_titles() -> set[tuple[str, str]]:
    return {
        (feature.name, s.name.split(" -- ")[0].strip())
        for path in sorted(FEATURES.glob("*.feature"))
        for feature in [parse_file(str(path))]
        for s in feature.walk_scenarios()
    }


def test_every_scenario_the_plan_names_is_one_the_features_have() -> None:
    # a renamed scenario would otherwise leave its criterion "not run" in every run
    titles = feature_titles()
    unmatched = [
        f"{c.text}: {m.name}"
        for c in CRITERIA
        for m in c.proved_by
        if not any(f == m.feature and m.matches(scenario(t, f)) for f, t in titles)
    ]
    assert unmatched == []


def test_the_default_latency_rows_are_proved_by_the_three_plan_loads_only() -> None:
    (latency,) = [c for c in CRITERIA if c.text.startswith("end-to-end latency")]
    proved = sorted(t for f, t in feature_titles() if any(m.matches(scenario(t, f)) for m in latency.proved_by))
    assert [t.split(" trades")[0] for t in proved] == ["At 10", "At 100", "At 50"]


# ---------------------------------------------------------------- the command
def test_the_command_writes_the_report_from_a_results_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "v-attachment.txt").write_text(verdicts(600))
    write_result(
        results,
        "a",
        {
            "name": "Trades of several symbols flow to the query API exactly once",
            "status": "passed",
            "start": 1_796_000_000_000,
            "stop": 1_796_000_020_000,
            "labels": [{"name": "feature", "value": "Pipeline"}],
            "attachments": [{"name": "verdicts", "source": "v-attachment.txt", "type": "text/plain"}],
        },
    )
    (results / "environment.properties").write_text("git.sha=abc1234\ndriver=local\ntarget=k2-local\n")
    latency = tmp_path / "latency.json"
    latency.write_text("{}")
    os.utime(latency, (1_700_000_000, 1_700_000_000))  # another, older run's
    out = tmp_path / "out" / "success-criteria.md"
    argv = ["criteria", "--results", str(results), "--latency", str(latency), "--out", str(out)]
    assert main([*argv, "--history", str(tmp_path / "history" / "latency.jsonl")]) == 0
    assert capsys.readouterr().out == f"[report] {out}\n"
    text = out.read_text()
    row = (
        "| every trade flows exchange → Kafka → Iceberg → API, counts match at every stage, exactly once | 1 / 1 "
        "| emitted 600, produced 600, committed 600, served 600, lost 0, duplicated 0 | met |"
    )
    assert row in text
    assert "Run of 2026-11-30 00:53 UTC at commit abc1234; driver local, target k2-local." in text
    assert f"Latency: `{latency}` was written 2023-11-14 22:13 UTC, outside this run; its figures are left out." in text
    assert f"1 of {len(CRITERIA)} criteria met, 0 NOT MET" in text
    assert "No run recorded yet" in text


def test_the_commit_is_the_runs_own_else_the_checkouts() -> None:
    assert run_commit({"git.sha": "abc1234"}) == "abc1234"
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=FEATURES.parent
    ).stdout.strip()
    assert run_commit({"git.sha": "unknown"}) == (head or None)
