"""What every lesson-study stage shares: the cycle an answer was meant for (if it still
stands), entering the next stage with its stall check armed, and telling the members."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.flows.model import StepContext
from bot.lesson_study.notices import Notices
from bot.lesson_study.views import Snapshot, actions_for, local_when, snapshot
from bot.people.permissions import may
from storage.db import Database, Transaction
from storage.lesson_study import LessonStudyRepo, Stage
from storage.research_lessons import ResearchLessonRepo
from storage.schedule import ScheduleRepo

log = logging.getLogger(__name__)


class CycleMoves:
    """The state and the steps `CycleStages` and `LessonStudy` build on."""

    def __init__(
        self,
        db: Database,
        notices: Notices,
        *,
        programme_zone: str,
        lesson_minutes: int,
        stall_after: timedelta,
        clock: Clock,
    ) -> None:
        self.db = db
        self.notices = notices
        self.zone = programme_zone
        self.lesson_minutes = lesson_minutes
        self.stall_after = stall_after
        self.clock = clock

    async def _current(self, tx: Transaction, ctx: StepContext, stage: Stage) -> Snapshot | None:
        """The cycle a stage flow was opened for, if it is still at that stage and the person
        still belongs to it; otherwise what they wrote is kept as a late note."""
        cycle = await LessonStudyRepo.get(tx, int(ctx.context["cycle_id"]))
        if cycle is None or not await may(tx, ctx.person_id, "lesson_study.run", cycle.trio_id):
            log.warning("lesson study %s: answers from %s refused", ctx.context, ctx.person_id)
            return None
        snap = await snapshot(tx, cycle)
        fresh = cycle.stage == stage and cycle.stage_seq == int(ctx.context["seq"])
        if snap.member(ctx.person_id) is None or not fresh:
            await ResearchLessonRepo.add_note(
                tx, cycle.id, cycle.round, "late", ctx.person_id, dict(ctx.answers), self.clock()
            )
            return None
        return snap

    async def _enter(
        self, tx: Transaction, cycle_id: int, stage: Stage, round_: int, *, stall_from: datetime
    ) -> Snapshot:
        now = self.clock()
        seq = await LessonStudyRepo.move(tx, cycle_id, stage, round_, now)
        if stage != "agreed":
            await ScheduleRepo.add(
                tx,
                "ls_stall",
                max(now, stall_from) + self.stall_after,
                payload={"cycle": cycle_id, "seq": seq},
                dedupe_key=f"ls:{cycle_id}:stall:{seq}",
            )
        cycle = await LessonStudyRepo.get(tx, cycle_id)
        assert cycle is not None
        return await snapshot(tx, cycle)

    async def _tell_all(
        self, tx: Transaction, snap: Snapshot, template: str, values: dict[str, Any]
    ) -> None:
        """Everyone in the cycle gets `template`, with the buttons for what they may do now."""
        c = snap.cycle
        for member in snap.members:
            await self.notices.send(
                tx,
                member,
                template,
                {**self._common(snap), **values},
                now=self.clock(),
                key=f"ls:{c.id}:{c.stage_seq}:{template}",
                buttons=actions_for(snap, member.person_id),
            )

    def _common(self, snap: Snapshot) -> dict[str, Any]:
        c = snap.cycle
        return {
            "trio": snap.trio,
            "focus_what": c.focus_what,
            "focus_who": c.focus_who,
            "round": c.round,
            "pupils": [[p.pseudonym, p.typical_of] for p in snap.pupils],
        }

    async def _tell_roles(
        self,
        tx: Transaction,
        snap: Snapshot,
        teacher_template: str,
        observer_template: str,
        values: dict[str, Any],
        *,
        defer: bool = True,
        key: str = "",
    ) -> None:
        """The round's teacher and its observers get different messages: each only theirs."""
        c, lesson = snap.cycle, snap.lesson
        assert lesson is not None
        notes = await ResearchLessonRepo.notes(tx, c.id, c.round)
        predictions = [
            {"pupil": p.pseudonym, "moment": lesson.moments[n.moment], "text": n.body}
            for p in snap.pupils
            for n in notes
            if n.kind == "prediction"
            and n.pupil_id == p.id
            and n.moment is not None
            and n.moment < len(lesson.moments)
        ]
        for member in snap.members:
            role = snap.role(member.person_id)
            template = teacher_template if role == "teacher" else observer_template
            zone = ZoneInfo(member.row["time_zone"] or self.zone)
            await self.notices.send(
                tx, member, f"lesson_study/{template}",
                {**self._common(snap), **values, "teacher": snap.name(lesson.teacher_id),
                 "when": local_when(lesson.starts_at, zone), "moments": lesson.moments,
                 "outline": lesson.outline, "predictions": predictions,
                 "carried": lesson.carried},
                now=self.clock(), key=f"ls:{c.id}:{c.stage_seq}:{template}{key}",
                buttons=actions_for(snap, member.person_id), defer=defer,
            )  # fmt: skip
