"""Moved and cancelled meetings never remind for the old time; nobody reaches another trio."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage.invites import InviteRepo
from storage.programme import ProgrammeRepo
from storage.summaries import SummaryRepo
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import at, form_trio, newest, run_schedule, utc


async def _schedule(bot: BotUnderTest, clock: FakeClock) -> int:
    """Alice's trio meets on Tue 1 Dec 2026 at 16:00 London time (through the bot)."""
    trio = await form_trio(bot)
    await trio.alice.says("/meeting")
    await trio.alice.taps("New meeting")
    for answer in ("2026-12-01", "16:00", "https://meet.example/x", "Feedback"):
        await trio.alice.says(answer)
    await trio.alice.taps("Send the invitations")
    await run_schedule(bot, clock)
    return int(await bot.db.fetchval("SELECT id FROM meeting"))


async def test_a_moved_meeting_never_reminds_for_the_old_time(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await _schedule(bot, clock)
    alice, bruno = bot.person(801, "Alice"), bot.person(802, "Bruno")
    at(clock, utc(2026, 11, 25, 10, 0))
    await alice.says("/meeting")
    await alice.taps("Move 1")
    assert "Now set for Tue 1 Dec 2026, 16:00" in alice.last_text
    await alice.says("3/12/2026")
    await alice.says("10:00")
    await alice.taps("Send the new time")
    assert "no reminder will go out for the old one" in alice.last_text
    await run_schedule(bot, clock)
    moved = newest(bruno, "Meeting moved")
    assert "Thu 3 Dec 2026, 10:00" in moved.plain_text
    ics = [m.document for m in bruno.inbox if m.document is not None][-1]
    assert ics is not None and b"SEQUENCE:2" in ics[1] and b"DTSTART:20261203T100000Z" in ics[1]

    # Even a row that escaped the cancellation cannot fire: it carries the old version.
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE schedule SET status = 'pending' WHERE dedupe_key LIKE 'meeting:%:v1:%'"
        )
    sent_before = len(bruno.inbox)
    for moment in (utc(2026, 11, 30, 16, 0), utc(2026, 12, 1, 15, 0), utc(2026, 12, 1, 17, 0)):
        at(clock, moment)
        await run_schedule(bot, clock)
    # (The weekly reflection prompt may arrive meanwhile; nothing about the meeting may.)
    assert not any("meeting" in m.plain_text.lower() for m in bruno.inbox[sent_before:])
    assert not any("Who took part" in m.plain_text for m in alice.inbox)
    at(clock, utc(2026, 12, 2, 10, 0))
    await run_schedule(bot, clock)
    assert "Tomorrow at 10:00: trio meeting" in bruno.last_text
    assert "Thu 3 Dec 2026, 10:00" in bruno.last_text
    at(clock, utc(2026, 12, 3, 9, 0))
    await run_schedule(bot, clock)
    assert "In one hour" in bruno.last_text
    reminders = [m.plain_text for m in bruno.inbox if "trio meeting —" in m.plain_text]
    assert all("1 Dec" not in text for text in reminders)


