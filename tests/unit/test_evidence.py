from harness.evidence import crash_signatures, unexpected_exits


def test_an_uncaught_python_exception_is_a_crash() -> None:
    log = '{"level": "info", "msg": "ok"}\nTraceback (most recent call last):\n  File "x.py"\nValueError: boom\n'
    assert crash_signatures("consumer", log) == [
        "consumer: uncaught Python exception: Traceback (most recent call last):"
    ]


def test_a_handled_exception_logged_as_json_is_not_a_crash() -> None:
    log = '{"level": "warning", "msg": "retrying", "error": "Traceback (most recent call last):\\n  File"}\n'
    assert crash_signatures("consumer", log) == []


def test_jvm_and_go_and_postgres_fatal_errors_are_crashes() -> None:
    log = (
        "java.lang.OutOfMemoryError: Java heap space\npanic: runtime error: index out of range\n"
        "2026-11-25 PANIC:  could not write to file\n"
    )
    names = [f.split(": ")[1] for f in crash_signatures("x", log)]
    assert names == ["JVM out of memory", "Go panic", "PostgreSQL panic"]


def test_findings_are_capped() -> None:
    assert len(crash_signatures("x", "panic: a\n" * 50, limit=5)) == 5


def test_a_clean_log_has_no_findings() -> None:
    assert crash_signatures("kafka", "[2026] INFO started\n[2026] WARN slow\n") == []


def test_a_supervisor_restart_the_scenario_did_not_cause_is_reported_once() -> None:
    log = (
        "2026 [supervisor] consumer exited unexpectedly; starting it again\n"
        "2026 [supervisor] consumer exited unexpectedly; starting it again\n"
        "2026 [supervisor] ingest exited unexpectedly; starting it again\n"
    )
    assert unexpected_exits(log, crashed={"ingest"}) == [
        "consumer exited unexpectedly and was restarted by the supervisor"
    ]


def test_a_failure_carries_the_dead_letters_and_the_errors_the_services_logged() -> None:
    from harness.checks import Verdict
    from harness.evidence import cause_of_failure

    consumer = "\n".join(
        [
            '{"ts": "2026-12-07T01:00:00.000Z", "level": "info", "service": "consumer", "msg": "assigned"}',
            *[
                f'{{"ts": "2026-12-07T01:00:0{i}.000Z", "level": "warning", "service": "consumer", '
                f'"logger": "k2.consumer", "msg": "commit failed, retrying", "error": "Rescaling Decimal value would '
                f'cause data loss"}}'
                for i in range(5)
            ],
        ]
    )
    letters = [{"reason": "price has more than 6 decimal places", "source": "consumer"}] * 600
    causes = cause_of_failure(letters, {"consumer": consumer, "api": "plain line\nERROR: catalog unreachable\n"})
    assert causes == [
        "dead letters written meanwhile: 600; first reasons: price has more than 6 decimal places",
        "consumer logged: 2026-12-07T01:00:00.000Z warning commit failed, retrying (error Rescaling Decimal value "
        "would cause data loss)",
        "consumer logged: 2026-12-07T01:00:01.000Z warning commit failed, retrying (error Rescaling Decimal value "
        "would cause data loss)",
        "consumer logged: 2026-12-07T01:00:02.000Z warning commit failed, retrying (error Rescaling Decimal value "
        "would cause data loss)",
        "consumer logged 2 more such lines",
        "api logged: ERROR: catalog unreachable",
    ]
    lost = Verdict("exactly once at committed", False, {"expected": 600, "lost": 600}, evidence=causes[:1])
    assert str(lost).splitlines()[-1] == (
        "  meanwhile: dead letters written meanwhile: 600; first reasons: price has more than 6 decimal places"
    )
    assert cause_of_failure([], {}) == []


def test_a_logged_traceback_is_shown_by_its_last_line_the_exception() -> None:
    import json

    from harness.evidence import trouble_lines

    line = json.dumps(
        {
            "ts": "t",
            "level": "error",
            "service": "consumer",
            "msg": "consumer loop crashed",
            "error": 'Traceback (most recent call last):\n  File "x.py", line 1\n'
            "pyarrow.lib.ArrowInvalid: Decimal type with precision 17 does not fit\n",
        }
    )
    assert trouble_lines({"consumer": line}) == [
        "consumer logged: t error consumer loop crashed (error pyarrow.lib.ArrowInvalid: Decimal type with "
        "precision 17 does not fit)"
    ]


def test_the_cause_ends_with_each_platform_services_last_health_answer() -> None:
    from harness.evidence import cause_of_failure

    lines = cause_of_failure(
        [],
        {},
        {
            "consumer": "ready (GET /health/ready answered 200)",
            "api": "failed (GET /health/ready answered 503: not ready)",
        },
    )
    assert lines == [
        "health now: consumer ready (GET /health/ready answered 200); "
        "api failed (GET /health/ready answered 503: not ready)"
    ]
