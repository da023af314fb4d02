"""What /meeting, /link and a tap on a meeting's button may do, decided without Telegram.

Every tap is checked here against the stored meeting and the permission table; the signed
button only says which meeting was meant. Each method returns an outcome the handler
renders: a flow to open, a view, or why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.buttons import MeetingTap
from bot.meetings.researcher_answers import to_discuss
from bot.meetings.service import Meetings
from bot.people.permissions import allowed, may
from bot.scheduling.notices import moment
from storage.db import Database, Reader
from storage.meetings import Meeting, MeetingRepo
from storage.people import Role
from storage.programme import Membership, ProgrammeRepo, Trio
from storage.summaries import SummaryRepo

Refusal = Literal["stale", "not_yours", "not_scheduled"]
LEAD_ONLY = ("mv", "cx", "cy", "ck", "at", "rn", "sy", "sn")
MEMBER_ONLY = ("rf", "sm")
# How long after a meeting /reflect still offers its reflection first.
REFLECT_WITHIN = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class OpenFlow:
    """Open flow `flow` with `context` for the person who asked."""

    flow: str
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConfirmCancel:
    """Ask the lead to confirm cancelling the meeting."""

    meeting_id: int
    trio: str
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class Cancelled:
    trio: str


@dataclass(frozen=True, slots=True)
class Kept:
    """The lead chose to keep the meeting after all."""


@dataclass(frozen=True, slots=True)
class RunnerNamed:
    name: str


@dataclass(frozen=True, slots=True)
class ConfirmTakeOver:
    """The lead asked a member to write the summary and now starts it: write it after all?"""

    meeting_id: int
    trio: str
    runner: str


@dataclass(frozen=True, slots=True)
class LeftToRunner:
    """The lead leaves the summary to the member they asked."""

    name: str


TapOutcome = (
    OpenFlow | ConfirmCancel | Cancelled | Kept | RunnerNamed | ConfirmTakeOver | LeftToRunner
) | Refusal


async def delegated_to(q: Reader, found: Meeting, person_id: int) -> str | None:
    """The member asked to write this meeting's summary, when that is not `person_id` and
    they have not written it yet: the lead is asked before taking it over."""
    runner = found.summary_runner_id
    if runner is None or runner == person_id:
        return None
    if await SummaryRepo.for_meeting(q, found.id) is not None:
        return None
    members = await MeetingRepo.members(q, found.trio_id)
    return next((m.name for m in members if m.person_id == runner), None)


@dataclass(frozen=True, slots=True)
class Listed:
    """/meeting: upcoming meetings of the person's trios, and the trios they lead (who may
    add, move and cancel meetings)."""

    upcoming: list[Meeting]
    led: list[Trio]

    def may_change(self, meeting: Meeting) -> bool:
        return any(t.id == meeting.trio_id for t in self.led)


@dataclass(frozen=True, slots=True)
class Linked:
    trio: str


@dataclass(frozen=True, slots=True)
class LinkTaken:
    """The group is another trio's: only a lead of that trio may link it again."""

    owner: str


@dataclass(frozen=True, slots=True)
class LinkWhich:
    """They lead several trios (or none by the ref given): which one?"""

    refs: list[str]


LinkOutcome = Linked | LinkTaken | LinkWhich | Literal["not_lead"]


async def summary_context(q: Reader, found: Meeting, writer_id: int) -> dict[str, Any]:
    """What the summary flow needs to know about the meeting, its trio and last time, and
    the school of the person writing it (the school a barrier belongs to by default)."""
    members = await MeetingRepo.members(q, found.trio_id)
    previous = await SummaryRepo.open_actions(q, found.trio_id, found.id)
    return {
        "meeting_id": found.id,
        "trio_id": found.trio_id,
        "trio": found.trio_name,
        "planned_focus": found.focus,
        "schools": [list(s) for s in await MeetingRepo.schools(q, found.trio_id)],
        "members": [[m.person_id, m.name] for m in members],
        "writer_school": next((m.school_id for m in members if m.person_id == writer_id), None),
        "prev_actions": [[a.id, a.what, a.owner_name, a.due_on, a.status] for a in previous],
        "replies": await to_discuss(q, found.trio_id, writer_id),
    }


def _led(memberships: list[Membership], roles: frozenset[Role]) -> list[Trio]:
    """The trios of these memberships whose meetings this person may schedule."""
    return [
        m.trio
        for m in memberships
        if allowed(roles, "meeting.schedule", trio_id=m.trio.id, memberships=memberships)
    ]


