"""Roster changes take effect: a teacher whose school leaves a trio, or whom the coordinator
moves, leaves that trio — its membership, its messages still to come, its approvals — and
keeps what they already contributed. Written as the coordinator does it, at the command line,
while the trio goes on in Telegram."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bot import clock as process_clock
from bot.standin.driver import SimPerson
from bot.summaries.agreement import MORE_DONE
from storage.db import Database
from storage.trio_membership import leave_trio
from tests.conftest import Cli, FakeClock
from tests.dbscan import query, snapshot
from tests.harness import BotUnderTest, bot_under_test, join
from tests.meeting_script import at, newest, run_schedule, utc

pytestmark = pytest.mark.both_stores

SCHOOLS = """school_id,name,local_authority,phase,pupils,fsm_pct,prior_attainment
N1,Northfield Primary,Oldham,primary,310,41.0,98.5
S1,Southgate Primary,Stockport,primary,280,38.5,99.2
W1,Westbrook Primary,Wigan,primary,350,44.0,97.8
B1,Brookside Primary,Bolton,primary,200,22.5,104.0
E1,Eccles Primary,Salford,primary,260,35.0,100.1
A1,Ashton Primary,Tameside,primary,240,39.0,99.0
"""
# W1 is a big school: its teachers work in two trios.
TRIOS = """trio_id,kind,school_id
T1,schools,N1
T1,schools,S1
T1,schools,W1
T2,schools,W1
T2,schools,B1
T2,schools,E1
"""
# The next year's file: Westbrook has left T1, Ashton has joined it.
TRIOS_WITHOUT_W1 = TRIOS.replace("T1,schools,W1", "T1,schools,A1")
PEOPLE = """person_ref,name,school_id,role,trio_id
p-ana,Ana Lima,N1,trio_lead,T1
p-ben,Ben Okafor,S1,teacher,T1
p-cai,Cai Jones,W1,teacher,T1
"""
ANA, BEN, CAI = 801, 802, 803


@pytest.fixture
async def bot(
    db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotUnderTest]:
    # The command line runs on the bot's (fake) clock, as in a simulation: what it cancels
    # and schedules is then "now" for the bot too.
    monkeypatch.setattr(process_clock, "from_env", lambda: clock)
    async for running in bot_under_test(db_path, clock, demo=False):
        yield running


@pytest.fixture
def coordinator(cli: Cli, tmp_path: Path) -> Coordinator:
    return Coordinator(cli, tmp_path)


@dataclass
class Coordinator:
    """`triobot …` typed by the coordinator, off the bot's event loop (each command runs its
    own), with the roster files they keep."""

    cli: Cli
    folder: Path

    async def __call__(self, *argv: str) -> tuple[int, str]:
        return await asyncio.to_thread(self.cli, *argv)

    async def imports(self, name: str, text: str, *options: str) -> str:
        path = self.folder / name
        path.write_text(text, encoding="utf-8")
        status, out = await self("roster", "import", str(path), *options)
        assert status == 0, out
        return out

    async def invite_codes(self) -> dict[str, str]:
        merge = self.folder / "merge.csv"
        status, out = await self("invite", "batch", "--out", str(merge))
        assert status == 0, out
        with merge.open(encoding="utf-8") as f:
            return {row["person_ref"]: row["code"] for row in csv.DictReader(f)}


def warnings(out: str) -> list[str]:
    return [
        line.strip().removeprefix("warning: ") for line in out.splitlines() if "warning:" in line
    ]


def received(person: SimPerson, text: str) -> int:
    return sum(text in m.plain_text for m in person.inbox)


async def programme(bot: BotUnderTest, coordinator: Coordinator) -> tuple[SimPerson, ...]:
    """Schools, trios and people imported; everyone joins with their personal invite."""
    await coordinator.imports("schools.csv", SCHOOLS)
    await coordinator.imports("trios.csv", TRIOS)
    await coordinator.imports("people.csv", PEOPLE)
    codes = await coordinator.invite_codes()
    people = []
    for ref, user_id, name in (("p-ana", ANA, "Ana"), ("p-ben", BEN, "Ben"), ("p-cai", CAI, "Cai")):
        person = bot.person(user_id, name)
        await join(person, codes[ref])
        people.append(person)
    return tuple(people)


async def lead_schedules_a_meeting(lead: SimPerson, day: str, focus: str) -> None:
    await lead.says("/meeting")
    await lead.taps("New meeting")
    await lead.says(day)
    await lead.says("16:00")
    await lead.says("https://meet.example/t1")
    await lead.says(focus)
    await lead.taps("Send the invitations")
    assert "Invitations are on their way" in lead.last_text


async def members_of(bot: BotUnderTest, trio: str) -> list[str]:
    rows = await bot.db.fetchall(
        "SELECT p.ref || CASE m.is_lead WHEN 1 THEN '*' ELSE '' END FROM trio_member m"
        " JOIN person p ON p.id = m.person_id JOIN trio t ON t.id = m.trio_id"
        " WHERE t.ref = ? ORDER BY p.ref",
        (trio,),
    )
    return [r[0] for r in rows]


async def approvals_of(bot: BotUnderTest, pid: int) -> list[tuple[int, str, int]]:
    rows = await bot.db.fetchall(
        "SELECT summary_id, decision, revision FROM summary_approval WHERE person_id = ?", (pid,)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def person_id(bot: BotUnderTest, telegram_id: int) -> int:
    return int(await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = ?", (telegram_id,)))


# --- a school leaves a trio ---------------------------------------------------------------
async def test_a_school_dropped_from_the_trio_file_takes_its_teacher_out_of_the_trio(
    bot: BotUnderTest, coordinator: Coordinator, clock: FakeClock, db_path: Path
) -> None:
    ana, ben, cai = await programme(bot, coordinator)
    assert await members_of(bot, "T1") == ["p-ana*", "p-ben", "p-cai"]
    await lead_schedules_a_meeting(ana, "1/12/2026", "Feedback that moves learning on")
    # The invitations are queued, not yet sent, when the coordinator tries next year's file:
    # a dry run says who would leave, and writes nothing.
    as_it_was = snapshot(db_path)
    out = await coordinator.imports("trios-2027.csv", TRIOS_WITHOUT_W1, "--dry-run")
    assert "p-cai (Cai) leaves trio 'T1' (their school 'W1' is no longer in it)" in out
    assert "dry run: nothing written" in out and snapshot(db_path) == as_it_was

    out = await coordinator.imports("trios-2027.csv", TRIOS_WITHOUT_W1)
    assert warnings(out) == [
        "line 2: p-cai (Cai) leaves trio 'T1' (their school 'W1' is no longer in it);"
        " 2 pending message(s) and 0 scheduled item(s) to them cancelled",
    ]
    assert await members_of(bot, "T1") == ["p-ana*", "p-ben"]

    # Ana and Ben get the invitation with its join link; Cai gets neither it nor its file.
    await run_schedule(bot, clock)
    for person in (ana, ben):
        assert "https://meet.example/t1" in newest(person, "Trio meeting").plain_text
    assert received(cai, "Trio meeting") == 0
    assert [m for m in cai.inbox if m.document is not None] == []
    dropped = await bot.db.fetchall(
        "SELECT kind, last_error FROM outbox WHERE status = 'dropped' AND person_id = ?",
        (await person_id(bot, CAI),),
    )
    assert sorted(r["kind"] for r in dropped) == ["meeting", "meeting_file"]
    assert {r["last_error"] for r in dropped} == {"roster import: left trio T1"}

    # Nor the reminders, which go to the trio as it stands when they fall due.
    at(clock, utc(2026, 11, 30, 16, 0))
    await run_schedule(bot, clock)
    assert "Tomorrow at 16:00: trio meeting" in ben.last_text
    assert received(cai, "trio meeting") == 0

    # The next meeting: nothing for Cai at all.
    before = len(cai.inbox)
    await lead_schedules_a_meeting(ana, "12/1/2027", "Feedback, round two")
    await run_schedule(bot, clock)
    assert "Feedback, round two" in newest(ben, "Trio meeting").plain_text
    assert len(cai.inbox) == before

    # The same file again changes nothing.
    unchanged = snapshot(db_path)
    out = await coordinator.imports("trios-2027.csv", TRIOS_WITHOUT_W1)
    assert "Imported: 0 new, 0 changed, 2 unchanged." in out and warnings(out) == []
    assert snapshot(db_path) == unchanged


async def test_a_lead_whose_school_leaves_loses_the_lead_in_that_trio(
    bot: BotUnderTest, coordinator: Coordinator
) -> None:
    ana, _, _ = await programme(bot, coordinator)
    out = await coordinator.imports(
        "trios-2027.csv", TRIOS.replace("T1,schools,N1", "T1,schools,A1")
    )
    assert "p-ana (Ana) leaves trio 'T1'" in out and "no longer its lead" in out
    assert await members_of(bot, "T1") == ["p-ben", "p-cai"]  # T1 has no lead until one joins
    await ana.says("/meeting")
    assert "Sorry" in ana.last_text  # no trio of hers any more, so nothing to schedule


# --- a summary going round for agreement -----------------------------------------------------
async def circulate_summary(bot: BotUnderTest, author: SimPerson, owner_id: int) -> int:
    """Ana's summary of a meeting, as the summary flow would save it (that flow has its own
    tests, tests/test_meeting_cycle.py), with one action for `owner_id`."""
    svc, author_id = bot.services, await person_id(bot, author.user_id)
    async with bot.db.transaction() as tx:
        trio_id = int(await tx.fetchval("SELECT id FROM trio WHERE ref = 'T1'"))
        meeting_id = int(await tx.fetchval("SELECT id FROM meeting WHERE trio_id = ?", (trio_id,)))
        return await svc.agreement.save_draft(
            tx,
            author_id,
            {"meeting_id": meeting_id, "trio_id": trio_id, "schools": []},
            {
                "focus": "Feedback that moves learning on",
                "action_0_what": "Try the feedback sheets in Year 5",
                "action_0_who": str(owner_id),
                "action_0_due": str(date(2026, 12, 15)),
                "action_1_what": MORE_DONE,
            },
        )


async def test_a_circulating_summary_is_agreed_without_the_teacher_who_left(
    bot: BotUnderTest, coordinator: Coordinator, clock: FakeClock
) -> None:
    ana, ben, cai = await programme(bot, coordinator)
    await lead_schedules_a_meeting(ana, "1/12/2026", "Feedback that moves learning on")
    await circulate_summary(bot, ana, await person_id(bot, CAI))
    await run_schedule(bot, clock)
    await ben.taps("Approve", message=newest(ben, "Draft summary"))
    assert await bot.db.fetchval("SELECT status FROM summary") == "draft"  # Cai has not

    out = await coordinator.imports("trios-2027.csv", TRIOS_WITHOUT_W1)
    assert warnings(out) == [
        "line 2: p-cai (Cai) leaves trio 'T1' (their school 'W1' is no longer in it);"
        " 0 pending message(s) and 1 scheduled item(s) to them cancelled;"
        " 1 draft summary(ies) no longer wait for them",
    ]
    await run_schedule(bot, clock)
    row = await bot.db.fetchone("SELECT status, agreed_how FROM summary")
    assert row is not None and (row["status"], row["agreed_how"]) == ("agreed", "all")
    for person in (ana, ben):
        assert "the summary is agreed" in person.last_text
    assert received(cai, "the summary is agreed") == 0

    # Cai's old button counts for nothing now; the action stays Cai's, its reminder does not
    # come.
    await cai.taps("Approve", message=newest(cai, "Draft summary"))
    assert await approvals_of(bot, await person_id(bot, CAI)) == []
    assert await bot.db.fetchval("SELECT owner_id FROM action") == await person_id(bot, CAI)
    at(clock, utc(2026, 12, 14, 16, 0))
    await run_schedule(bot, clock)
    assert received(cai, "Action due") == 0


# --- the coordinator moves a person --------------------------------------------------------
async def test_person_move_takes_a_teacher_into_another_trio_and_out_of_the_old_one(
    bot: BotUnderTest, coordinator: Coordinator, clock: FakeClock
) -> None:
    ana, ben, cai = await programme(bot, coordinator)
    cai_id = await person_id(bot, CAI)
    await lead_schedules_a_meeting(ana, "1/12/2026", "Feedback that moves learning on")
    await run_schedule(bot, clock)
    # A summary Cai approved, agreed: it stays theirs after the move.
    await circulate_summary(bot, ana, cai_id)
    await run_schedule(bot, clock)
    await ben.taps("Approve", message=newest(ben, "Draft summary"))
    await cai.taps("Approve", message=newest(cai, "Draft summary"))
    assert await bot.db.fetchval("SELECT status FROM summary") == "agreed"
    await run_schedule(bot, clock)
    history = await approvals_of(bot, cai_id)
    assert len(history) == 1

    status, out = await coordinator("person", "move", "p-cai", "--trio", "T2")
    assert status == 0, out
    assert out.strip() == (
        "p-cai (Cai) moved into trio T2, out of T1; cancelled 0 message(s) and 1 scheduled item(s)."
    )
    assert await members_of(bot, "T1") == ["p-ana*", "p-ben"]
    assert await members_of(bot, "T2") == ["p-cai"]
    assert await approvals_of(bot, cai_id) == history
    assert await bot.db.fetchval("SELECT author_id FROM summary") == await person_id(bot, ANA)

    # Again: nothing to do.
    status, out = await coordinator("person", "move", str(CAI), "--trio", "T2")
    assert status == 0 and "p-cai (Cai) is already in trio T2; nothing changed." in out

    # T1's next meeting reaches Ana and Ben only.
    before = len(cai.inbox)
    await lead_schedules_a_meeting(ana, "12/1/2027", "Feedback, round two")
    await run_schedule(bot, clock)
    assert "Feedback, round two" in newest(ben, "Trio meeting").plain_text
    assert len(cai.inbox) == before


async def test_remove_from_trio_only_takes_them_out(
    bot: BotUnderTest, coordinator: Coordinator, clock: FakeClock
) -> None:
    ana, ben, cai = await programme(bot, coordinator)
    await lead_schedules_a_meeting(ana, "1/12/2026", "Feedback that moves learning on")
    status, out = await coordinator("person", "move", "p-ana", "--remove-from-trio", "T1")
    assert status == 0, out
    assert out.strip() == (
        "p-ana (Ana) left trio T1 (was its lead); cancelled 2 message(s) and 0 scheduled item(s)."
    )
    assert await members_of(bot, "T1") == ["p-ben", "p-cai"]
    await run_schedule(bot, clock)
    calendar_files = [sum(m.document is not None for m in p.inbox) for p in (ana, ben, cai)]
    assert calendar_files == [0, 1, 1]  # the lead's own invitation did not go either

    status, out = await coordinator("person", "move", "p-ana", "--remove-from-trio", "T1")
    assert status == 0 and "p-ana (Ana) is not in trio T1; nothing changed." in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("p-zed", "--trio", "T2"), "p-zed: no such person (or erased on request)"),
        (("p-cai", "--trio", "T9"), "--trio: no trio with reference 'T9'"),
        (("p-cai", "--remove-from-trio", "T9"), "--remove-from-trio: no trio with reference 'T9'"),
        (("p-ben", "--trio", "T2"), "--trio: p-ben (Ben)'s school is not one of trio T2's schools"),
    ],
)
async def test_person_move_refuses_what_it_cannot_do_and_changes_nothing(
    bot: BotUnderTest,
    coordinator: Coordinator,
    db_path: Path,
    argv: tuple[str, ...],
    said: str,
) -> None:
    await programme(bot, coordinator)
    before = snapshot(db_path)
    status, out = await coordinator("person", "move", *argv)
    assert (status, out.strip()) == (2, said)
    assert snapshot(db_path) == before


async def test_an_erased_person_cannot_be_moved(
    bot: BotUnderTest, coordinator: Coordinator
) -> None:
    await programme(bot, coordinator)
    status, out = await coordinator("person", "erase", "p-cai", "--yes")
    assert status == 0, out
    for who in ("p-cai", str(CAI)):
        status, out = await coordinator("person", "move", who, "--trio", "T2")
        assert status == 2 and "no such person (or erased on request)" in out


def test_person_move_needs_a_trio_to_go_to_or_leave(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli("person", "move", "p-cai")
    assert exit_.value.code == 2


# --- other roster files -----------------------------------------------------------------------
async def test_teacher_trio_and_people_files_take_people_out_too(
    coordinator: Coordinator, db_path: Path
) -> None:
    for name, text in (("s.csv", SCHOOLS), ("t.csv", TRIOS), ("p.csv", PEOPLE)):
        await coordinator.imports(name, text)
    await coordinator.imports(
        "ls.csv", "trio_id,kind,person_ref\nLS1,teachers,p-ana\nLS1,teachers,p-ben\n"
    )
    out = await coordinator.imports("ls2.csv", "trio_id,kind,person_ref\nLS1,teachers,p-ana\n")
    assert "p-ben (Ben Okafor) leaves trio 'LS1' (not listed)" in out
    assert "Imported: 0 new, 1 changed, 0 unchanged." in out

    # A teacher the people file moves to another school leaves the trio of the old one.
    moved = PEOPLE.replace("p-cai,Cai Jones,W1,teacher,T1", "p-cai,Cai Jones,B1,teacher,")
    out = await coordinator.imports("p2.csv", moved)
    assert "line 4: p-cai (Cai Jones) leaves trio 'T1' (their school is now 'B1')" in out
    trios = query(
        db_path,
        "SELECT t.ref FROM trio_member m JOIN trio t ON t.id = m.trio_id"
        " JOIN person p ON p.id = m.person_id WHERE p.ref IN ('p-ben', 'p-cai') ORDER BY 1",
    )
    assert trios == [("T1",)]  # Ben's school trio; Cai is in none


# --- lesson study -------------------------------------------------------------------------
LATER = "2027-01-01T00:00:00.000000Z"
CYCLES: list[
    tuple[str, list[tuple[object, ...]]]
] = [  # trio LS1 of persons 1–3: cycle 1 finished, cycle 2 running; 3 leaves
    ("INSERT INTO trio VALUES (1, 'LS1', 'teachers', 'LS1', '2026-11-01T00:00:00.000000Z')", [()]),
    (
        "INSERT INTO person (id, telegram_id, status, created_at, updated_at)"
        " VALUES (?, ?, 'active', '2026-11-01T00:00:00.000000Z', '2026-11-01T00:00:00.000000Z')",
        [(p, 900 + p) for p in (1, 2, 3)],
    ),
    (
        "INSERT INTO trio_member VALUES (1, ?, 0, '2026-11-01T00:00:00.000000Z')",
        [(p,) for p in (1, 2, 3)],
    ),
    (
        "INSERT INTO lesson_study (id, trio_id, subject, class_group, focus_what, focus_who,"
        " stage, status, stage_since, created_at) VALUES (?, 1, 'm', '5B', 'x', 'y', ?, ?,"
        " '2026-11-01T00:00:00.000000Z', '2026-11-01T00:00:00.000000Z')",
        [(1, "agreed", "agreed"), (2, "lesson", "active")],
    ),
    (
        "INSERT INTO lesson_study_member VALUES (?, ?, ?)",
        [(c, p, p) for c in (1, 2) for p in (1, 2, 3)],
    ),
    (
        "INSERT INTO schedule (kind, person_id, due_at, dedupe_key, created_at)"
        " VALUES ('ls_remind', ?, ?, ?, '2026-11-01T00:00:00.000000Z')",
        [(3, LATER, "ls:2:r1:x:day:3"), (2, LATER, "ls:2:r1:x:day:2")],
    ),
    (  # the second is for a cycle 12: not cycle 1's, for all that it starts with "ls:1"
        "INSERT INTO outbox (chat_id, person_id, kind, payload, dedupe_key, not_before,"
        " created_at) VALUES (903, 3, 'lesson_study', '{}', ?, ?, '2026-11-01T00:00:00.000000Z')",
        [("ls:2:4:notice_observe:3:0", LATER), ("ls:12:4:notice_observe:3:0", LATER)],
    ),
]


async def test_leaving_takes_them_out_of_a_running_cycle_but_not_a_finished_one(
    db: Database, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        for sql, rows in CYCLES:
            await tx.executemany(sql, rows)
        left = await leave_trio(tx, 3, 1, clock(), "left the trio")
    assert (left.cycles, left.messages, left.scheduled) == (1, 1, 1)
    members = await db.fetchall("SELECT lesson_study_id, person_id FROM lesson_study_member")
    assert sorted(tuple(r) for r in members) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]


async def test_someone_moved_into_a_trio_gets_its_meetings_invitation(
    bot: BotUnderTest, coordinator: Coordinator, clock: FakeClock
) -> None:
    ana, ben, _ = await programme(bot, coordinator)
    status, out = await coordinator("person", "move", "p-ben", "--remove-from-trio", "T1")
    assert status == 0, out
    await lead_schedules_a_meeting(ana, "1/12/2026", "Feedback that moves learning on")
    await run_schedule(bot, clock)
    assert received(ben, "Trio meeting") == 0

    status, out = await coordinator("person", "move", "p-ben", "--trio", "T1")
    assert status == 0 and "moved into trio T1" in out, out
    await run_schedule(bot, clock)  # the running bot sends what the command line queued
    assert "Feedback that moves learning on" in newest(ben, "Trio meeting").plain_text
    assert [m.document[0] for m in ben.inbox if m.document] == ["trio-meeting-1.ics"]
    # Moving him in again changes nothing, and tells him nothing twice.
    status, out = await coordinator("person", "move", "p-ben", "--trio", "T1")
    await run_schedule(bot, clock)
    assert received(ben, "Trio meeting") == 1


async def test_the_next_roster_putting_someone_in_a_trio_brings_its_invitation(
    bot: BotUnderTest, coordinator: Coordinator, clock: FakeClock
) -> None:
    ana, ben, _ = await programme(bot, coordinator)
    status, out = await coordinator("person", "move", "p-ben", "--remove-from-trio", "T1")
    assert status == 0, out
    await lead_schedules_a_meeting(ana, "1/12/2026", "Feedback that moves learning on")
    await run_schedule(bot, clock)
    assert received(ben, "Trio meeting") == 0
    await coordinator.imports("people.csv", PEOPLE)  # the file still puts Ben in T1
    await run_schedule(bot, clock)
    assert "Feedback that moves learning on" in newest(ben, "Trio meeting").plain_text
    await coordinator.imports("people.csv", PEOPLE)  # again: nothing new, nothing twice
    await run_schedule(bot, clock)
    assert received(ben, "Trio meeting") == 1
