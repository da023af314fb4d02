"""The whole partnership loop, as the people in it live it: a trio raises a question in its
summary and agrees it; Dana, the researcher, answers by voice note and lets schools see it;
each member gets the answer at their allowed hours and the group at once; the next meeting's
invitation lists it; the next summary marks it discussed; the digests show it."""

from __future__ import annotations

import pytest

from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import at, form_trio, newest, run_schedule, utc
from tests.partnership_script import got, voices
from tests.test_partnership_trio import (
    GROUP,
    agree_all,
    attended,
    schedule,
    summary_after_the_meeting,
    write_summary,
)

pytestmark = pytest.mark.both_stores

QUESTION = "Is there research on whole-class feedback in primary?"


async def test_a_question_goes_round_the_whole_loop(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await form_trio(bot)
    alice, bruno, carmen, fran = trio.members
    dana = bot.person(805, "Dana")
    await join(dana, "DEMODANA")
    bot.api.add_group(GROUP, "Our trio", [801, 802, 803, 804])
    await alice.says("/link", chat_id=GROUP)

    # Tuesday 1 December: the meeting, then Alice's summary with a question; all agree it.
    await schedule(trio, "1/12/2026", "Feedback that moves learning on")
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await attended(trio)
    await alice.says("/summary")
    await alice.taps("Keep the planned focus")
    await write_summary(trio, QUESTION)
    await agree_all(bot, clock, trio)

    # 19:30 in London, 20:30 in Madrid: Dana answers by voice, shareable with schools.
    at(clock, utc(2026, 12, 1, 19, 30))
    await dana.says("/questions")
    assert QUESTION in dana.last_text and "Feedback that moves learning on" in dana.last_text
    await dana.taps("Answer 1")
    await dana.sends_voice(duration=40)
    await dana.says("yes")  # typed, not tapped: it may appear in the shared digest
    assert "Shared digest: Yes" in dana.last_text
    await dana.taps("Send")
    assert "Sent to the 4 members" in dana.last_text

    # London members and the group now; Carmen when her quiet hours end (07:00 Madrid).
    await run_schedule(bot, clock)
    for person in (alice, bruno, fran):
        assert got(person, "Dana answered your question") == 1 and voices(person) == 1
    assert got(dana, "Dana answered your question", GROUP) == 1
    assert got(carmen, "Dana answered your question") == 0
    at(clock, utc(2026, 12, 2, 6, 0))
    await run_schedule(bot, clock)
    assert got(carmen, "Dana answered your question") == 1 and voices(carmen) == 1
    await dana.says("/questions")
    assert "No open questions" in dana.last_text

    # That morning Alice invites the trio to its next meeting: the invitation lists the
    # answer, for each member and the group.
    at(clock, utc(2026, 12, 2, 9, 0))
    await schedule(trio, "12/1/2027", "Feedback, round two")
    await run_schedule(bot, clock)
    for person in trio.members:
        invitation = newest(person, "Feedback, round two").plain_text
        assert "Answers from the researchers" in invitation and QUESTION in invitation
    assert "Answers from the researchers" in (
        newest(alice, "Feedback, round two", chat_id=GROUP).plain_text
    )

    # The next summary starts with it; the trio discussed it.
    await summary_after_the_meeting(bot, clock, trio, "Feedback, round two")
    assert "Did you discuss this at the meeting?" in alice.last_text
    await alice.taps("Discussed")
    await alice.taps("done")  # last time's action
    await write_summary(trio, None)
    assert (
        await bot.db.fetchval("SELECT COUNT(*) FROM research_reply WHERE discussed_at IS NULL") == 0
    )

    # The meeting after lists nothing more.
    await schedule(trio, "9/2/2027", "Feedback, round three")
    await run_schedule(bot, clock)
    assert "Answers from the researchers" not in newest(bruno, "round three").plain_text

    # The digests of the week it was answered in show it: the researchers' with its figures,
    # the schools' with the question and the answer Dana let them see.
    clock.advance(10)
    researchers = await dana.says("/digest 2026-W49")
    page = next(m.document for m in researchers if m.document is not None)
    html = page[1].decode()
    assert "Median days to an answer" in html and "Answered this week" in html
    clock.advance(10)
    schools = await bruno.says("/digest 2026-W49")
    shared = next(m.document for m in schools if m.document is not None)
    assert "schools" in shared[0]
    shared_html = shared[1].decode()
    assert "Answers from the researchers" in shared_html
    assert QUESTION in shared_html and "voice note, 40 s" in shared_html
