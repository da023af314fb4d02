"""Reflection prompts through the durable schedule and the outbox, on a controllable clock.

Time passes with `BotUnderTest.run_until`, which wakes exactly when the schedule or the outbox
has something due, as the bot's poll would, without sleeping through real time. The stand-in
stamps every message with the fake wall clock, so each test reads when a message arrived.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.scheduling.timing import Calendar, Preferences, deferred, in_quiet_hours
from bot.standin.driver import SimPerson
from bot.standin.world import SentMessage
from bot.telegram.sender import OutboxSender
from storage.calendar import CalendarRepo
from storage.people import PeopleRepo
from storage.store import open_store
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, bot_under_test, join

pytestmark = pytest.mark.both_stores

PROMPT = "This week's reflection"
NUDGE = "A gentle reminder"


@pytest.fixture
async def quiet_bot(db_path: Path, clock: FakeClock) -> AsyncIterator[BotUnderTest]:
    async for running in bot_under_test(db_path, clock, demo=False):
        yield running


async def seed_people(
    bot: BotUnderTest,
    count: int,
    *,
    first_id: int = 5000,
    zone: str = "Europe/London",
    **fields: str,
) -> list[int]:
    """`count` active, consenting teachers who have started the bot; returns Telegram ids."""
    ids = list(range(first_id, first_id + count))
    async with bot.db.transaction() as tx:
        for user_id in ids:
            person_id = await PeopleRepo.create(
                tx, telegram_id=user_id, school_id=None, role="teacher", status="active"
            )
            await PeopleRepo.update(
                tx, person_id, display_name=f"T{user_id}", language="en", time_zone=zone, **fields
            )
            await PeopleRepo.record_consent(tx, person_id, given=True, version="2026-1")
            await PeopleRepo.mark_onboarded(tx, person_id)
    for user_id in ids:
        bot.api.add_user(user_id, f"T{user_id}")
        bot.api.started.add(user_id)
    return ids


def local(message: SentMessage, zone: str) -> datetime:
    return datetime.fromtimestamp(message.date, UTC).astimezone(ZoneInfo(zone))


def prompts_in(bot: BotUnderTest, chat_id: int, text: str = PROMPT) -> list[SentMessage]:
    return [
        m
        for m in bot.api.messages_in(chat_id)
        if text in m.plain_text and not m.plain_text.startswith(NUDGE if text == PROMPT else "")
    ]


def buttons_on(message: SentMessage | None) -> list[str]:
    assert message is not None
    return [label for row in message.buttons for label, _ in row]


async def start_rounds(bot: BotUnderTest) -> None:
    """People seeded after start-up: open the current round again (idempotent)."""
    await bot.services.reflections.ensure_rounds()


# --- DST ---------------------------------------------------------------------------------


async def test_prompts_arrive_at_local_reminder_time_across_dst_changes(
    db_path: Path,
) -> None:
    # The US moves its clocks on 14 March 2027, the UK on 28 March: four Tuesdays span both.
    clock = FakeClock(datetime(2027, 3, 8, 6, 0, tzinfo=UTC))
    async for bot in bot_under_test(db_path, clock, demo=False):
        london = await seed_people(bot, 1, first_id=7001, reminder_time="08:30")
        new_york = await seed_people(
            bot, 1, first_id=7002, zone="America/New_York", reminder_time="08:30"
        )
        await start_rounds(bot)
        await bot.run_until(datetime(2027, 4, 2, tzinfo=UTC))
        for chat, zone in ((london[0], "Europe/London"), (new_york[0], "America/New_York")):
            prompts = [m for m in bot.api.messages_in(chat) if m.plain_text.startswith(PROMPT)]
            arrived = [local(m, zone) for m in prompts]
            assert [a.date() for a in arrived] == [date(2027, 3, d) for d in (9, 16, 23, 30)]
            assert {a.time() for a in arrived} == {time(8, 30)}, arrived
            nudges = [local(m, zone) for m in bot.api.messages_in(chat) if NUDGE in m.plain_text]
            # Exactly one nudge a week, two days later, also at their reminder time.
            assert [n.date() for n in nudges] == [date(2027, 3, d) for d in (11, 18, 25)] + [
                date(2027, 4, 1)
            ]
            assert {n.time() for n in nudges} == {time(8, 30)}
        # In UTC the same local time moved by an hour for each, on different weekends.
        utc_hours = [
            datetime.fromtimestamp(m.date, UTC).hour
            for m in bot.api.messages_in(new_york[0])
            if m.plain_text.startswith(PROMPT)
        ]
        assert utc_hours == [13, 12, 12, 12]


# --- quiet hours, weekends, closures, term, away ------------------------------------------


async def test_nothing_lands_in_quiet_hours_weekends_holidays_or_while_away(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    async with bot.db.transaction() as tx:
        await CalendarRepo.replace(
            tx,
            [
                ("term", date(2026, 11, 2), date(2026, 12, 18), "Autumn"),
                ("term", date(2027, 1, 5), date(2027, 3, 26), "Spring"),
                ("closure", date(2026, 11, 24), date(2026, 11, 24), "Training day"),
                ("closure", date(2026, 11, 30), date(2026, 12, 4), "Flooding"),
            ],
        )
    bot.services.reflections.forget_calendar()
    # Asked for 21:00, inside their own quiet hours (20:00–07:00): the quiet hours win.
    [owl] = await seed_people(bot, 1, first_id=8001, reminder_time="21:00")
    [away] = await seed_people(bot, 1, first_id=8002, away_until="2026-12-09")
    [plain] = await seed_people(bot, 1, first_id=8003)
    await start_rounds(bot)
    await bot.run_until(datetime(2027, 1, 16, tzinfo=UTC))

    calendar = Calendar(*await CalendarRepo(bot.db).spans())
    for chat in (owl, away, plain):
        for message in bot.api.messages_in(chat):
            when = local(message, "Europe/London")
            assert calendar.is_school_day(when.date()), (chat, when)
            assert not in_quiet_hours(when.time(), time(20), time(7)), (chat, when)
    owl_prompts = [local(m, "Europe/London") for m in prompts_in(bot, owl)]
    # Tuesday 21:00 is inside their quiet hours: it waits for the quiet to end, 07:00 the next
    # morning. W48's Tuesday is a training day (same Wednesday result); W49 is closed all week
    # (its prompt is dropped, not sent in W50); the Christmas holiday weeks get none.
    assert [p.replace(tzinfo=None) for p in owl_prompts] == [
        datetime(2026, 11, 25, 7, 0),
        datetime(2026, 12, 9, 7, 0),
        datetime(2026, 12, 16, 7, 0),
        datetime(2027, 1, 6, 7, 0),
        datetime(2027, 1, 13, 7, 0),
    ]
    away_prompts = [local(m, "Europe/London") for m in prompts_in(bot, away)]
    assert away_prompts[0].replace(tzinfo=None) == datetime(2026, 12, 9, 15, 45)
    plain_prompts = [local(m, "Europe/London") for m in prompts_in(bot, plain)]
    assert plain_prompts[0].replace(tzinfo=None) == datetime(2026, 11, 25, 15, 45)
    # Nothing at all during the holiday.
    for chat in (owl, away, plain):
        holiday = [
            m
            for m in bot.api.messages_in(chat)
            if date(2026, 12, 19) <= local(m, "Europe/London").date() <= date(2027, 1, 4)
        ]
        assert holiday == []


# --- one tap: answer, snooze, skip; one nudge ---------------------------------------------


async def joined_bruno(bot: BotUnderTest) -> tuple[SimPerson, int]:
    from bot.programme.demo import seed_demo

    await seed_demo(bot.db)
    bruno = bot.person(201, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await start_rounds(bot)
    return bruno, 201


async def test_answer_now_stores_the_answer_and_cancels_the_nudge(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    [prompt] = prompts_in(bot, chat)
    assert local(prompt, "Europe/London").replace(tzinfo=None) == datetime(2026, 11, 24, 15, 45)
    await bruno.taps("✍️ Answer now")
    assert "Type your answer" in bruno.last_text
    await bruno.says("We tried talk partners; the quiet ones spoke first.")
    assert "saved" in bruno.last_text
    row = await bot.db.fetchone("SELECT status, answer, period FROM reflection")
    assert row is not None
    assert (row["status"], json.loads(row["answer"]), row["period"]) == (
        "answered",
        "We tried talk partners; the quiet ones spoke first.",
        "2026-W48",
    )
    await bot.run_until(datetime(2026, 11, 29, tzinfo=UTC))
    assert [m for m in bot.api.messages_in(chat) if NUDGE in m.plain_text] == []


async def test_snooze_asks_again_later_and_still_nudges_only_once(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    tapped_at = bot.clock.now.timestamp()
    await bruno.taps("In an hour")
    # The tapped prompt now says when it will come back (in their zone), instead of buttons.
    assert buttons_on(prompts_in(bot, chat)[0]) == ["✓ ⏰ I'll ask again Tue 24 Nov 2026, 17:00"]
    await bot.run_until(datetime(2026, 11, 24, 17, 30, tzinfo=UTC))
    prompts = prompts_in(bot, chat)
    assert len(prompts) == 2
    assert 3600 <= prompts[1].date - tapped_at <= 3600 + 5
    await bruno.taps("Tomorrow")
    await bot.run_until(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    prompts = prompts_in(bot, chat)
    assert len(prompts) == 3
    assert local(prompts[2], "Europe/London").replace(tzinfo=None) == datetime(2026, 11, 25, 15, 45)
    await bot.run_until(datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    nudges = [m for m in bot.api.messages_in(chat) if NUDGE in m.plain_text]
    assert len(nudges) == 1
    # Two days after the last time it was asked, at their reminder time.
    assert local(nudges[0], "Europe/London").replace(tzinfo=None) == datetime(2026, 11, 27, 15, 45)


async def test_this_evening_means_this_evening_unless_that_is_quiet(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    await bruno.taps("This evening")
    await bot.run_until(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    second = prompts_in(bot, chat)[1]
    assert local(second, "Europe/London").time() == time(18, 30)


async def test_this_evening_tapped_in_the_evening_is_not_minutes_later(
    quiet_bot: BotUnderTest,
) -> None:
    """Tapped at 18:31, just after the evening's 18:30: asked again at 19:00, not at 18:36."""
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 18, 31, tzinfo=UTC))
    await bruno.taps("This evening")
    assert buttons_on(prompts_in(bot, chat)[0]) == ["✓ ⏰ I'll ask again Tue 24 Nov 2026, 19:00"]
    await bot.run_until(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    prompts = prompts_in(bot, chat)
    assert [local(m, "Europe/London").strftime("%a %H:%M") for m in prompts] == [
        "Tue 15:45",
        "Tue 19:00",
    ]


async def test_skip_means_nothing_more_this_week_and_next_week_asks_again(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    await bruno.taps("Skip this one")
    assert buttons_on(prompts_in(bot, chat)[0]) == ["✓ Skipped — see you next time"]
    await bot.run_until(datetime(2026, 11, 30, tzinfo=UTC))
    assert len(prompts_in(bot, chat)) == 1
    assert [m for m in bot.api.messages_in(chat) if NUDGE in m.plain_text] == []
    await bot.run_until(datetime(2026, 12, 2, tzinfo=UTC))
    assert len(prompts_in(bot, chat)) == 2
    # Tapping the old prompt's "answer now" (data still known) changes nothing.
    status = await bot.db.fetchval("SELECT status FROM reflection WHERE period = '2026-W48'")
    assert status == "skipped"


async def test_exactly_one_nudge_for_someone_who_never_answers(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    [chat] = await seed_people(bot, 1)
    await start_rounds(bot)
    await bot.run_until(datetime(2026, 11, 30, tzinfo=UTC))
    texts = [m.plain_text for m in bot.api.messages_in(chat)]
    assert sum(t.startswith(PROMPT) for t in texts) == 1
    assert sum(t.startswith(NUDGE) for t in texts) == 1
    # Restarting re-arms, never re-sends.
    await bot.restart()
    await bot.run_until(datetime(2026, 11, 30, 12, tzinfo=UTC))
    assert len(bot.api.messages_in(chat)) == len(texts)


async def test_reflect_answers_the_waiting_prompt_or_takes_a_free_reflection(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, _ = await joined_bruno(bot)
    await bruno.says("/reflect")
    assert "free reflection" in bruno.last_text
    await bruno.says("Noticing who answers first in plenaries.")
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    await bruno.says("/reflect")
    assert PROMPT in bruno.last_text
    await bruno.sends_voice(duration=42)
    rows = await bot.db.fetchall("SELECT prompt, status, answer FROM reflection ORDER BY id")
    assert [(r["prompt"], r["status"]) for r in rows] == [
        ("free", "answered"),
        ("practice", "answered"),
    ]
    assert json.loads(rows[1]["answer"])["duration"] == 42


async def test_someone_elses_prompt_button_changes_nothing(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    _, chat = await joined_bruno(bot)
    carmen = bot.person(202, "Carmen")
    await join(carmen, "DEMOCARMEN")
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    [prompt] = prompts_in(bot, chat)
    skip = next(data for row in prompt.buttons for label, data in row if label == "Skip this one")
    # Bruno's genuine, signed button data, replayed from Carmen's own chat.
    own = carmen.last
    await carmen.taps_data(skip, message_id=own.message_id)
    assert "someone else" in carmen.last_answer["text"]
    assert (
        await bot.db.fetchval(
            "SELECT status FROM reflection WHERE person_id ="
            " (SELECT id FROM person WHERE telegram_id = 201)"
        )
        == "delivered"
    )


# --- the outbox: crashes, races, 429 storms, blocked people --------------------------------


async def test_a_crash_mid_fan_out_resends_at_most_one_and_loses_none(
    quiet_bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = quiet_bot
    people = await seed_people(bot, 60)
    await start_rounds(bot)
    await bot.run_until(datetime(2026, 11, 24, 15, 44, tzinfo=UTC))
    await bot.services.scheduler.run_due()
    bot.clock.advance(minutes=1)
    await bot.services.scheduler.run_due()
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 60

    # Telegram accepts the 25th message, then the process dies before recording it.
    sent = 0
    real_mark_sent = bot.services.outbox.mark_sent

    class Crash(BaseException):
        pass

    async def mark_sent_then_die(self: object, row_id: int, *args: object) -> None:
        nonlocal sent
        sent += 1
        if sent == 25:
            raise Crash
        await real_mark_sent(row_id, *args)  # type: ignore[arg-type]

    monkeypatch.setattr("storage.outbox.OutboxRepo.mark_sent", mark_sent_then_die, raising=True)
    with pytest.raises(Crash):
        await bot.services.sender.drain()
    monkeypatch.undo()
    await bot.restart()
    await bot.run_until(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    received = Counter(
        chat for chat in people for m in bot.api.messages_in(chat) if PROMPT in m.plain_text
    )
    assert set(received) == set(people)  # none lost
    assert sorted(received.values()).count(2) <= 1  # at most the one in flight, twice
    assert max(received.values()) <= 2


# On PostgreSQL only the leader ticks; racing tickers are tests/test_workers.py's (each row
# fired once by three tickers, their conflicts given back and taken again).
@pytest.mark.sqlite_only
async def test_two_scheduler_loops_racing_never_double_send(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    people = await seed_people(bot, 40)
    await start_rounds(bot)
    bot.clock.advance(hours=30, minutes=45)  # Tuesday 15:45: every delivery due at once
    other_db = await open_store(bot.settings.db_path)
    try:
        from bot.scheduling.scheduler import Scheduler

        other = Scheduler(other_db, bot.services.reflections.kinds(), clock=bot.clock)
        first, second = await asyncio.gather(
            bot.services.scheduler.run_due(limit=7), other.run_due(limit=7)
        )
    finally:
        await other_db.close()
    assert first.fired + second.fired >= 40
    assert await bot.db.fetchval("SELECT COUNT(*) FROM outbox") == 40
    await bot.run_until(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    for chat in people:
        assert len(prompts_in(bot, chat)) == 1


async def test_a_429_storm_is_ridden_out_and_every_message_delivered(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    people = await seed_people(bot, 30)
    await start_rounds(bot)
    bot.api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7, times=12
    )
    before = bot.clock.elapsed
    await bot.run_until(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    sender: OutboxSender = bot.services.sender
    assert sender.stats.retry_after == 12
    for chat in people:
        assert len(prompts_in(bot, chat)) == 1
    # It waited as told each time rather than hammering.
    assert bot.clock.elapsed - before >= 12 * 7


async def test_the_stand_in_limits_are_never_exceeded_by_a_fan_out(
    db_path: Path, clock: FakeClock
) -> None:
    async for bot in bot_under_test(db_path, clock, demo=False, send_per_second=25):
        people = await seed_people(bot, 200)
        await start_rounds(bot)
        await bot.run_until(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
        assert bot.services.sender.stats.retry_after == 0
        assert sum(len(prompts_in(bot, c)) for c in people) == 200
        stamps = sorted(
            m.date for c in people for m in bot.api.messages_in(c) if PROMPT in m.plain_text
        )
        per_second = Counter(stamps)
        assert max(per_second.values()) <= 25


async def test_a_blocked_person_is_marked_unreachable_and_others_still_get_theirs(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    people = await seed_people(bot, 5)
    bot.api.block(people[2])
    await start_rounds(bot)
    await bot.run_until(datetime(2026, 11, 27, tzinfo=UTC))
    status = await bot.db.fetchval("SELECT status FROM person WHERE telegram_id = ?", (people[2],))
    assert status == "blocked"
    for chat in people[:2] + people[3:]:
        assert len(prompts_in(bot, chat)) == 1
    # Blocked people get no nudge and no further prompt rows are tried for them.
    failed = await bot.db.fetchval(
        "SELECT COUNT(*) FROM outbox o JOIN person p ON p.id = o.person_id"
        " WHERE p.telegram_id = ? AND o.status = 'failed'",
        (people[2],),
    )
    assert failed == 1
    # Their prompt never reached them, so it does not count as delivered (digests read this);
    # everyone else's does.
    rows = await bot.db.fetchall(
        "SELECT p.telegram_id, r.status, r.delivered_at FROM reflection r"
        " JOIN person p ON p.id = r.person_id ORDER BY p.telegram_id"
    )
    assert [(r[1], r[2] is None) for r in rows if r[0] == people[2]] == [("due", True)]
    assert all(r[1] != "due" and r[2] is not None for r in rows if r[0] != people[2])
    await bot.run_until(datetime(2026, 12, 3, tzinfo=UTC))
    assert bot.services.sender.stats.unreachable == 1


async def test_network_errors_back_off_and_retry(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    [chat] = await seed_people(bot, 1)
    await start_rounds(bot)
    bot.api.fail_next("sendMessage", 502, "Bad Gateway", times=3)
    await bot.run_until(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    assert len(prompts_in(bot, chat)) == 1
    assert bot.services.sender.stats.network_errors == 3


# --- restart and re-arm ------------------------------------------------------------------


async def test_pending_rows_survive_a_restart_and_fire_after_it(quiet_bot: BotUnderTest) -> None:
    bot = quiet_bot
    people = await seed_people(bot, 3)
    await start_rounds(bot)
    await bot.tick()  # the round fans out into three pending deliveries
    await bot.restart()
    pending = await bot.db.fetchval(
        "SELECT COUNT(*) FROM schedule WHERE kind = 'reflection_deliver' AND status = 'pending'"
    )
    assert pending == 3
    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    for chat in people:
        assert len(prompts_in(bot, chat)) == 1


async def test_a_person_sets_away_until_in_settings_and_hears_nothing_until_then(
    quiet_bot: BotUnderTest,
) -> None:
    bot = quiet_bot
    bruno, chat = await joined_bruno(bot)
    await bruno.says("/settings")
    await bruno.taps("Away until")
    replies = await bruno.says("1/11/2026")  # in the past: asked again, with the reason
    assert "already passed" in replies[0].plain_text
    assert "date you are back" in replies[-1].plain_text
    await bruno.says("2026-12-07")
    assert await bot.db.fetchval("SELECT away_until FROM person WHERE telegram_id = 201") == (
        "2026-12-07"
    )
    await bot.run_until(datetime(2026, 12, 9, tzinfo=UTC))
    first = prompts_in(bot, chat)
    assert [local(m, "Europe/London").date() for m in first] == [date(2026, 12, 8)]
    # And back early: "I'm not away" clears it.
    await bruno.says("/settings")
    await bruno.taps("Away until")
    await bruno.taps("I'm not away")
    assert await bot.db.fetchval("SELECT away_until FROM person WHERE telegram_id = 201") is None


def test_deferred_waits_for_allowed_hours_but_not_past_latest_or_forever() -> None:
    prefs = Preferences(ZoneInfo("Europe/London"), time(16), time(20), time(7))
    friday_night = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    monday_7 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert deferred(friday_night, prefs, Calendar()) == monday_7  # past quiet hours and weekend
    noon = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert deferred(noon, prefs, Calendar()) == noon  # allowed now: now
    # A reminder due before Saturday's event goes now rather than after it.
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert deferred(friday_night, prefs, Calendar(), latest=saturday) == friday_night
    # A calendar with no school day left: now, not never.
    over = Calendar(terms=((date(2026, 9, 1), date(2026, 11, 27)),))
    assert deferred(friday_night, prefs, over) == friday_night
