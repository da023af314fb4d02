"""The researcher side of the partnership loop, as Dana (researcher) and Eve (coordinator) live
it: the trio's agreed question in /questions, answered by voice, reaching each member at their
allowed hours and the trio's group; "Not for me"; typed answers; filters and pages."""

from __future__ import annotations

import json

from tests.conftest import FakeClock
from tests.harness import BotUnderTest
from tests.meeting_script import at, newest, run_schedule, utc
from tests.partnership_script import (
    FOCUS,
    GROUP,
    QUESTION,
    TRIO,
    agreed_summary,
    an_agreed_question,
    got,
    programme,
    voices,
)


async def test_an_agreed_question_is_answered_by_voice_and_reaches_the_trio(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await programme(bot, group=True)
    dana, trio = cast.dana, cast.trio
    await agreed_summary(bot, clock, cast)
    assert await bot.db.fetchval("SELECT status FROM summary") == "agreed"
    question = await bot.db.fetchone("SELECT status, body FROM research_question")
    assert question is not None and question["status"] == "open"
    assert json.loads(question["body"]) == QUESTION

    # 19:30 in London is 20:30 in Madrid: Carmen's quiet hours have begun.
    at(clock, utc(2026, 12, 1, 19, 30))
    await dana.says("/questions")
    listing = dana.last_text
    assert "Open questions from the trios" in listing
    assert f"1. {TRIO} · DEMO-T1 · Tue 1 Dec 2026" in listing
    assert QUESTION in listing and f"Meeting focus: {FOCUS}" in listing

    await dana.taps("Answer 1")
    assert QUESTION in dana.last_text and "type it or send a voice note" in dana.last_text
    await dana.sends_voice(duration=40)
    assert "shared digest for schools" in dana.last_text
    await dana.taps("No")
    preview = dana.last_text
    assert "This is what the trio will get" in preview
    assert "Dana answered your question" in preview and "🎤 voice note (40 s)" in preview
    assert "Shared digest: No" in preview
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 0  # not yet
    replies = await dana.taps("Send")
    texts = [m.plain_text for m in replies]
    assert any("Your answer to Oldham–Stockport–Wigan trio is stored" in t for t in texts)
    assert (
        f"Sent to the 4 members of {TRIO} and its group; they get it at their next allowed time."
        in dana.last_text
    )
    reply = await bot.db.fetchone("SELECT kind, body, shareable FROM research_reply")
    assert reply is not None and (reply["kind"], reply["shareable"]) == ("answer", 0)
    assert json.loads(reply["body"])["duration"] == 40
    assert await bot.db.fetchval("SELECT status FROM research_question") == "answered"

    # The three in London and the group now; Carmen in Madrid at 07:00 her time.
    await run_schedule(bot, clock)
    for person in (trio.alice, trio.bruno, trio.fran):
        notice = newest(person, "Dana answered your question")
        assert QUESTION in notice.plain_text and "voice note (40 s)" in notice.plain_text
        assert person.last is not None and person.last.method == "sendVoice"  # playable
    assert got(dana, "Dana answered your question", GROUP) == 1 and voices(dana, GROUP) == 1
    assert got(trio.carmen, "Dana answered your question") == 0
    at(clock, utc(2026, 12, 2, 5, 59))
    await run_schedule(bot, clock)
    assert got(trio.carmen, "Dana answered your question") == 0
    at(clock, utc(2026, 12, 2, 6, 0))
    await run_schedule(bot, clock)
    assert got(trio.carmen, "Dana answered your question") == 1 and voices(trio.carmen) == 1

    # Nothing is open now, and /questions says so kindly.
    await dana.says("/questions")
    assert "No open questions" in dana.last_text
    assert "1 question has been answered" in dana.last_text


async def test_a_summary_the_lead_confirms_opens_its_question_too(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await programme(bot)
    alice, dana = cast.trio.alice, cast.dana
    await agreed_summary(bot, clock, cast, approvers=("Bruno",))
    await dana.says("/questions")
    assert "No open questions" in dana.last_text  # a draft's question is not open yet
    assert "When a trio agrees a question for the researchers" in dana.last_text  # none yet
    at(clock, utc(2026, 12, 7, 9, 0))  # past the five days (a Sunday): told on Monday
    await run_schedule(bot, clock)
    await alice.taps("Confirm as agreed", message=newest(alice, "The summary is still waiting"))
    row = await bot.db.fetchone("SELECT status, agreed_how FROM summary")
    assert row is not None and tuple(row) == ("agreed", "lead")
    await dana.says("/questions")
    assert QUESTION in dana.last_text


async def test_not_for_me_passes_the_question_to_the_other_researcher(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await an_agreed_question(bot, clock)
    dana, eve = cast.dana, cast.eve
    await dana.says("/questions")
    await dana.taps("Not for me")
    assert "Passed to Eve, who has been told" in dana.last_text
    await dana.says("/questions")
    assert "No open questions" in dana.last_text  # the passer no longer sees it

    await run_schedule(bot, clock)
    passed = newest(eve, "Dana passed you a question")
    assert QUESTION in passed.plain_text
    await eve.says("/questions")
    assert QUESTION in eve.last_text
    await eve.taps("Open", message=passed)
    assert "Your answer" in eve.last_text and QUESTION in eve.last_text

    # Eve passes it too: no one else is left, so it goes back to everyone, and she is told.
    await eve.says("/cancel")
    await eve.says("/questions")
    await eve.taps("Not for me")
    assert "back with all the researchers and coordinators" in eve.last_text
    row = await bot.db.fetchone("SELECT status, routed_to FROM research_question")
    assert row is not None and (row["status"], row["routed_to"]) == ("open", None)
    assert await bot.db.fetchval("SELECT COUNT(*) FROM question_pass") == 2


async def test_typed_answers_instead_of_taps_and_changing_it(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await an_agreed_question(bot, clock)
    eve = cast.eve
    await eve.says("/questions")
    await eve.taps("Answer 1")
    # Too long an answer gets the engine's usual refusal; nothing is stored or sent.
    await eve.says("Feedback " * 400)
    assert "this question takes up to 3,000" in eve.last_text and "nothing is lost" in eve.last_text
    await eve.says("Try the EEF guidance report on feedback, recommendation 3.")
    await eve.says("yes")  # may it appear in the shared digest
    assert "Shared digest: Yes" in eve.last_text
    await eve.taps("Change it")
    assert "Until now: Try the EEF guidance" in eve.last_text
    await eve.says("See the EEF guidance report on feedback (2021), recommendation 3.")
    await eve.says("yes")
    assert "(2021)" in eve.last_text  # the preview shows the new text
    await eve.says("send")
    assert "Sent to the 4 members" in eve.last_text
    reply = await bot.db.fetchone("SELECT body, shareable FROM research_reply")
    assert reply is not None and reply["shareable"] == 1
    assert "(2021)" in json.loads(reply["body"])
    assert await bot.db.fetchval("SELECT COUNT(*) FROM research_reply") == 1


async def test_filters_by_trio_and_local_authority(bot: BotUnderTest, clock: FakeClock) -> None:
    cast = await an_agreed_question(bot, clock)
    dana = cast.dana
    for given in ("DEMO-T1", "demo-t1", TRIO, "Oldham", "Wigan", "Stockport"):
        await dana.says(f"/questions {given}")
        assert QUESTION in dana.last_text, given
    await dana.says("/questions Oldham")
    assert "Open questions from the trios — Oldham" in dana.last_text
    await dana.says("/questions Narnia")
    nothing = dana.last_text
    assert "I found no trio or local authority called “Narnia”" in nothing
    assert f"Trios with open questions: {TRIO} (DEMO-T1)" in nothing
    assert "Local authorities: Oldham, Stockport, Wigan" in nothing
    await dana.taps("Wigan")  # or tapped
    assert "Open questions from the trios — Wigan" in dana.last_text
    assert QUESTION in dana.last_text


async def test_more_questions_than_fit_a_message_come_in_pages(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    cast = await programme(bot)
    dana = cast.dana
    asked = "what does the research say about this? " * 11
    long = [f"Question {n}: {asked}" for n in range(2, 13)]
    await agreed_summary(bot, clock, cast, more=long, by_taps=False)
    await dana.says("/questions Oldham")
    first = dana.last
    assert first is not None and "1. " in first.plain_text and "5. " in first.plain_text
    assert "6. " not in first.plain_text
    assert len(first.plain_text) <= 4096
    assert all(len(data.encode()) <= 64 for row in first.buttons for _, data in row)
    await dana.taps("Newer", message=first)
    second = dana.last
    assert second is not None and "6. " in second.plain_text and "10. " in second.plain_text
    assert "— Oldham" in second.plain_text  # the filter travels with the page
    await dana.taps("Newer", message=second)
    third = dana.last
    assert third is not None and "11. " in third.plain_text and "12. " in third.plain_text
    assert not any("Newer" in label for row in third.buttons for label, _ in row)
    await dana.taps("Older", message=third)
    assert "6. " in dana.last_text
    # Answering number 7 from the second page opens that question, whole.
    await dana.taps("Answer 7", message=second)
    assert "Question 7:" in dana.last_text and "Question 6:" not in dana.last_text
