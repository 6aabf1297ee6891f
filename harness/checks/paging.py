"""Does the query API split an answer into pages the way a client reading them assumes? Pure.

A client asks for `limit` rows at `offset`, then the next page while `has_more` is true. That is
only safe if, for every page size, the pages are consecutive slices of one and the same ordered
answer, `total` is the answer's size on every page, and `has_more` is true exactly when rows are
left after the page. An off-by-one in any of them loses or repeats rows only at a page boundary,
which a client reading everything in one page never crosses.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from harness.checks.verdict import EXAMPLES, Verdict

SIZES = (1, 7, 100)
"""Page sizes a client is read with, besides the largest the contract allows."""


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    keys: tuple[Hashable, ...]
    total: int | None
    has_more: bool | None


def offsets_to_read(size: int, total: int, ends: int = 3) -> list[int]:
    """Where a read with pages of `size` asks: every page of a short answer; of a long one (more
    than 8 × `ends` pages) the first, middle and last `ends` pages, so each kind of boundary is
    crossed without one request per page (pages of one row over 10,000 trades)."""
    starts = list(range(0, max(total, 1), size))
    if len(starts) <= 8 * ends:
        return starts
    middle = len(starts) // 2
    return starts[:ends] + starts[middle - ends // 2 : middle - ends // 2 + ends] + starts[-ends:]


Answer = tuple[Sequence[Hashable], Mapping[int, Sequence[Page]]]
"""One query's answer read in one page (the reference), and its pages by page size."""


def pages_consistent(what: str, answers: Mapping[str, Answer]) -> Verdict:
    """For each query (e.g. one a symbol): each page of each read equals its slice of the answer
    read in one page, with `total` its size and `has_more` true when rows are left after the page.
    Reading nothing is a failure."""
    problems: list[str] = []
    pages = rows = 0
    for query, (reference, reads) in answers.items():
        rows += len(reference)
        for page in (p for _, read in sorted(reads.items()) for p in read):
            pages += 1
            want = tuple(reference[page.offset : page.offset + page.limit])
            left = len(reference) - page.offset - len(page.keys)
            where = f"{query} limit {page.limit} offset {page.offset}"
            if page.total != len(reference):
                problems.append(f"{where}: total {page.total} where {len(reference)} rows are served")
            if page.has_more != (left > 0):
                problems.append(
                    f"{where}: has_more {page.has_more} with {left} row{'s' * (left != 1)} left "
                    f"after its {len(page.keys)}"
                )
            if page.keys != want:
                missing = [k for k in want if k not in page.keys]
                other = [k for k in page.keys if k not in want]
                problems.append(
                    f"{where}: {len(page.keys)} rows where {len(want)}"
                    + (f"; missing {missing[:3]}" if missing else "")
                    + (f"; not of this slice {other[:3]}" if other else "")
                    + ("; same rows, other order" if not missing and not other else "")
                )
    counts = {"rows": rows, "pages": pages, "problems": len(problems)}
    return Verdict(
        f"{what} pages consistent", rows > 0 and pages > 0 and not problems, counts, mismatched=problems[:EXAMPLES]
    )


def newest_first(what: str, times: Mapping[str, Sequence[str]]) -> Verdict:
    """Each answer's trade times (the contract's ISO-8601 text, which sorts as it reads) never
    go up from one row to the next: newest first, as the contract orders every answer."""
    problems = [
        f"{query} row {i + 2}: {b} after {a}"
        for query, ts in times.items()
        for i, (a, b) in enumerate(pairwise(ts))
        if b > a
    ]
    rows = sum(len(ts) for ts in times.values())
    return Verdict(
        f"{what} newest first",
        rows > 0 and not problems,
        {"rows": rows, "out of order": len(problems)},
        mismatched=problems[:EXAMPLES],
    )
