"""The lesson-study service handlers call: opening the flow a button or /lessonstudy asks
for (after checking who may), and the closing account's agreement.

The agreement is small and self-contained: the account goes to every member of the cycle;
each approves or suggests a change; a suggestion goes to the author, whose revision starts
the approvals afresh; the account is agreed when every member has approved the current
revision (the author's writing it counts as their approval). Only then is the cycle agreed and
the account shared (see storage/migrations/0007_lesson_study.sql for what a digest reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.buttons import LessonStudyTap
from bot.flows.lesson_study import account_questions
from bot.flows.model import StepContext
from bot.lesson_study.cycle import CycleStages
from bot.lesson_study.views import (
    AGREEMENT_TASKS,
    STAGE_TASKS,
    Snapshot,
    actions_for,
    base_context,
    candidates,
    changes_by_round,
    comparison,
    snapshot,
)
from bot.people.permissions import allowed, may, permits
from bot.reflections.replies import Waiting
from storage.db import Transaction
from storage.lesson_study import Cycle, LessonStudyRepo, Stage
from storage.lesson_study_accounts import LessonAccountRepo
from storage.partnership import PartnershipRepo
from storage.people import PeopleRepo, Role
from storage.programme import ProgrammeRepo
from storage.questions import QuestionRepo
from storage.research_lessons import ResearchLessonRepo

TaskRefusal = Literal["gone", "not_member", "stale", "not_for_you"]
Decision = Literal["approved", "agreed", "stale", "not_member", "gone", "own"]


@dataclass(frozen=True, slots=True)
class Opened:
    flow: str
    context: dict[str, Any]
    label: str  # the button's label key, shown as chosen


@dataclass(frozen=True, slots=True)
class NeedThree:
    """A cycle needs the person and two colleagues in the trio who have joined."""

    trio: str


@dataclass(frozen=True, slots=True)
class Approval:
    """What approving the closing account did."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class Finished:
    """No cycle is running: the trio's finished ones, then what starts the next."""

    cycles: list[Snapshot]
    then: Opened | NeedThree


Overview = list[Snapshot] | Finished | Opened | NeedThree | Literal["not_allowed"]
# How many finished cycles /lessonstudy shows (newest first) when none is running.
FINISHED_SHOWN = 3


