"""Pacing for interactive replies: Telegram's limits per chat, and a 429 pauses only its chat.

PTB's AIORateLimiter paces overall and per group, and on any 429 it stops *every* request
until the wait is over. With 1,000 people answering at once, one person typing faster than
Telegram lets a bot answer in their chat then holds up everyone's replies. Here:

- every request naming a chat passes the overall limiter (30/s by default);
- a group has its own limiter (20 a minute);
- a private chat is not paced ahead of time (an answer to someone's message goes at once, as
  Telegram tolerates short bursts there), but a 429 for a chat pauses that chat for
  `retry_after` and then retries, while every other chat carries on;
- a 429 for a request naming no chat pauses the requests naming no chat.

The limiters are aiolimiter's (the library PTB's own limiter uses); only the pause per chat is
ours. Scheduled messages do not come through here: the outbox paces itself, and `on_sent`
tells it of each reply, which it counts against its own pace (overall and in that chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Group limiters kept at most; idle ones (full capacity) are dropped beyond this.
KEEP_LIMITERS = 1024
NO_CHAT = "no chat"

JSONResult = Any
Callback = Callable[..., Coroutine[Any, Any, JSONResult]]


class ChatRateLimiter(BaseRateLimiter[int]):
    def __init__(
        self,
        *,
        overall_per_second: float = 30,
        group_per_minute: float = 20,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._overall = AsyncLimiter(overall_per_second, 1) if overall_per_second else None
        self._group_per_minute = group_per_minute
        self._limiters: dict[int | str, AsyncLimiter] = {}
        # When each paused chat may be written to again (clock seconds).
        self._paused_until: dict[int | str, float] = {}
        self._max_retries = max_retries
        self._clock = clock
        # Told of every message that went to a chat: the outbox counts replies against its own
        # pace, so the two together keep to Telegram's budget, replies first.
        self.on_sent: Callable[[int], None] | None = None
        # For /metrics: messages that went, 429s met, and the seconds waited out for them.
        self.sent = 0
        self.limited = 0
        self.limited_seconds = 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def paused(self, chat: int | str) -> float:
        """Seconds until `chat` may be written to again (0 when it is not paused)."""
        return max(0.0, self._paused_until.get(chat, 0.0) - self._clock())

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        chat = _chat_of(data.get("chat_id"))
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._wait_out_pause(chat)
            try:
                if chat == NO_CHAT:
                    return await callback(*args, **kwargs)
                async with self._group_limiter(chat), self._overall or contextlib.nullcontext():
                    result = await callback(*args, **kwargs)
                if isinstance(chat, int) and _is_message(endpoint):
                    self.sent += 1
                    if self.on_sent is not None:
                        self.on_sent(chat)
                return result
            except RetryAfter as exc:
                self.limited += 1
                if attempt == retries:
                    log.warning("%s to a chat still limited after %d retries", endpoint, retries)
                    raise
                seconds = retry_seconds(exc)
                self.limited_seconds += seconds
                until = self._clock() + seconds + 0.1
                self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), until)
                log.info("%s limited: this chat waits %.1f s, others carry on", endpoint, seconds)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait_out_pause(self, chat: int | str) -> None:
        # A loop: another request may lengthen the pause while this one sleeps.
        while True:
            left = self.paused(chat)
            if left <= 0:
                self._paused_until.pop(chat, None)
                return
            await asyncio.sleep(left)

    def _group_limiter(self, chat: int | str) -> contextlib.AbstractAsyncContextManager[Any]:
        is_group = isinstance(chat, str) or chat < 0
        if not is_group or not self._group_per_minute:
            return contextlib.nullcontext()
        limiter = self._limiters.get(chat)
        if limiter is None:
            if len(self._limiters) >= KEEP_LIMITERS:
                self._forget_idle()
            limiter = self._limiters[chat] = AsyncLimiter(self._group_per_minute, 60)
        return limiter

    def _forget_idle(self) -> None:
        for key, limiter in list(self._limiters.items()):
            if limiter.has_capacity(limiter.max_rate):
                del self._limiters[key]
        now = self._clock()
        for key, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[key]


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram said to wait (PTB gives an int or a timedelta, by version)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _is_message(endpoint: str) -> bool:
    """A new message in the chat (what Telegram's limits count), not an edit or an action."""
    name = endpoint.lower()
    return (name.startswith("send") and name != "sendchataction") or name in (
        "copymessage",
        "forwardmessage",
    )


def _chat_of(chat_id: object) -> int | str:
    if chat_id is None:
        return NO_CHAT
    try:
        return int(chat_id)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return str(chat_id)  # "@channelname": treated as a group