class MeetingTaps:
    def __init__(self, db: Database, meetings: Meetings) -> None:
        self.db = db
        self.meetings = meetings
        self.programme = ProgrammeRepo(db)

    async def listed(self, person_id: int, roles: frozenset[Role], now: datetime) -> Listed | None:
        """Their trios' upcoming meetings; None if they are in no trio."""
        memberships = await self.programme.memberships(person_id)
        if not memberships:
            return None
        led = _led(memberships, roles)
        upcoming = await MeetingRepo.upcoming(self.db, [m.trio.id for m in memberships], now)
        return Listed(upcoming, led)

    async def reflection_waiting(self, person_id: int, now: datetime) -> OpenFlow | None:
        """The post-meeting reflection this person was asked for and has not given, if the
        meeting was within the last fortnight (/reflect offers it before a free one)."""
        found = await MeetingRepo.reflection_waiting(self.db, person_id, now - REFLECT_WITHIN)
        if found is None:
            return None
        context = {"meeting_id": found.meeting_id, "trio": found.trio_name}
        return OpenFlow("meeting_reflection", context)

    async def new_meeting(
        self, person_id: int, trio_id: int, zone: str
    ) -> OpenFlow | Literal["not_yours"]:
        """➕ New meeting: only the trio's lead may."""
        trio = await self.programme.trio(trio_id)
        if trio is None or not await may(self.db, person_id, "meeting.schedule", trio_id):
            return "not_yours"
        return OpenFlow("meeting_new", {"trio_id": trio.id, "trio": trio.name, "zone": zone})

    async def tap(self, person_id: int, tap: MeetingTap, zone: str) -> TapOutcome:
        """A tap on a meeting message, by this person (whose wall clock is `zone`)."""
        found = await MeetingRepo.get(self.db, tap.meeting_id)
        if found is None:
            return "stale"
        trio_id, action = found.trio_id, tap.action
        lead = await may(self.db, person_id, "meeting.schedule", trio_id)
        member = await may(self.db, person_id, "summary.approve", trio_id)
        if (action in LEAD_ONLY and not lead) or (action in MEMBER_ONLY and not member):
            return "not_yours"
        if action in ("mv", "cx", "cy") and found.status != "scheduled":
            return "not_scheduled"
        if action == "mv":
            return OpenFlow(
                "meeting_move",
                {
                    "meeting_id": found.id,
                    "trio": found.trio_name,
                    "zone": zone,
                    "old": moment(found.starts_at, zone),
                },
            )
        if action == "cx":
            return ConfirmCancel(found.id, found.trio_name, found.starts_at)
        if action == "cy":
            async with self.db.transaction() as tx:
                await self.meetings.cancel(tx, found.id)
            return Cancelled(found.trio_name)
        if action == "ck":
            return Kept()
        if action == "at":
            members = await MeetingRepo.members(self.db, trio_id)
            return OpenFlow(
                "meeting_attendance",
                {
                    "meeting_id": found.id,
                    "trio": found.trio_name,
                    "members": [[m.person_id, m.name] for m in members],
                },
            )
        if action == "rf":
            if not await MeetingRepo.attended(self.db, found.id, person_id):
                return "not_yours"
            return OpenFlow("meeting_reflection", {"meeting_id": found.id, "trio": found.trio_name})
        if action == "sm":
            summary_lead = await may(self.db, person_id, "summary.run", trio_id)
            if not (summary_lead or found.summary_runner_id == person_id):
                return "not_yours"
            runner = await delegated_to(self.db, found, person_id)
            if runner is not None:
                return ConfirmTakeOver(found.id, found.trio_name, runner)
            return OpenFlow("summary", await summary_context(self.db, found, person_id))
        if action == "sy":
            return await self.take_over(found, person_id)
        if action == "sn":
            runner = await delegated_to(self.db, found, person_id)
            return LeftToRunner(runner) if runner is not None else "stale"
        return await self._name_runner(found, tap.person_id)

    async def take_over(self, found: Meeting, lead_id: int) -> OpenFlow | Refusal:
        """The lead writes the summary after all: the member asked is told they need not."""
        async with self.db.transaction() as tx:
            current = await MeetingRepo.get(tx, found.id)
            if current is None or await SummaryRepo.for_meeting(tx, found.id) is not None:
                return "stale"
            await self.meetings.take_over(tx, current, lead_id)
        return OpenFlow("summary", await summary_context(self.db, found, lead_id))

    async def _name_runner(self, found: Meeting, person_id: int | None) -> TapOutcome:
        members = {m.person_id: m for m in await MeetingRepo.members(self.db, found.trio_id)}
        runner = members.get(person_id) if person_id is not None else None
        if runner is None:
            return "stale"
        async with self.db.transaction() as tx:
            await self.meetings.name_runner(tx, found, runner)
        return RunnerNamed(runner.name)

    async def link(
        self, person_id: int, roles: frozenset[Role], chat_id: int, lang: str, wanted: str
    ) -> LinkOutcome:
        """In a group, a lead links it to their trio (by ref, if they lead several): reminders
        and agreed summaries go there too."""
        memberships = await self.programme.memberships(person_id)
        led = _led(memberships, roles)
        if not led:
            return "not_lead"
        wanted = wanted.casefold()
        chosen = [t for t in led if t.ref.casefold() == wanted] if wanted else led
        if len(chosen) != 1:
            return LinkWhich([t.ref for t in led])
        async with self.db.transaction() as tx:
            # A group linked to a trio stays so unless a lead of that trio links it again:
            # otherwise another trio's lead in the group would take its reminders and summaries.
            current = await MeetingRepo.trio_of_group(tx, chat_id)
            taken = current is not None and not allowed(
                roles, "meeting.schedule", trio_id=current, memberships=memberships
            )
            if not taken:
                await MeetingRepo.link_group(tx, chosen[0].id, chat_id, lang, person_id)
        if taken and current is not None:
            owner = await self.programme.trio(current)
            return LinkTaken(owner.name if owner else "")
        return Linked(chosen[0].name)
