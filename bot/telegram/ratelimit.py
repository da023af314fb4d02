"""Pacing: Telegram's budget shared by replies and the outbox, replies first; a 429 pauses
only its chat.

PTB's AIORateLimiter paces overall and per group, and on any 429 it stops *every* request
until the wait is over. With 1,000 people answering at once, one person typing faster than
Telegram lets a bot answer in their chat then holds up everyone's replies. Here:

- every request naming a chat takes room in the `Budget`: Telegram's 30 messages a second,
  shared with the outbox, replies first (below);
- a group has its own limiter (20 a minute);
- a private chat is not paced ahead of time (an answer to someone's message goes at once, as
  Telegram tolerates short bursts there), but a 429 for a chat pauses that chat for
  `retry_after` and then retries, while every other chat carries on;
- a 429 for a request naming no chat pauses the requests naming no chat.

The group limiters are aiolimiter's (the library PTB's own limiter uses); the pause per chat
and the shared budget are ours. Scheduled messages do not come through the limiter: the
outbox sender (bot/telegram/sender.py) paces itself with the `Pacer` here, which takes its room
in the same `Budget`, and `on_sent` tells it of each reply, so it keeps a second before
writing again into that chat.

**The reserved share.** A fan-out of 10,000 prompts keeps the outbox busy for minutes, and
the people it reaches answer meanwhile. The outbox never fills the budget: it sends only while
`reply_share` of it (TRIOBOT_REPLY_SHARE, 0.2: 6 of the 30 messages a second can hold) stays
free, so a reply finds room at once; and while a reply waits for room, the outbox sends
nothing. So the outbox keeps its own pace (TRIOBOT_SEND_PER_SECOND) up to whatever the replies
leave of the 30 a second — the whole budget when nobody answers — and the replies never queue
behind it: they wait only when they alone would exceed Telegram's budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.conflicts import note_request

if TYPE_CHECKING:
    from bot.telegram.shared_budget import SharedBudget

log = logging.getLogger(__name__)

# Group limiters kept at most; idle ones (full capacity) are dropped beyond this.
KEEP_LIMITERS = 1024
NO_CHAT = "no chat"
# Telegram's documented limit for a bot, all chats together.
TELEGRAM_PER_SECOND = 30.0
# The share of it the outbox leaves free for interactive replies (TRIOBOT_REPLY_SHARE).
REPLY_SHARE = 0.2

JSONResult = Any
Callback = Callable[..., Coroutine[Any, Any, JSONResult]]


class Budget:
    """Telegram's overall budget, shared by interactive replies and the outbox; replies first.

    A leaky bucket on the injected clock, holding a second's worth of messages (30): `_free_at`
    is when it is empty again, and each message adds 1/30 s. A reply may go while the bucket
    has room for one more; the outbox only while `reply_share` of it stays free after its
    message, and not at all while a reply waits. Room is taken when a message is about to go,
    so one Telegram then refuses costs its room too (the safe side).
    """

    def __init__(
        self,
        per_second: float = TELEGRAM_PER_SECOND,
        *,
        reply_share: float = REPLY_SHARE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 <= reply_share < 1:
            raise ValueError(f"reply_share must be at least 0 and below 1, not {reply_share}")
        self.per_second = per_second
        self.reply_share = reply_share
        self.clock = clock
        self._sleep = sleep
        self._interval = 1.0 / per_second
        self._capacity = per_second  # messages: a second's worth, as Telegram counts them
        self._free_at = 0.0
        self.waiting = 0  # replies waiting for room now
        # What took room, for tests and the benchmark.
        self.replies = 0
        self.outbox = 0
        self.reply_waited = 0.0  # seconds replies spent waiting for room, in all

    def level(self) -> float:
        """Messages in the bucket now (it holds `per_second` of them)."""
        return max(0.0, self._free_at - self.clock()) / self._interval

    def _wait_for_room(self, capacity: float) -> float:
        """Seconds until a bucket of `capacity` messages has room for one more."""
        # A nanosecond to the safe side of a float's rounding; a wait is at least a
        # microsecond, so a sleep on a clock that counts microseconds moves it on.
        wait = self._free_at - self.clock() - (capacity - 1) * self._interval + 1e-9
        return max(wait, 1e-6) if wait > 0 else 0.0

    def reply_wait(self) -> float:
        """Seconds until a reply may go (0: now)."""
        return self._wait_for_room(self._capacity)

    def outbox_wait(self) -> float:
        """Seconds until the outbox may send: after the replies waiting have gone, and while
        the replies' share of the bucket stays free."""
        wait = self._wait_for_room(self._capacity * (1 - self.reply_share))
        if self.waiting:
            wait = max(wait, self.reply_wait() + self.waiting * self._interval)
        return wait

    def take(self, *, reply: bool) -> None:
        """One message goes now."""
        self._free_at = max(self._free_at, self.clock()) + self._interval
        if reply:
            self.replies += 1
        else:
            self.outbox += 1

    async def reply_room(self) -> None:
        """Wait for room for a reply (none, unless replies alone fill the budget); take it."""
        wait = self.reply_wait()
        if wait > 0:
            self.waiting += 1
            began = self.clock()
            try:
                while wait > 0:
                    await self._sleep(wait)
                    wait = self.reply_wait()
            finally:
                self.waiting -= 1
                self.reply_waited += self.clock() - began
        self.take(reply=True)


