"""Dates people can trust: a day and month that has passed is asked about, a past date is
refused for what must lie ahead, and every date typed is said back with its weekday."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.flows.answers import (
    HOLD,
    Accepted,
    ChoiceIn,
    DateAnswer,
    Rejected,
    TextIn,
    View,
)
from bot.flows.dates import read_date
from bot.standin.driver import SimPerson
from bot.texts import Texts
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join
from tests.meeting_script import at, newest, run_schedule
from tests.test_lesson_study import PUPILS, people, settle, start_cycle

FIRST_DECEMBER = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def _view(context: dict[str, object] | None = None) -> View:
    return View(answers={}, context=context or {}, now=FIRST_DECEMBER, tz=LONDON)


@pytest.mark.parametrize(
    ("typed", "meant", "year_given"),
    [
        ("1/12", date(2026, 12, 1), False),  # today
        ("7/12", date(2026, 12, 7), False),  # later this year
        ("30/11", date(2026, 11, 30), False),  # yesterday: this year's, already past
        ("15/6", date(2026, 6, 15), False),  # within half a year back: still this year's
        ("15/1", date(2027, 1, 15), False),  # long past this year: next January
        ("29/2", date(2028, 2, 29), False),  # the next 29 February there is
        ("30/11/2027", date(2027, 11, 30), True),
    ],
)
def test_a_day_and_month_mean_the_nearest_such_date(
    typed: str, meant: date, year_given: bool
) -> None:
    read = read_date(typed, FIRST_DECEMBER.date())
    assert read is not None and (read.day, read.year_given) == (meant, year_given)


def test_a_recently_passed_day_and_month_is_asked_about_not_moved_a_year_on() -> None:
    answer = DateAnswer(not_past=True)
    asked = answer.parse(TextIn("30/11"), _view())
    assert isinstance(asked, Rejected) and asked.reason == "date_passed"
    assert asked.params == {"typed": "30/11", "on": "2027-11-30"}
    held = _view({HOLD: asked.hold})
    assert [o.value for o in answer.options(held)] == ["yes", "no"]
    assert answer.parse(TextIn("yes"), held) == Accepted("2027-11-30")
    assert answer.parse(ChoiceIn(0), held) == Accepted("2027-11-30")
    assert answer.parse(TextIn("no"), held) == Rejected("date_other")
    assert answer.parse(TextIn("7/12"), held) == Accepted("2026-12-07")  # another date
    # Once the step's answers move on, what was held no longer applies.
    later = View({"date": "2027-11-30"}, {HOLD: asked.hold}, FIRST_DECEMBER, LONDON)
    assert answer.options(later) == ()


def test_where_a_past_date_is_fine_a_recent_day_and_month_is_this_years() -> None:
    assert DateAnswer().parse(TextIn("30/11"), _view()) == Accepted("2026-11-30")


def test_a_past_date_with_its_year_is_refused_saying_which_date() -> None:
    refused = DateAnswer(not_past=True).parse(TextIn("30/11/2026"), _view())
    assert refused == Rejected("date_past", {"on": "2026-11-30"})


async def _new_meeting(bot: BotUnderTest, clock: FakeClock, language: str = "English") -> SimPerson:
    alice = bot.person(801, "Alice")
    await join(alice, "DEMOALICE", language=language)
    at(clock, FIRST_DECEMBER)
    await alice.says("/meeting")
    await alice.taps({"English": "New meeting", "Português": "Nova reunião"}[language])
    return alice


async def test_a_passed_day_and_month_is_asked_about_and_a_typed_yes_takes_next_years(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    alice = await _new_meeting(bot, clock)
    replies = await alice.says("30/11")
    assert "30/11 has passed — did you mean Tue 30 Nov 2027?" in replies[0].plain_text
    assert "On what date" in replies[-1].plain_text
    buttons = [b["text"] for row in replies[-1].reply_markup["inline_keyboard"] for b in row]
    assert buttons[:2] == ["Yes, Tue 30 Nov 2027", "No"]
    replies = await alice.says("yes")
    assert "✓ Tue 30 Nov 2027" in replies[-1].plain_text
    assert "What time does it start" in replies[-1].plain_text


async def test_no_to_next_years_date_asks_for_the_date_again(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    alice = await _new_meeting(bot, clock)
    await alice.says("30/11")
    replies = await alice.taps("No")
    assert "Then which date?" in replies[0].plain_text
    assert "On what date" in replies[-1].plain_text and replies[-1].reply_markup is not None
    buttons = [b["text"] for row in replies[-1].reply_markup["inline_keyboard"] for b in row]
    assert "No" not in buttons  # the question is a plain date question again
    replies = await alice.says("7/12")
    assert "✓ Mon 7 Dec 2026" in replies[-1].plain_text
    replies = await alice.says("16:00")
    # The time, said back with its day and zone before the next question.
    assert "✓ Mon 7 Dec 2026, 16:00 (Europe/London)" in replies[-1].plain_text
    assert "Where will you meet online" in replies[-1].plain_text


async def test_a_past_date_is_refused_for_a_meeting(bot: BotUnderTest, clock: FakeClock) -> None:
    alice = await _new_meeting(bot, clock)
    replies = await alice.says("30/11/2026")
    assert "Mon 30 Nov 2026 has already passed" in replies[0].plain_text
    assert "On what date" in replies[-1].plain_text  # asked again, nothing stored
    assert await bot.db.fetchval("SELECT count(*) FROM meeting") == 0


async def test_a_portuguese_member_reads_the_meeting_date_in_portuguese(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    alice, bruno = bot.person(801, "Alice"), bot.person(802, "Bruno", language="pt")
    await join(alice, "DEMOALICE")
    await join(bruno, "DEMOBRUNO", consent="Sim", language="Português")
    at(clock, FIRST_DECEMBER)
    await alice.says("/meeting")
    await alice.taps("New meeting")
    for answer in ("7/12", "16:00", "https://meet.example/x", "Feedback"):
        await alice.says(answer)
    await alice.taps("Send the invitations")
    await run_schedule(bot, clock)
    invitation = newest(bruno, "Quando").plain_text
    assert "segunda, 7 dez. 2026, 16:00 (Europe/London)" in invitation
    assert "Mon" not in invitation and "Dec" not in invitation


async def test_time_away_until_a_passed_day_and_month_is_asked_about_too(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    alice = bot.person(801, "Alice")
    await join(alice, "DEMOALICE")
    at(clock, FIRST_DECEMBER)
    await alice.says("/settings")
    await alice.taps("Away until")
    replies = await alice.says("30/11")
    assert "did you mean Tue 30 Nov 2027?" in replies[0].plain_text
    await alice.taps("Yes, Tue 30 Nov 2027")
    assert "Saved" in alice.last_text
    away = await bot.db.fetchval("SELECT away_until FROM person WHERE display_name = 'Alice'")
    assert away == "2027-11-30"


@pytest.mark.parametrize(
    ("lang", "said"), [("en", "✓ Tue 15 Dec 2026"), ("es", "✓ mar 15 dic 2026"),
                       ("pt", "✓ terça, 15 dez. 2026")],
)  # fmt: skip
def test_an_actions_due_date_is_said_back_before_the_next_action(lang: str, said: str) -> None:
    answers = {"actions": [{"what": "Try exit tickets", "who": "1", "due": "2026-12-15"}]}
    text = Texts().render(lang, "summary/ask_action", {"answers": answers, "number": 2})
    assert text.startswith(said)


async def test_each_observer_reads_the_lessons_time_with_their_zone(
    db_path: Path, clock: FakeClock
) -> None:
    async for bot in bot_under_test(db_path, clock):
        for user_id, name, zone in (
            (101, "Alice", "Europe/London"),
            (102, "Bruno", "Europe/Madrid"),
            (103, "Carmen", "Europe/London"),
        ):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}", zone=zone)
        _, bruno, carmen = people(bot)
        await start_cycle(bot)
        await settle(bot)
        await bruno.taps("Record student voice")
        await bruno.says("They like drawing it.")
        await bruno.taps("Skip")
        await settle(bot)
        await carmen.taps("Plan research lesson 1")
        await carmen.says("An outline")
        await carmen.says("Placing 1/2\nPlenary")
        for _ in range(2):
            for pupil in PUPILS:
                await carmen.says(f"predict {pupil}")
        await carmen.taps("Alice")
        replies = await carmen.says("26/11")
        assert "✓ Thu 26 Nov 2026" in replies[-1].plain_text  # said back, weekday and all
        replies = await carmen.says("10:00")
        assert "✓ Thu 26 Nov 2026, 10:00 (Europe/London)" in replies[-1].plain_text
        await settle(bot)
        assert "Thu 26 Nov 2026, 11:00 (Europe/Madrid)" in newest(bruno, "You observe").plain_text
        assert "Thu 26 Nov 2026, 10:00 (Europe/London)" in newest(carmen, "You observe").plain_text
