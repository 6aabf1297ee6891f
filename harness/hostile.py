"""Hostile exchange input: frames of every kind the ingest must set aside (dead-letter, with a
reason naming the problem) or skip as a repeat (deduplicate), sent between real trades, and
counted per kind at the ingest's two exits: the dead-letter log and its deduplication counters.

The exchange simulator tags every malformed frame with its kind in its first bytes
(`malformed:<kind>`), so a dead letter that keeps the start of its frame says which kind it was.
Replays (a trade id going backwards, a duplicate id) are real trades sent again, untagged: the
ingest's counters say how many it skipped. Per kind:

    sent = dead-lettered + deduplicated + leaked

where leaked is what neither exit accounts for: let through, or dropped without a trace. A
trade that got through shows in the message log too (`PipelineRun.only_expected_in_message_log`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks import Verdict
from harness.checks.ingest import kept_running
from harness.probes import ingest as ingest_probe
from harness.scenario import PipelineRun
from harness.stack.driver import ServiceStatus, StackDriver
from harness.targets import Target
from harness.waiting import ConditionTimeout, eventually

DEAD_LETTER = "dead-letter"
DEDUPLICATE = "deduplicate"
OUTCOMES = (DEAD_LETTER, DEDUPLICATE)
TAG = re.compile(r"malformed:([a-z0-9_]+)")
EXAMPLES = 20


@dataclass(frozen=True)
class HostileKind:
    name: str
    """The exchange simulator's name of the kind."""
    words: str
    """How a feature names it."""
    reason: str
    """What a dead letter's reason says about it (a case-insensitive regular expression)."""


KINDS = (
    HostileKind("not_json", "text that is not JSON", r"\bjson\b"),
    HostileKind("truncated", "JSON cut off in the middle", r"truncat|unterminated|ends (early|before|after|inside)"),
    HostileKind("invalid_utf8", "bytes that are not UTF-8 text", r"utf-?8"),
    HostileKind("oversized", "a frame of 4 MB", r"larger|too (large|big|long)|\bsize\b|\bbytes\b"),
    HostileKind("missing_keys", "a trade without its id, price or quantity", r"missing|required|absent"),
    HostileKind(
        "wrong_types",
        "a field of the wrong type, like a word for a trade id",
        r"\btype\b|expected an? (integer|string|boolean|number)",
    ),
    HostileKind("bad_price", "a price that is not a number or too large", r"price|decimal|\bp\b"),
    HostileKind("not_positive", "a price or quantity of zero or less", r"positive|negative|zero"),
    HostileKind(
        "too_many_decimals",
        "a price or quantity with more than 8 decimals",
        r"decimal (places|digits)|more than 8|\bscale\b",
    ),
    HostileKind("not_finite", "a price or quantity of NaN or Infinity", r"finite|\bnan\b|infinity"),
    HostileKind("unknown_event", "an event that is not a trade", r"\bevent\b"),
    HostileKind("unknown_symbol", "a trade of a symbol nobody subscribed to", r"symbol"),
    HostileKind(
        "futures_trade",
        "a futures-style trade, with an order type and no best-match flag",
        r"futures|spot|order type|best.?match|\bX\b|\bM\b",
    ),
    HostileKind("backwards_id", "an earlier trade again, its id going backwards", r"(?!)"),
    HostileKind("duplicate_id", "the latest trade again, a duplicate id", r"(?!)"),
)
BY_WORDS = {k.words: k for k in KINDS}
BY_NAME = {k.name: k for k in KINDS}
# the ingest's status counters the suite reads, by what they count (target profile: ingest.counters)
DEFAULT_COUNTERS = {"repeats": "duplicates", "went_backwards": "went_backwards", "connections": "connects"}


@dataclass(frozen=True)
class Planned:
    kind: HostileKind
    outcome: str


