"""harness.hostile: the plan of hostile frames, where they go between trades, and the per-kind
tally at the ingest's two exits (dead letters, skipped repeats)."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from behave.parser import parse_file

from harness import hostile
from harness.checks.ingest import kept_running
from harness.endpoints import Endpoints
from harness.history import History
from harness.hostile import DEAD_LETTER, DEDUPLICATE, KINDS, HostileRun, IngestMark, Planned, Tally
from harness.stack.driver import ServiceStatus
from harness.stack.settings import REPO_ROOT
from harness.targets import Target
from harness.workload.exchange import Emission

REPLAYS = {"backwards_id", "duplicate_id"}


def every_kind() -> list[Planned]:
    return hostile.plan((k.words, DEDUPLICATE if k.name in REPLAYS else DEAD_LETTER) for k in KINDS)


def letter(kind: str | None, reason: str) -> dict[str, Any]:
    frame = f'{{"probe":"malformed:{kind}","stream":"bnbusdt@trade"' if kind else '{"e":"trade","t":5}'
    return {"reason": reason, "source": "ws", "frame": frame}


# what the reference ingest says of each kind (tests/unit/test_ingest_feed.py holds it to them)
GOOD_REASONS = {
    "not_json": "not JSON: Expecting value: line 1 column 1 (char 0)",
    "truncated": "truncated JSON: the text ends after 84 characters, inside the JSON (Expecting ',' delimiter)",
    "invalid_utf8": "not valid UTF-8: byte 0xff at position 100 (invalid start byte)",
    "oversized": "frame of 4194304 bytes is larger than 65536 bytes, the most a trade frame may have",
    "missing_keys": "missing key 't'",
    "wrong_types": "key 't' is a string \"abc\", expected an integer",
    "bad_price": "p='abc' is not a decimal",
    "not_positive": "q='-1.00000000' is not positive",
    "too_many_decimals": "p='1.123456789' has more than 8 decimal places",
    "not_finite": "not JSON: bare NaN is no JSON number, and not finite",
    "unknown_event": "event type 'aggTrade' is not 'trade'",
    "unknown_symbol": "symbol 'DOGEUSDT' is not subscribed",
    "futures_trade": "not a spot trade: a futures-style frame (order type X 'MARKET', best-match flag M 'absent')",
}


def all_well(per_kind: int = 3) -> tuple[dict[str, int], list[dict[str, Any]], dict[str, int]]:
    sent = {k.name: per_kind for k in KINDS}
    letters = [letter(name, reason) for name, reason in GOOD_REASONS.items() for _ in range(per_kind)]
    skipped = {"repeats": 2 * per_kind, "went_backwards": per_kind}
    return sent, letters, skipped


def patterns() -> dict[str, re.Pattern[str]]:
    return hostile.reason_patterns(Target.load())


# --- the plan ----------------------------------------------------------------------------


def test_the_features_table_names_every_kind_once_with_its_outcome() -> None:
    feature = parse_file(str(REPO_ROOT / "features" / "pipeline.feature"))
    tables = [
        step.table
        for s in feature.scenarios
        for step in s.steps
        if step.table is not None and step.table.headings == ["frame", "outcome"]
    ]
    assert len(tables) == 1
    planned = hostile.plan((row["frame"], row["outcome"]) for row in tables[0])
    assert {p.kind.name for p in planned} == {k.name for k in KINDS}
    assert {p.kind.name for p in planned if p.outcome == DEDUPLICATE} == REPLAYS


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([("a haiku", DEAD_LETTER)], "no hostile frame is called 'a haiku'; known: text that is not JSON;"),
        ([("text that is not JSON", "ignore")], "outcome 'ignore' of 'text that is not JSON' is none of dead-letter"),
        ([], "a scenario that sends none proves nothing"),
        ([("text that is not JSON", DEAD_LETTER)] * 2, "listed twice"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_problem(rows: list[tuple[str, str]], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        hostile.plan(rows)


def test_kinds_go_out_evenly_between_trades_with_trades_before_and_after() -> None:
    marks = hostile.checkpoints(1000, 300, 14)
    assert marks[0] == 1000 + 20 - 1 and marks[-1] == 1000 + 280 - 1
    assert all(b - a in (19, 20, 21) for a, b in itertools.pairwise(marks))
    assert marks == sorted(set(marks)) and marks[-1] < 1000 + 300 - 1
    assert hostile.checkpoints(0, 3, 2) == [0, 1]
    with pytest.raises(ValueError, match="at least 15 needed"):
        hostile.checkpoints(0, 14, 14)


# --- reasons and tags --------------------------------------------------------------------------


def test_a_dead_letter_is_known_by_the_tag_at_the_start_of_its_frame() -> None:
    assert hostile.kind_of_letter(letter("oversized", "x")) == "oversized"
    assert hostile.kind_of_letter({"reason": "x", "frame": "malformed:not_json #0: this is not JSON"}) == "not_json"
    assert hostile.kind_of_letter(letter(None, "x")) is None
    assert hostile.kind_of_letter({"reason": "x"}) is None
    assert hostile.kind_of_letter({"frame": 5}) is None


@pytest.mark.parametrize("kind", sorted(GOOD_REASONS))
def test_each_default_pattern_takes_the_reason_naming_its_problem_and_not_a_vague_one(kind: str) -> None:
    pattern = patterns()[kind]
    assert pattern.search(GOOD_REASONS[kind])
    assert not pattern.search("invalid frame"), kind
    assert not pattern.search("error"), kind


def test_a_target_may_say_its_own_reasons_and_counters(tmp_path: Path) -> None:
    target = replace(
        Target.load(),
        ingest={"dead_letter_reasons": {"oversized": "frame too large"}, "counters": {"repeats": "skipped"}},
    )
    assert hostile.reason_patterns(target)["oversized"].search("Frame Too Large")
    assert not hostile.reason_patterns(target)["oversized"].search(GOOD_REASONS["oversized"])
    assert hostile.counter_names(target) == {
        "repeats": "skipped",
        "went_backwards": "went_backwards",
        "connections": "connects",
    }


# --- the tally -----------------------------------------------------------------------------------


def test_every_kind_at_its_exit_with_its_reason_holds_and_the_table_shows_it() -> None:
    sent, letters, skipped = all_well()
    t = hostile.tally(every_kind(), sent, letters, skipped, patterns())
    v = t.verdict()
    assert v.valid, str(v)
    assert v.counts == {
        "kinds": 15,
        "sent": 45,
        "dead-lettered": 39,
        "reason names it": 39,
        "deduplicated": 6,
        "leaked": 0,
        "untagged dead letters": 0,
    }
    by = {k.kind: k for k in t.kinds}
    assert (by["backwards_id"].deduplicated, by["duplicate_id"].deduplicated) == (3, 3)
    table = t.table()
    assert re.search(r"oversized\s+dead-letter\s+3\s+3\s+3\s+0\s+0", table)
    assert re.search(r"duplicate_id\s+deduplicate\s+3\s+0\s+0\s+3\s+0", table)
    assert re.search(r"all\s+45\s+39\s+39\s+6\s+0", table)
    assert "oversized" in table.split("reasons given:")[1] and GOOD_REASONS["oversized"] in table


def test_nothing_sent_is_no_pass() -> None:
    assert not hostile.tally(every_kind(), {}, [], {}, patterns()).verdict().valid
    assert not Tally([]).verdict().valid
    one = hostile.plan([("text that is not JSON", DEAD_LETTER)])
    v = hostile.tally(one, {"not_json": 0}, [], {}, patterns()).verdict()
    assert not v.valid and "not_json: none was sent" in v.mismatched


def test_a_frame_let_through_is_leaked_and_named() -> None:
    sent, letters, skipped = all_well()
    letters = [x for x in letters if hostile.kind_of_letter(x) != "unknown_symbol"]
    letters += [letter("unknown_symbol", GOOD_REASONS["unknown_symbol"])] * 2  # of 3 sent
    t = hostile.tally(every_kind(), sent, letters, skipped, patterns())
    v = t.verdict()
    assert not v.valid and v.counts["leaked"] == 1
    assert "unknown_symbol: 2 of 3 dead-lettered" in v.mismatched
    assert re.search(r"unknown_symbol\s+dead-letter\s+3\s+2\s+2\s+0\s+1", t.table())


def test_a_reason_that_does_not_name_the_problem_fails_with_the_reason_shown() -> None:
    sent, letters, skipped = all_well(1)
    letters = [
        letter("unknown_event", "missing key 't'") if hostile.kind_of_letter(x) == "unknown_event" else x
        for x in letters
    ]
    v = hostile.tally(every_kind(), sent, letters, skipped, patterns()).verdict()
    assert not v.valid and v.counts["reason names it"] == 12
    assert v.mismatched == ["unknown_event: 1 dead letters whose reason does not name the problem: missing key 't'"]


def test_a_replay_dead_lettered_instead_of_skipped_fails_as_untagged_and_not_deduplicated() -> None:
    sent, letters, _skipped = all_well(1)
    v = hostile.tally(
        every_kind(),
        sent,
        [*letters, letter(None, "trade id went backwards")],
        {"repeats": 1, "went_backwards": 0},
        patterns(),
    ).verdict()
    assert not v.valid
    assert "backwards_id: 0 of 1 deduplicated" in v.mismatched
    assert "1 dead letters of no hostile frame: trade id went backwards" in v.mismatched
    assert v.counts["leaked"] == 1 and v.counts["untagged dead letters"] == 1


def test_a_malformed_frame_skipped_as_a_repeat_counts_as_too_many_skips_and_a_leak() -> None:
    sent, letters, _skipped = all_well(1)
    letters = [x for x in letters if hostile.kind_of_letter(x) != "not_positive"]
    # a lax ingest read the zero-price frame (trade id 0) as a repeat of an earlier trade
    v = hostile.tally(every_kind(), sent, letters, {"repeats": 3, "went_backwards": 2}, patterns()).verdict()
    assert not v.valid
    assert {"not_positive: 0 of 1 dead-lettered", "backwards_id: 2 of 1 deduplicated"} <= set(v.mismatched)


def test_dead_letters_of_a_kind_not_sent_are_reported() -> None:
    one = hostile.plan([("text that is not JSON", DEAD_LETTER)])
    v = hostile.tally(
        one,
        {"not_json": 1},
        [letter("not_json", GOOD_REASONS["not_json"]), letter("truncated", GOOD_REASONS["truncated"])],
        {},
        patterns(),
    ).verdict()
    assert v.mismatched == ["1 dead letters of truncated, which was not sent"]


# --- the ingest kept running ---------------------------------------------------------------------


def mark(
    pid: int | None = 10, started: float | None = 1.0, restarts: int = 0, state: str = "ready", connections: int = 1
) -> IngestMark:
    return IngestMark(pid, started, restarts, state, {"connections": connections, "repeats": 0})


def test_the_same_process_on_the_same_connection_holds() -> None:
    v = kept_running(mark(), mark())
    assert v.valid and v.counts == {"pid before": 10, "pid after": 10, "reconnects": 0, "restarts": 0}


@pytest.mark.parametrize(
    ("after", "words"),
    [
        (mark(pid=11, started=2.0), "the ingest process changed: pid 10 -> 11"),
        (mark(restarts=1), "restarted 1 times"),
        (mark(connections=2), "connected to the exchange 1 more times"),
        (mark(state="starting"), "the ingest is starting"),
    ],
)
def test_a_restart_a_new_process_or_a_reconnect_fails(after: IngestMark, words: str) -> None:
    v = kept_running(mark(), after)
    assert not v.valid and any(words in m for m in v.mismatched), v.mismatched


def test_a_process_the_driver_cannot_see_is_judged_by_its_connection_counter() -> None:
    unseen = kept_running(mark(pid=None, started=None), mark(pid=None, started=None))
    assert unseen.valid and "judged by its connection counter" in unseen.evidence[0]
    assert not kept_running(mark(pid=None, started=None), mark(pid=None, started=None, connections=2)).valid


def test_an_unknown_process_without_a_connection_counter_is_no_pass() -> None:
    bare = IngestMark(None, None, 0, "ready", {})
    v = kept_running(bare, bare)
    assert not v.valid and "nothing shows that it kept running" in v.mismatched[0]
    assert not kept_running(mark(pid=None), mark(pid=12)).valid


# --- the run, on fakes ---------------------------------------------------------------------------


class FakeExchange:
    def __init__(self) -> None:
        self.last_id = 99
        self.sent: list[tuple[int, str | None, str | None, int]] = []

    def status(self) -> dict[str, Any]:
        self.last_id += 7  # the exchange trades on while it is asked
        return {"symbols": {"BNBUSDT": {"last_id": self.last_id}}}

    def malformed(self, count: int, kind: str | None = None, symbol: str | None = None) -> dict[str, Any]:
        self.sent.append((count, kind, symbol, self.last_id))
        return {"sent": count, "clients": 1, "kinds": {kind: count}}


class FakePipeline:
    def __init__(self) -> None:
        self.endpoints = Endpoints.from_json({"ingest": {"status_url": "http://ingest/status"}})
        self.history = History()
        self.control = FakeExchange()
        self.letters: list[dict[str, Any]] = []

    def trade(self, symbol: str, count: int, rate: float) -> Emission:
        return Emission(symbol, 100, 100 + count - 1, count)

    def dead_letters_now(self) -> list[dict[str, Any]]:
        return list(self.letters)


class FakeDriver:
    def health(self, service: str, resources: bool = True) -> ServiceStatus:
        return ServiceStatus(service, "ready", pid=42, started_at=5.0)


def test_a_run_sends_each_kind_after_its_checkpoint_and_tallies_what_came_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    counters = Counter({"repeats": 7, "went_backwards": 2, "connections": 1})
    monkeypatch.setattr("harness.probes.ingest.counters", lambda url, names: dict(counters))
    pipeline = FakePipeline()
    run = HostileRun.begin(pipeline, FakeDriver(), Target.load(), every_kind(), evidence=tmp_path)  # type: ignore[arg-type]
    run.send_between("BNBUSDT", 300, 200, 3, within=5)
    assert [kind for _, kind, _, _ in pipeline.control.sent] == [k.name for k in KINDS]
    for (count, _, symbol, at), checkpoint in zip(
        pipeline.control.sent, hostile.checkpoints(100, 300, 15), strict=True
    ):
        assert (count, symbol) == (3, "BNBUSDT") and at >= checkpoint
    assert run.sent == Counter({k.name: 3 for k in KINDS})
    # the ingest set everything aside or skipped it
    _, pipeline.letters, skipped = all_well()
    counters.update(skipped)
    verdict = run.wait_outcomes(within=2)
    assert verdict.valid, str(verdict)
    assert "duplicate_id" in (tmp_path / "hostile-frames.txt").read_text()
    assert [e.name for e in pipeline.history.events].count("hostile frames") == 1
    assert run.kept_running().valid


def test_a_run_whose_frames_never_come_out_reports_the_tally_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "harness.probes.ingest.counters", lambda url, names: {"repeats": 0, "went_backwards": 0, "connections": 1}
    )
    pipeline = FakePipeline()
    run = HostileRun.begin(pipeline, FakeDriver(), Target.load(), every_kind())  # type: ignore[arg-type]
    run.send_between("BNBUSDT", 300, 200, 1, within=5)
    verdict = run.wait_outcomes(within=0.3)
    assert not verdict.valid and verdict.counts["leaked"] == 15
    assert re.search(r"all\s+15\s+0\s+0\s+0\s+15", run.table())


class Answer:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code, self._body, self.text = status, body, str(body)

    def json(self) -> dict[str, Any]:
        return self._body


def test_the_ingest_counters_are_read_by_what_they_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.probes import ingest

    body = {"ready": True, "duplicates": 7, "went_backwards": 2, "connects": 1, "detail": "streaming"}
    monkeypatch.setattr("httpx.get", lambda url, timeout: Answer(200, body))
    assert ingest.counters("http://i/status", hostile.DEFAULT_COUNTERS) == {
        "repeats": 7,
        "went_backwards": 2,
        "connections": 1,
    }
    # a counter the status lacks is an error, never a silent 0
    monkeypatch.setattr("httpx.get", lambda url, timeout: Answer(200, {"duplicates": 7, "connects": 1}))
    with pytest.raises(AssertionError, match="has no counter went_backwards; it has connects, duplicates"):
        ingest.counters("http://i/status", hostile.DEFAULT_COUNTERS)
    monkeypatch.setattr("httpx.get", lambda url, timeout: Answer(503, {}))
    with pytest.raises(AssertionError, match="answered 503"):
        ingest.counters("http://i/status", hostile.DEFAULT_COUNTERS)
