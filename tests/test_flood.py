"""Flood control: one person flooding the bot is slowed, with one kind word a minute; what
they send within the limit is handled as usual, and everyone else is answered at once."""

from __future__ import annotations

import itertools
import json

from bot.standin.world import SentMessage
from bot.telegram.flood import WARN_EVERY, FloodGuard
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join

SLOW_DOWN = "faster than I can take them in"


def test_a_bucket_gives_a_burst_then_the_rate_and_keeps_people_apart() -> None:
    clock = FakeClock()
    flood = FloodGuard(per_minute=30, burst=10, clock=clock)
    assert all(flood.admit(1) for _ in range(10))
    assert not flood.admit(1)
    assert flood.admit(2)  # someone else is untouched
    clock.advance(2)  # 30 a minute: one more every 2 seconds
    assert flood.admit(1) and not flood.admit(1)
    assert flood.should_warn(1) and not flood.should_warn(1)
    clock.advance(WARN_EVERY)
    assert flood.should_warn(1)
    clock.advance(3600)  # a long pause refills to the burst, not beyond
    assert sum(flood.admit(1) for _ in range(50)) == 10


def warnings(messages: list[SentMessage]) -> list[SentMessage]:
    return [m for m in messages if SLOW_DOWN in m.plain_text]


async def test_one_person_floods_and_another_is_answered_promptly(bot: BotUnderTest) -> None:
    alice, bruno = bot.person(101, "Alice"), bot.person(202, "Bruno")
    await join(alice, "DEMOALICE")
    await alice.says("/reflect")
    assert "free reflection" in alice.last_text
    before = len(alice.inbox)
    # Alice sends 200 messages, one a second: twice the default 30 a minute.
    bot.conversation.step_seconds = 1.0
    bruno_actions = iter(
        [
            lambda: bruno.says("/start DEMOBRUNO"),
            lambda: bruno.taps("Yes"),
            lambda: bruno.taps("English"),
            lambda: bruno.taps("Bruno"),
            lambda: bruno.taps("Europe/London"),
            lambda: bruno.says("/reflect"),
            lambda: bruno.says("Talk partners helped the quiet ones."),
        ]
    )
    handled = dropped = 0
    for i in range(200):
        replies = await alice.says(f"flood {i}")
        if warnings(replies):
            assert len(replies) == 1
            dropped += 1
        elif replies:
            assert len(replies) == 1  # one answer per message let through
            handled += 1
        else:
            dropped += 1
        if i % 25 == 24:
            action = next(bruno_actions, None)
            if action is not None:
                got = await action()
                assert got, "Bruno waited for an answer"
    assert bot.services.flood is not None
    assert dropped == bot.services.flood.dropped and handled + dropped == 200
    # Within the limit: the burst of 10 plus one every two seconds, over about 200 s.
    assert 100 <= handled <= 125
    flood_messages = alice.inbox[before:]
    warned = warnings(flood_messages)
    assert 1 <= len(warned) <= 4
    assert all(b.date - a.date >= WARN_EVERY for a, b in itertools.pairwise(warned))
    # Her first message answered the reflection she opened: within the limit, kept.
    answers = await bot.db.fetchall(
        "SELECT r.answer FROM reflection r JOIN person p ON p.id = r.person_id"
        " WHERE p.telegram_id = ? AND r.status = 'answered'",
        (101,),
    )
    assert [json.loads(a[0]) for a in answers] == ["flood 0"]
    # Bruno joined and reflected, every step answered, none slowed.
    bruno_answer = await bot.db.fetchval(
        "SELECT r.answer FROM reflection r JOIN person p ON p.id = r.person_id"
        " WHERE p.telegram_id = ? AND r.status = 'answered'",
        (202,),
    )
    assert json.loads(bruno_answer) == "Talk partners helped the quiet ones."
    assert not warnings(bruno.inbox)
    # A minute's pause and Alice is back to normal: what she sends is taken again.
    bot.clock.advance(60)
    bot.conversation.step_seconds = 2.0
    await alice.says("/reflect")
    await alice.says("After the pause: mini whiteboards.")
    answers = await bot.db.fetchall(
        "SELECT r.answer FROM reflection r JOIN person p ON p.id = r.person_id"
        " WHERE p.telegram_id = ? AND r.status = 'answered' ORDER BY r.id",
        (101,),
    )
    assert [json.loads(a[0]) for a in answers] == [
        "flood 0",
        "After the pause: mini whiteboards.",
    ]


async def test_a_flood_of_button_taps_is_slowed_too(bot: BotUnderTest) -> None:
    alice = bot.person(101, "Alice")
    first = await alice.says("/start DEMOALICE")
    assert first
    bot.conversation.step_seconds = 0.0  # all at once
    for _ in range(30):
        await alice.taps_data("f:1:1:forged~AAAAAAAAAAA", message_id=first[0].message_id)
    assert bot.services.flood is not None
    assert bot.services.flood.dropped == 30 + 1 - 10  # the burst of 10 went through
    assert len(warnings(alice.inbox)) == 1


async def test_in_a_group_the_flooder_is_dropped_without_a_word_to_the_group(
    bot: BotUnderTest,
) -> None:
    group = -100777
    bot.api.add_group(group, "Our trio", [101, 202])
    bot.api.group_privacy = False  # so the bot sees every message
    alice, bruno = bot.person(101, "Alice"), bot.person(202, "Bruno")
    bot.conversation.step_seconds = 0.0
    for i in range(30):
        await alice.says(f"chatter {i}", chat_id=group)
    assert bot.services.flood is not None and bot.services.flood.dropped == 20
    assert bot.api.messages_in(group) == [] and alice.inbox == []
    assert await bruno.says("/start DEMOBRUNO")  # Bruno, in private, is answered at once
