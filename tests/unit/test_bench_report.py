import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.bench import api_latency, commit_cost, ramp, report, run
from harness.bench.ramp import StepResult
from harness.cli import build_parser, main
from harness.endpoints import Endpoints
from harness.stack.driver import ServiceStatus, StackError, StackStatus
from harness.stack.settings import DEFAULT_PORTS, REPO_ROOT, StackSettings


def step(
    rate: float, passed: bool = True, p99: float = 1.0, throughput: float | None = None, reason: str = ""
) -> dict[str, Any]:
    return StepResult(
        rate=rate,
        duration_s=20,
        passed=passed,
        reason=reason,
        emitted=int(rate * 20),
        served=int(rate * 20),
        throughput=throughput if throughput is not None else rate * 0.99,
        p50=p99 / 3,
        p95=p99 / 1.5,
        p99=p99,
        max=p99 * 1.2,
        lost=0,
        duplicated=0,
        unmeasured=0,
        peak_lag=int(rate),
        cpu_per_1k={"consumer": 0.5, "ingest": 0.2, "api": None},
    ).as_dict()


PIPELINE = [
    step(100),
    step(1000),
    step(5000, p99=2.5),
    step(10000, passed=False, p99=41.0, throughput=6100, reason="throughput 6100/s below 90% of 10000/s"),
]
API = {
    "load": {"rows": 1_000_000},
    "latest_100": {
        "requests": 200,
        "cold_ms": 950.0,
        "p50_ms": 40.0,
        "p99_ms": 140.0,
        "max_ms": 180.0,
        "errors": 0,
        "matched_rows": 333_334,
        "cache_hits": 199,
    },
}
COMMIT = [{"rows": 100, "ms": 80.0, "min_ms": 70.0, "max_ms": 90.0, "repeats": 5, "rows_per_s": 1250}]


def full_report(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "pipeline": PIPELINE,
        "api": API,
        "commit": COMMIT,
        "settings": {"quick": False},
        "errors": {},
        "machine_facts": {"cpus": 2, "python": "3.11", "git_sha": "abc"},
        "started": 0.0,
        "finished": 60.0,
    }
    args.update(overrides)
    return report.build(**args)


# ---------------------------------------------------------------------------- targets
def test_the_pipeline_target_needs_a_passing_step_at_5000_with_p99_under_5_s() -> None:
    t = report.targets(PIPELINE, None)["pipeline_5000_per_s_p99_under_5s"]
    assert t["passed"] is True and "5000/s offered" in t["detail"]
    slow = [step(100), step(5000, p99=6.0)]
    assert report.targets(slow, None)["pipeline_5000_per_s_p99_under_5s"]["passed"] is False
    failed = [step(100), step(5000, passed=False, p99=1.0)]
    t = report.targets(failed, None)["pipeline_5000_per_s_p99_under_5s"]
    assert t["passed"] is False and "highest passing step 100/s" in t["detail"]
    assert report.targets([step(100, passed=False)], None)["pipeline_5000_per_s_p99_under_5s"]["passed"] is False


def test_the_api_target_is_on_the_warm_p99_of_the_latest_100() -> None:
    t = report.targets(None, API)
    assert t["api_latest_100_p99_under_100ms"]["passed"] is False
    assert "warm p99 140 ms" in t["api_latest_100_p99_under_100ms"]["detail"]
    fast = {"latest_100": {**API["latest_100"], "p99_ms": 60.0}}  # type: ignore[dict-item]
    assert report.targets(None, fast)["api_latest_100_p99_under_100ms"]["passed"] is True


def test_a_phase_not_measured_is_neither_pass_nor_fail() -> None:
    t = report.targets(None, None)
    assert t["pipeline_5000_per_s_p99_under_5s"]["passed"] is None
    assert t["api_latest_100_p99_under_100ms"]["passed"] is None


# ---------------------------------------------------------------------------- bench.json
def test_the_report_has_the_agreed_shape_and_is_plain_json(tmp_path: Path) -> None:
    r = full_report()
    assert {"pipeline", "api", "commit", "machine", "targets", "settings", "errors", "wall_s"} <= set(r)
    first = r["pipeline"][0]
    assert {
        "rate",
        "throughput",
        "p50",
        "p95",
        "p99",
        "max",
        "lost",
        "duplicated",
        "peak_lag",
        "cpu_per_1k",
        "passed",
        "reason",
    } <= set(first)
    assert {"p50_ms", "p99_ms", "cold_ms"} <= set(r["api"]["latest_100"])
    assert r["commit"][0]["rows"] == 100 and "ms" in r["commit"][0]
    path = tmp_path / "out" / "bench.json"
    report.write_json(r, path)
    assert json.loads(path.read_text()) == r


