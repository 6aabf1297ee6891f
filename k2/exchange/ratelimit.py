"""The REST rate limit as the real exchange answers it (pure, with an injectable clock).

While a limit holds, every history request gets 429 with `Retry-After`. A client that asks again
before that time has passed is breaking the limit: after `ban_after` such requests it is banned,
and every request gets 418 with `Retry-After` until the ban ends, as Binance bans an IP that keeps
sending after a 429. A client that waits as asked is never banned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

TOO_MANY_REQUESTS = -1003  # Binance's error code for both answers


@dataclass(frozen=True)
class Refusal:
    status: int
    retry_after_s: int
    body: dict[str, object]


class RateLimit:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.until = 0.0
        self.retry_after_s = 1
        self.ban_after = 3
        self.ban_s = 10
        self._not_before = 0.0
        self._violations = 0
        self._banned_until = 0.0
        self.answered = {429: 0, 418: 0}
        self.bans = 0

    def limit(self, seconds: float, retry_after_s: int, ban_after: int, ban_s: int) -> None:
        """Refuse history requests for `seconds` from now (0: lift the limit and any ban)."""
        now = self.clock()
        self.until = now + seconds
        self.retry_after_s, self.ban_after, self.ban_s = retry_after_s, ban_after, ban_s
        self._violations = 0
        self._not_before = 0.0
        if seconds == 0:
            self._banned_until = 0.0

    def check(self) -> Refusal | None:
        """How to refuse the request arriving now, or None to serve it."""
        now = self.clock()
        if now < self._banned_until:
            return self._refuse(418, self._banned_until - now)
        if now >= self.until:
            return None
        if now < self._not_before:
            self._violations += 1
            if self._violations >= self.ban_after:
                self._banned_until = now + self.ban_s
                self.bans += 1
                return self._refuse(418, self.ban_s)
        self._not_before = now + self.retry_after_s
        return self._refuse(429, self.retry_after_s)

    def _refuse(self, status: int, seconds: float) -> Refusal:
        self.answered[status] += 1
        wait = max(1, math.ceil(seconds))
        msg = (
            "Too many requests; current limit is 6000 request weight per minute. Please use the websocket "
            "for live updates to avoid bans."
            if status == 429
            else f"Way too many requests; banned for {wait} s. Please use the websocket for live updates to avoid bans."
        )
        return Refusal(status, wait, {"code": TOO_MANY_REQUESTS, "msg": msg})

    def status(self) -> dict[str, object]:
        now = self.clock()
        return {
            "limited_for_s": round(max(0.0, self.until - now), 3),
            "banned_for_s": round(max(0.0, self._banned_until - now), 3),
            "answered_429": self.answered[429],
            "answered_418": self.answered[418],
            "bans": self.bans,
        }
