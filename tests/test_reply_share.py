"""Replies keep a share of Telegram's budget while the outbox fans out (issue 22).

In the 1,000-teacher term, answers typed during a fan-out of prompts took a median 47 s to be
replied to: the outbox and the replies each paced themselves, together they overran the 30
messages a second, and a reply refused three times went to the back of the outbox's queue.
Now both take room in one `Budget`: the outbox leaves a share of it free and yields to a
reply that waits, and a reply the outbox must carry goes before the fan-out.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bench.fanout import DUE, is_prompt, seed_people
from bot.telegram.ratelimit import Budget, Pacer, SendLimits
from storage.db import Database
from storage.outbox import OutboxRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest
from tests.meeting_script import at


class Ticks:
    """Seconds on a fake clock; a sleep moves it on (and, when held, waits to be let go)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.hold: asyncio.Event | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.hold is not None:
            await self.hold.wait()


def budget(share: float = 0.2) -> tuple[Budget, Ticks]:
    ticks = Ticks()
    return Budget(reply_share=share, clock=ticks, sleep=ticks.sleep), ticks


def test_the_outbox_leaves_the_replies_share_of_the_bucket_free() -> None:
    shared, ticks = budget(0.2)
    outbox = 0
    while (wait := shared.outbox_wait()) < 0.001:  # (a microsecond's rounding aside)
        ticks.now += wait
        shared.take(reply=False)
        outbox += 1
    assert outbox == 24  # 0.8 of the 30 a second holds, all at one instant
    for _ in range(6):  # the replies' 6 go at once
        ticks.now += shared.reply_wait()
        shared.take(reply=True)
    assert ticks.now < 0.001
    assert shared.level() == pytest.approx(30, abs=0.01)
    assert shared.reply_wait() == pytest.approx(1 / 30, abs=0.001)  # Telegram's 30 are full


def test_with_nobody_answering_the_outbox_may_use_the_whole_budget() -> None:
    shared, ticks = budget(0.2)
    pacer = Pacer(SendLimits(overall_per_second=30), ticks, shared)
    sent = 0
    while ticks.now < 10:
        wait = pacer.overall_wait()
        if wait > 0:
            ticks.now += wait
        else:
            pacer.going()
            sent += 1
    assert sent == pytest.approx(300, abs=2)  # 30 a second: the reserve costs it nothing


def test_during_a_fan_out_replies_go_at_once_and_the_outbox_takes_what_they_leave() -> None:
    """A minute of an outbox paced at 25/s while people answer at 8 a second (more than the
    5 it leaves): no reply waits, the two never exceed Telegram's 30 a second, and once the
    bucket's slack is used the outbox gets the rest (22 a second)."""
    shared, ticks = budget(0.2)
    pacer = Pacer(SendLimits(overall_per_second=25), ticks, shared)
    replies = [k / 8 for k in range(8 * 60)]
    outbox_at = 0.0
    sent: list[float] = []
    outbox: list[float] = []
    while replies or outbox_at < 60:
        if replies and replies[0] <= outbox_at:
            ticks.now = replies.pop(0)
            assert shared.reply_wait() < 0.001  # room at once, however busy the outbox is
            shared.take(reply=True)
            sent.append(ticks.now)
        else:
            ticks.now = outbox_at
            wait = pacer.overall_wait()
            if wait == 0:
                pacer.going()
                sent.append(ticks.now)
                outbox.append(ticks.now)
                wait = pacer.overall_wait()
            outbox_at = ticks.now + wait
        assert shared.level() <= 30 + 1e-9  # within Telegram's bucket, always
    assert shared.replies == 480
    assert 215 <= sum(1 for t in outbox if t >= 50) <= 225  # ≈ 30 − 8 a second
    # In all, 30 a second and the one second's worth the bucket holds: what Telegram allows.
    assert len(sent) <= 30 * 60 + 30
    assert len(outbox) >= 22 * 60


async def test_a_reply_waiting_for_room_goes_before_the_outbox() -> None:
    """With no share kept, the outbox and the replies want the same room: a reply that waits
    for it holds the outbox back until the reply has gone."""
    shared, ticks = budget(0.0)
    for _ in range(30):
        shared.take(reply=False)
    ticks.hold = asyncio.Event()
    reply = asyncio.create_task(shared.reply_room())
    await asyncio.sleep(0)  # the reply now waits for room
    assert shared.waiting == 1
    assert shared.outbox_wait() > shared.reply_wait()  # the outbox waits for the reply
    ticks.hold.set()
    await reply
    assert shared.waiting == 0 and shared.replies == 1
    assert shared.reply_waited == pytest.approx(1 / 30, abs=1e-5)


def test_a_share_of_the_whole_budget_or_more_is_refused() -> None:
    with pytest.raises(ValueError, match="reply_share"):
        Budget(reply_share=1.0)


async def test_a_reply_the_outbox_carries_goes_before_a_fan_out_queued_earlier(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        for chat in range(100, 150):
            await OutboxRepo.enqueue(tx, chat, "reflection", {"text": "prompt"}, now=clock())
    clock.advance(1)
    async with db.transaction() as tx:
        await OutboxRepo.enqueue(tx, 7, "reply", {"text": "the answer to you"}, now=clock())
    rows = await OutboxRepo(db).sendable(clock(), 10)
    assert [r.chat_id for r in rows][:2] == [7, 100]


async def test_during_a_fan_out_answers_are_replied_to_at_once_and_the_outbox_drains(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    """300 teachers' prompts fan out; the first 40 to get theirs all answer in the same
    moment. Each answer is stored and replied to within a couple of (simulated) seconds while
    the prompts keep going out, nobody meets a 429, and every prompt arrives once."""
    ids = await seed_people(bot.db, 300)
    for uid in ids:
        bot.api.add_user(uid, f"T{uid}")
        bot.api.started.add(uid)
    await bot.services.reflections.ensure_rounds()
    await bot.services.scheduler.run_due()
    at(clock, DUE)
    assert (await bot.services.scheduler.run_due()).fired == 300
    drain = asyncio.create_task(bot.services.sender.drain())
    first = ids[:40]
    for _ in range(10_000):
        if all(bot.api.messages_in(uid) for uid in first):
            break
        await asyncio.sleep(0.001)
    people = [bot.person(uid, f"T{uid}") for uid in first]
    bot.conversation.step_seconds = 0  # they all answer in the same moment
    prompts_before = len(bot.api.sent)
    began = clock.monotonic()
    await asyncio.gather(*(p.says("We tried think-pair-share and it worked.") for p in people))
    took = clock.monotonic() - began
    went_meanwhile = len(bot.api.sent) - prompts_before - len(people)
    sent = await drain

    assert took < 2.0  # 40 replies at once, inside Telegram's budget, with prompts going out
    assert went_meanwhile > 0  # the outbox was not stopped for them either
    for person in people:
        assert "Saved as your answer" in person.last_text  # the reply, after the prompt
    answered = await bot.db.fetchval("SELECT COUNT(*) FROM reflection WHERE status = 'answered'")
    assert answered == 40
    assert sent == 300
    prompts = Counter(m.chat_id for m in bot.api.sent if is_prompt(m.text))
    assert sorted(prompts) == ids and set(prompts.values()) == {1}
    assert not bot.api.refusals
