"""Nothing typed is thrown away: what people send under a prompt is its answer, a text too
long is kept as a draft, Cancel keeps what it says it keeps, and the navigation buttons stay
where they were.

Dialogues, on the stand-in for Telegram and the fake clock, as people really write: typing
straight under a prompt, a voice note, a reply to last week's prompt, 3,500 characters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.standin.driver import SimPerson
from bot.standin.world import SentMessage
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test
from tests.meeting_script import at, form_trio, newest, run_schedule, utc
from tests.test_lesson_study import newest_with, people, plan_lesson, settle, start_cycle
from tests.test_meeting_cycle import schedule_first_meeting
from tests.test_scheduling import NUDGE, joined_bruno, prompts_in

pytestmark = pytest.mark.both_stores

SENTENCE = "We paired the quiet ones with patient talkers and listened."
LONG_REFLECTION = "\n\n".join(
    f"Paragraph {n}: " + " ".join([SENTENCE] * 11) for n in range(1, 6)
)  # five paragraphs of about 700 characters: 3,500 in all


@pytest.fixture
async def quiet_bot(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async for running in bot_under_test(db_path, clock, demo=False):
        yield running


async def reflections(bot: BotUnderTest) -> list[tuple[str, str, object]]:
    rows = await bot.db.fetchall("SELECT prompt, status, answer FROM reflection ORDER BY id")
    return [
        (r["prompt"], r["status"], None if r["answer"] is None else json.loads(r["answer"]))
        for r in rows
    ]


def spot(message: SentMessage, row: int, column: int) -> tuple[str, str]:
    """The label and data of the button at a place on the keyboard (what a thumb hits)."""
    label, data = message.buttons[row][column]
    return label, data


async def tap_spot(person: SimPerson, message: SentMessage, row: int, column: int) -> str:
    label, data = spot(message, row, column)
    await person.taps_data(data, message_id=message.message_id)
    return label


def committed_answer(db_path: Path | str) -> str | None:
    """The reflection's answer as a separate connection sees it: only what was committed."""
    if isinstance(db_path, str):
        with psycopg.connect(db_path) as pg:
            row = pg.execute("SELECT answer FROM reflection").fetchone()
    else:
        with sqlite3.connect(db_path) as other:
            row = other.execute("SELECT answer FROM reflection").fetchone()
    return None if row is None else str(row[0])


# --- a reply is an answer ----------------------------------------------------------------


