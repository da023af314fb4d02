"""Through PTB on the strict stand-in: the digest setting, the weekly delivery through the
durable schedule and the outbox, and /digest for a researcher and for a teacher.
(tests/test_digest_reaches_schools.py: the default, trio groups, headlines, empty weeks.)"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from bot.standin.driver import SimPerson
from bot.standin.world import SentMessage
from storage.calendar import CalendarRepo
from storage.db import to_db_time
from tests.digest_programme import agreed_summary
from tests.harness import BotUnderTest, join

pytestmark = pytest.mark.both_stores

ANSWERED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday of 2026-W48


def _documents(messages: list[SentMessage]) -> list[str]:
    return [m.document[0] for m in messages if m.document is not None]


async def _programme(bot: BotUnderTest) -> dict[str, SimPerson]:
    cast: dict[str, SimPerson] = {}
    for user_id, name in ((801, "Alice"), (802, "Bruno"), (803, "Dana"), (804, "Eve")):
        person = bot.person(user_id, name)
        await join(person, f"DEMO{name.upper()}")
        cast[name] = person
    alice_id = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 801")
    async with bot.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, delivered_at,"
            " answered_at) VALUES (?, 'practice', '2026-W48', 'answered', ?, ?, ?)",
            (alice_id, json.dumps("We tried exit tickets and talk partners"),
             to_db_time(ANSWERED), to_db_time(ANSWERED)),
        )  # fmt: skip
        trio_id = await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
        await agreed_summary(tx, trio_id, alice_id, ANSWERED, "Feedback", ("Hinge questions",))
    return cast


async def test_turning_the_shared_digest_off_and_on_in_settings(bot: BotUnderTest) -> None:
    alice = bot.person(801, "Alice")
    await join(alice, "DEMOALICE")
    await alice.says("/settings")
    assert "Weekly digest: on" in alice.last_text  # a trio lead has it unless she says no
    assert await bot.db.fetchval("SELECT digest_choice FROM person WHERE telegram_id = 801") is None
    await alice.taps("Weekly digest")
    assert "You have it on now" in alice.last_text
    await alice.taps("No")
    assert (
        await bot.db.fetchval("SELECT digest_choice FROM person WHERE telegram_id = 801") == "off"
    )
    await alice.says("/settings")
    assert "Weekly digest: off" in alice.last_text
    await alice.taps("Weekly digest")
    await alice.taps("Yes")
    assert await bot.db.fetchval("SELECT digest_choice FROM person WHERE telegram_id = 801") == "on"
    await alice.says("/settings")
    assert "Weekly digest: on" in alice.last_text


async def test_the_weekly_digest_goes_to_researchers_teachers_and_leads(
    bot: BotUnderTest,
) -> None:
    cast = await _programme(bot)
    services = bot.services

    async def no_wait(seconds: float) -> None:
        bot.clock.advance(seconds)

    services.attach_sender(services.sender.bot, monotonic=bot.clock.monotonic, sleep=no_wait)
    await services.digest_delivery.ensure()
    due = await bot.db.fetchval("SELECT due_at FROM schedule WHERE kind = 'digest_weekly'")
    assert due == "2026-11-30T08:00:00.000000Z"  # Monday 08:00 in London, after 2026-W48
    bot.clock.now = datetime(2026, 11, 30, 8, 1, tzinfo=UTC)
    report = await services.scheduler.run_due()
    assert report.by_kind["digest_weekly"] == 1  # (the week's reflection round opens too)
    # A message and a file each, for Alice (lead), Bruno (teacher) and Dana (researcher).
    assert await services.sender.drain() == 6
    dana, alice, bruno, eve = (cast[n] for n in ("Dana", "Alice", "Bruno", "Eve"))
    assert _documents(dana.inbox) == ["triobot-digest-2026-W48-researchers-en.html"]
    assert _documents(alice.inbox) == ["triobot-digest-2026-W48-schools-en.html"]
    assert "Researcher digest" in dana.inbox[-2].plain_text
    assert "For the research team" not in alice.inbox[-2].plain_text
    assert "Across the network · Week 48" in alice.inbox[-2].plain_text
    assert _documents(bruno.inbox) == ["triobot-digest-2026-W48-schools-en.html"]
    assert not _documents(eve.inbox)  # a coordinator: only if she asks
    html = dana.inbox[-1].document[1]  # type: ignore[index]
    assert b"exit tickets and talk partners" in html and b"data:image/png;base64," in html
    # Fired once: the next week is scheduled, nothing is queued twice.
    assert await services.scheduler.run_due() is not None
    assert await services.sender.drain() == 0
    pending = await bot.db.fetchall("SELECT payload FROM schedule WHERE status = 'pending'"
                                    " AND kind = 'digest_weekly'")  # fmt: skip
    assert [json.loads(r[0]) for r in pending] == [{"week": "2026-W49"}]
    assert await bot.db.fetchval("SELECT COUNT(telegram_file_id) FROM digest_file") == 2


async def test_digest_command_for_a_researcher_and_for_a_teacher(bot: BotUnderTest) -> None:
    cast = await _programme(bot)  # the programme began in 2026-W48
    bot.clock.now = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # Tuesday of 2026-W50
    dana, bruno = cast["Dana"], cast["Bruno"]
    await dana.says("/digest")
    assert _documents(dana.inbox[-3:]) == [
        "triobot-digest-2026-W49-researchers-en.html",
        "triobot-export-2026-W49.xlsx",
    ]
    bot.clock.advance(10)  # Telegram allows a burst of three per chat, then one a second
    await dana.says("/digest 2026-W48")
    assert _documents(dana.inbox[-2:])[-1] == "triobot-export-2026-W48.xlsx"
    for bad, why in (
        ("/digest soon", "could not read “soon” as a week"),
        ("/digest 2026-W51", "Week 2026-W51 has not begun yet"),
        ("/digest 2027-W10", "Week 2027-W10 has not begun yet"),
        ("/digest 2026-W47", "Week 2026-W47 was before the programme began"),
    ):
        bot.clock.advance(10)
        await dana.says(bad)
        assert why in dana.last_text and "from 2026-W48 to 2026-W49" in dana.last_text
    bot.clock.advance(10)
    await bruno.says("/digest 2026-W40")  # a teacher too: never another week's digest
    assert "2026-W40 was before the programme began" in bruno.last_text
    assert not _documents(bruno.inbox)
    await bruno.says("/digest")  # the latest shared digest, headed with its week
    assert _documents(bruno.inbox[-2:]) == ["triobot-digest-2026-W49-schools-en.html"]
    assert "Across the network · Week 49" in bruno.inbox[-2].plain_text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM digest") == 2  # W49 and W48 archived


async def test_the_digest_waits_for_each_readers_allowed_hours(bot: BotUnderTest) -> None:
    """Monday 08:00 in London is midnight in California and a closure day for a school: the
    digest waits for the researcher's morning and the teacher's next school day."""
    cast = await _programme(bot)
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE person SET time_zone = 'America/Los_Angeles' WHERE telegram_id = 803"
        )
        await CalendarRepo.replace(
            tx, [("closure", date(2026, 11, 30), date(2026, 12, 1), "Training days")]
        )
    services = bot.services
    services.reflections.forget_calendar()

    async def no_wait(seconds: float) -> None:
        bot.clock.advance(seconds)

    services.attach_sender(services.sender.bot, monotonic=bot.clock.monotonic, sleep=no_wait)
    await services.digest_delivery.ensure()
    bot.clock.now = datetime(2026, 11, 30, 8, 1, tzinfo=UTC)
    await services.scheduler.run_due()
    await services.sender.drain()
    dana, alice = cast["Dana"], cast["Alice"]
    assert not _documents(dana.inbox) and not _documents(alice.inbox)
    waiting = await bot.db.fetchall(
        "SELECT p.telegram_id, MIN(o.not_before) FROM outbox o JOIN person p ON p.id ="
        " o.person_id WHERE o.kind = 'digest' AND o.status = 'pending' GROUP BY 1 ORDER BY 1"
    )
    assert [(r[0], r[1]) for r in waiting] == [
        (801, "2026-12-02T07:00:00.000000Z"),  # Wednesday 07:00 in London, after the closure
        (802, "2026-12-02T07:00:00.000000Z"),
        (803, "2026-11-30T15:00:00.000000Z"),  # Monday 07:00 in Los Angeles
    ]
    await bot.run_until(datetime(2026, 11, 30, 15, 1, tzinfo=UTC))
    assert _documents(dana.inbox) == ["triobot-digest-2026-W48-researchers-en.html"]
    assert not _documents(alice.inbox)
    await bot.run_until(datetime(2026, 12, 2, 7, 1, tzinfo=UTC))
    assert _documents(alice.inbox) == ["triobot-digest-2026-W48-schools-en.html"]
    for message in (dana.inbox[-1], alice.inbox[-1]):
        assert message.document is not None
