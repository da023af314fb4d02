"""What a tap on a meeting's button, /meeting, /link and /summary may do, decided by the
services without Telegram: who may, in which state, and what comes back for the handler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.buttons import ButtonSigner, MeetingTap, SummaryTap
from bot.meetings.service import Meetings
from bot.meetings.taps import (
    Cancelled,
    ConfirmCancel,
    ConfirmTakeOver,
    Kept,
    LeftToRunner,
    Linked,
    LinkTaken,
    LinkWhich,
    MeetingTaps,
    OpenFlow,
    RunnerNamed,
)
from bot.programme.demo import seed_demo
from bot.scheduling.notices import Notices
from bot.summaries.actions import ActionFollowUp
from bot.summaries.agreement import Agreement
from bot.summaries.taps import NotWritten, SummaryStatus, SummaryTaps
from bot.texts import Texts
from storage.db import Database
from storage.meetings import MeetingRepo
from storage.people import PeopleRepo, Role
from storage.programme import ProgrammeRepo
from tests.conftest import FakeClock

LEAD: frozenset[Role] = frozenset({"trio_lead", "teacher"})
TEACHER: frozenset[Role] = frozenset({"teacher"})
ZONE = "Europe/London"


@dataclass
class World:
    db: Database
    taps: MeetingTaps
    summaries: SummaryTaps
    trio: int
    other_trio: int
    lead: int
    teacher: int
    other_lead: int
    meeting: int


async def _person(db: Database, telegram_id: int, name: str, role: Role, trio: int) -> int:
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(
            tx,
            telegram_id=telegram_id,
            school_id=None,
            role=role,
            display_name=name,
            status="active",
        )
        await PeopleRepo.mark_onboarded(tx, person_id)
        if role == "trio_lead":
            await PeopleRepo.add_role(tx, person_id, "teacher")
        await ProgrammeRepo.add_member(tx, trio, person_id, lead=role == "trio_lead")
    return person_id


@pytest.fixture
async def w(db: Database, clock: FakeClock) -> World:
    await seed_demo(db)
    async with db.transaction() as tx:
        trio = int(await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
        other = await ProgrammeRepo.upsert_trio(tx, ref="T2", kind="schools", name="Other trio")
    lead = await _person(db, 801, "Alice", "trio_lead", trio)
    teacher = await _person(db, 802, "Bruno", "teacher", trio)
    other_lead = await _person(db, 901, "Zed", "trio_lead", other)
    notices = Notices(Texts(), ButtonSigner(b"k" * 32), clock)
    meetings = Meetings(db, notices, programme_zone=ZONE, clock=clock)
    follow_up = ActionFollowUp(db, notices, programme_zone=ZONE, clock=clock)
    agreement = Agreement(db, notices, follow_up, agree_within=timedelta(days=5), clock=clock)
    async with db.transaction() as tx:
        meeting = await meetings.schedule(
            tx,
            trio_id=trio,
            starts_at=clock() + timedelta(days=3),
            zone=ZONE,
            link=None,
            focus="Feedback",
            lead_id=lead,
        )
    return World(
        db,
        MeetingTaps(db, meetings),
        SummaryTaps(db, agreement, follow_up, clock),
        trio,
        other,
        lead,
        teacher,
        other_lead,
        meeting,
    )


async def _held(w: World, present: list[int]) -> None:
    async with w.db.transaction() as tx:
        await w.taps.meetings.record_attendance(tx, w.meeting, present, w.lead)


async def test_only_the_lead_may_move_or_cancel_and_only_while_scheduled(w: World) -> None:
    move = MeetingTap(w.meeting, "mv")
    opened = await w.taps.tap(w.lead, move, ZONE)
    assert isinstance(opened, OpenFlow) and opened.flow == "meeting_move"
    assert opened.context["meeting_id"] == w.meeting and opened.context["zone"] == ZONE
    for person in (w.teacher, w.other_lead):
        for action in ("mv", "cx", "cy", "ck", "at"):
            assert await w.taps.tap(person, MeetingTap(w.meeting, action), ZONE) == "not_yours"

    asked = await w.taps.tap(w.lead, MeetingTap(w.meeting, "cx"), ZONE)
    assert isinstance(asked, ConfirmCancel) and asked.meeting_id == w.meeting
    assert isinstance(await w.taps.tap(w.lead, MeetingTap(w.meeting, "ck"), ZONE), Kept)
    assert await w.taps.tap(w.lead, MeetingTap(w.meeting, "cy"), ZONE) == Cancelled(
        "Oldham–Stockport–Wigan trio"
    )
    found = await MeetingRepo.get(w.db, w.meeting)
    assert found is not None and found.status == "cancelled"
    for action in ("mv", "cx", "cy"):
        assert await w.taps.tap(w.lead, MeetingTap(w.meeting, action), ZONE) == "not_scheduled"


async def test_reflecting_is_for_those_who_attended_and_a_named_runner_may_write_up(
    w: World,
) -> None:
    await _held(w, [w.lead])
    reflect = MeetingTap(w.meeting, "rf")
    assert await w.taps.tap(w.teacher, reflect, ZONE) == "not_yours"  # absent
    assert await w.taps.tap(w.other_lead, reflect, ZONE) == "not_yours"  # another trio's
    opened = await w.taps.tap(w.lead, reflect, ZONE)
    assert isinstance(opened, OpenFlow) and opened.flow == "meeting_reflection"

    write = MeetingTap(w.meeting, "sm")
    assert await w.taps.tap(w.teacher, write, ZONE) == "not_yours"
    name = MeetingTap(w.meeting, "rn", w.teacher)
    assert await w.taps.tap(w.teacher, name, ZONE) == "not_yours"  # only the lead names
    assert await w.taps.tap(w.lead, MeetingTap(w.meeting, "rn", w.other_lead), ZONE) == "stale"
    assert await w.taps.tap(w.lead, name, ZONE) == RunnerNamed("Bruno")
    opened = await w.taps.tap(w.teacher, write, ZONE)
    assert isinstance(opened, OpenFlow) and opened.flow == "summary"
    assert opened.context["meeting_id"] == w.meeting
    assert [m[1] for m in opened.context["members"]] == ["Alice", "Bruno"]  # type: ignore[index]

    # The lead who asked Bruno is asked before writing it herself; only she may answer.
    assert await w.taps.tap(w.lead, write, ZONE) == ConfirmTakeOver(
        w.meeting, "Oldham–Stockport–Wigan trio", "Bruno"
    )
    for answer in ("sy", "sn"):
        assert await w.taps.tap(w.teacher, MeetingTap(w.meeting, answer), ZONE) == "not_yours"
    assert await w.taps.tap(w.lead, MeetingTap(w.meeting, "sn"), ZONE) == LeftToRunner("Bruno")
    taken = await w.taps.tap(w.lead, MeetingTap(w.meeting, "sy"), ZONE)
    assert isinstance(taken, OpenFlow) and taken.flow == "summary"
    assert await w.taps.tap(w.teacher, write, ZONE) == "not_yours"  # no longer his to write
    assert await w.taps.tap(w.lead, MeetingTap(w.meeting, "sn"), ZONE) == "stale"
    told = await w.db.fetchval(
        "SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE '%:taken_over:%' AND person_id = ?",
        (w.teacher,),
    )
    assert told == 1


async def test_a_meeting_that_is_gone_is_stale(w: World) -> None:
    assert await w.taps.tap(w.lead, MeetingTap(w.meeting + 99, "mv"), ZONE) == "stale"


async def test_new_meetings_and_the_list_follow_who_leads_which_trio(
    w: World, clock: FakeClock
) -> None:
    opened = await w.taps.new_meeting(w.lead, w.trio, ZONE)
    assert isinstance(opened, OpenFlow) and opened.context["trio_id"] == w.trio
    assert await w.taps.new_meeting(w.teacher, w.trio, ZONE) == "not_yours"
    assert await w.taps.new_meeting(w.other_lead, w.trio, ZONE) == "not_yours"
    assert await w.taps.new_meeting(w.lead, w.trio + 99, ZONE) == "not_yours"

    mine = await w.taps.listed(w.lead, LEAD, clock())
    assert mine is not None and [m.id for m in mine.upcoming] == [w.meeting]
    assert mine.may_change(mine.upcoming[0]) and [t.id for t in mine.led] == [w.trio]
    theirs = await w.taps.listed(w.teacher, TEACHER, clock())
    assert theirs is not None and theirs.led == [] and not theirs.may_change(mine.upcoming[0])
    other = await w.taps.listed(w.other_lead, LEAD, clock())
    assert other is not None and other.upcoming == []
    async with w.db.transaction() as tx:
        loner = await PeopleRepo.create(tx, telegram_id=999, school_id=None, role="teacher")
    assert await w.taps.listed(loner, TEACHER, clock()) is None


async def test_a_group_linked_to_a_trio_stays_so_against_another_trios_lead(w: World) -> None:
    assert await w.taps.link(w.teacher, TEACHER, -500, "en", "") == "not_lead"
    assert await w.taps.link(w.lead, LEAD, -500, "en", "NOPE") == LinkWhich(["DEMO-T1"])
    assert await w.taps.link(w.lead, LEAD, -500, "en", "demo-t1") == Linked(
        "Oldham–Stockport–Wigan trio"
    )
    taken = await w.taps.link(w.other_lead, LEAD, -500, "en", "")
    assert taken == LinkTaken("Oldham–Stockport–Wigan trio")
    assert await MeetingRepo.trio_of_group(w.db, -500) == w.trio


async def test_summary_view_says_who_may_write_up_and_counts_approvals(
    w: World, clock: FakeClock
) -> None:
    # A teacher agrees summaries: /summary tells them where it stands, never "not allowed".
    assert await w.summaries.view(w.teacher, frozenset({"researcher"})) == "not_allowed"
    assert await w.summaries.view(w.teacher, TEACHER) == "no_meeting"
    assert await w.summaries.view(w.lead, LEAD) == "no_meeting"  # not held yet
    await _held(w, [w.lead, w.teacher])
    assert await w.summaries.view(w.teacher, TEACHER) == NotWritten(
        "Oldham–Stockport–Wigan trio", "Alice"
    )
    opened = await w.summaries.view(w.lead, LEAD)
    assert isinstance(opened, OpenFlow) and opened.flow == "summary"
    async with w.db.transaction() as tx:
        await w.summaries.agreement.save_draft(
            tx, w.lead, opened.context, {"focus": "What we saw", "action_0_what": "__none__"}
        )
    status = await w.summaries.view(w.lead, LEAD)
    assert isinstance(status, SummaryStatus)
    assert (status.approved, status.total, status.waiting) == (1, 2, ["Bruno"])
    seen = await w.summaries.view(w.teacher, TEACHER)
    assert isinstance(seen, SummaryStatus) and seen.waiting == ["Bruno"] and seen.confirm is None
    assert status.confirm is None  # before the deadline
    clock.advance(days=5, minutes=1)
    status = await w.summaries.view(w.lead, LEAD)
    assert isinstance(status, SummaryStatus) and status.past_deadline
    assert isinstance(status.confirm, SummaryTap) and status.confirm.action == "c"

    summary_id = status.confirm.summary_id
    edit = SummaryTap(summary_id, 1, "e")
    assert await w.summaries.tap(w.other_lead, edit) == "not_yours"
    assert await w.summaries.tap(w.teacher, edit) == "not_yours"  # not the author
    opened = await w.summaries.tap(w.lead, edit)
    assert isinstance(opened, OpenFlow) and opened.flow == "summary_edit"
    assert await w.summaries.tap(w.teacher, SummaryTap(summary_id, 2, "a")) == "stale"
    assert await w.summaries.tap(w.teacher, SummaryTap(summary_id, 1, "a")) == "agreed"
