"""Verdicts: an invariant's outcome with the numbers behind it, never just "failed"."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

EXAMPLES = 20
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Verdict:
    check: str
    valid: bool
    counts: dict[str, int]
    lost: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    unexpected: list[Any] = field(default_factory=list)
    mismatched: list[Any] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    """What else was seen meanwhile that may name the cause (dead letters, services' errors)."""

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        lines = [f"{self.check}: {'holds' if self.valid else 'VIOLATED'} ({counts})"]
        for name in ("lost", "duplicated", "unexpected", "mismatched"):
            examples = getattr(self, name)
            if examples:
                lines.append(f"  {name} (first {len(examples)}): {', '.join(map(str, examples))}")
        lines += [f"  meanwhile: {e}" for e in self.evidence]
        return "\n".join(lines)


@dataclass(frozen=True)
class VerdictSummary:
    """A Verdict's first line as read back from a report: its check, whether it held, its counts."""

    check: str
    valid: bool
    counts: dict[str, int]


# Verdict.__str__'s first line; the check itself may hold parentheses and colons, the counts never do.
_SUMMARY = re.compile(r"^(?P<check>.+): (?P<state>holds|VIOLATED) \((?P<counts>[^()]*)\)$")


def read_summaries(text: str) -> list[VerdictSummary]:
    """Every verdict's summary in a text of verdicts (an Allure "verdicts" attachment), in order."""
    found = []
    for line in text.splitlines():
        m = _SUMMARY.match(line)
        if m is None:
            continue
        counts = {}
        for part in filter(None, m["counts"].split(", ")):
            name, _, value = part.rpartition(" ")
            if name and value.lstrip("-").isdigit():
                counts[name] = int(value)
        found.append(VerdictSummary(m["check"], m["state"] == "holds", counts))
    return found


def exactly_once(stage: str, expected: Iterable[Hashable], observed: Iterable[Hashable]) -> Verdict:
    """Every expected key observed once at `stage`: none lost, none twice, nothing else.

    An empty expectation is itself a failure: a check that passes on nothing proves nothing.
    """
    # generators, so that a dict given as `expected` counts its keys (Counter(dict) would take
    # its values as counts)
    want = Counter(k for k in expected)
    seen = Counter(k for k in observed)
    lost = sorted((k for k in want if k not in seen), key=str)
    duplicated = sorted((k for k, n in seen.items() if n > 1), key=str)
    unexpected = sorted((k for k in seen if k not in want), key=str)
    counts = {
        "expected": sum(want.values()),
        stage: sum(seen.values()),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "unexpected": len(unexpected),
    }
    valid = bool(want) and not lost and not duplicated and not unexpected
    return Verdict(
        f"exactly once at {stage}", valid, counts, lost[:EXAMPLES], duplicated[:EXAMPLES], unexpected[:EXAMPLES]
    )


def only_expected(what: str, expected: Iterable[Hashable], observed: Iterable[Hashable]) -> Verdict:
    """Everything observed is expected (each may be missing or repeated: other checks judge that).
    Nothing observed, or nothing expected, is a failure: a check that passes on nothing proves nothing."""
    want = set(expected)
    seen = list(observed)
    others = [k for k in seen if k not in want]
    unexpected = sorted(dict.fromkeys(others), key=str)
    counts = {"expected": len(want), what: len(seen), "others": len(others)}
    return Verdict(
        f"only expected in {what}", bool(want) and bool(seen) and not others, counts, unexpected=unexpected[:EXAMPLES]
    )


def field_differences(
    expected: Mapping[K, Mapping[str, Any]],
    observed: Mapping[K, Mapping[str, Any]],
    strict_types: bool = False,
    label: Callable[[K], str] = lambda _: "",
) -> tuple[int, list[str]]:
    """(how many keys were in both, a line per key whose fields differ). `strict_types` also
    tells 1 from "1" and 1.0; `label` adds a word on where a mismatched key came from."""
    mismatched = []
    compared = 0
    for key, want in expected.items():
        got = observed.get(key)
        if got is None:
            continue
        compared += 1
        diffs = [
            f"{f} expected {v!r} got {got.get(f)!r}"
            for f, v in want.items()
            if got.get(f) != v or (strict_types and type(got.get(f)) is not type(v))
        ]
        if diffs:
            where = label(key)
            mismatched.append(f"{key}{' (' + where + ')' if where else ''}: " + "; ".join(diffs))
    return compared, mismatched


def fields_equal(
    stage: str, expected: Mapping[K, Mapping[str, Any]], observed: Mapping[K, Mapping[str, Any]]
) -> Verdict:
    """For every key present in both, each expected field has exactly the expected value."""
    compared, mismatched = field_differences(expected, observed)
    valid = compared > 0 and not mismatched
    return Verdict(
        f"fields equal at {stage}",
        valid,
        {"compared": compared, "mismatched": len(mismatched)},
        mismatched=mismatched[:EXAMPLES],
    )
