"""The researcher side where things go otherwise: a critical-friend comment on agreed work, a
teacher trying /questions, forged and stale buttons, a question answered meanwhile, a trio
dissolved meanwhile, and a lesson-study account's questions reaching /questions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.trio_membership import leave_trio
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join
from tests.meeting_script import at, newest, run_schedule, utc
from tests.partnership_script import (
    FOCUS,
    GROUP,
    QUESTION,
    TRIO,
    agreed_summary,
    an_agreed_question,
    at_the_preview,
    got,
    person_id,
    programme,
)
from tests.test_lesson_study import newest_with, people, settle
from tests.test_lesson_study_account import at_the_account

pytestmark = pytest.mark.both_stores


async def test_a_comment_on_an_agreed_summary_reaches_the_trio_and_changes_nothing(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await programme(bot)
    dana, trio = cast.dana, cast.trio
    summary_id = await agreed_summary(bot, clock, cast, by_taps=False)
    agreed = [tuple(r) for r in await bot.db.fetchall("SELECT * FROM summary")]
    items = [tuple(r) for r in await bot.db.fetchall("SELECT * FROM summary_item ORDER BY id")]

    at(clock, utc(2026, 12, 2, 12, 0))
    await dana.says("/comment")
    assert "Agreed in the last four weeks" in dana.last_text
    assert f"1. {TRIO} · DEMO-T1 · Tue 1 Dec 2026" in dana.last_text
    assert f"Meeting summary: {FOCUS}" in dana.last_text
    replies = await dana.taps("💬 1")
    shown = "\n".join(m.plain_text for m in replies)
    assert (
        "Agreed by Oldham–Stockport–Wigan trio" in shown
        and "your comment will not change it" in shown
    )
    assert f"Focus: {FOCUS}" in shown and QUESTION in shown  # the agreed text, whole
    assert "Your comment" in dana.last_text and "up to 1,000 characters" in dana.last_text
    await dana.says("x" * 1001)
    assert "this question takes up to 1,000" in dana.last_text
    await dana.says("What evidence would show this is working for the case pupils?")
    assert (
        "a comment from Dana" in dana.last_text
        and "This is what the trio will get" in dana.last_text
    )
    await dana.taps("Send")
    assert "Sent to the 4 members" in dana.last_text

    reply = await bot.db.fetchone("SELECT kind, summary_id, question_id FROM research_reply")
    assert reply is not None and tuple(reply) == ("comment", summary_id, None)
    await run_schedule(bot, clock)
    for person in trio.members:
        notice = newest(person, "a comment from Dana")
        assert "working for the case pupils" in notice.plain_text
        assert "stays exactly as you agreed it" in notice.plain_text
    # The agreed text is as it was.
    assert [tuple(r) for r in await bot.db.fetchall("SELECT * FROM summary")] == agreed
    assert [
        tuple(r) for r in await bot.db.fetchall("SELECT * FROM summary_item ORDER BY id")
    ] == items

    # Four weeks on, it is no longer offered.
    at(clock, utc(2026, 12, 30, 12, 0))
    await dana.says("/comment")
    assert "Nothing was agreed in the last four weeks" in dana.last_text


async def test_a_teacher_cannot_answer_or_comment_nor_use_a_researchers_buttons(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await an_agreed_question(bot, clock)
    dana, bruno = cast.dana, cast.trio.bruno
    for command in ("/questions", "/comment"):
        await bruno.says(command)
        assert "Sorry — that isn't something your role in the programme lets you do" in (
            bruno.last_text
        )
    await dana.says("/questions")
    listing = dana.last
    assert listing is not None
    answer = next(data for row in listing.buttons for label, data in row if "Answer 1" in label)
    # Bruno's client sends Dana's button data (forwarded, or guessed): refused, nothing opens.
    await bruno.taps_data(answer, message_id=listing.message_id)
    assert "Sorry — that isn't something your role" in bruno.last_text
    await bruno.taps_data("q:o:1:~AAAAAAAAAAA", message_id=listing.message_id)
    assert "isn't one I made" in (bruno.last_answer or {}).get("text", "")
    assert (
        await bot.db.fetchval("SELECT COUNT(*) FROM flow_state WHERE flow LIKE 'partnership%'") == 0
    )
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 0


async def test_a_question_answered_meanwhile_is_not_answered_twice(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await an_agreed_question(bot, clock)
    dana, eve = cast.dana, cast.eve
    await dana.says("/questions")
    listing = dana.last
    # The preview is on her screen; she goes for a coffee.
    await at_the_preview(cast, "There is: look at the EEF's feedback guidance.")

    await eve.says("/questions")
    await eve.taps("Answer 1")
    await eve.says("Yes — Hattie and Timperley (2007) is the place to start.")
    await eve.taps("Yes")
    await eve.taps("Send")
    assert "Sent to the 4 members" in eve.last_text

    # Dana sends hers: refused, Eve's answer shown, and her own words given back.
    await dana.taps("Send")
    told = dana.last_text
    assert "Someone answered this question while you were writing" in told
    assert "Eve answered: Yes — Hattie and Timperley (2007)" in told
    assert "Your answer, so it is not lost: There is: look at the EEF's feedback guidance." in told
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 1

    # The old Answer button on her list is stale now: said so, with the answer there is.
    assert listing is not None
    await dana.taps("Answer 1", message=listing)
    assert "This question has been answered already" in dana.last_text
    assert "Eve answered: Yes — Hattie" in dana.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 1


async def test_an_answer_to_a_trio_dissolved_meanwhile(bot: BotUnderTest, clock: FakeClock) -> None:
    """A roster import that takes every member out of the trio leaves the trio with no one:
    the answer is kept with the question and reaches the group; no member gets it."""
    cast = await an_agreed_question(bot, clock, group=True)
    dana, trio = cast.dana, cast.trio
    await at_the_preview(cast, "Start with the EEF's feedback guidance.")
    async with bot.db.transaction() as tx:
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        for member in await tx.fetchall("SELECT person_id FROM trio_member"):
            await leave_trio(tx, member[0], trio_id, clock.now, "roster import")
    await dana.taps("Send")
    assert "has no members left, so no member will get it; it went to the trio's group only" in (
        dana.last_text
    )
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 1
    await run_schedule(bot, clock)
    assert got(dana, "Dana answered your question", GROUP) == 1
    assert all(got(person, "Dana answered your question") == 0 for person in trio.members)


async def test_an_answer_to_a_question_gone_meanwhile_is_given_back(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await an_agreed_question(bot, clock)
    dana = cast.dana
    await dana.says("/questions")
    listing = dana.last
    await at_the_preview(cast, "Start with the EEF's feedback guidance.")
    # The trio's row went (research_question is ON DELETE CASCADE from it): its question too.
    async with bot.db.transaction() as tx:
        await tx.execute("DELETE FROM research_question")
    await dana.taps("Send")
    told = dana.last_text
    assert "This question's trio was removed from the programme meanwhile" in told
    assert "Your answer, so it is not lost: Start with the EEF's feedback guidance." in told
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 0
    assert listing is not None
    await dana.taps("Answer 1", message=listing)  # a stale button: a clear reply, nothing sent
    assert "This question is no longer there" in dana.last_text
    await dana.taps("Not for me", message=listing)
    assert "This question is no longer there" in dana.last_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE kind = 'partnership'") == 0


# --- a lesson-study account's questions ------------------------------------------------------
@pytest.fixture
async def cycle(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async for bot in bot_under_test(db_path, clock, lesson_study_stall_days=30):
        for user_id, name in ((101, "Alice"), (102, "Bruno"), (103, "Carmen"), (105, "Dana")):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}")
        yield bot


async def test_an_accounts_questions_reach_questions_once_it_is_agreed(cycle: BotUnderTest) -> None:
    bot = cycle
    await at_the_account(bot)
    alice, bruno, carmen = people(bot)
    dana = bot.person(105, "Dana")
    await carmen.says("/lessonstudy")
    await carmen.taps("Write the account")
    await carmen.says("A shared number line lets new arrivals show what they know.")
    await carmen.says("We moved the plenary question to the start.")
    await carmen.says("Draw before you talk.")
    assert "questions for the researchers" in carmen.last_text
    await carmen.says("Does drawing first help pupils new to English in other subjects?")
    assert "Question 1 noted" in carmen.last_text and "Tap Done when that's all" in carmen.last_text
    await carmen.sends_voice(duration=25)
    await carmen.taps("Done")
    preview = carmen.last_text
    assert "Questions for the researchers:" in preview and "voice note (25 s)" in preview
    await carmen.taps("Send to the trio")
    stored = await bot.db.fetchval("SELECT questions FROM lesson_study_account")
    assert json.loads(stored)[0].startswith("Does drawing first help")
    assert json.loads(stored)[1]["duration"] == 25
    await dana.says("/questions")
    assert "No open questions" in dana.last_text  # not agreed yet

    await settle(bot)
    for person in (alice, bruno):
        await person.taps("Approve", message=newest_with(person, "Approve"))
    assert await bot.db.fetchval("SELECT status FROM lesson_study_account") == "agreed"
    await dana.says("/questions")
    listing = dana.last_text
    assert "Does drawing first help pupils new to English" in listing
    assert "Lesson study: how to teach fractions as numbers on a line" in listing
    assert "voice note (25 s)" in listing
    # The spoken question is played when it is opened.
    await dana.taps("Answer 2")
    assert any(m.method == "sendVoice" for m in dana.inbox)
    assert "(just above)" in dana.last_text
    asker = await bot.db.fetchval("SELECT DISTINCT asked_by FROM research_question")
    assert asker == await person_id(bot, 103)


async def test_an_answer_waiting_for_someone_who_leaves_the_trio_is_dropped(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await an_agreed_question(bot, clock)
    dana, carmen = cast.dana, cast.trio.carmen
    at(clock, utc(2026, 12, 1, 19, 30))  # 20:30 in Madrid: Carmen's waits for the morning
    await at_the_preview(cast, "Start with the EEF's feedback guidance.")
    await dana.taps("Send")
    await run_schedule(bot, clock)
    carmen_id = await person_id(bot, 803)
    async with bot.db.transaction() as tx:  # the roster moves her out of the trio overnight
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        await leave_trio(tx, carmen_id, trio_id, clock.now, "roster import")
    at(clock, utc(2026, 12, 2, 6, 0))
    await run_schedule(bot, clock)
    assert got(carmen, "Dana answered your question") == 0
    assert got(cast.trio.bruno, "Dana answered your question") == 1
