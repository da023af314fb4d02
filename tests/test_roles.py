"""Each role sees its own bot: the welcome, /help and the command menu list only what the
person may use; /reflect offers what is waiting; a lead is asked before taking over a summary
she asked a member to write."""

from __future__ import annotations

import json

import pytest

from bot.standin.driver import SimPerson
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import Trio, at, form_trio, newest, run_schedule, utc

pytestmark = pytest.mark.both_stores

REFUSED = "isn't something your role"


def listed(text: str) -> list[str]:
    """The commands a /help or welcome lists, as `• /name — …` lines."""
    return [line.split()[1][1:] for line in text.splitlines() if line.startswith("• /")]


def menu(bot: BotUnderTest, person: SimPerson) -> list[str]:
    key = json.dumps({"chat_id": person.user_id, "type": "chat"}, sort_keys=True) + "|"
    return [c["command"] for c in bot.api._commands.get(key, [])]


async def test_a_researcher_is_welcomed_as_a_researcher(bot: BotUnderTest) -> None:
    dana = bot.person(804, "Dana")
    await join(dana, "DEMODANA", consent="No")
    welcome = dana.last_text
    assert "You're in" in welcome
    # Trios appear only as whose questions they answer: nothing speaks to them as a member.
    assert "/reflect" not in welcome and "your trio" not in welcome.lower()
    assert "/digest" in welcome and "short prompts" not in welcome
    answering = {"questions", "comment"}  # the trios' questions, and comments on agreed work
    assert set(listed(welcome)) == {"help", "digest", *answering, "settings", "privacy", "cancel"}
    assert set(menu(bot, dana)) == {
        "start", "help", "digest", *answering, "settings", "privacy", "cancel"
    }  # fmt: skip

    await dana.says("/help")
    shown = dana.last_text
    assert "researcher" in shown and "reflect" not in shown and "trio's" not in shown
    assert listed(shown) == ["digest", "questions", "comment", "settings", "privacy", "cancel"]
    await dana.says("/reflect")  # typed anyway: a kind no, nothing opened
    assert "reflections are for the teachers" in dana.last_text and "/digest" in dana.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM flow_state WHERE status = 'open'") == 0


async def test_a_coordinator_is_told_of_invites_and_status_not_of_reflecting(
    bot: BotUnderTest,
) -> None:
    eve = bot.person(805, "Eve")
    await join(eve, "DEMOEVE")
    assert "/reflect" not in eve.last_text and "/status — the programme" in eve.last_text
    await eve.says("/help")
    assert listed(eve.last_text) == [
        "digest", "status", "invite", "questions", "comment", "settings", "privacy", "cancel"
    ]  # fmt: skip


async def test_a_teachers_help_lists_only_what_works_and_each_command_does(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await form_trio(bot)
    bruno = trio.bruno
    assert "/reflect" in newest(bruno, "You're in").plain_text
    await bruno.says("/help")
    commands = listed(bruno.last_text)
    assert commands == [
        "meeting",
        "summary",
        "reflect",
        "digest",
        "lessonstudy",
        "settings",
        "privacy",
        "cancel",
    ]
    assert "status" not in commands and "invite" not in commands
    # Described as a member uses them: the lead's "schedule, move, cancel" is not his.
    assert "• /meeting — Your trio's meetings\n" in bruno.last_text + "\n"
    assert "schedule, move" not in bruno.last_text
    assert menu(bot, bruno) == ["start", "help", *commands]
    for command in commands:
        replies = await bruno.says(f"/{command}")
        shown = "\n".join(r.plain_text for r in replies)
        assert replies and REFUSED not in shown and "Sorry" not in shown, (command, shown)
        await bruno.says("/cancel")
    # What a teacher may not use is refused when typed, and was never listed.
    await bruno.says("/status")
    assert "Sorry" in bruno.last_text
    # The lead's /help names what only she may do.
    await trio.alice.says("/help")
    assert "status" in listed(trio.alice.last_text) and "invite" in listed(trio.alice.last_text)
    assert "schedule, move, cancel" in trio.alice.last_text


async def held_meeting(bot: BotUnderTest, clock: FakeClock) -> Trio:
    """A trio's meeting on Tue 1 Dec at 16:00, attended by Alice, Bruno and Carmen."""
    trio = await form_trio(bot)
    alice = trio.alice
    await alice.says("/meeting")
    await alice.taps("New meeting")
    await alice.says("1/12/2026")
    await alice.says("16:00")
    await alice.says("https://meet.example/trio-1")
    await alice.says("Feedback that moves learning on")
    await alice.taps("Send the invitations")
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance")
    for name in ("Alice", "Bruno", "Carmen"):
        await alice.taps(name)
    await alice.taps("Done")
    await run_schedule(bot, clock)
    return trio


async def test_reflect_offers_the_post_meeting_reflection_before_a_free_one(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await held_meeting(bot, clock)
    bruno, carmen = trio.bruno, trio.carmen
    assert newest(bruno, "After the trio meeting")
    # Bruno ignores the button and types /reflect later: the meeting's questions, not a free one.
    await bruno.says("/reflect")
    assert "take back to your school" in bruno.last_text
    assert "free reflection" not in bruno.last_text
    await bruno.says("Whole-class feedback sheets")
    await bruno.taps("Skip")
    rows = await bot.db.fetchall("SELECT take_back FROM meeting_reflection")
    assert len(rows) == 1 and "feedback sheets" in rows[0]["take_back"]
    # Answered: /reflect is a free reflection again.
    await bruno.says("/reflect")
    assert "free reflection" in bruno.last_text
    await bruno.says("/cancel")

    # Carmen has this week's prompt waiting too: she is asked which first.
    await bot.run_until(utc(2026, 12, 2, 15, 0))
    week = await bot.db.fetchval(
        "SELECT COUNT(*) FROM reflection r JOIN person p ON p.id = r.person_id"
        " WHERE p.telegram_id = 803 AND r.status = 'delivered'"
    )
    assert week == 1  # this week's, delivered at her reminder time
    await carmen.says("/reflect")
    assert "Which first?" in carmen.last_text
    await carmen.taps("After the trio meeting")
    assert "take back to your school" in carmen.last_text


async def test_a_lead_is_asked_before_taking_over_a_summary_she_delegated(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await held_meeting(bot, clock)
    alice, bruno = trio.alice, trio.bruno
    await alice.taps("Ask Bruno", message=newest(alice, "who will write up the summary"))
    assert "asked Bruno to write the summary" in alice.last_text
    await run_schedule(bot, clock)
    asked = newest(bruno, "asked you to write the summary")

    await alice.says("/summary")
    assert "You asked Bruno to write the summary" in alice.last_text
    await alice.taps("Leave it to Bruno")
    assert "Bruno writes it" in alice.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM flow_state WHERE status = 'open'") == 0

    await alice.says("/summary")
    await alice.taps("Yes, I'll write it")
    assert "What was the focus" in alice.last_text
    await run_schedule(bot, clock)
    assert "writing the summary" in newest(bruno, "after all").plain_text
    # Bruno's old button no longer opens it, and nothing of his is started.
    await bruno.taps("Start the summary", message=asked)
    assert "someone else's" in (bruno.last_answer or {}).get("text", "")
    # A teacher's /summary: who is writing it.
    await trio.carmen.says("/summary")
    assert "hasn't been written yet" in trio.carmen.last_text
