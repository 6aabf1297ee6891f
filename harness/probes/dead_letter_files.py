"""Dead letters a deployment writes to files (one per line) rather than, or beside, a topic.

A line that is a JSON object is taken as the dead letter; any other line is a dead letter whose
reason is the line itself, so a deployment's own format is counted, never a crash.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any


def marks(pattern: str | None) -> dict[str, int]:
    """Where each file of the pattern ends now (files created later start at 0)."""
    if not pattern:
        return {}
    return {path: Path(path).stat().st_size for path in sorted(glob.glob(pattern))}


def read_since(pattern: str | None, since: dict[str, int]) -> list[dict[str, Any]]:
    """The dead letters written to the pattern's files after `since`."""
    if not pattern:
        return []
    letters: list[dict[str, Any]] = []
    for path in sorted(glob.glob(pattern)):
        with open(path, "rb") as f:
            f.seek(since.get(path, 0))
            text = f.read().decode(errors="replace")
        letters += [parse(line) for line in text.splitlines() if line.strip()]
    return letters


def parse(line: str) -> dict[str, Any]:
    try:
        letter = json.loads(line)
    except ValueError:
        return {"reason": line.strip()[:500]}
    return letter if isinstance(letter, dict) else {"reason": line.strip()[:500]}
