"""Telegram's limits for the whole deployment, when several workers share one PostgreSQL.

Each worker keeps its own `Budget` and `Pacer` (bot/telegram/ratelimit.py: replies first
within the process). Across workers the same limits are kept in the database
(storage/send_budget.py), on the server's clock, which every worker shares:
- 'outbox': every worker's outbox together at TRIOBOT_SEND_PER_SECOND (25/s): three
  workers send no faster than one would;
- 'all': Telegram's 30 messages a second. A reply takes room when there is any; the outbox
  only while the reply share stays free (TRIOBOT_REPLY_SHARE), as within one process;
- 'chat:<keyed hash of its id>': one message a second to a private chat, one every 3 s
  to a group (20 a minute). A reply may use a short burst (PRIVATE_BURST, below) and
  waits only beyond it, whichever worker sent the ones before; the outbox writes only into
  a chat whose bucket is empty, so it yields to replies. A 429 in any worker holds the
  chat for every worker (`hold`), as a worker's own limiter holds it for its own replies.
Two more round trips per message (~0.3 ms on a local network) buys a budget that holds
however many workers there are and whichever of them sends. On SQLite (one process) this is
not used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.telegram.ratelimit import TELEGRAM_PER_SECOND, SendLimits
from storage.send_budget import SendBudgetRepo

OVERALL = "all"
OUTBOX = "outbox"  # every worker's outbox together, at the configured pace
# The burst of replies a chat takes before they are paced: one fewer than Telegram tolerates
# (3 in a private chat, a minute's 20 in a group), the one left over absorbing the time
# between a worker taking room here and its message reaching Telegram.
PRIVATE_BURST = 2.0


class SharedBudget:
    def __init__(
        self,
        repo: SendBudgetRepo,
        limits: SendLimits,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        per_second: float = TELEGRAM_PER_SECOND,
    ) -> None:
        self.repo = repo
        self.limits = limits
        # None: the database server's clock (production); a simulated one in tests.
        self.clock = clock
        self.sleep = sleep
        self.per_second = per_second
        self.replies = 0
        self.outbox = 0

    def _at(self) -> float | None:
        return None if self.clock is None else self.clock()

    def _chat_rate(self, chat_id: int) -> float:
        if chat_id < 0:
            return self.limits.group_per_minute / 60.0
        return self.limits.private_per_second

    def _chat_burst(self, chat_id: int) -> float:
        return self.limits.group_per_minute - 1.0 if chat_id < 0 else PRIVATE_BURST

    async def chat_wait(self, chat_id: int) -> float:
        """The outbox: take the chat's room (0), or the seconds until it has some."""
        bucket = await self.repo.chat_bucket(chat_id)
        return await self.repo.room(bucket, self._chat_rate(chat_id), 1.0, at=self._at())

    async def outbox_wait(self) -> float:
        """The outbox: take room at the outbox's own pace (TRIOBOT_SEND_PER_SECOND, for the
        deployment, not per worker) and in the overall budget, leaving the reply share free
        (0), or the seconds until it may."""
        pace = self.limits.overall_per_second
        # A few in hand: a worker that wakes late does not lose the slot to the clock.
        wait = await self.repo.room(OUTBOX, pace, 3.0, at=self._at())
        if wait:
            return wait
        wait = await self.repo.room(
            OVERALL,
            self.per_second,
            self.per_second,
            keep_free=self.per_second * self.limits.reply_share,
            at=self._at(),
        )
        if not wait:
            self.outbox += 1
        return wait

    async def reply_room(self, chat_id: int | None) -> None:
        """A reply: wait (beyond the chat's burst) for room in its chat, then in the overall
        budget, and take both."""
        if chat_id is not None:
            bucket = await self.repo.chat_bucket(chat_id)
            rate, burst = self._chat_rate(chat_id), self._chat_burst(chat_id)
            while wait := await self.repo.room(bucket, rate, burst, at=self._at()):
                await self.sleep(wait)
        full = self.per_second
        while wait := await self.repo.room(OVERALL, self.per_second, full, at=self._at()):
            await self.sleep(wait)
        self.replies += 1

    async def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram said "too many requests" for this chat: every worker holds it `seconds`."""
        bucket = await self.repo.chat_bucket(chat_id)
        await self.repo.hold(
            bucket, seconds, self._chat_rate(chat_id), self._chat_burst(chat_id), at=self._at()
        )
