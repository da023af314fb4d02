"""Reading a cycle: who does what in which round, what each member may do next, and the
values stage flows and messages show (predictions beside observations, changes carried)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.buttons import LessonStudyTap
from bot.lesson_study.notices import NoticeButton
from bot.scheduling.notices import moment
from bot.texts import Label
from storage.db import Reader
from storage.lesson_study import ROUNDS, Cycle, LessonStudyRepo, Member, Pupil
from storage.lesson_study_accounts import Account, LessonAccountRepo
from storage.programme import ProgrammeRepo
from storage.research_lessons import Lesson, Note, ResearchLessonRepo

# Button tasks: the `task` of a lesson-study button (bot/buttons.py LessonStudyTap).
STAGE_TASKS = {
    "v": ("student_voice", "ls_voice", "ls_do_voice"),
    "p": ("plan", "ls_plan", "ls_do_plan"),
    "w": ("lesson", "ls_schedule", "ls_do_reschedule"),
    "o": ("observe", "ls_observe", "ls_do_observe"),
    "i": ("observe", "ls_interview", "ls_do_interview"),
    "d": ("discuss", "ls_discuss", "ls_do_discuss"),
    "a": ("account", "ls_account", "ls_do_account"),
}
AGREEMENT_TASKS = {"y": "ls_approve", "s": "ls_suggest_change", "r": "ls_do_revise"}
RoleInRound = Literal["teacher", "observer", "none"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything about one cycle a decision or a message needs, read in one go."""

    cycle: Cycle
    trio: str
    members: list[Member]
    pupils: list[Pupil]
    lessons: list[Lesson]
    observed: set[int]
    interviewed: set[int]
    account: Account | None
    decisions: dict[int, str]

    @property
    def lesson(self) -> Lesson | None:
        return next((x for x in self.lessons if x.round == self.cycle.round), None)

    def member(self, person_id: int) -> Member | None:
        return next((m for m in self.members if m.person_id == person_id), None)

    def name(self, person_id: int | None) -> str:
        found = None if person_id is None else self.member(person_id)
        return found.name if found else "—"

    def role(self, person_id: int) -> RoleInRound:
        lesson = self.lesson
        if self.member(person_id) is None or lesson is None or lesson.teacher_id is None:
            return "none"
        return "teacher" if lesson.teacher_id == person_id else "observer"

    def observers(self) -> list[Member]:
        return [m for m in self.members if self.role(m.person_id) == "observer"]

    def pupil_rows(self) -> list[list[Any]]:
        return [[p.id, p.pseudonym, p.typical_of] for p in self.pupils]


async def snapshot(q: Reader, cycle: Cycle) -> Snapshot:
    trio = await ProgrammeRepo.trio_name(q, cycle.trio_id)
    account = await LessonAccountRepo.get(q, cycle.id)
    return Snapshot(
        cycle=cycle,
        trio=trio if trio is not None else "—",
        members=await LessonStudyRepo.members(q, cycle.id),
        pupils=await LessonStudyRepo.pupils(q, cycle.id),
        lessons=await ResearchLessonRepo.lessons(q, cycle.id),
        observed=await ResearchLessonRepo.done_by(q, cycle.id, cycle.round, "observe"),
        interviewed=await ResearchLessonRepo.done_by(q, cycle.id, cycle.round, "interview"),
        account=account,
        decisions=(
            await LessonAccountRepo.decisions(q, account.id, account.revision) if account else {}
        ),
    )


def actions_for(snap: Snapshot, person_id: int) -> list[NoticeButton]:
    """What this member may do now, as buttons; observers' tasks only for observers."""
    cycle, member = snap.cycle, snap.member(person_id)
    if member is None or cycle.status != "active":
        return []
    seq = cycle.stage_seq

    def button(task: str, ref: int) -> NoticeButton:
        label = STAGE_TASKS[task][2] if task in STAGE_TASKS else AGREEMENT_TASKS[task]
        return Label(label, {"round": cycle.round}), LessonStudyTap(cycle.id, task, ref)

    if cycle.stage == "observe":
        if snap.role(person_id) != "observer":
            return []
        if person_id not in snap.observed:
            return [button("o", seq)]
        return [button("i", seq)] if person_id not in snap.interviewed else []
    if cycle.stage == "agreement":
        account = snap.account
        if account is None:
            return []
        found: list[NoticeButton] = []
        if account.author_id != person_id and snap.decisions.get(person_id) != "approved":
            found += [button("y", account.revision), button("s", account.revision)]
        # A suggestion goes to the author to revise (to anyone, if the author has left).
        author_here = snap.member(account.author_id or 0) is not None
        if "suggested" in snap.decisions.values() and (
            account.author_id == person_id or not author_here
        ):
            found.append(button("r", account.revision))
        return found
    for task, (stage, _, _) in STAGE_TASKS.items():
        if stage == cycle.stage and task not in ("o", "i"):
            return [button(task, seq)]
    return []