async def test_typed_straight_under_a_fresh_prompt_is_its_answer_with_an_undo(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    [prompt] = prompts_in(bot, chat)
    seen: list[str | None] = []
    original = bot.api.handle

    async def spy(
        method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
    ) -> tuple[int, dict[str, Any]]:
        if method.lower() == "sendmessage":
            seen.append(committed_answer(bot.settings.db_path))
        return await original(method, params, files)

    bot.api.handle = spy  # type: ignore[method-assign]
    # No "Answer now" first: he just types.
    await bruno.says("Talk partners: the quiet ones spoke first.")
    assert seen and seen[-1] is not None  # stored before the reply was sent
    bot.api.handle = original  # type: ignore[method-assign]
    assert "Saved as your answer to the prompt" in bruno.last_text
    assert "wasn’t waiting" not in bruno.last_text
    assert await reflections(bot) == [
        ("practice", "answered", "Talk partners: the quiet ones spoke first.")
    ]
    # It was not meant as an answer: one tap keeps it as a free reflection instead.
    await bruno.taps("Not an answer")
    assert "kept as a free reflection" in bruno.last_text
    assert await reflections(bot) == [
        ("practice", "delivered", None),
        ("free", "answered", "Talk partners: the quiet ones spoke first."),
    ]
    # The prompt waits again: the next message answers it; the undo, tapped again, does nothing.
    undo = next(m for m in reversed(bruno.inbox) if "Saved as your answer" in m.plain_text)
    await bruno.says("Really: next week we try mini whiteboards.")
    assert (await reflections(bot))[0] == (
        "practice",
        "answered",
        "Really: next week we try mini whiteboards.",
    )
    assert prompt.message_id != undo.message_id
    assert undo.buttons[0][0][0].startswith("✓")  # the tapped undo now says what it did


async def test_a_voice_note_under_a_prompt_is_its_answer(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    bruno, _ = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    await bruno.sends_voice(duration=37)
    assert "Saved as your answer" in bruno.last_text
    [(prompt, status, answer)] = await reflections(bot)
    assert (prompt, status) == ("practice", "answered")
    assert isinstance(answer, dict) and answer["duration"] == 37


async def test_a_reply_to_last_weeks_prompt_answers_that_prompt(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    older, newer = prompts_in(bot, chat)[:2]
    assert older.message_id < newer.message_id
    await bruno.says("Last week: the number line worked.", reply_to=older)
    periods = await bot.db.fetchall("SELECT period, status, answer FROM reflection ORDER BY id")
    assert [(r["period"], r["status"]) for r in periods] == [
        ("2026-W48", "answered"),
        ("2026-W49", "delivered"),
    ]
    assert json.loads(periods[0]["answer"]) == "Last week: the number line worked."
    # Typed with no reply: the newest prompt still waiting.
    await bruno.says("This week: pair talk before hands up.")
    statuses = await bot.db.fetchall("SELECT period, status FROM reflection ORDER BY id")
    assert [r["status"] for r in statuses] == ["answered", "answered"]
    # A reply to a prompt already answered answers nothing else, and says so.
    await bruno.says("One more thought.", reply_to=older)
    assert "wasn’t waiting" in bruno.last_text


async def test_a_reply_to_the_nudge_answers_its_prompt(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    [nudge] = [m for m in bot.api.messages_in(chat) if NUDGE in m.plain_text]
    await bruno.says("Sorry, late: exit tickets told us a lot.", reply_to=nudge)
    assert "Saved as your answer" in bruno.last_text
    assert await reflections(bot) == [
        ("practice", "answered", "Sorry, late: exit tickets told us a lot.")
    ]


async def test_with_no_prompt_waiting_nothing_is_taken(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    bruno, _ = await joined_bruno(bot)
    await bruno.says("Hello?")
    assert "wasn’t waiting" in bruno.last_text
    assert await reflections(bot) == []


# --- a text too long is kept ---------------------------------------------------------------


async def test_a_3500_character_reflection_is_kept_and_saved_in_parts(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, _ = await joined_bruno(bot)
    await bruno.says("/reflect")
    await bruno.says(LONG_REFLECTION)
    assert len(LONG_REFLECTION) > 3000
    assert "I’ve kept your text as a draft" in bruno.last_text
    assert await reflections(bot) == []
    # A restart keeps the draft, and the buttons sent before it still work.
    await bot.restart()
    bruno = bot.person(201, "Bruno")
    await bruno.taps("Save it in 2 parts")
    [(prompt, status, parts)] = await reflections(bot)
    assert (prompt, status) == ("free", "answered")
    assert isinstance(parts, list) and len(parts) == 2
    assert all(len(part) <= 3000 for part in parts)
    assert "\n\n".join(parts) == LONG_REFLECTION.strip()  # every word, cut between paragraphs


async def test_too_long_under_a_prompt_shortened_or_split_by_typing(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, _ = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    await bruno.says(LONG_REFLECTION)
    assert "I’ve kept your text as a draft" in bruno.last_text
    state = await bot.db.fetchone(
        "SELECT status, context FROM flow_state WHERE flow = 'reflection'"
    )
    assert state is not None and state["status"] == "open"
    assert json.loads(state["context"])["_draft"]["text"] == LONG_REFLECTION.strip()
    await bruno.says("parts")  # typed instead of tapped
    [(prompt, status, parts)] = await reflections(bot)
    assert (prompt, status) == ("practice", "answered")
    assert isinstance(parts, list) and "\n\n".join(parts) == LONG_REFLECTION.strip()


# --- Cancel keeps, and the buttons stay put -------------------------------------------------


@pytest.fixture
async def trio(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    from tests.harness import join

    async for bot in bot_under_test(db_path, clock, lesson_study_stall_days=30):
        for user_id, name in ((101, "Alice"), (102, "Bruno"), (103, "Carmen")):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}")
        yield bot


async def lesson_over(bot: BotUnderTest) -> SimPerson:
    """A cycle whose first research lesson (Alice teaching) has just ended; Bruno observed."""
    await start_cycle(bot)
    await settle(bot)
    _, bruno, carmen = people(bot)
    await bruno.taps("Record student voice")
    await bruno.says("They like drawing it.")
    await bruno.taps("Skip")
    await settle(bot)
    await plan_lesson(bot, carmen, 1, "Alice", "26/11/2026", "10:00")
    await bot.run_until(datetime(2026, 11, 26, 11, 1, tzinfo=UTC) + timedelta(minutes=5))
    return bot.person(102, "Bruno")


async def test_notes_typed_after_the_lesson_are_the_observation_notes(trio: BotUnderTest) -> None:
    bot = trio
    bruno = await lesson_over(bot)
    newest_with(bruno, "My notes on the case pupils")
    # No tap first: what he types is his first note, and the second question is asked.
    await bruno.says("Pupil A counted on her fingers.")
    assert "wasn’t waiting" not in bruno.last_text
    state = await bot.db.fetchone(
        "SELECT flow, answers FROM flow_state WHERE status = 'open' AND person_id ="
        " (SELECT id FROM person WHERE telegram_id = 102)"
    )
    assert state is not None and state["flow"] == "ls_observe"
    assert "Pupil A counted on her fingers." in state["answers"]
    # Carmen, the other observer, replies to the request itself.
    carmen = bot.person(103, "Carmen")
    await carmen.says("Pupil A hesitated at first.", reply_to=newest_with(carmen, "My notes on"))
    hers = await bot.db.fetchval(
        "SELECT answers FROM flow_state WHERE status = 'open' AND flow = 'ls_observe'"
        " AND person_id = (SELECT id FROM person WHERE telegram_id = 103)"
    )
    assert hers is not None and "Pupil A hesitated at first." in hers


async def test_cancelled_lesson_notes_are_there_when_started_again(trio: BotUnderTest) -> None:
    bot = trio
    bruno = await lesson_over(bot)
    await bruno.taps("My notes on the case pupils")
    first = bruno.last
    assert first is not None
    # The same three places on every question: Back, Skip, Cancel, in that order.
    assert [label for label, _ in first.buttons[-1]] == ["·", "Skip »", "✕ Cancel"]
    await bruno.says("Pupil A counted on her fingers.")
    await bruno.says("Pupil B watched his partner.")
    question = bruno.last
    assert question is not None
    assert [label for label, _ in question.buttons[-1]] == ["« Back", "Skip »", "✕ Cancel"]

    # Cancel tapped twice on the same spot: it asks once, and the second tap goes on.
    assert await tap_spot(bruno, question, -1, 2) == "✕ Cancel"
    assert "Cancel and keep what you answered?" in str(bruno.last_answer)
    assert spot(question, -1, 1)[0] == "No, go on"  # where Cancel was
    assert await tap_spot(bruno, question, -1, 1) == "No, go on"
    state = await bot.db.fetchone("SELECT status, answers FROM flow_state WHERE status = 'open'")
    assert state is not None and len(json.loads(state["answers"])) == 1  # the grid, two notes
    assert [label for label, _ in question.buttons[-1]] == ["« Back", "Skip »", "✕ Cancel"]

    # Now cancel for real; the bot says the answers are kept, and they are.
    await bruno.taps("✕ Cancel", message=question)
    await bruno.taps("Yes, cancel", message=question)
    assert "Anything you already answered is kept" in bruno.last_text
    notice = newest_with(bruno, "My notes on the case pupils")
    await bruno.taps("My notes on the case pupils", message=notice)
    restored, asked = bruno.inbox[-2:]
    assert "I kept your answers" in restored.plain_text
    assert "Pupil A counted" not in asked.plain_text
    await bruno.says("Pupil C asked for the line again.")
    kept = await bot.db.fetchone("SELECT answers FROM flow_state WHERE status = 'open'")
    assert kept is not None
    assert "Pupil A counted on her fingers." in kept["answers"]
    assert "Pupil B watched his partner." in kept["answers"]
    assert "Pupil C asked for the line again." in kept["answers"]


async def test_typed_after_a_meeting_or_replied_to_its_question_is_the_reflection(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await form_trio(bot)
    alice, bruno, carmen = trio.alice, trio.bruno, trio.carmen
    await schedule_first_meeting(bot, trio)
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await alice.taps("Record attendance")
    for name in ("Alice", "Bruno", "Carmen"):
        await alice.taps(name)
    await alice.taps("Done")
    await run_schedule(bot, clock)
    newest(bruno, "After the trio meeting")
    # Bruno just types: it answers the meeting's first question, and the next one is asked.
    await bruno.says("A feedback protocol we can try in Year 5")
    assert "wasn’t waiting" not in bruno.last_text
    await bruno.taps("Skip")
    # Carmen replies to the question itself.
    asked = newest(carmen, "After the trio meeting")
    await carmen.says("Comment-only marking, for a term.", reply_to=asked)
    await carmen.says("How little the pupils read the comments.")
    rows = await bot.db.fetchall(
        "SELECT p.telegram_id, r.take_back, r.surprise FROM meeting_reflection r"
        " JOIN person p ON p.id = r.person_id ORDER BY p.telegram_id"
    )
    assert [(r[0], json.loads(r[1]), r[2] and json.loads(r[2])) for r in rows] == [
        (802, "A feedback protocol we can try in Year 5", None),
        (803, "Comment-only marking, for a term.", "How little the pupils read the comments."),
    ]
    # Both reflected: nothing more is waiting, and a further message is not taken.
    await bruno.says("And another thing")
    assert "wasn’t waiting" in bruno.last_text


async def after_the_meeting(bot: BotUnderTest, clock: FakeClock) -> SimPerson:
    """Bruno, asked the questions after a meeting he attended."""
    trio = await form_trio(bot)
    await schedule_first_meeting(bot, trio)
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    await trio.alice.taps("Record attendance")
    for name in ("Alice", "Bruno", "Carmen"):
        await trio.alice.taps(name)
    await trio.alice.taps("Done")
    await run_schedule(bot, clock)
    newest(trio.bruno, "After the trio meeting")
    return trio.bruno


async def test_a_message_refused_as_an_answer_gets_no_undo(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    bruno = await after_the_meeting(bot, clock)
    await bruno.says("0")  # too short for the first question: asked again, nothing taken
    assert "a little short" in bruno.inbox[-2].plain_text
    assert not any("first answer here" in m.plain_text for m in bruno.inbox)


async def test_not_an_answer_after_a_meeting_keeps_it_free_and_the_questions_wait_again(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    bruno = await after_the_meeting(bot, clock)
    # Bruno writes to the bot about something else: it is taken as the meeting's first answer,
    # and the undo sits above the next question.
    await bruno.says("Reminder to self: book the hall for Friday")
    taken = newest(bruno, "first answer here")
    assert taken.buttons == [[taken.buttons[0][0]]] and "Not an answer" in taken.buttons[0][0][0]
    assert bruno.inbox[-1].message_id != taken.message_id  # the question comes after it
    await bruno.taps("Not an answer", message=taken)
    assert "kept as a free reflection" in bruno.last_text
    assert await reflections(bot) == [
        ("free", "answered", "Reminder to self: book the hall for Friday")
    ]
    assert await bot.db.fetchval("SELECT COUNT(*) FROM meeting_reflection") == 0
    status = await bot.db.fetchval(
        "SELECT status FROM flow_state WHERE flow = 'meeting_reflection' ORDER BY id DESC"
    )
    assert status == "discarded"
    # The meeting's questions wait again: his next message answers them; the undo is spent.
    await bruno.says("A feedback protocol we can try in Year 5")
    assert "first answer here" in bruno.inbox[-2].plain_text
    await bruno.taps("Skip")
    take_back = await bot.db.fetchval("SELECT take_back FROM meeting_reflection")
    assert json.loads(take_back) == "A feedback protocol we can try in Year 5"
    assert [b[0] for b in taken.buttons[0]] == ["✓ Kept as a free reflection"]  # spent
    assert await bot.db.fetchval("SELECT COUNT(*) FROM reflection") == 1
