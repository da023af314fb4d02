"""The closing account of a lesson-study cycle: its author sees it whole before it goes, those
asked to approve it read it whole where they approve it, and its paragraphs stay apart."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.texts import LANGUAGES, Texts
from storage.lesson_study import LessonStudyRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join
from tests.test_lesson_study import newest_with, people, settle, start_cycle


@pytest.fixture
async def trio(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async for bot in bot_under_test(db_path, clock, lesson_study_stall_days=30):
        for user_id, name in ((101, "Alice"), (102, "Bruno"), (103, "Carmen")):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}")
        yield bot


async def at_the_account(bot: BotUnderTest) -> None:
    """A cycle whose three lessons are taught and discussed (moved there directly: the
    rounds themselves are walked in tests/test_lesson_study.py)."""
    await start_cycle(bot)
    async with bot.db.transaction() as tx:
        cycle_id = await tx.fetchval("SELECT id FROM lesson_study")
        await LessonStudyRepo.move(tx, cycle_id, "account", 3, bot.clock.now)


async def test_the_author_sees_the_whole_account_before_it_goes(trio: BotUnderTest) -> None:
    bot = trio
    await at_the_account(bot)
    alice, _, carmen = people(bot)
    await carmen.says("/lessonstudy")
    await carmen.taps("Write the account")
    await carmen.says("A shared number line lets new arrivals show what they know.")
    await carmen.sends_voice(duration=40)  # what changed, as a voice note
    await carmen.says("Draw before you talk.")
    preview = await carmen.taps("No questions")  # for the researchers
    text = preview[-1].plain_text
    assert "Here is the account" in text
    assert "What we learned: A shared number line lets new arrivals show what they know." in text
    assert "What changed between the lessons: 🎤 voice note (40 s)" in text
    assert "What we’d tell colleagues: Draw before you talk." in text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM lesson_study_account") == 0  # not yet

    # Back from the preview changes a part; the preview shows the change.
    await carmen.taps("Back")
    assert "questions for the researchers" in carmen.last_text
    await carmen.taps("Back")
    assert "colleagues" in carmen.last_text
    await carmen.says("Let them draw before they talk.")
    preview = await carmen.taps("No questions")
    assert "What we’d tell colleagues: Let them draw before they talk." in preview[-1].plain_text
    await carmen.taps("Send to the trio")
    assert "gone to the trio" in carmen.last_text
    await settle(bot)

    # Alice, asked to approve it, reads it whole: on the draft, and on /lessonstudy's card.
    draft = newest_with(alice, "Approve").plain_text
    assert "Let them draw before they talk." in draft
    await alice.says("/lessonstudy")
    card = alice.last
    assert card is not None and "Approve" in str(card.buttons)
    assert "What we learned: A shared number line" in card.plain_text
    assert "What we’d tell colleagues: Let them draw before they talk." in card.plain_text
    await alice.taps("Approve", message=card)
    assert await bot.db.fetchval("SELECT decision FROM lesson_study_approval WHERE "
                                 "person_id = (SELECT id FROM person WHERE telegram_id = 101)"
                                 ) == "approved"  # fmt: skip


async def test_student_voice_keeps_its_ideas_on_a_line_of_their_own(trio: BotUnderTest) -> None:
    bot = trio
    await start_cycle(bot)
    _, bruno, carmen = people(bot)
    await settle(bot)
    await bruno.taps("Record student voice")
    await bruno.says("They like pictures more than words.")
    await bruno.says("Start with a drawing.")
    await settle(bot)
    notice = newest_with(carmen, "Plan research lesson 1").plain_text
    assert "more than words.\nFor the plan: Start with a drawing." in notice
    assert "drawing.\n\nNext: plan research lesson 1" in notice


RUN_TOGETHER = re.compile(r"[a-z)][.!?:][A-Z¿¡]")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_account_texts_keep_their_paragraphs(lang: str) -> None:
    texts = Texts()
    account = {"learned": "We learned a lot.", "changed": "We changed it.", "advice": "Try it."}
    values = {
        "trio": "T1", "focus_what": "fractions", "focus_who": "new pupils", "author": "Carmen",
        "revision": 2, "mine": False, "waiting": [], "account": account, "carried": [],
        "round": 1, "by": "Bruno", "said": "They like pictures more than words.",
        "ideas": "Start with a drawing.", "subject": "Maths", "class_group": "Y5",
        "pupils": [["Pupil A", "new to English"]], "stage": "agreement", "rounds": 3,
        "since": "03 Dec", "stalled": False, "lessons": [], "my_role": "none",
    }  # fmt: skip
    for name in ("account_draft", "account_preview", "card", "notice_plan"):
        text = texts.render(lang, f"lesson_study/{name}", values)
        plain = re.sub(r"<[^>]+>", "", text)
        assert not RUN_TOGETHER.search(plain), (lang, name, plain)
        assert "\n\n\n" not in plain, (lang, name, plain)
    card = texts.render(lang, "lesson_study/card", values)
    assert "We learned a lot." in card and "Try it." in card


async def test_a_long_account_is_previewed_whole_across_messages(trio: BotUnderTest) -> None:
    bot = trio
    await at_the_account(bot)
    _, _, carmen = people(bot)
    await carmen.says("/lessonstudy")
    await carmen.taps("Write the account")
    parts = [f"{word} " * 300 + "end." for word in ("learned", "changed", "advice")]
    for part in parts:
        await carmen.says(part.strip())
    replies = await carmen.taps("No questions")
    assert len(replies) >= 2  # more than one message can hold, split at paragraphs
    shown = "".join(r.plain_text for r in replies)
    assert all(part.strip() in shown for part in parts)
    assert "Send to the trio" in str(replies[-1].buttons)
    await carmen.taps("Send to the trio", message=replies[-1])
    assert await bot.db.fetchval("SELECT COUNT(*) FROM lesson_study_account") == 1
