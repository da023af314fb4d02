"""Trio meetings over time: invitations with a calendar file, reminders, and the ask afterwards.

Reminders are rows of the durable schedule keyed `meeting:<id>:v<version>:<kind>`. Moving or
cancelling a meeting cancels every pending row of the meeting and bumps its version; each
handler also checks the version it was armed for against the meeting's, so a reminder for the
old time can never go out, even if a row escaped the cancellation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.buttons import MeetingTap, Tap
from bot.clock import Clock
from bot.meetings.calendar_invite import meeting_ics
from bot.meetings.researcher_answers import researcher_answers
from bot.scheduling.notices import Notices, moment
from bot.scheduling.scheduler import Fired, Kind, Late
from bot.scheduling.timing import REMINDER_LEADS, promising, relative_day, reminders_ahead
from bot.texts import Label
from storage.db import Database, Transaction
from storage.meetings import Meeting, MeetingRepo, Member
from storage.outbox import OutboxRepo
from storage.schedule import Due, ScheduleRepo
from storage.summaries import SummaryRepo

Announcement = Literal["invite", "moved", "cancelled"]


def action_view(action: Any) -> dict[str, Any]:
    """An action as templates show it."""
    return {
        "what": action.what,
        "owner": action.owner_name,
        "due": action.due_on,
        "status": action.status,
    }


class Meetings:
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
        return {
            # A day-before reminder caught up hours late is still worth a message, half a day
            # late it is not (the hour-before one follows); one an hour before is worthless late.
            "meeting_reminder_day": Kind(
                self._remind, late=Late.DROP_STALE, stale_after=timedelta(hours=6)
            ),
            "meeting_reminder_hour": Kind(
                self._remind, late=Late.DROP_STALE, stale_after=timedelta(minutes=30)
            ),
            "meeting_over": Kind(self._over),
        }

    # --- what the lead does ----------------------------------------------------------------
    async def schedule(
        self,
        tx: Transaction,
        *,
        trio_id: int,
        starts_at: datetime,
        zone: str,
        link: str | None,
        focus: str,
        lead_id: int,
    ) -> int:
        meeting_id = await MeetingRepo.create(
            tx,
            trio_id=trio_id,
            starts_at=starts_at,
            time_zone=zone,
            link=link,
            focus=focus,
            created_by=lead_id,
        )
        meeting = await MeetingRepo.get(tx, meeting_id)
        assert meeting is not None
        await self._arm(tx, meeting)
        await self._announce(tx, meeting, "invite")
        return meeting_id

    async def move(self, tx: Transaction, meeting_id: int, starts_at: datetime) -> None:
        await self._disarm(tx, meeting_id, "meeting moved")
        await MeetingRepo.move(tx, meeting_id, starts_at)
        meeting = await MeetingRepo.get(tx, meeting_id)
        assert meeting is not None
        await self._arm(tx, meeting)
        await self._announce(tx, meeting, "moved")

    async def cancel(self, tx: Transaction, meeting_id: int) -> None:
        await self._disarm(tx, meeting_id, "meeting cancelled")
        await MeetingRepo.set_status(tx, meeting_id, "cancelled")
        meeting = await MeetingRepo.get(tx, meeting_id)
        assert meeting is not None
        await self._announce(tx, meeting, "cancelled")

    async def record_attendance(
        self, tx: Transaction, meeting_id: int, present: list[int], recorder_id: int
    ) -> None:
        """Attendance taken: the meeting was held; attendees are asked to reflect, and the
        lead who will write the summary."""
        meeting = await MeetingRepo.get(tx, meeting_id)
        if meeting is None:
            return
        members = await MeetingRepo.members(tx, meeting.trio_id)
        wanted = set(present)
        await MeetingRepo.record_attendance(tx, meeting_id, wanted, [m.person_id for m in members])
        first_time = meeting.status == "scheduled"
        await MeetingRepo.set_status(tx, meeting_id, "held")
        await self._disarm(tx, meeting_id, "meeting held")
        if not first_time:
            return
        for member in members:
            if member.person_id in wanted:
                await self.notices.send(
                    tx,
                    member.chat_id,
                    member.language,
                    "meetings/reflection_ask",
                    {"trio": meeting.trio_name},
                    person_id=member.person_id,
                    dedupe=f"out:meeting:{meeting_id}:reflect:{member.person_id}",
                    buttons=[[(Label("answer_now"), MeetingTap(meeting_id, "rf"))]],
                )
        recorder = next((m for m in members if m.person_id == recorder_id), None)
        if recorder is None:
            return
        rows: list[list[tuple[Label, Tap]]] = [
            [(Label("write_summary_myself"), MeetingTap(meeting_id, "sm"))]
        ]
        for member in members:
            if member.person_id in wanted and member.person_id != recorder_id:
                label = Label("ask_to_write", {"name": member.name})
                rows.append([(label, MeetingTap(meeting_id, "rn", member.person_id))])
        await self.notices.send(
            tx,
            recorder.chat_id,
            recorder.language,
            "meetings/who_writes",
            {"trio": meeting.trio_name},
            person_id=recorder.person_id,
            dedupe=f"out:meeting:{meeting_id}:who_writes",
            buttons=rows,
            defer=False,  # the recorder is at their phone right now
        )

    async def name_runner(self, tx: Transaction, meeting: Meeting, runner: Member) -> None:
        await MeetingRepo.name_runner(tx, meeting.id, runner.person_id)
        await self.notices.send(
            tx,
            runner.chat_id,
            runner.language,
            "meetings/asked_to_write",
            {"trio": meeting.trio_name},
            person_id=runner.person_id,
            dedupe=f"out:meeting:{meeting.id}:runner:{runner.person_id}",
            buttons=[[(Label("start_summary"), MeetingTap(meeting.id, "sm"))]],
        )

    async def take_over(self, tx: Transaction, meeting: Meeting, lead_id: int) -> None:
        """The lead writes the summary after all: the member who was asked is told so, and
        their "Start the summary" button no longer opens it."""
        runner_id = meeting.summary_runner_id
        await MeetingRepo.name_runner(tx, meeting.id, None)
        members = await MeetingRepo.members(tx, meeting.trio_id)
        lead = next((m.name for m in members if m.person_id == lead_id), "")
        runner = next((m for m in members if m.person_id == runner_id), None)
        if runner is None:
            return
        await self.notices.send(
            tx,
            runner.chat_id,
            runner.language,
            "meetings/taken_over",
            {"trio": meeting.trio_name, "lead_name": lead},
            person_id=runner.person_id,
            dedupe=f"out:meeting:{meeting.id}:taken_over:{runner.person_id}",
        )

    # --- the schedule ----------------------------------------------------------------------
    async def _arm(self, tx: Transaction, meeting: Meeting) -> None:
        now = self.clock()
        payload = {"meeting": meeting.id, "version": meeting.version}
        prefix = f"meeting:{meeting.id}:v{meeting.version}"
        ahead = reminders_ahead(meeting.starts_at, now)  # tomorrow 9:00: no "a day before"
        for name, before in REMINDER_LEADS:
            kind, due = f"meeting_reminder_{name}", meeting.starts_at - before
            if name in ahead:
                await ScheduleRepo.add(
                    tx,
                    kind,
                    due,
                    trio_id=meeting.trio_id,
                    payload=payload,
                    dedupe_key=f"{prefix}:{kind}",
                )
        over = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
        await ScheduleRepo.add(
            tx,
            "meeting_over",
            over,
            trio_id=meeting.trio_id,
            payload=payload,
            dedupe_key=f"{prefix}:over",
        )

    @staticmethod
    async def _disarm(tx: Transaction, meeting_id: int, note: str) -> None:
        await ScheduleRepo.cancel_prefixed(tx, f"meeting:{meeting_id}:", note)

    async def _current(self, tx: Transaction, due: Due) -> Meeting | None:
        """The meeting a row was armed for, if it still stands exactly as it was then."""
        meeting = await MeetingRepo.get(tx, int(due.payload["meeting"]))
        if meeting is None or meeting.status != "scheduled":
            return None
        if meeting.version != due.payload.get("version"):
            return None
        return meeting

    async def _remind(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        meeting = await self._current(tx, due)
        if meeting is None:
            return Fired(note="meeting moved, cancelled or held")
        which = "day" if due.kind == "meeting_reminder_day" else "hour"
        actions = []
        if which == "day":
            for action in await SummaryRepo.open_actions(tx, meeting.trio_id, meeting.id):
                actions.append(action_view(action))
        base = {
            "trio": meeting.trio_name,
            "which": which,
            "link": meeting.link,
            "focus": meeting.focus,
            "actions": actions,
        }

        def values(zone: str) -> Callable[[datetime], dict[str, Any]]:
            # Worded for when it reaches them: moved off a Sunday, "tomorrow" becomes "today".
            def at(delivered: datetime) -> dict[str, Any]:
                day = relative_day(meeting.starts_at, delivered, ZoneInfo(zone))
                return {**base, "when": moment(meeting.starts_at, zone), "day": day}

            return at

        for member in await MeetingRepo.members(tx, meeting.trio_id):
            zone = member.time_zone or self.zone
            await self.notices.send(
                tx,
                member.chat_id,
                member.language,
                "meetings/reminder",
                values(zone),
                person_id=member.person_id,
                dedupe=f"out:{due.dedupe_key}:{member.person_id}",
                # Out of quiet hours if that still leaves it before the meeting (the day
                # before's before the hour before's); otherwise on time all the same.
                latest=meeting.starts_at - (timedelta(hours=1) if which == "day" else timedelta()),
            )
        group = await MeetingRepo.group_of(tx, meeting.trio_id)
        if group is not None:
            await self.notices.send(
                tx,
                group[0],
                group[1],
                "meetings/reminder",
                values(meeting.time_zone),
                dedupe=f"out:{due.dedupe_key}:group",
            )
        return Fired()

    async def _over(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        meeting = await self._current(tx, due)
        if meeting is None:
            return Fired(note="meeting moved, cancelled or already recorded")
        for member in await MeetingRepo.members(tx, meeting.trio_id):
            if member.is_lead:
                await self.notices.send(
                    tx,
                    member.chat_id,
                    member.language,
                    "meetings/attendance_ask",
                    {"trio": meeting.trio_name, "focus": meeting.focus},
                    person_id=member.person_id,
                    dedupe=f"out:{due.dedupe_key}:{member.person_id}",
                    buttons=[[(Label("record_attendance"), MeetingTap(meeting.id, "at"))]],
                )
        return Fired()

    async def invite_newcomer(self, tx: Transaction, person_id: int) -> int:
        """Someone just joined (or finished joining): the invitation, with its calendar file,
        to each meeting still to come of their trios that they were never told about. The
        same message the trio had, under the same key, so it can never go twice."""
        sent = 0
        for meeting in await MeetingRepo.upcoming_of(tx, person_id, self.clock()):
            if await OutboxRepo.told(tx, person_id, f"out:meeting:{meeting.id}:"):
                continue
            members = await MeetingRepo.members(tx, meeting.trio_id)
            member = next((m for m in members if m.person_id == person_id), None)
            if member is None:  # not active yet: told when they finish joining
                continue
            await self._tell(tx, meeting, member, "invite", self._ics(meeting, "invite"))
            sent += 1
        return sent

    def _ics(self, meeting: Meeting, what: Announcement) -> bytes:
        return meeting_ics(
            meeting_id=meeting.id,
            version=meeting.version,
            title=meeting.trio_name,
            description="\n".join(x for x in (meeting.focus, meeting.link or "") if x),
            starts_at=meeting.starts_at,
            minutes=meeting.duration_minutes,
            link=meeting.link,
            stamp=self.clock(),
            cancelled=what == "cancelled",
        )

    @staticmethod
    async def _base(tx: Transaction, meeting: Meeting, what: Announcement) -> dict[str, Any]:
        # An invitation lists the researchers' replies the trio has not discussed yet.
        listed = {} if what == "cancelled" else await researcher_answers(tx, meeting.trio_id)
        return {"trio": meeting.trio_name, "change": what, "link": meeting.link,
                "focus": meeting.focus, **listed}  # fmt: skip

    async def _tell(
        self, tx: Transaction, meeting: Meeting, member: Member, what: Announcement, ics: bytes
    ) -> None:
        """One member's announcement and calendar file, in their language and zone."""
        key = f"out:meeting:{meeting.id}:v{meeting.version}:{what}:{member.person_id}"
        zone = member.time_zone or self.zone
        values = {**await self._base(tx, meeting, what), "when": moment(meeting.starts_at, zone)}
        await self.notices.send(
            tx,
            member.chat_id,
            member.language,
            "meetings/invitation",
            promising(values, meeting.starts_at),
            person_id=member.person_id,
            dedupe=key,
        )
        await self.notices.send_file(
            tx,
            member.chat_id,
            member.language,
            "meetings/ics_caption",
            values,
            filename=f"trio-meeting-{meeting.id}.ics",
            content=ics,
            dedupe=f"{key}:ics",
            person_id=member.person_id,
        )

    async def _announce(self, tx: Transaction, meeting: Meeting, what: Announcement) -> None:
        """Tell every member (and the trio's group), each in their language and zone."""
        content = self._ics(meeting, what)
        key = f"out:meeting:{meeting.id}:v{meeting.version}:{what}"
        base = await self._base(tx, meeting, what)
        for member in await MeetingRepo.members(tx, meeting.trio_id):
            await self._tell(tx, meeting, member, what, content)
        group = await MeetingRepo.group_of(tx, meeting.trio_id)
        if group is not None:
            values = {**base, "when": moment(meeting.starts_at, meeting.time_zone)}
            await self.notices.send(
                tx,
                group[0],
                group[1],
                "meetings/invitation",
                promising(values, meeting.starts_at),
                dedupe=f"{key}:group",
            )
            # The calendar file too, so anyone in the group can add (or update) the event.
            await self.notices.send_file(
                tx,
                group[0],
                group[1],
                "meetings/ics_caption",
                values,
                filename=f"trio-meeting-{meeting.id}.ics",
                content=content,
                dedupe=f"{key}:group:ics",
            )
