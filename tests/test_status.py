"""The coordinator's view: /status in the bot and `triobot status` on the command line."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import clock as process_clock
from bot.programme.roster import RosterImport
from storage.outbox import OutboxRepo
from tests.conftest import Cli
from tests.harness import BotUnderTest, join

pytestmark = pytest.mark.both_stores

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
    assert "• T2 — 1 member, never active" in text
    assert "DEMO-T1" not in text  # Alice just joined: not quiet
    assert text.index("Trios not started") < text.index("• T2 — ") < text.index("Trios gone quiet")

    bot.clock.advance(weeks=4)
    await eve.says("/status")
    text = eve.last_text
    quiet = text[text.index("Trios gone quiet") :]
    assert "Oldham–Stockport–Wigan trio (DEMO-T1) — 2 members, last active Mon 23 Nov 2026" in quiet
    assert "• T2 — " in text and "• T2 — " not in quiet  # still not started, not quiet


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
    # T2 has never been active: not started, which is not the same as gone quiet.
    assert "Trios not started (no member active yet): 1\n  T2            members 1, 0 joined" in out
    assert "Trios gone quiet (no activity for 3 weeks): 0" in out
    status, out = await asyncio.to_thread(cli, "status", "--quiet-weeks", "1000")
    assert "Trios not started (no member active yet): 1" in out
    assert "Trios gone quiet (no activity for 1000 weeks): 0" in out


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


# --- who has not joined; not started and gone quiet ------------------------------------------
ROSTER = (
    (
        "schools.csv",
        "school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment\n"
        "X1,Xylo Primary,Bolton,primary,200,30,100\n"
        "X2,Yarrow Primary,Bury,primary,200,31,100\n"
        "X3,Zinnia Primary,Salford,primary,200,32,100\n",
    ),
    ("trios.csv", "trio_id,school_id\nT2,X1\nT2,X2\nT2,X3\n"),
    (
        "people.csv",
        "person_ref,name,school_id,role,trio_id,email\n"
        "x-xena,Xena Other,X1,trio_lead,T2,xena@xylo.example\n"
        "x-yan,Yan Petrov,X2,teacher,T2,yan@yarrow.example\n"
        "x-zoe,Zoe Quist,X3,teacher,T2,\n",
    ),
)


async def test_status_lists_who_has_not_joined_and_tells_not_started_from_gone_quiet(
    bot: BotUnderTest, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coordinator's week: roster in, invites out, some join, one never finishes, one
    invite withdrawn, one left to expire; a month later, who went quiet."""
    monkeypatch.setattr(process_clock, "from_env", lambda: bot.clock)  # the CLI on bot time

    async def triobot(*argv: str) -> str:
        status, out = await asyncio.to_thread(cli, *argv)
        assert status == 0, out
        return out

    async def invites(name: str, *options: str) -> dict[str, str]:
        await triobot("invite", "batch", "--out", str(tmp_path / name), *options)
        with (tmp_path / name).open(encoding="utf-8") as f:
            return {row["person_ref"]: row["code"] for row in csv.DictReader(f)}

    for name, text in ROSTER:
        (tmp_path / name).write_text(text, encoding="utf-8")
        await triobot("roster", "import", str(tmp_path / name))
    codes = await invites("merge.csv")
    late = "person_ref,name,school_id,role,trio_id\nx-ann,Ann Lowe,X1,teacher,T2\n"
    (tmp_path / "late.csv").write_text(late, encoding="utf-8")
    await triobot("roster", "import", str(tmp_path / "late.csv"))
    await triobot("invite", "revoke", codes["x-zoe"])
    await join(bot.person(961, "Xena"), codes["x-xena"])
    await bot.person(962, "Yan").says(f"/start {codes['x-yan']}")  # and no further

    out = await triobot("status")
    assert "People: 1 joined, 1 joining, 2 invited (not started)" in out
    assert out.split("Not joined yet: ")[1].split("Trios")[0].splitlines() == [
        "3",
        "  x-ann Ann Lowe · Xylo Primary · T2 · no invite yet (triobot invite batch makes one)",
        f"  x-yan Yan Petrov · Yarrow Primary · T2 · code {codes['x-yan']} used on 2026-11-23,"
        " joining not finished",
        "  x-zoe Zoe Quist · Zinnia Primary · T2 · invited 2026-11-23, invite revoked",
    ]
    # DEMO-T1 has no one in it yet; T2 has just begun.
    assert "Trios not started (no member active yet): 1\n  DEMO-T1 " in out
    assert "Trios gone quiet (no activity for 3 weeks): 0" in out
    assert "xena@xylo.example" not in out  # addresses are for the mail merge only

    second = await invites("late.csv", "--expires", "1d")
    bot.clock.advance(days=2)
    out = await triobot("status")
    assert (
        "  x-ann Ann Lowe · Xylo Primary · T2 · invited 2026-11-23, invite expired 2026-11-24"
        in out
    )
    assert "  x-zoe Zoe Quist · Zinnia Primary · T2 · invited 2026-11-23, invite expired" in out
    assert list(second) == ["x-ann", "x-zoe"]  # Zoe's first was withdrawn: a new one for her

    bot.clock.advance(weeks=4)
    out = await triobot("status")
    quiet = out.split("Trios gone quiet (no activity for 3 weeks): ")[1].splitlines()
    assert quiet == ["1", "  T2            members 4, 1 joined, last active 2026-11-23"]
    assert "Trios not started (no member active yet): 1\n  DEMO-T1 " in out
