"""Where ingest stands per symbol: the last trade id produced, and what a new id means (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(Enum):
    NEXT = "next"            # the id right after the last: produce it
    DUPLICATE = "duplicate"  # already produced (a replay after reconnect): skip it
    GAP = "gap"              # ids are missing before it: backfill them first
    FIRST = "first"          # nothing produced for this symbol yet: start here


@dataclass
class Cursor:
    last: dict[str, int] = field(default_factory=dict)

    def judge(self, symbol: str, trade_id: int) -> Verdict:
        last = self.last.get(symbol)
        if last is None:
            return Verdict.FIRST
        if trade_id <= last:
            return Verdict.DUPLICATE
        if trade_id == last + 1:
            return Verdict.NEXT
        return Verdict.GAP

    def behind(self, symbol: str, trade_id: int) -> bool:
        """The id is below the last one produced (a trade id that went backwards)."""
        last = self.last.get(symbol)
        return last is not None and trade_id < last

    def advance(self, symbol: str, trade_id: int) -> None:
        self.last[symbol] = trade_id

    def missing(self, symbol: str, trade_id: int) -> tuple[int, int] | None:
        """The inclusive id range to backfill before `trade_id`, if any."""
        last = self.last.get(symbol)
        if last is None or trade_id <= last + 1:
            return None
        return last + 1, trade_id - 1
