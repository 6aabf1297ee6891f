from harness.evidence import crash_signatures, unexpected_exits


def test_an_uncaught_python_exception_is_a_crash() -> None:
    log = '{"level": "info", "msg": "ok"}\nTraceback (most recent call last):\n  File "x.py"\nValueError: boom\n'
    assert crash_signatures("consumer", log) == [
        "consumer: uncaught Python exception: Traceback (most recent call last):"]


def test_a_handled_exception_logged_as_json_is_not_a_crash() -> None:
    log = '{"level": "warning", "msg": "retrying", "error": "Traceback (most recent call last):\\n  File"}\n'
    assert crash_signatures("consumer", log) == []


def test_jvm_and_go_and_postgres_fatal_errors_are_crashes() -> None:
    log = ("java.lang.OutOfMemoryError: Java heap space\npanic: runtime error: index out of range\n"
           "2026-11-25 PANIC:  could not write to file\n")
    names = [f.split(": ")[1] for f in crash_signatures("x", log)]
    assert names == ["JVM out of memory", "Go panic", "PostgreSQL panic"]


def test_findings_are_capped() -> None:
    assert len(crash_signatures("x", "panic: a\n" * 50, limit=5)) == 5


def test_a_clean_log_has_no_findings() -> None:
    assert crash_signatures("kafka", "[2026] INFO started\n[2026] WARN slow\n") == []


def test_a_supervisor_restart_the_scenario_did_not_cause_is_reported_once() -> None:
    log = ("2026 [supervisor] consumer exited unexpectedly; starting it again\n"
           "2026 [supervisor] consumer exited unexpectedly; starting it again\n"
           "2026 [supervisor] ingest exited unexpectedly; starting it again\n")
    assert unexpected_exits(log, crashed={"ingest"}) == [
        "consumer exited unexpectedly and was restarted by the supervisor"]
