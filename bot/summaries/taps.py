"""What /summary and a tap on a draft summary or an action may do, decided without Telegram.

Which meeting a person may write up, where its summary stands (approvals counted against
the trio as it stands now), and which flow a draft's button opens: the handler renders the
outcome; the decisions themselves are `Agreement`'s and `ActionFollowUp`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.buttons import ActionTap, SummaryTap
from bot.clock import Clock
from bot.meetings.taps import ConfirmTakeOver, OpenFlow, delegated_to, summary_context
from bot.people.permissions import allowed, may
from bot.summaries.actions import MARKS, ActionFollowUp
from bot.summaries.agreement import Agreement, Decision
from storage.db import Database
from storage.meetings import Meeting, MeetingRepo
from storage.people import Role
from storage.programme import ProgrammeRepo
from storage.summaries import ActionStatus, SummaryRepo


@dataclass(frozen=True, slots=True)
class SummaryStatus:
    """/summary once a summary exists: who has approved the current revision."""

    trio: str
    status: str
    approved: int
    total: int
    waiting: list[str]
    past_deadline: bool
    confirm: SummaryTap | None  # the lead may confirm it as agreed (the deadline passed)


@dataclass(frozen=True, slots=True)
class NotWritten:
    """A member's /summary before the meeting's summary exists: who is writing it."""

    trio: str
    writer: str | None


SummaryView = (
    OpenFlow | SummaryStatus | ConfirmTakeOver | NotWritten | Literal["no_meeting", "not_allowed"]
)
TapOutcome = OpenFlow | Decision


@dataclass(frozen=True, slots=True)
class Marked:
    status: ActionStatus


class SummaryTaps:
    def __init__(
        self,
        db: Database,
        agreement: Agreement,
        follow_up: ActionFollowUp,
        clock: Clock,
    ) -> None:
        self.db = db
        self.agreement = agreement
        self.follow_up = follow_up
        self.clock = clock
        self.programme = ProgrammeRepo(db)

    async def _meeting_to_summarise(self, person_id: int, roles: frozenset[Role]) -> Meeting | None:
        """The latest held meeting this person may write up: as its trio's lead, or as named."""
        memberships = await self.programme.memberships(person_id)
        for membership in memberships:
            found = await MeetingRepo.latest_held(self.db, membership.trio.id)
            if found is None:
                continue
            lead = allowed(roles, "summary.run", trio_id=found.trio_id, memberships=memberships)
            if lead or found.summary_runner_id == person_id:
                return found
        return None

    async def _meeting_to_agree(self, person_id: int, roles: frozenset[Role]) -> Meeting | None:
        """The latest held meeting of a trio this member agrees summaries in."""
        memberships = await self.programme.memberships(person_id)
        held = []
        for membership in memberships:
            found = await MeetingRepo.latest_held(self.db, membership.trio.id)
            member = allowed(
                roles, "summary.approve", trio_id=membership.trio.id, memberships=memberships
            )
            if found is not None and member:
                held.append(found)
        return max(held, key=lambda m: m.starts_at, default=None)

    async def view(self, person_id: int, roles: frozenset[Role]) -> SummaryView:
        """/summary: write up the latest meeting, or see where its summary stands (a member
        who does not write it sees that, and who is writing it)."""
        found = await self._meeting_to_summarise(person_id, roles)
        writes = found is not None
        if found is None:
            memberships = await self.programme.memberships(person_id)
            if not allowed(roles, "summary.approve", memberships=memberships):
                return "not_allowed"
            found = await self._meeting_to_agree(person_id, roles)
            if found is None:
                return "no_meeting"
        existing = await SummaryRepo.for_meeting(self.db, found.id)
        if existing is None and not writes:
            return NotWritten(found.trio_name, await self._writer(found))
        if existing is None:
            runner = await delegated_to(self.db, found, person_id)
            if runner is not None:
                return ConfirmTakeOver(found.id, found.trio_name, runner)
            return OpenFlow("summary", await summary_context(self.db, found, person_id))
        members = await MeetingRepo.members(self.db, found.trio_id)
        approved = await SummaryRepo.approvals(self.db, existing.id, existing.revision)
        past_deadline = self.clock() >= existing.agree_by
        lead = await may(self.db, person_id, "summary.run", found.trio_id)
        confirm = existing.status == "draft" and lead and past_deadline
        return SummaryStatus(
            trio=found.trio_name,
            status=existing.status,
            approved=len(approved & {m.person_id for m in members}),
            total=len(members),
            waiting=[m.name for m in members if m.person_id not in approved],
            past_deadline=past_deadline,
            confirm=SummaryTap(existing.id, 0, "c") if confirm else None,
        )

    async def _writer(self, found: Meeting) -> str | None:
        """Who writes this meeting's summary: the member asked, else the trio's lead."""
        members = await MeetingRepo.members(self.db, found.trio_id)
        asked = [m for m in members if m.person_id == found.summary_runner_id]
        leads = [m for m in members if m.is_lead]
        chosen = asked or leads
        return chosen[0].name if chosen else None

    async def tap(self, person_id: int, tap: SummaryTap) -> TapOutcome:
        """Approve, confirm, or open the flow to suggest a change or (the author) edit it."""
        summary_id, revision = tap.summary_id, tap.revision
        if tap.action == "a":
            return await self.agreement.approve(person_id, summary_id, revision)
        if tap.action == "c":
            return await self.agreement.confirm(person_id, summary_id)
        if tap.action == "s":
            result = await self.agreement.check_suggest(person_id, summary_id, revision)
            if result != "approved":
                return result
            return OpenFlow("summary_suggest", {"summary_id": summary_id, "revision": revision})
        found = await SummaryRepo.get(self.db, summary_id)
        if found is None or not await self.agreement.may_edit(self.db, person_id, found):
            return "not_yours"
        if found.status != "draft":
            return "stale"
        return OpenFlow("summary_edit", await self.agreement.edit_context(self.db, found))

    async def mark(self, person_id: int, tap: ActionTap) -> Marked | Literal["not_yours", "gone"]:
        """Done / in progress / dropped, from the owner (or the trio's lead)."""
        result = await self.follow_up.mark(person_id, tap.action_id, tap.mark)
        if result == "marked":
            return Marked(MARKS[tap.mark])
        return result
