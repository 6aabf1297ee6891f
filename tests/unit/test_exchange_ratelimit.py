"""The simulator's rate limit answers as the real exchange does: 429 with Retry-After while it
holds, a 418 ban for a client that keeps asking before Retry-After has passed, never for one
that waits."""

from __future__ import annotations

from k2.exchange.ratelimit import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_that_waits_as_asked_gets_429s_until_the_limit_lifts_and_is_never_banned() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    limit.limit(10, retry_after_s=3, ban_after=2, ban_s=60)
    answers = []
    while (refusal := limit.check()) is not None:
        answers.append((refusal.status, refusal.retry_after_s))
        clock.now += refusal.retry_after_s
    assert answers == [(429, 3)] * 4 and clock.now == 1012.0
    assert limit.status()["bans"] == 0 and limit.status()["answered_429"] == 4


def test_a_client_that_asks_again_too_soon_is_banned_and_stays_banned_past_the_limit() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    limit.limit(5, retry_after_s=3, ban_after=2, ban_s=60)
    statuses = []
    for _ in range(4):
        refusal = limit.check()
        assert refusal is not None
        statuses.append(refusal.status)
        clock.now += 0.5
    assert statuses == [429, 429, 418, 418]
    clock.now = 1030.0  # the limit is over, the ban is not
    banned = limit.check()
    assert banned is not None and (banned.status, banned.retry_after_s) == (418, 31)  # banned at 1001
    assert "banned" in str(banned.body["msg"]) and banned.body["code"] == -1003
    clock.now = 1062.0
    assert limit.check() is None and limit.status()["bans"] == 1


def test_lifting_the_limit_ends_a_ban_too() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    limit.limit(5, retry_after_s=3, ban_after=1, ban_s=600)
    limit.check()
    assert limit.check() is not None and limit.status()["banned_for_s"] == 600
    limit.limit(0, retry_after_s=1, ban_after=3, ban_s=10)
    assert limit.check() is None
