"""The partnership loop from the trio's side: a researcher's answer is listed in the next
meeting's invitation (to each member and the trio's group), the next summary asks whether the
trio discussed it, and once it did, later invitations no longer list it."""

from __future__ import annotations

import json

from bot.meetings.researcher_answers import mark_discussed, to_discuss
from storage.db import to_db_time
from storage.invites import InviteRepo
from storage.programme import ProgrammeRepo
from storage.questions import QuestionRepo, ReplyRepo
from storage.trio_membership import leave_trio
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import Trio, at, form_trio, newest, run_schedule, utc

GROUP = -100555


async def schedule(trio: Trio, day: str, focus: str) -> None:
    alice = trio.alice
    await alice.says("/meeting")
    await alice.taps("New meeting")
    await alice.says(day)
    await alice.says("16:00")
    await alice.taps("Skip")  # no link
    await alice.says(focus)
    await alice.taps("Send the invitations")
    assert "Invitations are on their way" in alice.last_text


async def attended(trio: Trio) -> None:
    await trio.alice.taps("Record attendance", message=newest(trio.alice, "Who took part?"))
    await trio.alice.taps("Alice")
    await trio.alice.taps("Done")


async def summary_after_the_meeting(
    bot: BotUnderTest, clock: FakeClock, trio: Trio, focus: str
) -> None:
    """The meeting of 12 January 2027 is over: attendance, then the lead's /summary."""
    at(clock, utc(2027, 1, 12, 17, 0))
    await run_schedule(bot, clock)
    await attended(trio)
    await trio.alice.says("/summary")
    await trio.alice.says(focus)


async def write_summary(trio: Trio, question: str | None) -> None:
    """The lead's summary, from its focus to "Send"; the replies' questions come after the
    focus and are answered by the caller before this goes on."""
    alice = trio.alice
    for _ in range(3):  # what each school shared: skipped
        await alice.taps("Skip")
    await alice.taps("Skip")  # evidence
    await alice.taps("Skip")  # no barriers
    await alice.says("Try the feedback sheets in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/3/2027")
    await alice.taps("That's all")
    if question is None:
        await alice.taps("Skip")
    else:
        await alice.says(question)
    await alice.taps("Skip")  # anything else
    await alice.taps("Send to the trio")
    assert "Sent to the trio for agreement" in alice.last_text


async def agree_all(bot: BotUnderTest, clock: FakeClock, trio: Trio) -> int:
    await run_schedule(bot, clock)
    for person in (trio.bruno, trio.carmen, trio.fran):
        await person.taps("Approve", message=newest(person, "Draft summary"))
    summary_id: int = await bot.db.fetchval("SELECT MAX(id) FROM summary")
    assert (
        await bot.db.fetchval("SELECT status FROM summary WHERE id = ?", (summary_id,)) == "agreed"
    )
    return summary_id


async def dana_answers(bot: BotUnderTest, summary_id: int, clock: FakeClock, body: object) -> int:
    """What the researchers' answer service records (QA's send_reply): an answer from Dana,
    shared, to the summary's question."""
    async with bot.db.transaction() as tx:
        # Agreement copies the questions (bot/summaries/agreement.py); once, however often.
        await QuestionRepo.from_summary(tx, summary_id, clock.now)
        question_id = await tx.fetchval(
            "SELECT id FROM research_question WHERE summary_id = ?", (summary_id,)
        )
    return await _reply(bot, clock, body, question_id=question_id, shareable=True)


async def _reply(
    bot: BotUnderTest, clock: FakeClock, body: object, *, question_id: int | None = None,
    summary_id: int | None = None, shareable: bool = False,
) -> int:  # fmt: skip
    """An answer (to `question_id`) or a comment (on `summary_id`) from Dana to DEMO-T1."""
    async with bot.db.transaction() as tx:
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        dana = await tx.fetchval("SELECT id FROM person WHERE display_name = 'Dana'")
        return await ReplyRepo.add(
            tx,
            kind="answer" if question_id is not None else "comment",
            trio_id=trio_id,
            author_id=dana,
            body=body,
            now=clock.now,
            question_id=question_id,
            summary_id=summary_id,
            shareable=shareable,
        )


