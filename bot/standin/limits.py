"""Telegram's flood limits as token buckets on an injectable clock.

The figures are the ones Telegram documents for bots (about 30 messages a second overall,
one a second per private chat with short bursts tolerated, 20 a minute per group). Refused
sends do not consume tokens, exactly like a 429 from Telegram does not count as a send.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Limits:
    overall_per_second: float = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    enabled: bool = True


class _Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """Decides whether a send may go out now; ``acquire`` returns retry_after or None."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._overall: _Bucket | None = None
        self._chats: dict[int, _Bucket] = {}

    def _chat_bucket(self, chat_id: int, is_group: bool, now: float) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            lim = self.limits
            if is_group:
                bucket = _Bucket(lim.group_per_minute, lim.group_per_minute / 60, now)
            else:
                bucket = _Bucket(lim.private_burst, lim.private_per_second, now)
            self._chats[chat_id] = bucket
        return bucket

    def acquire(self, chat_id: int, *, is_group: bool) -> int | None:
        if not self.limits.enabled:
            return None
        now = self._clock()
        if self._overall is None:
            rate = self.limits.overall_per_second
            self._overall = _Bucket(rate, rate, now)
        overall = self._overall
        chat = self._chat_bucket(chat_id, is_group, now)
        overall.refill(now)
        chat.refill(now)
        wait = max(overall.wait(), chat.wait())
        if wait > 0:
            # Telegram reports whole seconds and never 0, so clients always back off.
            return max(1, math.ceil(wait - 1e-9))
        overall.tokens -= 1
        chat.tokens -= 1
        return None
