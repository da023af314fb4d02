"""Dates and weeks at the calendar's ends are refused kindly, never "something went wrong"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.digest.compile import parse_week
from bot.flows.answers import Accepted, DateAnswer, Rejected, TextIn, View
from bot.texts import Texts
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join
from tests.test_lesson_study import PUPILS, people, settle, start_cycle

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VIEW = View(answers={}, context={}, now=NOW, tz=ZoneInfo("Europe/London"))


@pytest.mark.parametrize(
    ("typed", "not_past", "expected"),
    [
        ("2028-11-23", True, Accepted("2028-11-23")),  # two years ahead: still fine
        ("2028-11-24", True, Rejected("date_too_far")),
        ("31/12/9999", True, Rejected("date_too_far")),
        ("31/12/9999", False, Rejected("date_too_far")),
        ("01/01/0001", True, Rejected("date_past", {"on": "0001-01-01"})),
        ("01/01/0001", False, Rejected("date_too_early")),
        ("1999-12-31", False, Rejected("date_too_early")),
        ("2000-01-01", False, Accepted("2000-01-01")),
    ],
)
def test_a_date_answer_stays_within_sane_bounds(
    typed: str, not_past: bool, expected: Accepted | Rejected
) -> None:
    assert DateAnswer(not_past=not_past).parse(TextIn(typed), VIEW) == expected


def test_the_bound_from_29_february_is_28_february() -> None:
    leap = View(answers={}, context={}, now=datetime(2028, 2, 29, 12, tzinfo=UTC), tz=VIEW.tz)
    assert DateAnswer().parse(TextIn("2030-02-28"), leap) == Accepted("2030-02-28")
    assert DateAnswer().parse(TextIn("2030-03-01"), leap) == Rejected("date_too_far")


@pytest.mark.parametrize(
    ("lang", "far", "early"),
    [
        ("en", "within the next two years", "from the year 2000"),
        ("es", "dentro de los próximos dos años", "a partir del año 2000"),
        ("pt", "dentro dos próximos dois anos", "a partir do ano 2000"),
    ],
)
def test_the_reasons_read_in_each_language(lang: str, far: str, early: str) -> None:
    texts = Texts()
    assert far in texts.render(lang, "reasons/date_too_far")
    assert early in texts.render(lang, "reasons/date_too_early")


@pytest.mark.parametrize("week", ["9999-W52", "0001-W01", "1999-W52", "2101-W01"])
def test_a_week_outside_the_programmes_years_is_no_week(week: str) -> None:
    with pytest.raises(ValueError):
        parse_week(week)
    assert parse_week("2000-W01") == "2000-W01" and parse_week("2100-W52") == "2100-W52"


async def test_a_researchers_digest_of_a_week_at_the_calendars_ends(bot: BotUnderTest) -> None:
    dana = bot.person(803, "Dana")
    await join(dana, "DEMODANA")
    for week in ("9999-W52", "0001-W01"):
        bot.clock.advance(10)
        await dana.says(f"/digest {week}")
        assert "could not read" in dana.last_text and "2026-W48" in dana.last_text


@pytest.mark.parametrize(
    ("language", "new_meeting", "reason", "question"),
    [
        ("English", "New meeting", "more than two years away", "On what date"),
        ("Español", "Nueva reunión", "más de dos años vista", "¿En qué fecha"),
        ("Português", "Nova reunião", "mais de dois anos", "Em que data"),
    ],
)
async def test_a_meeting_in_year_9999_is_refused_in_the_leads_language(
    bot: BotUnderTest, language: str, new_meeting: str, reason: str, question: str
) -> None:
    alice = bot.person(801, "Alice")
    await join(alice, "DEMOALICE", language=language)
    await alice.says("/meeting")
    await alice.taps(new_meeting)
    replies = await alice.says("31/12/9999")
    assert reason in replies[0].plain_text
    assert question in replies[-1].plain_text  # the question, asked again
    replies = await alice.says("1/12/2026")
    assert "Europe/London" in replies[-1].plain_text  # on to the time


async def test_a_research_lesson_in_year_9999_is_refused(db_path: Path, clock: FakeClock) -> None:
    async for bot in bot_under_test(db_path, clock):
        for user_id, name in ((101, "Alice"), (102, "Bruno"), (103, "Carmen")):
            await join(bot.person(user_id, name), f"DEMO{name.upper()}")
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
        replies = await carmen.says("31/12/9999")
        assert "more than two years away" in replies[0].plain_text
        replies = await carmen.says("26/11/2026")
        replies = await carmen.says("10:00")
        assert "scheduled" in replies[-1].plain_text
