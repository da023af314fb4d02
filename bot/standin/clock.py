"""A manual clock for FakeTelegram's rate limits and the conversation driver."""

from __future__ import annotations


class FakeClock:
    """Callable like ``time.monotonic``; time only moves when ``advance`` is called."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self.now += seconds