def test_the_machine_is_described() -> None:
    m = report.machine()
    assert m["cpus"] and m["python"].count(".") == 2 and m["memory_gb"] > 0
    assert m["git_sha"] is None or len(m["git_sha"].split("-")[0]) == 40


# ---------------------------------------------------------------------------- the printed table
def test_the_table_shows_every_step_every_query_every_size_and_the_targets() -> None:
    text = report.table(full_report())
    blocks = text.split("\n\n")
    assert [b.splitlines()[0].split(":")[0].split(" ")[0] for b in blocks] == ["pipeline", "api", "iceberg", "targets"]
    lines = text.splitlines()
    step_lines = blocks[0].splitlines()[2:]
    assert [int(line.split()[0]) for line in step_lines] == [100, 1000, 5000, 10000]
    assert step_lines[-1].rstrip().endswith("FAIL: throughput 6100/s below 90% of 10000/s")
    assert all(line.rstrip().endswith("ok") for line in step_lines[:3])
    assert any(line.startswith("latest_100") and "950.0" in line and "333,334" in line for line in lines)
    assert blocks[2].splitlines()[2].split() == ["100", "80.0", "70.0", "90.0", "5", "1,250"]
    assert "PASS  pipeline sustains >= 5000 trades/s with p99 < 5 s" in text
    assert "FAIL  API latest-100 p99 < 100 ms" in text


def test_the_table_leaves_out_what_did_not_run_and_shows_errors() -> None:
    text = report.table(
        full_report(pipeline=None, commit=None, api=None, errors={"api": "RuntimeError: the table already holds rows"})
    )
    assert "pipeline:" not in text and "commit cost" not in text
    assert "api: ERROR RuntimeError: the table already holds rows" in text
    assert text.count("n/a ") == 2


def test_unknown_figures_print_as_dashes() -> None:
    failed = StepResult(rate=100, duration_s=10, passed=False, reason="ConditionTimeout: nothing").as_dict()
    line = report.pipeline_table([failed]).splitlines()[1]
    assert "FAIL: ConditionTimeout: nothing" in line and " - " in line


def test_the_plot_is_a_png() -> None:
    png = report.plot(full_report())
    assert png.startswith(b"\x89PNG")
    assert report.plot(full_report(commit=None, pipeline=[step(100)])).startswith(b"\x89PNG")


# ---------------------------------------------------------------------------- the plan
def test_the_default_and_quick_plans() -> None:
    full = run.make_plan()
    assert full.rates == (100, 500, 1000, 2000, 3000, 5000, 10000) and full.duration == 30
    assert (full.api_requests, full.commit_repeats, full.phases) == (200, 10, ("pipeline", "api", "commit"))
    quick = run.make_plan(quick=True)
    assert quick.rates == (100, 1000, 5000) and quick.duration == 10
    assert (quick.api_requests, quick.commit_repeats) == (50, 3)


