"""Where each symbol's trade ids continue after the exchange restarts.

A real exchange never reuses a trade id. Without this file a restarted simulator would start
every symbol at its first id again, and a client that remembers the ids it has seen (ingest
does, through Kafka) would take every new trade for a duplicate. The file is written when ids
are reserved (once per emit request, not per trade) and, on a clean stop, set back to the ids
actually emitted, so a clean restart leaves no gap either.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class IdLedger:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._next: dict[str, int] = {}
        if path is not None and path.exists():
            self._next = {str(k): int(v) for k, v in json.loads(path.read_text()).items()}

    def next_id(self, symbol: str) -> int | None:
        """The id the symbol continues from, or None if it has never traded here."""
        return self._next.get(symbol)

    def save(self, next_ids: dict[str, int]) -> None:
        self._next.update(next_ids)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._next, sort_keys=True))
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new file, never half
