"""A 429 for one chat holds up that chat only; PTB's AIORateLimiter would pause every chat.

In the simulated term (1,000 teachers) PTB's limiter paused the whole bot for 1.1 s twenty to
fifty times a minute, because somebody somewhere had typed faster than Telegram lets a bot
answer in one chat.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.telegram.ratelimit import ChatRateLimiter
from tests.harness import BotUnderTest, join


class Telegram:
    """A callback that says 429 to the first `limited` requests of the chats it is told to."""

    def __init__(self, limited: dict[int, int], retry_after: int = 1) -> None:
        self.limited = dict(limited)
        self.retry_after = retry_after
        self.done: list[tuple[int, float]] = []
        self.began = time.monotonic()

    async def __call__(self, chat: int) -> dict[str, Any]:
        if self.limited.get(chat, 0) > 0:
            self.limited[chat] -= 1
            raise RetryAfter(self.retry_after)
        self.done.append((chat, time.monotonic() - self.began))
        return {"ok": True}

    def when(self, chat: int) -> list[float]:
        return [t for c, t in self.done if c == chat]


async def send(limiter: ChatRateLimiter, telegram: Telegram, chat: int | None) -> Any:
    data: dict[str, Any] = {} if chat is None else {"chat_id": chat}
    return await limiter.process_request(
        telegram, (chat,), {}, "sendMessage", data, rate_limit_args=None
    )


async def test_a_429_pauses_its_chat_and_the_others_carry_on() -> None:
    limiter = ChatRateLimiter()
    telegram = Telegram({1: 1})
    await asyncio.gather(
        send(limiter, telegram, 1),
        send(limiter, telegram, 1),  # queued behind the pause in the same chat
        *(send(limiter, telegram, chat) for chat in range(2, 12)),
    )
    assert all(t < 0.5 for t in (telegram.when(c)[0] for c in range(2, 12)))
    assert len(telegram.when(1)) == 2
    assert min(telegram.when(1)) >= 1.0  # retry_after, then both went


async def test_a_chat_still_limited_after_the_retries_gets_the_error() -> None:
    limiter = ChatRateLimiter(max_retries=1)
    telegram = Telegram({1: 5}, retry_after=0)
    with pytest.raises(RetryAfter):
        await send(limiter, telegram, 1)
    assert telegram.limited[1] == 3  # tried twice: once and one retry
    assert limiter.paused(1) < 0.2


async def test_a_429_without_a_chat_pauses_only_requests_without_one() -> None:
    limiter = ChatRateLimiter()
    telegram = Telegram({})

    async def chatless(_: object) -> dict[str, Any]:
        if not telegram.done:
            telegram.done.append((0, time.monotonic() - telegram.began))
            raise RetryAfter(1)
        return await telegram(0)

    await asyncio.gather(
        limiter.process_request(chatless, (None,), {}, "getMe", {}, None),
        send(limiter, telegram, 7),
    )
    assert telegram.when(7)[0] < 0.5
    assert telegram.when(0)[-1] >= 1.0


async def test_private_chats_are_not_held_back_and_groups_are_paced() -> None:
    limiter = ChatRateLimiter(group_per_minute=60)  # one a second after a burst of 60
    telegram = Telegram({})
    await asyncio.gather(*(send(limiter, telegram, 5) for _ in range(10)))
    assert max(telegram.when(5)) < 0.5  # a quick exchange in a private chat is answered at once
    # A group's limiter fills: the 61st message in a minute waits for room.
    await asyncio.gather(*(send(limiter, telegram, -100) for _ in range(61)))
    assert max(telegram.when(-100)) >= 0.5


async def test_limiters_for_idle_groups_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.telegram.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "KEEP_LIMITERS", 4)
    limiter = ChatRateLimiter(group_per_minute=6000)  # a used limiter empties in 10 ms
    telegram = Telegram({})
    for group in range(-1, -20, -1):
        await send(limiter, telegram, group)
        await asyncio.sleep(0.02)
    assert len(limiter._limiters) <= 5


async def test_in_the_bot_one_persons_429_does_not_delay_anothers_reply(
    bot: BotUnderTest,
) -> None:
    alice, bruno = bot.person(601, "Alice"), bot.person(602, "Bruno")
    await join(alice, "DEMOALICE")
    await join(bruno, "DEMOBRUNO")
    bot.conversation.fail_on_refusal = False  # the 429 below is the point
    before = len(alice.inbox)
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    began = time.monotonic()
    alice_asks = asyncio.create_task(alice.says("/help"))
    await asyncio.sleep(0.05)  # Alice's reply is now waiting out its 429
    await bruno.says("/help")
    bruno_answered = time.monotonic() - began
    await alice_asks
    alice_answered = time.monotonic() - began
    assert "/meeting" in bruno.last_text
    assert bruno_answered < 1.0
    assert alice_answered >= 2.0
    assert len(alice.inbox) == before + 1 and "/meeting" in alice.last_text


async def test_a_reply_still_limited_after_the_retries_goes_through_the_outbox(
    bot: BotUnderTest,
) -> None:
    """Four 429s in a row (the limiter retries three times): Telegram took none of the reply,
    so it is queued, paced and sent by the outbox, keyboard and all — not lost."""
    bruno = bot.person(611, "Bruno")
    await bruno.says("/start DEMOBRUNO")
    await bruno.taps("Yes")
    await bruno.taps("English")
    bot.conversation.fail_on_refusal = False  # the 429s are the point
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", 1, times=4)
    await bruno.says("Bruno B.")
    assert "time zone" not in bruno.last_text  # not yet: it waits in the outbox
    name = await bot.db.fetchval(
        "SELECT json_extract(answers, '$.name') FROM flow_state f"
        " JOIN person p ON p.id = f.person_id WHERE p.telegram_id = 611"
    )
    assert name == "Bruno B."  # the answer was stored before any reply
    assert await bot.tick() == 0  # Telegram said to wait a second
    bot.clock.advance(1)
    assert await bot.tick() == 1
    assert "time zone" in bruno.last_text
    await bruno.taps("Europe/London")  # the queued reply kept its buttons
    assert "You're in" in bruno.last_text


async def test_replies_share_the_outbox_budget_overall_and_in_their_chat(
    bot: BotUnderTest,
) -> None:
    """Replies and scheduled messages share Telegram's budget: a reply takes its room in the
    outbox's budget, and the outbox waits a second before writing into the same chat."""
    bruno = bot.person(612, "Bruno")
    await join(bruno, "DEMOBRUNO")
    pacer = bot.services.sender.pacer
    budget = bot.services.sender.budget
    bot.clock.advance(5)  # everything from joining is a while ago
    assert pacer.overall_wait() == 0 and pacer.chat_ready(612)
    assert budget.level() == 0
    replies = budget.replies
    await bruno.says("/help")
    assert budget.replies == replies + 1  # the reply took its room in the shared budget
    assert budget.level() == pytest.approx(1)
    assert not pacer.chat_ready(612)  # and that chat's second
    assert pacer.chat_ready(613)
    # An edit is not a new message: it costs the outbox nothing.
    bot.clock.advance(5)
    limiter = bot.app.bot.rate_limiter
    assert isinstance(limiter, ChatRateLimiter)

    async def edited(_: object) -> dict[str, Any]:
        return {"ok": True}

    await limiter.process_request(
        edited, (None,), {}, "editMessageReplyMarkup", {"chat_id": 612}, None
    )
    assert pacer.overall_wait() == 0 and pacer.chat_ready(612)