class LessonStudy(CycleStages):
    # --- what people see and may open ---------------------------------------------------
    async def overview(self, person_id: int, roles: frozenset[Role]) -> Overview:
        """/lessonstudy: the running cycles they may see, else the flow that starts one in
        their (first) trio, if it has two colleagues to work with."""
        memberships = await ProgrammeRepo(self.db).memberships(person_id)
        trios = [
            m.trio
            for m in memberships
            if allowed(roles, "lesson_study.run", trio_id=m.trio.id, memberships=memberships)
        ]
        if not trios:
            return "not_allowed"
        cycles = await self.visible(person_id)
        if any(snap.cycle.status == "active" for snap in cycles):
            return cycles
        start = await self.start_context(person_id, trios[0].id)
        then: Opened | NeedThree = (
            NeedThree(trios[0].name) if start is None else Opened("ls_start", start, "ls_start")
        )
        return Finished(cycles, then) if cycles else then

    async def tap(self, person_id: int, tap: LessonStudyTap) -> Opened | TaskRefusal | Approval:
        """A lesson-study button: approve the account ("y"), or open the task it names."""
        if tap.task == "y":
            return Approval(await self.approve(person_id, tap.cycle_id, tap.ref))
        return await self.open_task(person_id, tap.cycle_id, tap.task, tap.ref)

    async def notes_waiting(self, person_id: int) -> Waiting | None:
        """The observation notes this person is asked for now their lesson has ended (asked
        when it ended): a message they send then is their first note."""
        now = self.clock()
        for snap in await self.visible(person_id):
            lesson = snap.lesson
            ended = lesson.ends_at if lesson is not None else None
            if ended is None or ended > now:
                continue
            for _, tap in actions_for(snap, person_id):
                if tap.task == "o":
                    opened = await self.open_task(person_id, snap.cycle.id, "o", tap.ref)
                    if isinstance(opened, Opened):
                        return Waiting(opened.flow, opened.context, asked_at=ended)
        return None

    async def visible(self, person_id: int) -> list[Snapshot]:
        """Cycles of trios this person may run lesson study in: the running ones, then the
        latest finished ones. A cycle is the trio's: it stays visible to its members when
        someone who took part has since left or been erased (their part shows as "—")."""
        grants = await PeopleRepo.grants(self.db, person_id)
        running: list[Snapshot] = []
        finished: list[Snapshot] = []
        for cycle in await LessonStudyRepo.for_trios(self.db, list(grants.trios)):
            if not permits(grants, "lesson_study.run", cycle.trio_id):
                continue
            if cycle.status == "active":
                running.append(await snapshot(self.db, cycle))
            elif len(finished) < FINISHED_SHOWN:
                finished.append(await snapshot(self.db, cycle))
        return running + finished

    async def running(self, person_id: int) -> list[Snapshot]:
        """Only the running cycles of `visible` (what /status shows a teacher)."""
        return [s for s in await self.visible(person_id) if s.cycle.status == "active"]

    async def cycles_of_trio(self, trio_id: int) -> list[Snapshot]:
        cycles = await LessonStudyRepo.for_trios(self.db, [trio_id])
        return [await snapshot(self.db, c) for c in cycles if c.status == "active"]

    async def stalled(self) -> list[tuple[Cycle, str]]:
        return await LessonStudyRepo.stalled(self.db)

    async def start_context(self, person_id: int, trio_id: int) -> dict[str, Any] | None:
        """The context for starting a cycle in this trio, or None without two colleagues."""
        colleagues = await LessonStudyRepo.colleagues(self.db, trio_id, person_id)
        if len(colleagues) < 2:
            return None
        trio = await ProgrammeRepo.trio_name(self.db, trio_id)
        others = [[c.person_id, c.name or "—"] for c in colleagues]
        return {"trio_id": trio_id, "trio": trio, "others": others, "pick": len(others) > 2}

    async def open_task(
        self, person_id: int, cycle_id: int, task: str, ref: int
    ) -> Opened | TaskRefusal:
        """Which flow a lesson-study button opens for this person, if they may open it now."""
        cycle = await LessonStudyRepo.get(self.db, cycle_id)
        if cycle is None or (task not in STAGE_TASKS and task not in AGREEMENT_TASKS):
            return "gone"
        if not await may(self.db, person_id, "lesson_study.run", cycle.trio_id):
            return "not_member"
        snap = await snapshot(self.db, cycle)
        if snap.member(person_id) is None:
            return "not_member"
        offered = {tap.task: tap.ref for _, tap in actions_for(snap, person_id)}
        if task not in offered:
            # Someone else's task (an observer's, say) or one already done.
            same_stage = task in STAGE_TASKS and STAGE_TASKS[task][0] == cycle.stage
            theirs = snap.role(person_id) == "observer" or task not in ("o", "i")
            return (
                "not_for_you" if same_stage and ref == cycle.stage_seq and not theirs else "stale"
            )
        if offered[task] != ref:
            return "stale"
        if task in AGREEMENT_TASKS:
            return await self._agreement_task(snap, task)
        return Opened(STAGE_TASKS[task][1], await self._context(snap, task), STAGE_TASKS[task][2])

    async def _context(self, snap: Snapshot, task: str) -> dict[str, Any]:
        context = base_context(snap)
        c, lesson = snap.cycle, snap.lesson
        if task in ("p", "w"):
            context["candidates"] = candidates(snap, c.round)
        if task == "p" and lesson is not None:
            previous = next((x for x in snap.lessons if x.round == c.round - 1), None)
            context["carried"] = lesson.carried
            context["prev_moments"] = previous.moments if previous else []
        if task == "o" and lesson is not None:
            context["moments"] = lesson.moments
        if task == "d" and lesson is not None:
            notes = await ResearchLessonRepo.notes(self.db, c.id, c.round)
            context["comparison"] = comparison(snap, notes, lesson)
            context["teacher"] = snap.name(lesson.teacher_id)
            context["last"] = c.round >= 3
        if task == "a":
            context["history"] = changes_by_round(snap)
        return context

    async def _agreement_task(self, snap: Snapshot, task: str) -> Opened | TaskRefusal:
        account = snap.account
        if account is None:
            return "gone"
        context: dict[str, Any]
        if task == "s":
            context = {"cycle_id": snap.cycle.id, "account_id": account.id,
                       "revision": account.revision}  # fmt: skip
            return Opened("ls_suggest", context, AGREEMENT_TASKS[task])
        if task == "r":
            context = base_context(snap)
            context["history"] = changes_by_round(snap)
            context["current"] = {
                "learned": account.learned,
                "changed": account.changed,
                "advice": account.advice,
            }
            suggestions = await LessonAccountRepo.suggestions(self.db, account.id, account.revision)
            context["suggestions"] = [[name, body] for name, body in suggestions]
            context["revising"] = account.revision
            return Opened("ls_account", context, AGREEMENT_TASKS[task])
        return "stale"  # approving is not a flow: see `approve`

    # --- the closing account ----------------------------------------------------------------
    async def account_written(self, tx: Transaction, ctx: StepContext) -> None:
        stage: Stage = "agreement" if ctx.context.get("revising") else "account"
        snap = await self._current(tx, ctx, stage)
        if snap is None:
            return
        if stage == "agreement" and (
            snap.account is None or snap.account.revision != ctx.context["revising"]
        ):
            return
        c, a, now = snap.cycle, ctx.answers, self.clock()
        account = await LessonAccountRepo.write(
            tx, c.id, ctx.person_id, a["learned"], a["changed"], a["advice"], now
        )
        await LessonAccountRepo.decide(
            tx, account.id, ctx.person_id, account.revision, "approved", now
        )
        await PartnershipRepo.set_account_questions(tx, account.id, account_questions(a))
        snap = await self._enter(tx, c.id, "agreement", c.round, stall_from=now)
        values = {"author": snap.name(ctx.person_id), "account": {
            "learned": account.learned, "changed": account.changed, "advice": account.advice},
            "revision": account.revision}  # fmt: skip
        for member in snap.members:
            await self.notices.send(
                tx, member, "lesson_study/account_draft",
                {**self._common(snap), **values, "mine": member.person_id == ctx.person_id},
                now=now, key=f"ls:{c.id}:{c.stage_seq}:draft",
                buttons=actions_for(snap, member.person_id),
            )  # fmt: skip

    async def suggested(self, tx: Transaction, ctx: StepContext) -> None:
        cycle = await LessonStudyRepo.get(tx, int(ctx.context["cycle_id"]))
        if cycle is None or not await may(tx, ctx.person_id, "lesson_study.run", cycle.trio_id):
            return
        snap = await snapshot(tx, cycle)
        account, now = snap.account, self.clock()
        if (
            account is None
            or snap.member(ctx.person_id) is None
            or account.id != ctx.context["account_id"]
            or account.revision != ctx.context["revision"]
            or account.status != "draft"
        ):
            await ResearchLessonRepo.add_note(
                tx, cycle.id, cycle.round, "late", ctx.person_id, dict(ctx.answers), now
            )
            return
        suggestion = ctx.answers["suggestion"]
        await LessonAccountRepo.decide(
            tx, account.id, ctx.person_id, account.revision, "suggested", now, suggestion
        )
        snap = await snapshot(tx, cycle)
        author = snap.member(account.author_id or 0)
        for member in [author] if author else snap.members:
            await self.notices.send(
                tx, member, "lesson_study/suggestion",
                {**self._common(snap), "by": snap.name(ctx.person_id), "suggestion": suggestion},
                now=now, key=f"ls:{cycle.id}:{account.revision}:suggest:{ctx.person_id}",
                buttons=actions_for(snap, member.person_id),
            )  # fmt: skip

    async def approve(self, person_id: int, cycle_id: int, revision: int) -> Decision:
        now = self.clock()
        async with self.db.transaction() as tx:
            cycle = await LessonStudyRepo.get(tx, cycle_id)
            if cycle is None:
                return "gone"
            if not await may(tx, person_id, "lesson_study.run", cycle.trio_id):
                return "not_member"
            snap = await snapshot(tx, cycle)
            account = snap.account
            if snap.member(person_id) is None:
                return "not_member"
            if account is None or account.status != "draft" or account.revision != revision:
                return "stale"
            if account.author_id == person_id:
                return "own"
            await LessonAccountRepo.decide(tx, account.id, person_id, revision, "approved", now)
            decisions = await LessonAccountRepo.decisions(tx, account.id, revision)
            if any(decisions.get(m.person_id) != "approved" for m in snap.members):
                return "approved"
            await LessonAccountRepo.agree(tx, account.id, now)
            await QuestionRepo.from_account(tx, account.id, now)  # open for the researchers
            snap = await self._enter(tx, cycle.id, "agreed", cycle.round, stall_from=now)
            await self._tell_all(tx, snap, "lesson_study/agreed", {})
            return "agreed"