def plan(rows: Iterable[tuple[str, str]]) -> list[Planned]:
    """A feature's table of (frame words, outcome) as planned kinds; unknown words name the known ones."""
    out = []
    for words, outcome in rows:
        if words not in BY_WORDS:
            raise ValueError(f"no hostile frame is called {words!r}; known: " + "; ".join(BY_WORDS))
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r} of {words!r} is none of {', '.join(OUTCOMES)}")
        out.append(Planned(BY_WORDS[words], outcome))
    if not out:
        raise ValueError("no hostile frame planned: a scenario that sends none proves nothing")
    if len({p.kind.name for p in out}) != len(out):
        raise ValueError("a hostile frame is listed twice")
    return out


def checkpoints(first_id: int, count: int, kinds: int) -> list[int]:
    """The trade ids after which each of `kinds` kinds goes out, evenly between `count` trades
    from `first_id`: real trades before the first kind, between any two, and after the last."""
    if count < kinds + 1:
        raise ValueError(f"{count} trades cannot surround {kinds} kinds of frames; at least {kinds + 1} needed")
    return [first_id + (i + 1) * count // (kinds + 1) - 1 for i in range(kinds)]


def reason_patterns(target: Target) -> dict[str, re.Pattern[str]]:
    overrides = dict(target.ingest.get("dead_letter_reasons") or {})
    return {k.name: re.compile(overrides.get(k.name, k.reason), re.IGNORECASE) for k in KINDS}


def counter_names(target: Target) -> dict[str, str]:
    return {**DEFAULT_COUNTERS, **dict(target.ingest.get("counters") or {})}


def kind_of_letter(letter: Mapping[str, Any]) -> str | None:
    """The kind a dead letter's frame is tagged with, if its frame is there and tagged."""
    frame = letter.get("frame")
    found = TAG.search(frame[:4096]) if isinstance(frame, str) else None
    return found.group(1) if found else None


@dataclass(frozen=True)
class KindCount:
    kind: str
    outcome: str
    sent: int
    dead_lettered: int
    named: int
    """Dead letters of this kind whose reason names the problem."""
    deduplicated: int
    reasons: tuple[str, ...] = ()
    """The distinct reasons given, first few."""

    @property
    def leaked(self) -> int:
        """Neither dead-lettered nor deduplicated: let through, or dropped without a trace."""
        return max(0, self.sent - self.dead_lettered - self.deduplicated)

    def problems(self) -> list[str]:
        out = []
        if self.sent == 0:
            out.append(f"{self.kind}: none was sent")
        if self.outcome == DEAD_LETTER:
            if self.dead_lettered != self.sent:
                out.append(f"{self.kind}: {self.dead_lettered} of {self.sent} dead-lettered")
            if self.named != self.dead_lettered:
                out.append(
                    f"{self.kind}: {self.dead_lettered - self.named} dead letters whose reason does not name "
                    f"the problem: {'; '.join(self.reasons)}"
                )
            if self.deduplicated:
                out.append(f"{self.kind}: {self.deduplicated} deduplicated instead of dead-lettered")
        else:
            if self.deduplicated != self.sent:
                out.append(f"{self.kind}: {self.deduplicated} of {self.sent} deduplicated")
            if self.dead_lettered:
                out.append(f"{self.kind}: {self.dead_lettered} dead-lettered instead of deduplicated")
        return out


@dataclass(frozen=True)
class Tally:
    kinds: list[KindCount]
    untagged: list[str] = field(default_factory=list)
    """Reasons of dead letters that carry no kind tag (a replay or a real trade dead-lettered)."""
    unplanned: dict[str, int] = field(default_factory=dict)
    """Dead letters or skips of kinds the scenario did not send (another source of hostile input)."""

    def verdict(self) -> Verdict:
        problems = [p for k in self.kinds for p in k.problems()]
        if self.untagged:
            problems.append(f"{len(self.untagged)} dead letters of no hostile frame: {'; '.join(self.untagged[:5])}")
        problems += [f"{n} dead letters of {kind}, which was not sent" for kind, n in self.unplanned.items()]
        counts = {
            "kinds": len(self.kinds),
            "sent": sum(k.sent for k in self.kinds),
            "dead-lettered": sum(k.dead_lettered for k in self.kinds),
            "reason names it": sum(k.named for k in self.kinds),
            "deduplicated": sum(k.deduplicated for k in self.kinds),
            "leaked": sum(k.leaked for k in self.kinds),
            "untagged dead letters": len(self.untagged),
        }
        valid = bool(self.kinds) and counts["sent"] > 0 and not problems
        return Verdict(
            "each hostile frame dead-lettered with its reason or deduplicated",
            valid,
            counts,
            mismatched=problems[:EXAMPLES],
        )

    def table(self) -> str:
        """Per kind: sent / dead-lettered / reason names it / deduplicated / leaked, and the reasons."""
        width = max([len(k.kind) for k in self.kinds] + [len("kind")])
        head = (
            f"{'kind':<{width}}  {'expected':<11} {'sent':>5} {'dead-lettered':>13} {'reason ok':>9} "
            f"{'deduplicated':>12} {'leaked':>6}"
        )
        rows = [head, "-" * len(head)]
        for k in self.kinds:
            rows.append(
                f"{k.kind:<{width}}  {k.outcome:<11} {k.sent:>5} {k.dead_lettered:>13} {k.named:>9} "
                f"{k.deduplicated:>12} {k.leaked:>6}"
            )
        v = self.verdict().counts
        rows.append("-" * len(head))
        rows.append(
            f"{'all':<{width}}  {'':<11} {v['sent']:>5} {v['dead-lettered']:>13} {v['reason names it']:>9} "
            f"{v['deduplicated']:>12} {v['leaked']:>6}"
        )
        if self.untagged:
            rows.append(f"dead letters of no hostile frame: {len(self.untagged)}")
        rows.append("")
        rows.append("reasons given:")
        for k in self.kinds:
            for reason in k.reasons:
                rows.append(f"  {k.kind:<{width}}  {reason}")
        return "\n".join(rows)


def tally(
    planned: Sequence[Planned],
    sent: Mapping[str, int],
    letters: Iterable[Mapping[str, Any]],
    skipped: Mapping[str, int],
    patterns: Mapping[str, re.Pattern[str]],
) -> Tally:
    """Count each planned kind at the two exits. `letters`: the dead letters written since the
    frames were sent; `skipped`: how much each ingest counter grew meanwhile ("repeats",
    "went_backwards")."""
    by_kind: dict[str, list[str]] = {}
    untagged: list[str] = []
    for letter in letters:
        kind = kind_of_letter(letter)
        reason = str(letter.get("reason") or "")
        if kind is None:
            untagged.append(reason or "(no reason)")
        else:
            by_kind.setdefault(kind, []).append(reason)
    repeats, backwards = skipped.get("repeats", 0), skipped.get("went_backwards", 0)
    # a replay of an earlier trade goes backwards; one of the latest trade is a repeat that does not
    deduplicated = {"backwards_id": backwards, "duplicate_id": repeats - backwards}
    counts = []
    for p in planned:
        name = p.kind.name
        reasons = by_kind.get(name, [])
        named = sum(1 for r in reasons if patterns[name].search(r))
        counts.append(
            KindCount(
                name,
                p.outcome,
                sent.get(name, 0),
                len(reasons),
                named,
                max(0, deduplicated.get(name, 0)),
                tuple(dict.fromkeys(reasons))[:3],
            )
        )
    planned_names = {p.kind.name for p in planned}
    unplanned = {k: len(v) for k, v in by_kind.items() if k not in planned_names}
    return Tally(counts, untagged, unplanned)


@dataclass(frozen=True)
class IngestMark:
    """The ingest's process and counters at one moment."""

    pid: int | None
    started_at: float | None
    restarts: int
    state: str
    counters: dict[str, int]


@dataclass
class HostileRun:
    """One scenario's hostile frames: what it sent of each kind, and the ingest before and after."""

    pipeline: PipelineRun
    """The scenario's run: it sends the trades and reads the message and dead-letter logs."""
    driver: StackDriver
    target: Target
    planned: list[Planned]
    evidence: Path | None = None
    sent: Counter[str] = field(default_factory=Counter)
    before: IngestMark | None = None
    result: Tally | None = None

    @staticmethod
    def begin(
        pipeline: PipelineRun, driver: StackDriver, target: Target, planned: list[Planned], evidence: Path | None = None
    ) -> HostileRun:
        run = HostileRun(pipeline, driver, target, planned, evidence)
        run.before = run.mark()
        return run

    @property
    def status_url(self) -> str:
        url: str = self.pipeline.endpoints.status_url("ingest")
        return url

    def mark(self) -> IngestMark:
        health: ServiceStatus = self.driver.health("ingest", resources=False)
        counters = ingest_probe.counters(self.status_url, counter_names(self.target))
        return IngestMark(health.pid, health.started_at, health.restarts, health.state, counters)

    def send_between(self, symbol: str, count: int, rate: float, per_kind: int, within: float) -> None:
        """Trade `count` of `symbol` at `rate`, and send `per_kind` frames of each planned kind,
        in the planned order, evenly between those trades."""
        emission = self.pipeline.trade(symbol, count, rate)
        exchange = self.pipeline.control
        for planned, after_id in zip(
            self.planned, checkpoints(emission.first_id, count, len(self.planned)), strict=True
        ):

            def reached(mark: int = after_id) -> bool:
                state = exchange.status()["symbols"].get(symbol, {})
                return int(state.get("last_id") or -1) >= mark

            eventually(reached, within=within, every=0.02, describe=f"the exchange traded {symbol} up to id {after_id}")
            answer = exchange.malformed(per_kind, kind=planned.kind.name, symbol=symbol)
            got = int(answer.get("kinds", {}).get(planned.kind.name, 0))
            self.sent[planned.kind.name] += got
            self.pipeline.history.record(
                "workload",
                f"send {per_kind} × {planned.kind.name}",
                sent=got,
                clients=answer.get("clients"),
                after_trade=after_id,
            )

    def _tally(self) -> Tally:
        assert self.before is not None
        letters = self.pipeline.dead_letters_now()
        now = ingest_probe.counters(self.status_url, counter_names(self.target))
        skipped = {k: now.get(k, 0) - self.before.counters.get(k, 0) for k in ("repeats", "went_backwards")}
        return tally(self.planned, self.sent, letters, skipped, reason_patterns(self.target))

    def wait_outcomes(self, within: float) -> Verdict:
        """Until every frame sent came out of one of the ingest's exits (or the budget ran out);
        the tally of that moment, kept as evidence."""
        want_letters = sum(self.sent[p.kind.name] for p in self.planned if p.outcome == DEAD_LETTER)
        want_skips = sum(self.sent[p.kind.name] for p in self.planned if p.outcome == DEDUPLICATE)

        def all_out() -> Tally | None:
            t = self._tally()
            v = t.verdict().counts
            return (
                t
                if v["dead-lettered"] + v["untagged dead letters"] >= want_letters and v["deduplicated"] >= want_skips
                else None
            )

        try:
            self.result = eventually(
                all_out,
                within=within,
                every=0.5,
                describe=f"{want_letters} dead letters and {want_skips} skipped repeats",
            )
        except ConditionTimeout:
            self.result = self._tally()
        verdict = self.result.verdict()
        # per kind: sent/dead-lettered/reason ok/deduplicated/leaked, e.g. "3/3/3/0/0"
        self.pipeline.history.record(
            "check",
            "hostile frames",
            valid=verdict.valid,
            **verdict.counts,
            per_kind={
                k.kind: f"{k.sent}/{k.dead_lettered}/{k.named}/{k.deduplicated}/{k.leaked}" for k in self.result.kinds
            },
        )
        if self.evidence is not None:
            self.evidence.mkdir(parents=True, exist_ok=True)
            (self.evidence / "hostile-frames.txt").write_text(self.table() + "\n")
        return verdict

    def table(self) -> str:
        return self.result.table() if self.result else "(no tally yet)"

    def kept_running(self) -> Verdict:
        assert self.before is not None
        verdict = kept_running(self.before, self.mark())
        self.pipeline.history.record("check", "ingest kept running", valid=verdict.valid, **verdict.counts)
        return verdict
