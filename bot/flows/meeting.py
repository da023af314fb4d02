"""Flows around a trio meeting: schedule one, move one, record attendance, reflect afterwards.

Each flow's context names the meeting or trio it is about (set by the handler after checking
permission); each `complete` checks the permission table again in its own transaction, since
roles can change while a flow sits open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.flows.answers import (
    JSON,
    DateAnswer,
    FreeText,
    ManyOf,
    OneOf,
    Option,
    Rejected,
    TimeAnswer,
    View,
)
from bot.flows.model import Apply, Flow, Step, StepContext
from bot.meetings.service import Meetings
from bot.people.permissions import may
from bot.scheduling.timing import local_instant, reminders_ahead
from bot.texts import Label
from storage.db import Transaction
from storage.meetings import MeetingRepo

# At least this far ahead, so the invitation arrives before the meeting does.
LEAD_TIME = timedelta(minutes=15)
SEND = (Option("send", Label("send_invitations")),)
MOVE = (Option("send", Label("send_new_time")),)


def starts_at(answers: dict[str, JSON], zone: str) -> datetime:
    day = date.fromisoformat(str(answers["date"]))
    at = time.fromisoformat(str(answers["time"]))
    return local_instant(day, at, ZoneInfo(zone))


def _check_future(clock: Clock) -> Apply:
    async def check(tx: Transaction, ctx: StepContext, value: JSON) -> Rejected | None:
        when = starts_at(dict(ctx.answers), str(ctx.context["zone"]))
        if when < clock() + LEAD_TIME:
            return Rejected("meeting_past")
        return None

    return check


def _member_options(view: View) -> Sequence[Option]:
    return [Option(str(pid), Label(text=name)) for pid, name in view.context.get("members", [])]


def meeting_flows(meetings: Meetings, clock: Clock) -> tuple[Flow, ...]:
    check_future = _check_future(clock)

    async def schedule(tx: Transaction, ctx: StepContext) -> Rejected | None:
        trio_id = int(ctx.context["trio_id"])
        if not await may(tx, ctx.person_id, "meeting.schedule", trio_id):
            return Rejected("not_lead")
        zone = str(ctx.context["zone"])
        link = ctx.answers.get("link")
        await meetings.schedule(
            tx,
            trio_id=trio_id,
            starts_at=starts_at(dict(ctx.answers), zone),
            zone=zone,
            link=str(link) if link else None,
            focus=str(ctx.answers["focus"]),
            lead_id=ctx.person_id,
        )
        return None

    async def move(tx: Transaction, ctx: StepContext) -> Rejected | None:
        meeting = await MeetingRepo.get(tx, int(ctx.context["meeting_id"]))
        if meeting is None or meeting.status != "scheduled":
            return Rejected("meeting_not_scheduled")
        if not await may(tx, ctx.person_id, "meeting.schedule", meeting.trio_id):
            return Rejected("not_lead")
        await meetings.move(tx, meeting.id, starts_at(dict(ctx.answers), str(ctx.context["zone"])))
        return None

    async def attendance(tx: Transaction, ctx: StepContext) -> Rejected | None:
        meeting = await MeetingRepo.get(tx, int(ctx.context["meeting_id"]))
        if meeting is None or not await may(tx, ctx.person_id, "summary.run", meeting.trio_id):
            return Rejected("not_lead")
        present = [int(pid) for pid in ctx.answers["who"]]
        await meetings.record_attendance(tx, meeting.id, present, ctx.person_id)
        return None

    async def reflect(tx: Transaction, ctx: StepContext) -> Rejected | None:
        meeting_id = int(ctx.context["meeting_id"])
        if not await MeetingRepo.attended(tx, meeting_id, ctx.person_id):
            return Rejected("not_attendee")
        await MeetingRepo.save_reflection(
            tx, meeting_id, ctx.person_id, ctx.answers.get("take_back"), ctx.answers.get("surprise")
        )
        return None

    date_step = Step("date", "meetings/ask_date", DateAnswer(not_past=True))
    time_step = Step("time", "meetings/ask_time", TimeAnswer(), apply=check_future)
    return (
        Flow(
            name="meeting_new",
            command="/meeting",
            done_template="meetings/scheduled",
            complete=schedule,
            # Promise only the reminders that will go: none "a day before" at 27 minutes.
            done_context=lambda view: {
                "reminders": reminders_ahead(
                    starts_at(dict(view.answers), str(view.context["zone"])), view.now
                )
            },
            steps=(
                date_step,
                time_step,
                Step(
                    "link", "meetings/ask_link", FreeText(max_len=400, voice=False), optional=True
                ),
                Step("focus", "meetings/ask_focus", FreeText(min_len=3, max_len=400, voice=False)),
                Step("confirm", "meetings/confirm", OneOf(SEND)),
            ),
        ),
        Flow(
            name="meeting_move",
            command="/meeting",
            done_template="meetings/moved",
            complete=move,
            steps=(date_step, time_step, Step("confirm", "meetings/confirm_move", OneOf(MOVE))),
        ),
        Flow(
            name="meeting_attendance",
            command="/meeting",
            done_template="meetings/attendance_saved",
            complete=attendance,
            steps=(Step("who", "meetings/ask_attendance", ManyOf(_member_options)),),
        ),
        Flow(
            name="meeting_reflection",
            command="/meeting",
            done_template="reflections/thanks",
            complete=reflect,
            steps=(
                Step("take_back", "meetings/ask_take_back", FreeText(min_len=2, max_len=2000)),
                Step(
                    "surprise",
                    "meetings/ask_surprise",
                    FreeText(min_len=2, max_len=2000),
                    optional=True,
                ),
            ),
        ),
    )
