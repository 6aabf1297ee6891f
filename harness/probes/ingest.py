"""The ingest service's own status page (not part of the contract): its counters, read over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


def status(status_url: str, timeout: float = 5.0) -> dict[str, Any]:
    r = httpx.get(status_url, timeout=timeout)
    if r.status_code != 200:
        raise AssertionError(f"GET {status_url} answered {r.status_code}: {r.text[:300]}")
    body: dict[str, Any] = r.json()
    return body


def unfilled(status_url: str, field: str) -> list[dict[str, Any]]:
    """The id ranges the ingest says it could not fill (each with symbol, from, to, size)."""
    body = status(status_url)
    ranges = body.get(field)
    if not isinstance(ranges, list) or not all(isinstance(r, dict) for r in ranges):
        raise AssertionError(
            f"the ingest status at {status_url} lists no unfillable id ranges in `{field}` "
            f"(target profile: ingest.unfilled); it has {', '.join(sorted(body))}"
        )
    return ranges


def counters(status_url: str, names: Mapping[str, str]) -> dict[str, int]:
    """The counters named in `names` (what it counts -> the status field), by what they count.
    A field the status lacks is an error naming it: a check must not read a missing counter as 0."""
    body = status(status_url)
    missing = sorted(field for field in names.values() if not isinstance(body.get(field), int))
    if missing:
        raise AssertionError(
            f"the ingest status at {status_url} has no counter {', '.join(missing)}; "
            f"it has {', '.join(sorted(body))} (target profile: ingest.counters)"
        )
    return {what: int(body[field]) for what, field in names.items()}
