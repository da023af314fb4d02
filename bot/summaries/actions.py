"""Actions agreed in a summary: the owner is reminded before the due date and says how it went."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.buttons import ActionTap
from bot.clock import Clock
from bot.people.permissions import may
from bot.scheduling.notices import Notices
from bot.scheduling.scheduler import Fired, Kind
from bot.scheduling.timing import local_instant
from bot.texts import Label
from storage.db import Database, Transaction
from storage.meetings import MeetingRepo, Member
from storage.people import PeopleRepo
from storage.schedule import Due, ScheduleRepo
from storage.summaries import ActionStatus, SummaryRepo

# Button codes → statuses (callback data stays short).
MARKS: dict[str, ActionStatus] = {"d": "done", "p": "in_progress", "x": "dropped"}
MarkResult = Literal["marked", "not_yours", "gone"]


class ActionFollowUp:
    def __init__(
        self,
        db: Database,
        notices: Notices,
        *,
        programme_zone: str,
        clock: Clock,
    ) -> None:
        self.db = db
        self.notices = notices
        self.zone = programme_zone
        self.clock = clock

    def kinds(self) -> dict[str, Kind]:
        return {"action_due": Kind(self._due)}

    async def arm(self, tx: Transaction, action_id: int, owner_id: int | None, due_on: str) -> None:
        """The reminder goes the day before it is due, at the owner's reminder time."""
        await ScheduleRepo.add(
            tx,
            "action_due",
            await self._reminder_at(tx, owner_id, due_on),
            payload={"action": action_id},
            dedupe_key=f"action:{action_id}:due",
        )

    async def rearm(
        self, tx: Transaction, action_id: int, owner_id: int | None, due_on: str
    ) -> None:
        """A draft's action got a new owner or date: its reminder moves with it (one already
        sent is not sent again)."""
        when = await self._reminder_at(tx, owner_id, due_on)
        await ScheduleRepo.move(tx, f"action:{action_id}:due", when)

    async def _reminder_at(self, tx: Transaction, owner_id: int | None, due_on: str) -> datetime:
        owner = None if owner_id is None else await PeopleRepo.get_in(tx, owner_id)
        zone = ZoneInfo((owner.time_zone if owner else None) or self.zone)
        at = time.fromisoformat(owner.reminder_time) if owner else time(15, 45)
        when = local_instant(date.fromisoformat(due_on) - timedelta(days=1), at, zone)
        return max(when, self.clock())

    @staticmethod
    async def disarm(tx: Transaction, summary_id: int) -> None:
        """A summary rewritten replaces its actions: the old ones' reminders go too."""
        keys = [f"action:{a.id}:due" for a in await SummaryRepo.actions(tx, summary_id)]
        await ScheduleRepo.cancel_keys(tx, keys, "summary rewritten")

    async def _due(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        action = await SummaryRepo.action(tx, int(due.payload["action"]))
        if action is None or action.status in ("done", "dropped"):
            return Fired(note="finished or gone")
        members = await MeetingRepo.members(tx, action.trio_id)
        # An action for the whole trio is the lead's to follow up.
        owners: list[Member] = [
            m
            for m in members
            if m.person_id == action.owner_id or (action.owner_id is None and m.is_lead)
        ]
        buttons = [
            [
                (Label("action_done"), ActionTap(action.id, "d")),
                (Label("action_in_progress"), ActionTap(action.id, "p")),
            ],
            [(Label("action_dropped"), ActionTap(action.id, "x"))],
        ]
        for owner in owners:
            await self.notices.send(
                tx,
                owner.chat_id,
                owner.language,
                "actions/due",
                {"task": action.what, "due": action.due_on, "status": action.status},
                person_id=owner.person_id,
                dedupe=f"out:{due.dedupe_key}:{owner.person_id}",
                buttons=buttons,
            )
        return Fired()

    async def mark(self, person_id: int, action_id: int, code: str) -> MarkResult:
        """The owner (or the trio's lead) says how an action went."""
        status = MARKS.get(code)
        async with self.db.transaction() as tx:
            action = await SummaryRepo.action(tx, action_id)
            if action is None or status is None:
                return "gone"
            member = await may(tx, person_id, "summary.approve", action.trio_id)
            lead = await may(tx, person_id, "summary.run", action.trio_id)
            if not member or not (lead or action.owner_id in (None, person_id)):
                return "not_yours"
            await SummaryRepo.set_action_status(tx, action_id, status, by=person_id)
            if status in ("done", "dropped"):
                await ScheduleRepo.cancel(tx, f"action:{action_id}:due", status)
        return "marked"
