from harness.soak import RunResult, parse_output, summary

PASSED = "4 features passed, 0 failed, 0 skipped\n31 scenarios passed, 0 failed, 3 skipped\nTook 5min 3.5s\n"
FAILED = (
    "Failing scenarios:\n  features/freshness.feature:27  At 100 trades per second -- @1.1 \n\n"
    "3 features passed, 1 failed, 0 skipped\n33 scenarios passed, 1 failed, 1 skipped\n"
)


def test_a_passing_run_is_read_from_its_summary() -> None:
    r = parse_output(1, 0, 303.5, PASSED)
    assert (r.passed, r.scenarios_passed, r.scenarios_failed, r.failing) == (True, 31, 0, ())


def test_a_failing_run_names_its_failing_scenarios() -> None:
    r = parse_output(2, 1, 390.0, FAILED)
    assert not r.passed
    assert r.failing == ("features/freshness.feature:27  At 100 trades per second -- @1.1",)
    assert "FAIL" in r.line() and "freshness.feature:27" in r.line()


def test_a_run_that_printed_no_summary_did_not_pass_whatever_its_exit_code() -> None:
    assert not parse_output(3, 0, 5.0, "HOOK-ERROR in before_all: stack did not start").passed


def test_the_summary_counts_passes_and_wall_times() -> None:
    runs = [RunResult(1, True, 300.0, 31, 0, ()), RunResult(2, False, 400.0, 30, 1, ("x",))]
    assert summary(runs) == "1/2 runs passed; wall time per run min 300 s, max 400 s, mean 350 s"