async def test_a_cancelled_meeting_is_announced_and_never_reminds(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await _schedule(bot, clock)
    alice, carmen = bot.person(801, "Alice"), bot.person(803, "Carmen")
    await alice.says("/meeting")
    await alice.taps("Cancel 1")
    await alice.taps("Yes, cancel it")
    await run_schedule(bot, clock)
    assert "Meeting cancelled" in newest(carmen, "cancelled").plain_text
    files = [m.document for m in carmen.inbox if m.document is not None]
    assert b"METHOD:CANCEL" in files[-1][1] and b"STATUS:CANCELLED" in files[-1][1]  # type: ignore[index]
    count = len(carmen.inbox)
    at(clock, utc(2026, 12, 1, 18, 0))
    await run_schedule(bot, clock)
    assert len(carmen.inbox) == count
    await alice.says("/meeting")
    assert "No meetings coming up" in alice.last_text


async def _other_trio(bot: BotUnderTest) -> None:
    """A second trio, led by Zed, with Yan as a teacher."""
    async with bot.db.transaction() as tx:
        school = await ProgrammeRepo.upsert_school(
            tx, ref="OT-1", name="Other School", local_authority="Bolton", phase="primary"
        )
        trio = await ProgrammeRepo.upsert_trio(tx, ref="OT-T", kind="schools", name="Other trio")
        await ProgrammeRepo.add_trio_school(tx, trio, school)
        await InviteRepo.create(tx, role="trio_lead", school_id=school, trio_id=trio, code="ZED001")
        await InviteRepo.create(tx, role="teacher", school_id=school, trio_id=trio, code="YAN001")
    await join(bot.person(901, "Zed"), "ZED001")
    await join(bot.person(902, "Yan"), "YAN001")


async def _held_meeting_with_summary(bot: BotUnderTest) -> tuple[int, int, int]:
    """Trio 1's meeting, held, with a draft summary and one action (through the services)."""
    svc = bot.services
    people = {
        r["telegram_id"]: r["id"]
        for r in await bot.db.fetchall("SELECT id, telegram_id FROM person")
    }
    trio_id = int(await bot.db.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
    async with bot.db.transaction() as tx:
        meeting_id = await svc.meetings.schedule(
            tx,
            trio_id=trio_id,
            starts_at=svc.clock() + timedelta(days=1),
            zone="Europe/London",
            link=None,
            focus="Secret focus of trio one",
            lead_id=people[801],
        )
        await svc.meetings.record_attendance(
            tx, meeting_id, [people[801], people[802]], people[801]
        )
        ctx = {"meeting_id": meeting_id, "trio_id": trio_id, "schools": [], "members": []}
        answers = {
            "focus": "Secret focus of trio one",
            "action_0_what": "An action of trio one",
            "action_0_who": str(people[802]),
            "action_0_due": "2026-12-20",
            "action_1_what": "__done__",
        }
        await svc.agreement.save_draft(tx, people[801], ctx, answers)
    summary_id = int(await bot.db.fetchval("SELECT id FROM summary"))
    action_id = int(await bot.db.fetchval("SELECT id FROM action"))
    return meeting_id, summary_id, action_id


async def test_nobody_reaches_another_trios_meetings_or_summaries(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await form_trio(bot)
    await _other_trio(bot)
    meeting_id, summary_id, action_id = await _held_meeting_with_summary(bot)
    trio_one = int(await bot.db.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
    zed, yan, bruno = bot.person(901, "Zed"), bot.person(902, "Yan"), bot.person(802, "Bruno")
    sign = bot.services.engine.signer.sign

    def snapshot_sql() -> str:
        return (
            "SELECT (SELECT group_concat(status || version || starts_at) FROM meeting),"
            " (SELECT group_concat(status || revision) FROM summary),"
            " (SELECT COUNT(*) FROM summary_approval),"
            " (SELECT group_concat(status) FROM action),"
            " (SELECT COUNT(*) FROM meeting_attendance),"
            " (SELECT COUNT(*) FROM flow_state WHERE status = 'open'),"
            " (SELECT COUNT(*) FROM trio_chat)"
        )

    before = tuple(await bot.db.fetchone(snapshot_sql()) or ())

    # Commands show only their own trio.
    await zed.says("/meeting")
    assert "Secret focus" not in zed.last_text and "Other trio" in str(zed.last.buttons)  # type: ignore[union-attr]
    await zed.says("/summary")
    assert "no meeting to write up" in zed.last_text
    await yan.says("/summary")  # a teacher sees where their own trio's summary stands
    assert "no meeting to write up" in yan.last_text and "Secret focus" not in yan.last_text
    await yan.says("/meeting")
    assert "Secret focus" not in yan.last_text and yan.last.buttons == []  # type: ignore[union-attr]
    # A teacher of trio one may read its meetings but not schedule them.
    await bruno.says("/meeting")
    assert bruno.last.buttons == []  # type: ignore[union-attr]

    # Validly signed buttons (as if leaked or replayed) for trio one's things, tapped by
    # another trio's lead and teacher, and by trio one's own teacher where only a lead may.
    taps = [
        (zed, sign("t", trio_one, "n")),
        (bruno, sign("t", trio_one, "n")),
        *[(zed, sign("m", meeting_id, a)) for a in ("mv", "cx", "cy", "at", "rf", "sm")],
        (zed, sign("m", meeting_id, "rn", 1)),
        *[(bruno, sign("m", meeting_id, a)) for a in ("mv", "cx", "cy", "at")],
        *[(p, sign("s", summary_id, 1, a)) for p in (zed, yan) for a in ("a", "s", "e", "c")],
        (bruno, sign("s", summary_id, 1, "e")),
        (bruno, sign("s", summary_id, 0, "c")),
        *[(p, sign("a", action_id, c)) for p in (zed, yan) for c in ("d", "p", "x")],
        (zed, "m:1:cy~forgedforge"),
    ]
    for person, data in taps:
        await person.taps_data(data, message_id=1)
        answer = person.last_answer or {}
        assert answer.get("show_alert") or "isn't one I made" in (answer.get("text") or ""), (
            person,
            data,
            answer,
        )
    # /link in a group by someone who leads no trio there.
    bot.api.add_group(-500, "Zed's group", [901, 802])
    await bruno.says("/link", chat_id=-500)
    assert await bot.db.fetchval("SELECT COUNT(*) FROM trio_chat") == 0

    after = tuple(await bot.db.fetchone(snapshot_sql()) or ())
    assert after == before


async def test_the_lead_confirms_after_the_deadline_with_the_approvals_so_far(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    await form_trio(bot)
    _, summary_id, _ = await _held_meeting_with_summary(bot)
    alice, bruno = bot.person(801, "Alice"), bot.person(802, "Bruno")
    await run_schedule(bot, clock)
    await bruno.taps("Approve", message=newest(bruno, "Draft summary"))
    await alice.says("/summary")
    assert "2 of 4 approved" in alice.last_text and "Confirm" not in str(alice.last.buttons)  # type: ignore[union-attr]
    confirm = bot.services.engine.signer.sign("s", summary_id, 0, "c")
    await alice.taps_data(confirm, message_id=1)
    assert "hasn't passed yet" in (alice.last_answer or {}).get("text", "")
    clock.advance(days=5, minutes=1)
    await run_schedule(bot, clock)
    # The deadline fell on a Saturday: the lead hears of it on Monday morning, not before.
    assert not any("still waiting" in m.plain_text for m in alice.inbox)
    clock.advance(days=2)
    await run_schedule(bot, clock)
    deadline = newest(alice, "still waiting")
    local = datetime.fromtimestamp(deadline.date, ZoneInfo("Europe/London"))
    assert local.weekday() == 0 and local.hour >= 7
    assert "2 of 4 approved" in deadline.plain_text
    await alice.taps("Confirm as agreed", message=deadline)
    row = await bot.db.fetchone("SELECT status, agreed_how FROM summary")
    assert row is not None and tuple(row) == ("agreed", "lead")


async def test_erasing_a_member_keeps_the_trios_summary_without_them(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    from storage.personal_data import erase
    from storage.personal_export import collect

    await form_trio(bot)
    _, summary_id, _ = await _held_meeting_with_summary(bot)
    bruno = bot.person(802, "Bruno")
    await run_schedule(bot, clock)
    await bruno.taps("Approve", message=newest(bruno, "Draft summary"))
    bruno_id = int(await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 802"))
    async with bot.db.transaction() as tx:
        await tx.execute(
            "UPDATE summary_item SET body = '\"Bruno tried it\"' WHERE summary_id = ?",
            (summary_id,),
        )
        await SummaryRepo.add_item(tx, summary_id, "other", "Bruno tried it")
    exported = await collect(bot.db, bruno_id)
    assert exported["actions_owned"][0]["what"] == "An action of trio one"
    async with bot.db.transaction() as tx:
        assert await erase(tx, bruno_id)
    assert (
        await bot.db.fetchval(
            "SELECT COUNT(*) FROM summary_approval WHERE person_id = ?", (bruno_id,)
        )
        == 0
    )
    assert await bot.db.fetchval("SELECT owner_id FROM action") is None
    body = await bot.db.fetchval("SELECT body FROM summary_item WHERE kind = 'other'")
    assert body == '"[erased] tried it"'
    assert await bot.db.fetchval("SELECT status FROM summary") == "draft"


async def test_meeting_messages_keep_out_of_quiet_hours_and_weekends(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    """A Monday-evening meeting: the day-before reminder waits for Monday 07:00 (still before
    the meeting), the hour-before one goes on time, and the ask after it (ending in quiet
    hours) waits for Tuesday morning."""
    await form_trio(bot)
    svc = bot.services
    lead = int(await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = 801"))
    trio_id = int(await bot.db.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
    starts = utc(2026, 11, 30, 19, 30)  # Monday 19:30 in London
    async with bot.db.transaction() as tx:
        await svc.meetings.schedule(
            tx, trio_id=trio_id, starts_at=starts, zone="Europe/London", link=None,
            focus="Evening meeting", lead_id=lead,
        )  # fmt: skip
    await run_schedule(bot, clock)  # the invitations go now, on Monday morning
    alice, bruno = bot.person(801, "Alice"), bot.person(802, "Bruno")
    london = ZoneInfo("Europe/London")

    def local_times(person: object, needle: str) -> list[datetime]:
        return [
            datetime.fromtimestamp(m.date, london)
            for m in person.inbox  # type: ignore[attr-defined]
            if needle in m.plain_text
        ]

    for step in range(2 * 24 * 3 + 2):  # Saturday 09:00 → Tuesday 10:00, half-hourly
        at(clock, utc(2026, 11, 28, 9) + timedelta(minutes=30 * step))
        await run_schedule(bot, clock)
    # Made on Sunday evening, delivered on Monday morning: it says "today", not "tomorrow".
    assert [t.strftime("%a %H:%M") for t in local_times(bruno, "Today at 19:30")] == ["Mon 07:00"]
    assert local_times(bruno, "Tomorrow") == []
    assert [t.strftime("%a %H:%M") for t in local_times(bruno, "In one hour")] == ["Mon 18:30"]
    asks = local_times(alice, "Who took part?")
    assert [t.strftime("%a %H:%M") for t in asks] == ["Tue 07:00"]
    for person in (alice, bruno):
        for m in person.inbox:
            local = datetime.fromtimestamp(m.date, london)
            assert local.weekday() < 5 and 7 <= local.hour < 20, (local, m.plain_text[:40])
