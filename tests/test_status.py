"""The coordinator's view: /status in the bot and `triobot status` on the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.programme.roster import RosterImport
from storage.outbox import OutboxRepo
from tests.conftest import Cli
from tests.harness import BotUnderTest, join

OTHER_TRIO = (
    b"school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment\n"
    b"X1,Xylo Primary,Bolton,primary,200,30,100\n"
    b"X2,Yarrow Primary,Bury,primary,200,31,100\n"
    b"X3,Zinnia Primary,Salford,primary,200,32,100\n",
    b"trio_id,school_id\nT2,X1\nT2,X2\nT2,X3\n",
    b"person_ref,name,school_id,role,trio_id\nx-xena,Xena Other,X1,trio_lead,T2\n",
)


async def a_programme_under_way(bot: BotUnderTest) -> None:
    """Two trios: the demo one active, T2 only on the roster; one delivery failed."""
    for content in OTHER_TRIO:
        assert (await RosterImport(bot.db).run(content)).imported
    await join(bot.person(951, "Eve"), "DEMOEVE")
    await join(bot.person(952, "Alice"), "DEMOALICE")
    bruno = bot.person(953, "Bruno")
    await bruno.says("/start DEMOBRUNO")  # started, not finished
    async with bot.db.transaction() as tx:
        await OutboxRepo.enqueue(tx, 952, "reminder", {"text": "Meeting tomorrow"}, now=bot.clock())
        row_id = await tx.fetchval("SELECT MAX(id) FROM outbox")
    await bot.services.outbox.fail(row_id, "Forbidden: bot was blocked by the user")


async def test_a_coordinator_sees_the_programme_at_a_glance(bot: BotUnderTest) -> None:
    await a_programme_under_way(bot)
    eve = bot.person(951, "Eve")
    await eve.says("/status")
    text = eve.last_text
    assert "Schools: 6 in 6 local authorities · Trios: 2" in text
    assert "People: 2 joined · 1 still joining · 1 invited, not started" in text
    assert "Messages I could not deliver: 1" in text
    assert "T2 (T2) — 1 member, never active" in text
    assert "DEMO-T1" not in text  # Alice just joined: not quiet

    bot.clock.advance(weeks=4)
    await eve.says("/status")
    assert "Oldham–Stockport–Wigan trio (DEMO-T1) — 2 members, last active Mon 23 Nov 2026" in (
        eve.last_text
    )


async def test_a_lead_sees_their_own_trio(bot: BotUnderTest) -> None:
    await a_programme_under_way(bot)
    alice = bot.person(952, "Alice")
    await alice.says("/status")
    text = alice.last_text
    assert text.startswith("Oldham–Stockport–Wigan trio")
    assert "Alice (trio lead) · Northfield Primary — joined" in text
    assert "Schools:" not in text  # the programme's figures are the coordinator's


async def test_status_on_the_command_line(bot: BotUnderTest, cli: Cli) -> None:
    await a_programme_under_way(bot)
    status, out = await asyncio.to_thread(cli, "status")
    assert status == 0, out
    assert "Schools: 6 in 6 local authorities" in out
    assert "Trios: 2" in out
    assert (
        "People: 2 joined, 1 joining, 1 invited (not started), 0 blocked the bot, 0 erased" in out
    )
    assert "Deliveries failed: 1" in out
    assert "Trios gone quiet (no activity for 3 weeks): 1" in out
    assert "T2" in out and "never" in out
    status, out = await asyncio.to_thread(cli, "status", "--quiet-weeks", "1000")
    assert "Trios gone quiet (no activity for 1000 weeks): 1" in out  # T2 was never active


async def test_a_lead_sees_upcoming_reminders_and_response_rates(bot: BotUnderTest) -> None:
    """Issue 3's lead view: what the schedule will send the trio next, and who answered."""
    await join(bot.person(952, "Alice"), "DEMOALICE")
    bruno = bot.person(953, "Bruno")
    await join(bruno, "DEMOBRUNO")
    await join(bot.person(954, "Carmen"), "DEMOCARMEN")
    alice = bot.person(952, "Alice")
    await bot.services.reflections.ensure_rounds()
    await bot.tick()  # this week's round: a prompt for each of them on Tuesday 15:45
    await alice.says("/status")
    text = alice.last_text
    assert "Coming up" in text
    assert "Tue 24 Nov 2026, 15:45 (Europe/London) — reflection prompt · Bruno" in text
    assert "Reflection prompts answered" in text and "no prompts yet" in text

    await bot.run_until(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    await bruno.taps("✍️ Answer now")
    await bruno.says("Cold-calling with wait time: more hands, fewer guesses.")
    await alice.says("/status")
    text = alice.last_text
    assert "2026-W48: 1/3 answered (33%)" in text
    # Bruno answered: his nudge is gone; the others' nudges are what comes next.
    assert "reminder to reflect · Bruno" not in text
    assert "Thu 26 Nov 2026, 15:45 (Europe/London) — reminder to reflect · Carmen" in text
