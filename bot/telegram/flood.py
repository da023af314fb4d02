"""Flood control: one person sending far more than anyone types is slowed; nobody else is.

Each person (Telegram user, across all their chats) has a token bucket on the bot's clock:
`burst` updates at once, refilled at `per_minute`. What they send — messages, edits, button
taps — takes a token; with none left the update is dropped before any handler sees it (no
database work, no reply), and in a private chat they are told once per minute to slow down.
Everything within the limit is processed exactly as usual. Other updates (a member leaving,
the bot being blocked) are never held back: they are Telegram's, not the person's.
The handler that applies it is bot/telegram/handlers/flood.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock

WARN_EVERY = 60.0  # seconds between two "slow down" replies to one person
_PRUNE_AT = 20_000  # buckets kept before idle (full) ones are forgotten


@dataclass
class _Bucket:
    tokens: float
    at: float  # when `tokens` was counted (seconds on the bot's clock)
    warned_at: float | None = None


class FloodGuard:
    def __init__(self, per_minute: float, burst: int, clock: Clock) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self.dropped = 0

    def _now(self) -> float:
        return self.clock().timestamp()

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)

    def admit(self, user_id: int) -> bool:
        """Take a token for this person's update; False when they have none left."""
        now = self._now()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[user_id] = _Bucket(self.burst, now)
        bucket.tokens, bucket.at = self._refilled(bucket, now), now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        self.dropped += 1
        return False

    @property
    def per_minute(self) -> int:
        return round(self.rate * 60)

    def should_warn(self, user_id: int) -> bool:
        """True at most once per WARN_EVERY seconds for a person being dropped."""
        now = self._now()
        bucket = self._buckets[user_id]
        if bucket.warned_at is not None and now - bucket.warned_at < WARN_EVERY:
            return False
        bucket.warned_at = now
        return True

    def _prune(self, now: float) -> None:
        idle = [
            uid
            for uid, b in self._buckets.items()
            if self._refilled(b, now) >= self.burst
            and (b.warned_at is None or now - b.warned_at >= WARN_EVERY)
        ]
        for uid in idle:
            del self._buckets[uid]