def candidates(snap: Snapshot, round_: int) -> list[list[Any]]:
    """Who may teach round `round_`: members who have not taught an earlier round, the one
    whose turn it is in the rotation first."""
    taught = {x.teacher_id for x in snap.lessons if x.round < round_ and x.teacher_id}
    free = [m for m in snap.members if m.person_id not in taught]
    turn = next((m for m in free if m.position == round_), free[0] if free else None)
    ordered = ([turn] if turn else []) + [m for m in free if m is not turn]
    return [[m.person_id, m.name, m is turn] for m in ordered]


def base_context(snap: Snapshot) -> dict[str, Any]:
    c = snap.cycle
    return {
        "cycle_id": c.id,
        "trio": snap.trio,
        "seq": c.stage_seq,
        "round": c.round,
        "focus_what": c.focus_what,
        "focus_who": c.focus_who,
        "pupils": snap.pupil_rows(),
    }


def comparison(snap: Snapshot, notes: list[Note], lesson: Lesson) -> list[dict[str, Any]]:
    """Per case pupil: each key moment's prediction beside what each observer recorded,
    then anything else observed, then what the pupil said in interview."""
    predicted: dict[tuple[int | None, int | None], Any] = {}
    observed: dict[tuple[int | None, int | None], list[list[Any]]] = defaultdict(list)
    said: dict[int | None, list[list[Any]]] = defaultdict(list)
    for note in notes:
        key = (note.pupil_id, note.moment)
        if note.kind == "prediction":
            predicted[key] = note.body
        elif note.kind == "observation":
            observed[key].append([note.author or "—", note.body])
        elif note.kind == "interview":
            said[note.pupil_id].append([note.author or "—", note.body])
    return [
        {
            "pupil": p.pseudonym,
            "typical_of": p.typical_of,
            "moments": [
                {
                    "moment": moment,
                    "predicted": predicted.get((p.id, m)),
                    "observed": observed.get((p.id, m), []),
                }
                for m, moment in enumerate(lesson.moments)
            ],
            "other": observed.get((p.id, None), []),
            "said": said.get(p.id, []),
        }
        for p in snap.pupils
    ]


def changes_by_round(snap: Snapshot) -> list[dict[str, Any]]:
    return [
        {"round": x.round, "teacher": snap.name(x.teacher_id), "changes": x.changes or []}
        for x in snap.lessons
        if x.changes is not None
    ]


def local_when(at: datetime | None, zone: ZoneInfo) -> dict[str, Any] | None:
    """A lesson's time as the `when_zoned` label shows it: on the reader's wall clock, with
    the zone named, since the trio's members may not share one (18:20 here is 19:20 there)."""
    return None if at is None else moment(at, zone.key)


def local_day(moment: datetime, zone: ZoneInfo) -> Label:
    """The date of `moment` in `zone`, written in the reader's language."""
    return Label("day", {"value": moment.astimezone(zone).date().isoformat()})


def card_values(snap: Snapshot, person_id: int | None, zone: ZoneInfo) -> dict[str, Any]:
    """The state of a cycle for /lessonstudy and /status: stage, lessons, who owes what."""
    c = snap.cycle
    waiting = []
    if c.stage == "observe":
        waiting = [m.name for m in snap.observers() if m.person_id not in snap.interviewed]
    elif c.stage == "agreement" and snap.account is not None:
        waiting = [m.name for m in snap.members if snap.decisions.get(m.person_id) != "approved"]
    return {
        "trio": snap.trio,
        "subject": c.subject,
        "class_group": c.class_group,
        "focus_what": c.focus_what,
        "focus_who": c.focus_who,
        "stage": c.stage,
        "round": c.round,
        "rounds": ROUNDS,
        "stalled": c.stalled_at is not None,
        "since": local_day(c.stage_since, zone),
        "pupils": [[p.pseudonym, p.typical_of] for p in snap.pupils],
        "lessons": [
            {
                "round": x.round,
                "teacher": snap.name(x.teacher_id) if x.teacher_id else None,
                "when": local_when(x.starts_at, zone),
                "status": x.status,
            }
            for x in snap.lessons
        ],
        "my_role": snap.role(person_id) if person_id is not None else "none",
        "waiting": waiting,
        "account": account_values(snap) if c.stage == "agreement" else None,
    }


def account_values(snap: Snapshot) -> dict[str, Any] | None:
    """The account awaiting approval, in full: whoever is asked to approve it reads it."""
    a = snap.account
    if a is None:
        return None
    return {"learned": a.learned, "changed": a.changed, "advice": a.advice,
            "author": snap.name(a.author_id), "revision": a.revision}  # fmt: skip
