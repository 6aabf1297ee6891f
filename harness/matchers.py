"""PyHamcrest matchers whose mismatch description says what was wrong, with the facts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description

from harness.checks import Verdict
from harness.stack.driver import ServiceStatus


class _AllReady(BaseMatcher[Sequence[ServiceStatus]]):
    def _matches(self, item: Sequence[ServiceStatus]) -> bool:
        return bool(item) and all(s.ready for s in item)

    def describe_to(self, description: Description) -> None:
        description.append_text("every service ready")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        if not item:
            mismatch_description.append_text("no service was checked")
            return
        bad = [f"{s.name} is {s.state} ({s.detail})" for s in item if not s.ready]
        mismatch_description.append_text("; ".join(bad))


def all_ready() -> _AllReady:
    return _AllReady()


class _Holds(BaseMatcher[Verdict]):
    def _matches(self, item: Verdict) -> bool:
        return item.valid

    def describe_to(self, description: Description) -> None:
        description.append_text("an invariant that holds")

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        mismatch_description.append_text(str(item))


def holds() -> _Holds:
    """assert_that(verdict, holds()): on failure the report shows the counts and example ids."""
    return _Holds()