def test_overrides_and_phases_keep_their_order() -> None:
    plan = run.make_plan(phases=["commit", "pipeline"], rates=[200, 50], duration=5, api_requests=10)
    assert plan.phases == ("pipeline", "commit") and plan.rates == (200, 50) and plan.duration == 5
    assert plan.api_requests == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rates": [0]}, "--rate 0 is out of range"),
        ({"rates": [200_000]}, "--rate 200000 is out of range"),
        ({"duration": 0}, "--duration 0 must be above 0"),
        ({"api_requests": 1}, "--api-requests 1 is too few"),
        ({"phases": ["soak"]}, "unknown phase soak"),
    ],
)
def test_a_bad_plan_is_refused_with_what_to_change(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(run.BenchError, match=message):
        run.make_plan(**kwargs)


# ---------------------------------------------------------------------------- the bench stack's place
def test_the_bench_stack_has_its_own_directory_and_ports_whatever_places_the_suites() -> None:
    env = {
        "K2_STACK_DIR": "/tmp/suite",
        "K2_STACK_PORT_OFFSET": "0",
        "K2_PORT_KAFKA": "29092",
        "K2_CACHE_DIR": "/tmp/cache",
        "PATH": "/bin",
    }
    placed = run.bench_env(env)
    assert placed["K2_STACK_DIR"] == str(REPO_ROOT / ".stack-bench") and placed["K2_STACK_PORT_OFFSET"] == "400"
    assert "K2_PORT_KAFKA" not in placed and placed["K2_CACHE_DIR"] == "/tmp/cache" and placed["PATH"] == "/bin"
    settings = run.bench_settings(env)
    assert settings.ports["api"] == DEFAULT_PORTS["api"] + 400 and settings.ports["kafka"] == 19092 + 400
    moved = run.bench_settings({"K2_BENCH_STACK_DIR": "/tmp/b", "K2_BENCH_PORT_OFFSET": "900"})
    assert moved.root == Path("/tmp/b") and moved.ports["api"] == DEFAULT_PORTS["api"] + 900
    assert run.stack_command(settings).startswith(f"K2_STACK_DIR={settings.root} K2_STACK_PORT_OFFSET=400 ")
    assert run.stack_command(settings).endswith("python -m harness stack up --profile full")


# ---------------------------------------------------------------------------- waiting for an idle pipeline
def test_quiesce_waits_until_nothing_is_pending_and_the_consumer_has_no_lag() -> None:
    lags = iter([500, 20, 0])
    pending = iter([100, 0, 0])
    assert run.quiesce(lambda: next(lags), lambda: next(pending), lambda _: None, within=5, every=0.001)


def test_quiesce_warns_and_gives_up_on_a_pipeline_that_stays_busy() -> None:
    said: list[str] = []
    assert not run.quiesce(lambda: 7, lambda: 0, said.append, within=0.05, every=0.01)
    assert said and "still busy" in said[0] and "consumer lag 7" in said[0]


# ---------------------------------------------------------------------------- the run, on a fake stack
class FakeDriver:
    def __init__(self, tmp: Path, ready: bool = True, profile: str = "full") -> None:
        self.settings = StackSettings.from_env({"K2_STACK_DIR": str(tmp / "stack"), "K2_STACK_PORT_OFFSET": "400"})
        self.ready, self.profile = ready, profile
        self.calls: list[str] = []

    def up(self, profile: str) -> StackStatus:
        self.calls.append(f"up {profile}")
        return self.status()

    def down(self, purge: bool = False) -> list[str]:
        self.calls.append("down --purge" if purge else "down")
        return []

    def status(self, resources: bool = True) -> StackStatus:
        api = ServiceStatus(name="api", state="ready" if self.ready else "stopped")
        return StackStatus(profile=self.profile, services={"api": api}, endpoints=Endpoints())

    def endpoints(self) -> Endpoints:
        return Endpoints.from_json(
            {
                "exchange": {
                    "ws_url": "ws://exchange",
                    "rest_url": "http://exchange",
                    "control_url": "http://exchange/control",
                },
                "api": {"url": "http://api", "api_key": "k"},
                "ingest": {"status_url": "x"},
                "consumer": {"status_url": "x"},
            }
        )


def fake_phases(monkeypatch: pytest.MonkeyPatch, api_error: BaseException | None = None) -> list[str]:
    ran: list[str] = []

    def run_ramp(*args: Any, **kwargs: Any) -> list[StepResult]:
        ran.append("pipeline")
        kwargs["on_step"](
            [
                StepResult(
                    rate=100, duration_s=10, passed=True, reason="", throughput=99.0, p50=0.2, p95=0.3, p99=0.4, max=0.5
                )
            ]
        )
        return []

    def measure_api(*args: Any, **kwargs: Any) -> dict[str, Any]:
        ran.append("api")
        if api_error is not None:
            raise api_error
        return API

    def measure_commits(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        ran.append("commit")
        return COMMIT

    def quiesce(*_: Any, **__: Any) -> bool:
        ran.append("idle")
        return True

    monkeypatch.setattr(run, "quiesce", quiesce)
    monkeypatch.setattr(ramp, "run_ramp", run_ramp)
    monkeypatch.setattr(api_latency, "measure_api", measure_api)
    monkeypatch.setattr(commit_cost, "measure_commits", measure_commits)
    return ran


def test_a_run_starts_a_fresh_stack_runs_every_phase_writes_the_report_and_stops_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran = fake_phases(monkeypatch)
    driver = FakeDriver(tmp_path)
    said: list[str] = []
    r = run.run(run.make_plan(quick=True), said.append, out_dir=tmp_path, driver=driver)  # type: ignore[arg-type]
    assert ran == ["pipeline", "idle", "api", "idle", "commit"]  # api and commit wait for an idle pipeline
    assert driver.calls == ["down --purge", "up full", "down"]
    assert json.loads((tmp_path / "bench.json").read_text())["pipeline"][0]["rate"] == 100
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")
    assert r["errors"] == {} and r["settings"]["quick"] is True and r["api"]["pipeline_idle_at_start"] is True
    assert all(line.startswith("[bench]") for line in said)


def test_a_failing_phase_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ran = fake_phases(monkeypatch, api_error=RuntimeError("GET /v1/stats answered 503"))
    driver = FakeDriver(tmp_path)
    r = run.run(run.make_plan(), lambda _: None, out_dir=tmp_path, driver=driver)  # type: ignore[arg-type]
    assert [p for p in ran if p != "idle"] == ["pipeline", "api", "commit"]
    assert r["errors"] == {"api": "RuntimeError: GET /v1/stats answered 503"} and r["api"] is None
    assert r["commit"] == COMMIT and driver.calls[-1] == "down"


def test_the_stack_is_stopped_even_when_interrupted_and_the_results_so_far_are_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_phases(monkeypatch, api_error=KeyboardInterrupt())
    driver = FakeDriver(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run.run(run.make_plan(), lambda _: None, out_dir=tmp_path, driver=driver)  # type: ignore[arg-type]
    assert driver.calls[-1] == "down"
    assert json.loads((tmp_path / "bench.json").read_text())["pipeline"][0]["rate"] == 100


def test_keep_stack_leaves_it_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_phases(monkeypatch)
    driver = FakeDriver(tmp_path)
    said: list[str] = []
    run.run(run.make_plan(phases=["commit"]), said.append, out_dir=tmp_path, keep_stack=True, driver=driver)  # type: ignore[arg-type]
    assert driver.calls == ["down --purge", "up full"]
    assert any("K2_STACK_PORT_OFFSET=400 python -m harness stack down" in line for line in said)


def test_reuse_without_a_ready_bench_stack_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran = fake_phases(monkeypatch)
    driver = FakeDriver(tmp_path, ready=False)
    with pytest.raises(StackError, match=r"python -m harness stack up --profile full"):
        run.run(run.make_plan(), lambda _: None, out_dir=tmp_path, reuse=True, driver=driver)  # type: ignore[arg-type]
    assert ran == [] and driver.calls == []  # neither purged, started nor stopped


# ---------------------------------------------------------------------------- the command line
def test_bench_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["bench", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and ".stack-bench" in out and "--keep-stack" in out


def test_an_unknown_phase_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["bench", "--only", "soak"])
    assert done.value.code == 2
    assert "choose from 'pipeline', 'api', 'commit'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "0"], "error: --duration 0 must be above 0 seconds"),
        (["--rate", "-5"], "error: --rate -5 is out of range"),
        (["--api-requests", "1"], "error: --api-requests 1 is too few"),
    ],
)
def test_bad_values_give_one_clear_line_and_start_nothing(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*_: Any, **__: Any) -> None:
        raise AssertionError("nothing may start")

    monkeypatch.setattr(run, "run", never)
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_a_missing_stack_is_one_error_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_stack(*_: Any, **__: Any) -> None:
        raise StackError(
            "--reuse needs the bench's full stack ready; start it with `python -m harness stack up --profile full`"
        )

    monkeypatch.setattr(run, "run", no_stack)
    assert main(["bench", "--reuse"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --reuse needs") and "stack up --profile full" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("argv", "errors", "code"), [([], {}, 0), (["--json"], {}, 0), ([], {"api": "boom"}, 1)])
def test_the_command_prints_the_table_or_json_and_exits_by_the_errors(
    argv: list[str],
    errors: dict[str, str],
    code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(plan: run.Plan, say: Any, out_dir: Path, keep_stack: bool, reuse: bool) -> dict[str, Any]:
        seen.update(plan=plan, out_dir=out_dir)
        return full_report(errors=errors)

    monkeypatch.setattr(run, "run", fake_run)
    assert main(["bench", "--quick", "--out", str(tmp_path), *argv]) == code
    out = capsys.readouterr().out
    if "--json" in argv:
        assert json.loads(out)["targets"]
    else:
        assert "targets" in out and "rate/s" in out
    assert seen["plan"].quick and seen["out_dir"] == tmp_path


def test_an_interrupted_bench_says_where_the_results_are(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    earlier = tmp_path / "bench.json"
    earlier.write_text("{}")
    os.utime(earlier, (1_000_000, 1_000_000))  # of an earlier run: not this one's results

    def interrupted(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run", interrupted)
    assert main(["bench", "--out", str(tmp_path)]) == 130
    assert "interrupted before anything was measured" in capsys.readouterr().err

    def interrupted_later(*_: Any, **__: Any) -> None:
        earlier.write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run", interrupted_later)
    assert main(["bench", "--out", str(tmp_path)]) == 130
    assert f"results so far are in {tmp_path / 'bench.json'}" in capsys.readouterr().err
