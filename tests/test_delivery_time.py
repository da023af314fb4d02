"""Texts built from when they really arrive: promises that hold, evenings that are evenings,
and a reminder time that quiet hours would swallow is pointed out, whichever was set first.

(The day-before reminder of a Monday meeting, moved off Sunday to Monday morning and saying
"today", is in tests/test_meeting_rules.py, beside the rest of that meeting's week.)
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from bot.lesson_study.views import local_when
from bot.scheduling.timing import Calendar, Preferences, evening, relative_day
from bot.texts import Texts
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import at, form_trio, newest, run_schedule, utc

LONDON = ZoneInfo("Europe/London")


async def schedule(bot: BotUnderTest, day: str, at_time: str) -> str:
    """Alice schedules a meeting through /meeting; the confirmation she gets."""
    alice = bot.person(801, "Alice")
    await alice.says("/meeting")
    await alice.taps("New meeting")
    await alice.says(day)
    await alice.says(at_time)
    await alice.says("https://meet.example/soon")
    await alice.says("Feedback that moves learning on")
    await alice.taps("Send the invitations")
    return alice.last_text


async def armed(bot: BotUnderTest) -> list[str]:
    rows = await bot.db.fetchall(
        "SELECT kind FROM schedule WHERE kind LIKE 'meeting_reminder_%' AND status = 'pending'"
    )
    return sorted(r["kind"] for r in rows)


async def test_a_meeting_27_minutes_away_promises_no_reminder(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await form_trio(bot)
    at(clock, utc(2026, 11, 30, 15, 33))
    said = await schedule(bot, "30/11/2026", "16:00")
    assert "Invitations are on their way" in said
    assert "a day and an hour before" not in said
    assert "less than an hour away, so there will be no reminder" in said
    assert await armed(bot) == []
    # And indeed none comes: only the invitation and its calendar file reach Bruno.
    await run_schedule(bot, clock)
    at(clock, utc(2026, 11, 30, 16, 0))
    await run_schedule(bot, clock)
    bruno = bot.person(802, "Bruno")
    invitation = newest(bruno, "Trio meeting")
    assert "Mon 30 Nov 2026, 16:00 (Europe/London)" in invitation.plain_text
    assert "remind" not in invitation.plain_text
    assert not any("trio meeting —" in m.plain_text for m in bruno.inbox)


async def test_a_meeting_this_evening_promises_only_the_hour_before(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await form_trio(bot)
    at(clock, utc(2026, 11, 30, 9, 0))
    said = await schedule(bot, "30/11/2026", "17:30")
    assert "less than a day away, so I'll remind everyone an hour before" in said
    assert await armed(bot) == ["meeting_reminder_hour"]
    await run_schedule(bot, clock)
    invitation = newest(bot.person(803, "Carmen"), "Trio meeting").plain_text
    assert "I'll remind you an hour before." in invitation and "a day" not in invitation


async def test_a_meeting_next_week_promises_both(bot: BotUnderTest, clock: FakeClock) -> None:
    await form_trio(bot)
    said = await schedule(bot, "1/12/2026", "16:00")
    assert "I'll remind everyone a day and an hour before" in said
    assert await armed(bot) == ["meeting_reminder_day", "meeting_reminder_hour"]


async def reminder_and_quiet(bot: BotUnderTest, telegram_id: int) -> tuple[str, str, str]:
    row = await bot.db.fetchone(
        "SELECT reminder_time, quiet_start, quiet_end FROM person WHERE telegram_id = ?",
        (telegram_id,),
    )
    assert row is not None
    return row["reminder_time"], row["quiet_start"], row["quiet_end"]


async def test_quiet_hours_over_the_reminder_time_warn_and_offer_to_move_it(
    bot: BotUnderTest,
) -> None:
    bruno = bot.person(802, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await bruno.says("/settings")
    await bruno.taps("Quiet hours")
    await bruno.says("15:00-09:00")
    warning = bruno.last_text
    assert "Your reminder time, 15:45, falls inside your quiet hours (15:00–09:00)" in warning
    assert "would wait until 09:00" in warning
    # The quiet hours are kept already: the warning asks about the reminder time only.
    assert await reminder_and_quiet(bot, 802) == ("15:45", "15:00", "09:00")
    await bruno.taps("Yes, move it to 09:00")
    assert "Saved — Quiet hours. Your reminder time is now 09:00." in bruno.last_text
    assert await reminder_and_quiet(bot, 802) == ("09:00", "15:00", "09:00")


async def test_a_reminder_time_typed_into_quiet_hours_warns_and_may_be_kept(
    bot: BotUnderTest,
) -> None:
    bruno = bot.person(802, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await bruno.says("/settings")
    await bruno.taps("Quiet hours")
    await bruno.says("21:00-07:00")
    assert "Saved — Quiet hours." in bruno.last_text  # 15:45 is fine: no question
    await bruno.says("/settings")
    await bruno.taps("Reminder time")
    await bruno.says("10pm")
    assert "Your reminder time, 22:00, falls inside your quiet hours (21:00–07:00)" in (
        bruno.last_text
    )
    replies = [m.plain_text for m in await bruno.says("maybe later")]
    assert any("Please tap one of the buttons, or type its number." in t for t in replies)
    assert "falls inside your quiet hours" in replies[-1]  # and the question again
    assert await reminder_and_quiet(bot, 802) == ("22:00", "21:00", "07:00")  # kept meanwhile
    await bruno.says("No")  # typed, not tapped
    assert bruno.last_text.startswith("✅ Saved — Reminder time.")
    assert "is now" not in bruno.last_text
    assert await reminder_and_quiet(bot, 802) == ("22:00", "21:00", "07:00")


async def test_the_warning_is_in_the_persons_language(bot: BotUnderTest) -> None:
    lucia = bot.person(802, "Lucía", language="es")
    await join(
        lucia,
        "DEMOBRUNO",
        consent="Sí, acepto que usen mis respuestas para investigar",
        language="Español",
    )
    await lucia.says("/settings")
    await lucia.taps("Horas de silencio")
    await lucia.says("15:00-09:00")
    assert "cae dentro de tus horas de silencio" in lucia.last_text
    await lucia.taps("Sí, pásala a las 09:00")
    assert "Tu hora de aviso es ahora las 09:00" in lucia.last_text


# --- the rules underneath, on their own -------------------------------------------------
def prefs(
    reminder: time = time(15, 45), quiet: tuple[time, time] = (time(20), time(7))
) -> Preferences:
    return Preferences(LONDON, reminder, quiet[0], quiet[1])


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


def test_relative_day_is_read_on_the_readers_wall_clock() -> None:
    meeting = london(2026, 11, 30, 19, 30)  # Monday evening
    assert relative_day(meeting, london(2026, 11, 29, 19, 30), LONDON) == "tomorrow"
    assert relative_day(meeting, london(2026, 11, 30, 7, 0), LONDON) == "today"
    assert relative_day(meeting, london(2026, 11, 27, 19, 30), LONDON) == "later"
    # 23:30 in London is already Monday in Madrid.
    late = london(2026, 11, 29, 23, 30)
    assert relative_day(meeting, late, ZoneInfo("Europe/Madrid")) == "today"


def test_this_evening_is_the_evening_never_minutes_away() -> None:
    school = Calendar()
    assert evening(london(2026, 11, 24, 16, 0), prefs(), school) == london(2026, 11, 24, 18, 30)
    # Tapped at 18:31: the evening's next half hour, not 18:36.
    assert evening(london(2026, 11, 24, 18, 31), prefs(), school) == london(2026, 11, 24, 19, 0)
    # Their reminder time, when it is later in the evening.
    late = prefs(reminder=time(20, 15), quiet=(time(22), time(7)))
    assert evening(london(2026, 11, 24, 16, 0), late, school) == london(2026, 11, 24, 20, 15)
    # Quiet from 18:00: the evening moment nearest 18:30 before they go quiet.
    early = prefs(quiet=(time(18), time(7)))
    assert evening(london(2026, 11, 24, 16, 0), early, school) == london(2026, 11, 24, 17, 30)
    # Evening over (or quiet already): the next evening — a school day, so Monday after Friday.
    assert evening(london(2026, 11, 24, 21, 55), prefs(), school) == london(2026, 11, 25, 18, 30)
    assert evening(london(2026, 11, 27, 22, 0), prefs(), school) == london(2026, 11, 30, 18, 30)
    # Quiet all evening, every evening: their first moment after it, not a moment in it.
    never = prefs(quiet=(time(16), time(7)))
    assert evening(london(2026, 11, 24, 15, 0), never, school) == london(2026, 11, 25, 7, 0)


def test_an_observer_sees_the_lessons_time_on_their_clock_with_its_zone() -> None:
    """Two observers a time zone apart: 10:00 for one is 11:00 for the other, each named."""
    texts = Texts()
    lesson = london(2026, 11, 26, 10, 0)
    values = {
        "trio": "T1",
        "focus_what": "fractions",
        "focus_who": "Year 5",
        "round": 1,
        "teacher": "Alice",
        "changed": False,
        "moments": ["the number line"],
        "predictions": [],
        "pupils": [],
    }
    seen = {
        zone: texts.render("en", "lesson_study/notice_observe", {**values, "when": when})
        for zone in ("Europe/London", "Europe/Madrid")
        if (when := local_when(lesson, ZoneInfo(zone))) is not None
    }
    assert "Alice teaches, Thu 26 Nov 2026, 10:00 (Europe/London)" in seen["Europe/London"]
    assert "Alice teaches, Thu 26 Nov 2026, 11:00 (Europe/Madrid)" in seen["Europe/Madrid"]
