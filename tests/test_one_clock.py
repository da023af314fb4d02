"""One clock for the whole bot: what the services read and what storage stamps follow the
clock the bot was started with, not the machine's.

The bot runs here on a fake clock set in 2020, years before the real date: on real time every
deadline below would long have passed, so each check that one has not yet passed shows that
the injected clock, not real time, decided it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.summaries.agreement import NO_ACTIONS
from storage.db import from_db_time, to_db_time
from storage.meetings import MeetingRepo
from storage.summaries import SummaryRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import at, form_trio

START = datetime(2020, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def test_an_invite_made_in_the_bot_expires_on_the_bot_clock(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    eve = bot.person(905, "Eve")
    await join(eve, "DEMOEVE")
    await eve.says("/invite")
    await eve.taps("teacher")
    await eve.taps("Oldham–Stockport–Wigan trio")
    await eve.taps("Northfield Primary")
    await eve.taps("3")
    assert "Invite ready" in eve.last_text
    code, stored = tuple(
        await bot.db.fetchone("SELECT code, expires_at FROM invite WHERE created_by IS NOT NULL")
    )
    expires = from_db_time(stored)
    assert expires is not None
    # Fourteen days from when it was made (the stand-in's replies move the clock by seconds).
    assert timedelta(0) <= clock.now + timedelta(days=14) - expires < timedelta(minutes=1)

    at(clock, expires - timedelta(days=1))
    await join(bot.person(906, "Jo"), code)  # still open on the bot's clock
    used_at = await bot.db.fetchval("SELECT used_at FROM invite_use WHERE code = ?", (code,))
    assert used_at is not None and from_db_time(used_at) < expires

    at(clock, expires + timedelta(seconds=1))
    late = bot.person(907, "Kim")
    await late.says(f"/start {code}")
    assert "expired" in late.last_text


async def test_a_summary_deadline_follows_the_bot_clock(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await form_trio(bot)
    alice = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 801")
    bruno = await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 802")
    trio = await bot.db.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'")
    agreement = bot.services.agreement
    written = clock.now
    async with bot.db.transaction() as tx:
        meeting = await MeetingRepo.create(
            tx,
            trio_id=trio,
            starts_at=START - timedelta(hours=2),
            time_zone="Europe/London",
            link=None,
            focus="Feedback that moves learning on",
            created_by=alice,
        )
        summary_id = await agreement.save_draft(
            tx,
            alice,
            {"meeting_id": meeting, "trio_id": trio},
            {"focus": "Whole-class feedback", "action_0_what": NO_ACTIONS},
        )
        summary = await SummaryRepo.get(tx, summary_id)
    assert summary is not None
    assert summary.agree_by == written + agreement.agree_within

    clock.advance(hours=1)
    assert await agreement.approve(bruno, summary_id, summary.revision) == "approved"
    decided = await bot.db.fetchval(
        "SELECT decided_at FROM summary_approval WHERE person_id = ?", (bruno,)
    )
    assert decided == to_db_time(written + timedelta(hours=1))

    # The lead may agree it on the approvals so far only once the deadline has passed.
    at(clock, summary.agree_by - timedelta(minutes=1))
    assert await agreement.confirm(alice, summary_id) == "too_early"
    at(clock, summary.agree_by)
    assert await agreement.confirm(alice, summary_id) == "agreed"
    agreed_at = await bot.db.fetchval("SELECT agreed_at FROM summary WHERE id = ?", (summary_id,))
    assert agreed_at == to_db_time(summary.agree_by)
