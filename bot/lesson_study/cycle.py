"""A lesson-study cycle moving through its stages: what each finished flow does, what the
schedule fires (reminders, the after-lesson prompt, the stall check), and who is told what.

Every change happens inside the transaction of the answer (or of the scheduler tick) that
caused it, and is checked there against the stored cycle, its stage number and the
permission table: flow contexts and button data only say which cycle was meant.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.flows.answers import JSON, Rejected
from bot.flows.lesson_study_answers import by_pair, case_pupils, per_pupil
from bot.flows.model import StepContext
from bot.lesson_study.moves import CycleMoves
from bot.lesson_study.views import (
    Snapshot,
    actions_for,
    local_when,
    snapshot,
)
from bot.people.permissions import may
from bot.scheduling.scheduler import Fired, Kind, Late
from bot.scheduling.timing import REMINDER_LEADS, local_instant, relative_day
from storage.db import Transaction, to_db_time
from storage.lesson_study import ROUNDS, LessonStudyRepo
from storage.people import PeopleRepo
from storage.research_lessons import ResearchLessonRepo
from storage.schedule import Due, ScheduleRepo

log = logging.getLogger(__name__)


class CycleStages(CycleMoves):
    """The stages up to the closing account; `LessonStudy` adds the account's agreement."""

    def kinds(self) -> dict[str, Kind]:
        return {
            # "Tomorrow / in an hour you teach": pointless once the lesson has begun.
            "ls_remind": Kind(
                self._remind, late=Late.DROP_STALE, stale_after=timedelta(minutes=30)
            ),
            "ls_after_lesson": Kind(self._after_lesson),
            "ls_stall": Kind(self._stall),
        }

    # --- starting ---------------------------------------------------------------------------
    async def started(self, tx: Transaction, ctx: StepContext) -> None:
        trio_id, a = int(ctx.context["trio_id"]), ctx.answers
        if not await may(tx, ctx.person_id, "lesson_study.run", trio_id):
            return
        if await LessonStudyRepo.active_for_trio(tx, trio_id) is not None:
            log.info("trio %s already has a running cycle; a second start was not stored", trio_id)
            return
        now = self.clock()
        cycle_id = await LessonStudyRepo.create(
            tx,
            trio_id=trio_id,
            started_by=ctx.person_id,
            subject=str(a["subject"]),
            class_group=str(a["class_group"]),
            focus_what=str(a["focus_what"]),
            focus_who=str(a["focus_who"]),
            now=now,
        )
        others = [int(pid) for pid, _ in ctx.context["others"]]
        if ctx.context.get("pick"):
            others = [int(pid) for pid in a.get("colleagues") or []]
        for position, person_id in enumerate([ctx.person_id, *others[:2]], start=1):
            await LessonStudyRepo.add_member(tx, cycle_id, person_id, position)
        for position, (name, group) in enumerate(case_pupils(a), start=1):
            await LessonStudyRepo.add_pupil(tx, cycle_id, position, name, group)
        await ResearchLessonRepo.open_lesson(tx, cycle_id, 1, [])
        snap = await self._enter(tx, cycle_id, "student_voice", 1, stall_from=now)
        starter = snap.name(ctx.person_id)
        await self._tell_all(tx, snap, "lesson_study/notice_started", {"starter": starter})

    # --- before the first lesson ----------------------------------------------------------
    async def voice_recorded(self, tx: Transaction, ctx: StepContext) -> None:
        snap = await self._current(tx, ctx, "student_voice")
        if snap is None:
            return
        c, now = snap.cycle, self.clock()
        await ResearchLessonRepo.add_note(
            tx, c.id, 0, "student_voice", ctx.person_id, dict(ctx.answers), now
        )
        snap = await self._enter(tx, c.id, "plan", 1, stall_from=now)
        values: dict[str, Any] = {"by": snap.name(ctx.person_id), "said": ctx.answers.get("said"),
                  "ideas": ctx.answers.get("ideas"), "carried": []}  # fmt: skip
        await self._tell_all(tx, snap, "lesson_study/notice_plan", values)

    async def check_lesson_time(
        self, tx: Transaction, ctx: StepContext, value: JSON
    ) -> Rejected | None:
        starts = await self._starts_at(tx, ctx.person_id, str(ctx.answers["date"]), str(value))
        if starts <= self.clock():
            return Rejected("ls_lesson_past")
        return None

    async def _starts_at(self, tx: Transaction, person_id: int, day: str, at: str) -> datetime:
        person = await PeopleRepo.get_in(tx, person_id)
        zone = None if person is None else person.time_zone
        return local_instant(
            date.fromisoformat(day), time.fromisoformat(at), ZoneInfo(zone or self.zone)
        )

    async def planned(self, tx: Transaction, ctx: StepContext) -> None:
        snap = await self._current(tx, ctx, "plan")
        if snap is None or snap.lesson is None:
            return
        c, lesson, a, now = snap.cycle, snap.lesson, ctx.answers, self.clock()
        moments = [str(m) for m in a["moments"]]
        await ResearchLessonRepo.set_plan(tx, lesson.id, a["outline"], moments)
        await ResearchLessonRepo.clear_notes(tx, c.id, c.round, "prediction")
        predicted = by_pair(a, "predict", len(moments), len(snap.pupils))
        for m in range(len(moments)):
            for p, pupil in enumerate(snap.pupils):
                body = predicted.get((m, p))
                if body is not None:
                    await ResearchLessonRepo.add_note(
                        tx, c.id, c.round, "prediction", ctx.person_id, body, now,
                        pupil_id=pupil.id, moment=m,
                    )  # fmt: skip
        await self._schedule_lesson(tx, snap, ctx, changed=False)

    async def rescheduled(self, tx: Transaction, ctx: StepContext) -> None:
        snap = await self._current(tx, ctx, "lesson")
        if snap is not None:
            await self._schedule_lesson(tx, snap, ctx, changed=True)

    async def _schedule_lesson(
        self, tx: Transaction, snap: Snapshot, ctx: StepContext, *, changed: bool
    ) -> None:
        c, lesson, a = snap.cycle, snap.lesson, ctx.answers
        assert lesson is not None
        teacher_id = int(a["teacher"])
        if snap.member(teacher_id) is None:
            return
        starts = await self._starts_at(tx, ctx.person_id, str(a["date"]), str(a["time"]))
        ends = starts + timedelta(minutes=self.lesson_minutes)
        await ResearchLessonRepo.set_schedule(tx, lesson.id, teacher_id, starts, ends)
        # Reminders for the old time or teacher go; each handler also re-checks the lesson.
        await ScheduleRepo.cancel_prefixed(tx, f"ls:{c.id}:r{c.round}:", "lesson rescheduled")
        now, stamp = self.clock(), to_db_time(starts)
        base = f"ls:{c.id}:r{c.round}:{stamp}"
        payload = {"cycle": c.id, "round": c.round, "at": stamp}
        for member in snap.members:
            for when, before in REMINDER_LEADS:
                if starts - before > now:
                    await ScheduleRepo.add(
                        tx, "ls_remind", starts - before, person_id=member.person_id,
                        payload={**payload, "when": when},
                        dedupe_key=f"{base}:{when}:{member.person_id}",
                    )  # fmt: skip
        await ScheduleRepo.add(
            tx, "ls_after_lesson", ends, trio_id=c.trio_id, payload=payload,
            dedupe_key=f"{base}:after",
        )  # fmt: skip
        snap = await self._enter(tx, c.id, "lesson", c.round, stall_from=ends)
        await self._tell_roles(tx, snap, "notice_teach", "notice_observe", {"changed": changed})

    # --- scheduled: reminders, the end of the lesson, a stalled cycle -----------------------
    async def _lesson_still(self, tx: Transaction, due: Due) -> Snapshot | None:
        cycle = await LessonStudyRepo.get(tx, int(due.payload["cycle"]))
        if cycle is None or cycle.stage != "lesson" or cycle.round != due.payload["round"]:
            return None
        snap = await snapshot(tx, cycle)
        lesson = snap.lesson
        if lesson is None or lesson.starts_at is None:
            return None
        return snap if to_db_time(lesson.starts_at) == due.payload["at"] else None

    async def _remind(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        snap = await self._lesson_still(tx, due)
        member = snap.member(due.person_id or 0) if snap else None
        if snap is None or member is None or snap.lesson is None:
            return Fired(note="no longer applies")
        starts = snap.lesson.starts_at
        assert starts is not None  # _lesson_still checked it
        # The role is read now, not when the reminder was made: the trio may have swapped.
        role = snap.role(member.person_id)
        template = "remind_teacher" if role == "teacher" else "remind_observer"
        zone = ZoneInfo(member.row["time_zone"] or self.zone)
        teacher = snap.name(snap.lesson.teacher_id)
        values = {
            **self._common(snap),
            "when": local_when(starts, zone),
            "teacher": teacher,
            "soon": due.payload["when"] == "hour",
            "moments": snap.lesson.moments,
        }
        await self.notices.send(
            tx, member, f"lesson_study/{template}",
            # "Tomorrow" or "today" as it reads when it arrives, moved out of a weekend or not.
            lambda delivered: {**values, "day": relative_day(starts, delivered, zone)},
            now=now, key=f"out:{due.dedupe_key}",
            # Out of quiet hours and weekends while that still leaves it before the lesson
            # (the day before's before the hour before's); otherwise on time.
            latest=starts - (timedelta(hours=1) if due.payload["when"] != "hour" else timedelta()),
        )  # fmt: skip
        return Fired()

    async def _after_lesson(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        snap = await self._lesson_still(tx, due)
        if snap is None or snap.lesson is None:
            return Fired(note="no longer applies")
        c = snap.cycle
        await ResearchLessonRepo.set_status(tx, snap.lesson.id, "taught")
        snap = await self._enter(tx, c.id, "observe", c.round, stall_from=now)
        await self._tell_roles(tx, snap, "after_teacher", "after_observer", {})
        return Fired()

    async def _stall(self, tx: Transaction, due: Due, now: datetime) -> Fired:
        cycle_id, seq = int(due.payload["cycle"]), int(due.payload["seq"])
        if not await LessonStudyRepo.mark_stalled(tx, cycle_id, seq, now):
            return Fired(note="moved on")
        cycle = await LessonStudyRepo.get(tx, cycle_id)
        assert cycle is not None
        snap = await snapshot(tx, cycle)
        days = max(1, (now - cycle.stage_since).days)
        await self._tell_all(tx, snap, "lesson_study/stalled", {"stage": cycle.stage, "days": days})
        return Fired(note="stalled")

    # --- after each lesson ----------------------------------------------------------------
    async def observed(self, tx: Transaction, ctx: StepContext) -> None:
        snap = await self._current(tx, ctx, "observe")
        if snap is None or snap.role(ctx.person_id) != "observer" or snap.lesson is None:
            return
        c, now, a = snap.cycle, self.clock(), ctx.answers
        seen = by_pair(a, "obs", len(snap.lesson.moments), len(snap.pupils))
        other = per_pupil(a, "other")
        for p, pupil in enumerate(snap.pupils):
            for m in range(len(snap.lesson.moments)):
                if seen.get((m, p)) is not None:
                    await ResearchLessonRepo.add_note(
                        tx, c.id, c.round, "observation", ctx.person_id, seen[(m, p)], now,
                        pupil_id=pupil.id, moment=m,
                    )  # fmt: skip
            if other.get(p) is not None:
                await ResearchLessonRepo.add_note(
                    tx, c.id, c.round, "observation", ctx.person_id, other[p], now,
                    pupil_id=pupil.id,
                )  # fmt: skip
        await ResearchLessonRepo.task_done(tx, c.id, c.round, "observe", ctx.person_id, now)
        snap = await snapshot(tx, c)
        member = snap.member(ctx.person_id)
        assert member is not None
        await self.notices.send(
            tx, member, "lesson_study/interview_prompt", self._common(snap), now=now,
            key=f"ls:{c.id}:{c.stage_seq}:interview", buttons=actions_for(snap, ctx.person_id),
            defer=False,
        )  # fmt: skip

    async def interviewed(self, tx: Transaction, ctx: StepContext) -> None:
        snap = await self._current(tx, ctx, "observe")
        if snap is None or snap.role(ctx.person_id) != "observer":
            return
        if ctx.person_id not in snap.observed:
            return
        c, now = snap.cycle, self.clock()
        for p, pupil in enumerate(snap.pupils):
            body = per_pupil(ctx.answers, "talk").get(p)
            if body is not None:
                await ResearchLessonRepo.add_note(
                    tx, c.id, c.round, "interview", ctx.person_id, body, now, pupil_id=pupil.id
                )
        await ResearchLessonRepo.task_done(tx, c.id, c.round, "interview", ctx.person_id, now)
        done = await ResearchLessonRepo.done_by(tx, c.id, c.round, "interview")
        if all(m.person_id in done for m in snap.observers()):
            snap = await self._enter(tx, c.id, "discuss", c.round, stall_from=now)
            await self._tell_all(tx, snap, "lesson_study/notice_discuss", {})

    async def discussed(self, tx: Transaction, ctx: StepContext) -> None:
        snap = await self._current(tx, ctx, "discuss")
        if snap is None or snap.lesson is None:
            return
        c, now = snap.cycle, self.clock()
        changes = [str(x) for x in ctx.answers.get("changes") or []]
        await ResearchLessonRepo.set_discussion(
            tx, snap.lesson.id, ctx.answers.get("compare"), changes
        )
        if c.round < ROUNDS:
            await ResearchLessonRepo.open_lesson(tx, c.id, c.round + 1, changes)
            snap = await self._enter(tx, c.id, "plan", c.round + 1, stall_from=now)
            values = {"by": snap.name(ctx.person_id), "carried": changes, "said": None,
                      "ideas": None}  # fmt: skip
            await self._tell_all(tx, snap, "lesson_study/notice_plan", values)
        else:
            snap = await self._enter(tx, c.id, "account", c.round, stall_from=now)
            await self._tell_all(tx, snap, "lesson_study/notice_account", {"changes": changes})
