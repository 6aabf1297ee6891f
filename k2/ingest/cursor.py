"""Where ingest stands per symbol (pure): the highest trade id produced, and the ids below it not
produced yet (gaps the backfill still owes). Live trades never wait for a gap to be filled: the
cursor moves past it and remembers it.

The state travels with the trades: a record that does not simply extend its symbol's run (a
backfilled trade, or any trade while gaps are open) carries the cursor after it in a header, so a
restarted ingest reads the last record of each symbol and knows both its highest id and the gaps
it still owes, with no state file that could disagree with Kafka.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

HEADER = "k2-cursor"
Range = tuple[int, int]
"""An inclusive range of trade ids."""


class Verdict(Enum):
    NEXT = "next"  # the id right after the highest: produce it
    DUPLICATE = "duplicate"  # already produced (a replay after reconnect): skip it
    GAP = "gap"  # ids are missing before it: produce it, the backfill owes the rest
    FILL = "fill"  # below the highest, in an open gap: produce it, the gap shrinks
    FIRST = "first"  # nothing produced for this symbol yet: start here


@dataclass
class Cursor:
    last: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, list[Range]] = field(default_factory=dict)
    """Per symbol, the sorted, disjoint id ranges below `last` not produced yet."""

    def judge(self, symbol: str, trade_id: int) -> Verdict:
        last = self.last.get(symbol)
        if last is None:
            return Verdict.FIRST
        if trade_id == last + 1:
            return Verdict.NEXT
        if trade_id > last:
            return Verdict.GAP
        if any(a <= trade_id <= b for a, b in self.gaps.get(symbol, ())):
            return Verdict.FILL
        return Verdict.DUPLICATE

    def behind(self, symbol: str, trade_id: int) -> bool:
        """The id is below the last one produced (a trade id that went backwards)."""
        last = self.last.get(symbol)
        return last is not None and trade_id < last

    def advance(self, symbol: str, trade_id: int, owe_skipped: bool = True) -> Range | None:
        """Record that `trade_id` was produced; the gap it opened below itself, now owed, if any
        (`owe_skipped=False`: the ids skipped are known to be gone, and are not owed)."""
        last = self.last.get(symbol)
        if last is None or trade_id > last:
            self.last[symbol] = trade_id
            if owe_skipped and last is not None and trade_id > last + 1:
                gap = (last + 1, trade_id - 1)
                self.gaps.setdefault(symbol, []).append(gap)
                return gap
            return None
        self.forget(symbol, trade_id, trade_id)
        return None

    def forget(self, symbol: str, first: int, last: int) -> list[Range]:
        """Stop owing ids `first`..`last` (produced, or never to be had); the owed parts removed."""
        kept: list[Range] = []
        removed: list[Range] = []
        for a, b in self.gaps.get(symbol, ()):
            if b < first or a > last:
                kept.append((a, b))
                continue
            removed.append((max(a, first), min(b, last)))
            if a < first:
                kept.append((a, first - 1))
            if b > last:
                kept.append((last + 1, b))
        if symbol in self.gaps:
            self.gaps[symbol] = kept
            if not kept:
                del self.gaps[symbol]
        return removed

    def begin_at(self, symbol: str, first: int) -> None:
        """A symbol with nothing produced yet starts at `first`: ids from it on are to be caught up."""
        if symbol not in self.last:
            self.last[symbol] = first - 1

    def owe(self, symbol: str, first: int, last: int) -> None:
        """Owe ids `first`..`last`, all below every id owed or produced of the symbol so far (trades
        missed before its first one produced)."""
        gaps = self.gaps.get(symbol, [])
        lowest = min([a for a, _ in gaps] + [self.last[symbol] + 1])
        if first <= last < lowest:
            self.gaps[symbol] = [(first, last), *gaps]

    def owed(self, symbol: str) -> list[Range]:
        return list(self.gaps.get(symbol, ()))

    def owed_between(self, symbol: str, first: int, last: int) -> list[Range]:
        """The owed parts of ids `first`..`last`."""
        return [(max(a, first), min(b, last)) for a, b in self.gaps.get(symbol, ()) if a <= last and b >= first]

    def header(self, symbol: str, trade_id: int) -> bytes | None:
        """What a record of `trade_id` must carry once produced: None when it is the symbol's
        highest id and nothing is owed (the record itself says where the symbol stands)."""
        gaps = self.gaps.get(symbol)
        if not gaps and self.last.get(symbol) == trade_id:
            return None
        return json.dumps(
            {"last": self.last[symbol], "gaps": [list(g) for g in gaps or ()]}, separators=(",", ":")
        ).encode()

    @staticmethod
    def from_records(found: Mapping[str, tuple[int, bytes | None]]) -> Cursor:
        """The cursor after each symbol's last record in Kafka: its trade id and its header."""
        cursor = Cursor()
        for symbol, (trade_id, header) in found.items():
            if header is None:
                cursor.last[symbol] = trade_id
                continue
            state = json.loads(header)
            cursor.last[symbol] = int(state["last"])
            gaps = [(int(a), int(b)) for a, b in state["gaps"]]
            if gaps:
                cursor.gaps[symbol] = gaps
        return cursor
