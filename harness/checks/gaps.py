"""The gaps an exchange's history could not fill, as the ingest reports them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness.checks.verdict import Verdict


def unfillable_reported(symbol: str, first: int, last: int, reported: Iterable[Mapping[str, Any]]) -> Verdict:
    """The ingest reports ids `first`..`last` of the symbol as one unfillable range, exactly."""
    mine = [
        r
        for r in reported
        if r.get("symbol") == symbol
        and isinstance(r.get("from"), int)
        and isinstance(r.get("to"), int)
        and r["to"] >= first
        and r["from"] <= last
    ]
    want = {"symbol": symbol, "from": first, "to": last, "size": last - first + 1}
    exact = [r for r in mine if {k: r.get(k) for k in want} == want]
    counts = {
        "expected size": last - first + 1,
        "ranges reported": len(mine),
        "size reported": sum(int(r.get("size") or 0) for r in mine),
    }
    problems = [] if len(mine) == 1 and exact else [f"expected one range {want}, the ingest reported {mine or 'none'}"]
    return Verdict("the unfillable gap is reported with its size", not problems, counts, mismatched=problems)