@dataclass(frozen=True, slots=True)
class SendLimits:
    overall_per_second: float = 25.0  # the outbox's own pace; Telegram allows ~30/s
    private_per_second: float = 1.0
    group_per_minute: float = 20.0
    # Of Telegram's 30/s, the share the outbox leaves to live replies (ratelimit.Budget).
    reply_share: float = REPLY_SHARE


class Pacer:
    """When the next message may go: its own pace and Telegram's budget shared with the
    replies (overall), and per chat (private 1/s, group 20/min)."""

    def __init__(
        self, limits: SendLimits, clock: Callable[[], float], budget: Budget | None = None
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.budget = budget or Budget(reply_share=limits.reply_share, clock=clock)
        self._overall_next = 0.0
        self._chat_next: dict[int, float] = {}

    def overall_wait(self) -> float:
        own = max(0.0, self._overall_next - self.clock())
        return max(own, self.budget.outbox_wait())

    def chat_ready(self, chat_id: int) -> bool:
        return self._chat_next.get(chat_id, 0.0) <= self.clock()

    def chat_wait(self, chat_id: int) -> float:
        return max(0.0, self._chat_next.get(chat_id, 0.0) - self.clock())

    def going(self) -> None:
        """A message of the outbox goes now: its room in the budget, and its own pace (the
        next slot one interval after this one's, so the work between them does not slow it;
        after a pause, one interval from now)."""
        self.budget.take(reply=False)
        now = self.clock()
        interval = 1.0 / self.limits.overall_per_second
        slot = self._overall_next if self._overall_next > now - interval else now
        self._overall_next = slot + interval

    def sent(self, chat_id: int) -> None:
        """A message went to this chat (the outbox's, or a reply): the chat's gap starts."""
        now = self.clock()
        gap = (
            60.0 / self.limits.group_per_minute
            if chat_id < 0
            else 1.0 / self.limits.private_per_second
        )
        self._chat_next[chat_id] = now + gap
        if len(self._chat_next) > 50_000:  # forget chats whose pause is long over
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}

    def pause(self, seconds: float) -> None:
        self._overall_next = max(self._overall_next, self.clock() + seconds)

    def hold(self, chat_id: int, seconds: float) -> None:
        """Another worker wrote into this chat: it cools for `seconds` here too."""
        until = self.clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)


class ChatRateLimiter(BaseRateLimiter[int]):
    def __init__(
        self,
        *,
        overall_per_second: float = 30,
        group_per_minute: float = 20,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # Alone, the replies have the budget to themselves; in the bot they share the
        # outbox's (`budget_of`, set once the outbox sender exists).
        self._own_budget = (
            Budget(overall_per_second, reply_share=0.0, clock=clock, sleep=sleep)
            if overall_per_second
            else None
        )
        self.budget_of: Callable[[], Budget] | None = None
        # Several workers on one PostgreSQL: the deployment's budget too (shared_budget.py).
        self.shared_of: Callable[[], SharedBudget | None] | None = None
        self._sleep = sleep
        self._group_per_minute = group_per_minute
        self._limiters: dict[int | str, AsyncLimiter] = {}
        # When each paused chat may be written to again (clock seconds).
        self._paused_until: dict[int | str, float] = {}
        self._max_retries = max_retries
        self._clock = clock
        # Told of every message that went to a chat: the outbox then keeps that chat's gap.
        self.on_sent: Callable[[int], None] | None = None
        # For /metrics: messages that went, 429s met, and the seconds waited out for them.
        self.sent = 0
        self.limited = 0
        self.limited_seconds = 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def budget(self) -> Budget | None:
        """The overall budget replies take room in: the outbox's when shared."""
        return self.budget_of() if self.budget_of is not None else self._own_budget

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
        note_request(endpoint)  # this update's try is not to be repeated (conflicts.py)
        chat = _chat_of(data.get("chat_id"))
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._wait_out_pause(chat)
            try:
                if chat == NO_CHAT:
                    return await callback(*args, **kwargs)
                async with self._group_limiter(chat):
                    budget = self.budget()
                    if budget is not None:
                        await budget.reply_room()
                    shared = self.shared_of() if self.shared_of is not None else None
                    if shared is not None and _is_message(endpoint):
                        await shared.reply_room(chat if isinstance(chat, int) else None)
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
                shared = self.shared_of() if self.shared_of is not None else None
                if shared is not None and isinstance(chat, int):
                    await shared.hold(chat, seconds)  # every worker's sends wait it out
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
            await self._sleep(left)

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