async def test_an_answer_is_listed_asked_about_and_marked_discussed(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await form_trio(bot)
    alice, bruno, carmen, fran = trio.members
    await join(bot.person(805, "Dana"), "DEMODANA")  # the researcher
    bot.api.add_group(GROUP, "Our trio", [801, 802, 803, 804])
    await alice.says("/link", chat_id=GROUP)

    # A first meeting, whose summary asks the researchers something; nothing to list yet.
    await schedule(trio, "1/12/2026", "Feedback that moves learning on")
    await run_schedule(bot, clock)
    assert "Answers from the researchers" not in newest(bruno, "Trio meeting").plain_text
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await attended(trio)
    await alice.says("/summary")
    await alice.taps("Keep the planned focus")
    assert "From the researchers" not in alice.last_text  # nothing sent to the trio yet
    await write_summary(trio, "Is there research on whole-class feedback in primary?")
    summary_id = await agree_all(bot, clock, trio)

    # Dana answers by voice note; then the next meeting is scheduled.
    reply_id = await dana_answers(bot, summary_id, clock, {"voice": "dana-voice", "duration": 40})
    await schedule(trio, "12/1/2027", "Feedback, round two")
    await run_schedule(bot, clock)
    for person in trio.members:
        invite = newest(person, "Feedback, round two").plain_text
        assert "Answers from the researchers" in invite
        assert "Is there research on whole-class feedback in primary?" in invite
        assert "voice note (40 s) — Dana" in invite
    group_invite = newest(alice, "Feedback, round two", chat_id=GROUP).plain_text
    assert "Answers from the researchers" in group_invite and "voice note (40 s)" in group_invite

    # The next summary asks, after its focus, whether the trio discussed it.
    await summary_after_the_meeting(bot, clock, trio, "Feedback, round two")
    asked = alice.last_text
    assert "From the researchers (1 of 1)" in asked
    assert "Did you discuss this at the meeting?" in asked and "voice note (40 s)" in asked
    await alice.says("discussed")  # typed, not tapped
    assert "Action 1 of 1 from last time" in alice.last_text
    # Back to it: the answer shows again, and a changed mind is kept.
    await alice.says("/back")
    assert "Did you discuss this at the meeting?" in alice.last_text
    await alice.taps("Not yet")
    await alice.says("/back")
    await alice.taps("Discussed")
    assert (
        await bot.db.fetchval("SELECT discussed_at FROM research_reply WHERE id = ?", (reply_id,))
        is None
    )  # marked when the summary is sent, with the summary it was marked in
    await alice.taps("done")  # last time's action
    await write_summary(trio, None)
    row = await bot.db.fetchone(
        "SELECT r.discussed_at, p.display_name AS who, r.discussed_in FROM research_reply r"
        " JOIN person p ON p.id = r.discussed_by WHERE r.id = ?",
        (reply_id,),
    )
    assert row is not None and row["who"] == "Alice" and row["discussed_at"] is not None
    newest_summary = await bot.db.fetchval("SELECT MAX(id) FROM summary")
    assert row["discussed_in"] == newest_summary != summary_id

    # The meeting after that lists nothing: the trio has discussed it.
    await schedule(trio, "9/2/2027", "Feedback, round three")
    await run_schedule(bot, clock)
    for person in (alice, carmen, fran):
        assert "Answers from the researchers" not in newest(person, "round three").plain_text
    assert "Answers from the researchers" not in (
        newest(alice, "round three", chat_id=GROUP).plain_text
    )


async def _agreed_question(bot: BotUnderTest, clock: FakeClock, question: str) -> tuple[int, int]:
    """An agreed summary of trio DEMO-T1 asking `question`, copied as agreement copies it:
    (summary id, question id)."""
    now = to_db_time(clock.now)
    async with bot.db.transaction() as tx:
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        alice = await tx.fetchval("SELECT id FROM person WHERE display_name = 'Alice'")
        meeting = await tx.execute(
            "INSERT INTO meeting (trio_id, starts_at, time_zone, focus, status, created_at,"
            " updated_at) VALUES (?, ?, 'Europe/London', 'Talk partners', 'held', ?, ?)",
            (trio_id, now, now, now),
        )
        summary = await tx.execute(
            "INSERT INTO summary (meeting_id, trio_id, author_id, status, focus, circulated_at,"
            " agree_by, agreed_at, created_at, updated_at)"
            " VALUES (?, ?, ?, 'agreed', ?, ?, ?, ?, ?, ?)",
            (meeting, trio_id, alice, json.dumps("Talk partners"), now, now, now, now, now),
        )
        await tx.execute(
            "INSERT INTO summary_item (summary_id, kind, body, position)"
            " VALUES (?, 'question', ?, 0)",
            (summary, json.dumps(question)),
        )
        (question_id,) = await QuestionRepo.from_summary(tx, summary, clock.now)
    return summary, question_id


async def test_the_trio_as_it_stands_at_the_invitation_hears_the_replies(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await form_trio(bot)
    _, bruno, carmen, fran = trio.members
    await join(bot.person(805, "Dana"), "DEMODANA")
    summary, question = await _agreed_question(bot, clock, "Do <talk> partners & pairs help?")
    await _reply(bot, clock, "Yes — " + "the evidence is encouraging. " * 20, question_id=question)
    for words in ("What did the case pupils say?", "Which <b>lessons</b> worked?", "And Y6?"):
        await _reply(bot, clock, words, summary_id=summary)
    # Bruno left the trio after the answers were sent; Gil is invited and joins later.
    async with bot.db.transaction() as tx:
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        bruno_id = await tx.fetchval("SELECT id FROM person WHERE display_name = 'Bruno'")
        await leave_trio(tx, bruno_id, trio_id, clock.now, "moved school")
        school = await tx.fetchval("SELECT id FROM school WHERE ref = 'DEMO-S'")
        await InviteRepo.create(tx, role="teacher", school_id=school, trio_id=trio_id, code="GIL01")

    await schedule(trio, "12/1/2027", "Talk partners, round two")
    await run_schedule(bot, clock)
    invite = newest(carmen, "Talk partners, round two")
    text = invite.plain_text
    assert "Do <talk> partners & pairs help?" in text  # escaped in the HTML, shown as typed
    assert "&lt;talk&gt;" in invite.text and "<b>lessons</b>" not in invite.text
    assert "the evidence is encouraging. the evidence" in text and "…" in text
    assert len(text) < 2000  # cut short: the answers reached them in full already
    assert "What did the case pupils say?" in text and "On “Talk partners”:" in text
    assert "And Y6?" not in text and "…and 1 more." in text
    assert "Answers from the researchers" in newest(fran, "round two").plain_text
    assert not [m for m in bruno.inbox if "round two" in m.plain_text]  # he has left

    gil = bot.person(806, "Gil")
    await join(gil, "GIL01")
    await run_schedule(bot, clock)
    assert "Do <talk> partners & pairs help?" in newest(gil, "round two").plain_text


async def test_another_trios_lead_can_neither_tap_nor_mark_this_trios_replies(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await form_trio(bot)
    alice = trio.alice
    await join(bot.person(805, "Dana"), "DEMODANA")
    async with bot.db.transaction() as tx:
        other = await ProgrammeRepo.upsert_trio(
            tx, ref="T-OTHER", kind="teachers", name="Another trio"
        )
        await InviteRepo.create(tx, role="trio_lead", school_id=None, trio_id=other, code="OLGAX1")
    olga = bot.person(807, "Olga")
    await join(olga, "OLGAX1")
    summary, question = await _agreed_question(bot, clock, "Is there research on talk partners?")
    reply_id = await _reply(bot, clock, "Yes, plenty", question_id=question)

    await schedule(trio, "12/1/2027", "Talk partners, round two")
    await summary_after_the_meeting(bot, clock, trio, "Talk partners, round two")
    asked = alice.last
    assert asked is not None and "Did you discuss this at the meeting?" in asked.plain_text
    discussed = next(data for row in asked.buttons for label, data in row if "Discussed" in label)

    # Alice's button, from Olga's chat: not her conversation; altered, not one the bot made.
    await olga.taps_data(discussed, message_id=asked.message_id)
    assert "someone else's conversation" in (olga.last_answer or {}).get("text", "")
    payload, _, mac = discussed.rpartition("~")
    await olga.taps_data(payload.rsplit(":", 1)[0] + ":o1~" + mac, message_id=asked.message_id)
    assert "isn't one I made" in (olga.last_answer or {}).get("text", "")
    # And the rule itself: only a member marks, and only their own trio's replies.
    async with bot.db.transaction() as tx:
        olga_id = await tx.fetchval("SELECT id FROM person WHERE display_name = 'Olga'")
        alice_id = await tx.fetchval("SELECT id FROM person WHERE display_name = 'Alice'")
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        assert await mark_discussed(tx, olga_id, trio_id, summary, [reply_id], clock.now) == []
        assert await mark_discussed(tx, olga_id, other, summary, [reply_id], clock.now) == []
        assert await mark_discussed(tx, alice_id, other, summary, [reply_id], clock.now) == []
        assert await to_discuss(tx, trio_id, olga_id) == []
    assert (
        await bot.db.fetchval("SELECT discussed_at FROM research_reply WHERE id = ?", (reply_id,))
        is None
    )
    await alice.taps("Discussed")  # Alice's own tap still works
    assert "What did Northfield Primary share or try" in alice.last_text  # no previous actions
