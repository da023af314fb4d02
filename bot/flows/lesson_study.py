"""Lesson study as flows: starting a cycle, then one flow per stage the bot opens in turn.

Each flow only collects; its `complete` hands the answers to the lesson-study service
(`Hooks`), which stores them, moves the cycle on and tells the trio — all in the answer's
transaction. Prompts are templates under prompts/<lang>/lesson_study/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, time
from typing import Any, Protocol

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
from bot.flows.lesson_study_answers import (
    MAX_MOMENTS,
    MAX_PUPILS,
    ItemList,
    PseudonymAnswer,
    Revisable,
    case_pupils,
    pairs,
    settled,
    taken_before,
)
from bot.flows.model import END, FOLLOWING, Flow, NextStep, Repeat, Step, StepContext, SubFlow
from bot.flows.pseudonyms import looks_like_name, suggested_pseudonym
from bot.scheduling.timing import local_instant, reminders_ahead
from bot.texts import Label
from storage.db import Transaction

NOTE = FreeText(min_len=2, max_len=2000)
SHORT = FreeText(min_len=1, max_len=80, voice=False)
FOCUS = FreeText(min_len=3, max_len=300, voice=False)


class Hooks(Protocol):
    """What the lesson-study service does with each finished flow (same transaction)."""

    async def started(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def voice_recorded(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def planned(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def rescheduled(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def observed(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def interviewed(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def discussed(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def account_written(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def suggested(self, tx: Transaction, ctx: StepContext) -> None: ...
    async def check_lesson_time(
        self, tx: Transaction, ctx: StepContext, value: JSON
    ) -> Rejected | None: ...


def pupils_of(view: View) -> list[list[Any]]:
    """[[pupil id, pseudonym, typical of], …] from a stage flow's context."""
    return list(view.context.get("pupils", []))


# --- starting a cycle: a case pupil is a sub-flow, repeated -------------------------------
def _named(view: View) -> Mapping[str, Any]:
    position = view.index + 1
    suggestion = suggested_pseudonym(position, taken_before(view))
    return {
        "position": position,
        "typed": view.answers.get("name"),
        "pseudonym": settled(view.answers, position, taken_before(view)),
        "suggestion": suggestion,
    }


def _after_name(view: View) -> str:
    return "check" if looks_like_name(str(view.answers["name"])) else "group"


def _check_options(view: View) -> Sequence[Option]:
    typed = str(view.answers["name"])
    suggestion = suggested_pseudonym(view.index + 1, taken_before(view))
    return (
        Option(f"use:{typed}", Label("ls_use_pseudonym", {"name": suggestion})),
        Option(f"keep:{typed}", Label("ls_keep_pseudonym", {"name": typed})),
        Option("retype", Label("ls_retype_pseudonym")),
    )


CASE_PUPIL = SubFlow(
    "case_pupil",
    (
        Step("name", "lesson_study/start_pupil", PseudonymAnswer(), next=_after_name,
             prompt_context=_named),
        Step("check", "lesson_study/start_pupil_check", OneOf(_check_options),
             next=lambda view: "name" if view.answers["check"] == "retype" else "group",
             prompt_context=_named),
        Step("group", "lesson_study/start_pupil_group",
             FreeText(min_len=3, max_len=200, voice=False), next=END, prompt_context=_named),
    ),
)  # fmt: skip


def _colleagues_or_end(view: View) -> str | None:
    return "colleagues" if view.context.get("pick") else END


def _colleague_options(view: View) -> Sequence[Option]:
    return tuple(Option(str(pid), Label(text=name)) for pid, name in view.context["others"])


def start_flow(hooks: Hooks) -> Flow:
    return Flow(
        name="ls_start",
        command="/lessonstudy",
        done_template="lesson_study/started",
        done_context=lambda view: {"pupils": [name for name, _ in case_pupils(view.answers)]},
        complete=hooks.started,
        steps=(
            Step("subject", "lesson_study/start_subject", SHORT),
            Step("class_group", "lesson_study/start_class", SHORT),
            Step("focus_what", "lesson_study/start_focus_what", FOCUS),
            Step("focus_who", "lesson_study/start_focus_who", FOCUS),
            Repeat("pupils", CASE_PUPIL, MAX_PUPILS, min_items=1,
                   more="lesson_study/start_more", more_context=_named,
                   next=_colleagues_or_end),
            Step(
                "colleagues",
                "lesson_study/start_colleagues",
                ManyOf(_colleague_options, min_picks=2, max_picks=2),
                next=END,
            ),
        ),
    )  # fmt: skip


# --- notes per key moment and case pupil, and per case pupil ------------------------------
def _grid(
    key: str, prompt: str, moments: Callable[[View], Sequence[str]], *, optional: bool
) -> Repeat:
    """A note for each key moment and case pupil (`pairs` gives the order)."""

    def each(view: View) -> list[list[int]]:
        return pairs(len(moments(view)), len(pupils_of(view)))

    def shown(view: View) -> Mapping[str, Any]:
        m, p = view.item
        pupil = pupils_of(view)[p]
        return {"moment": moments(view.outer or view)[m], "pupil": pupil[1],
                "typical_of": pupil[2], "moment_number": m + 1}  # fmt: skip

    note = Step("note", prompt, NOTE, optional=optional, prompt_context=shown)
    return Repeat(key, SubFlow(f"{key}_note", (note,)), MAX_MOMENTS * MAX_PUPILS, each=each)


def _per_pupil(key: str, prompt: str, *, next: NextStep = FOLLOWING) -> Repeat:
    """A note for each case pupil, which may be skipped."""

    def shown(view: View) -> Mapping[str, Any]:
        return {"pupil": view.item[1], "round": view.context.get("round")}

    note = Step("note", prompt, NOTE, optional=True, prompt_context=shown)
    return Repeat(key, SubFlow(f"{key}_note", (note,)), MAX_PUPILS, each=pupils_of, next=next)


def _teacher_options(view: View) -> Sequence[Option]:
    options = []
    for pid, name, is_next in view.context["candidates"]:
        label = Label("ls_rotation_next", {"name": name}) if is_next else Label(text=name)
        options.append(Option(str(pid), label))
    return tuple(options)


def _schedule_steps(hooks: Hooks) -> tuple[Step, ...]:
    def shown(view: View) -> Mapping[str, Any]:
        return {"round": view.context["round"]}

    return (
        Step("teacher", "lesson_study/plan_teacher", OneOf(_teacher_options),
             prompt_context=shown),
        Step("date", "lesson_study/plan_date", DateAnswer(not_past=True), prompt_context=shown),
        Step("time", "lesson_study/plan_time", TimeAnswer(), apply=hooks.check_lesson_time,
             prompt_context=shown, next=END),
    )  # fmt: skip


def _done_values(view: View) -> Mapping[str, Any]:
    """What the confirmation says: the reminders the lesson will really get (none the day
    before a lesson tomorrow at 9), and the planner's zone with the time they typed
    (observers may live in another, and see the lesson in theirs)."""
    day = date.fromisoformat(str(view.answers["date"]))
    at = time.fromisoformat(str(view.answers["time"]))
    reminders = reminders_ahead(local_instant(day, at, view.tz), view.now)
    return {"reminders": reminders, "zone": str(view.tz)}


def _stage_values(view: View) -> Mapping[str, Any]:
    return {"round": view.context.get("round"), "pupils": pupils_of(view)}


# --- the stages ---------------------------------------------------------------------------
def stage_flows(hooks: Hooks) -> tuple[Flow, ...]:
    def planned_moments(view: View) -> Sequence[str]:
        return list(view.answers.get("moments") or [])

    def observed_moments(view: View) -> Sequence[str]:
        return list(view.context.get("moments", []))

    voice = Flow(
        name="ls_voice",
        command="/lessonstudy",
        done_template="lesson_study/voice_done",
        complete=hooks.voice_recorded,
        steps=(
            Step(
                "said",
                "lesson_study/voice_said",
                FreeText(min_len=2, max_len=3000),
                prompt_context=_stage_values,
            ),
            Step("ideas", "lesson_study/voice_ideas", NOTE, optional=True),
        ),
    )
    plan = Flow(
        name="ls_plan",
        command="/lessonstudy",
        done_template="lesson_study/plan_done",
        complete=hooks.planned,
        done_context=_done_values,
        steps=(
            Step(
                "outline",
                "lesson_study/plan_outline",
                FreeText(min_len=3, max_len=3000),
                prompt_context=lambda view: {
                    "carried": view.context.get("carried", []),
                    "round": view.context["round"],
                },
            ),
            Step(
                "moments",
                "lesson_study/plan_moments",
                ItemList(MAX_MOMENTS, item_max=200, keep_from="prev_moments"),
                prompt_context=lambda view: {"previous": view.context.get("prev_moments", [])},
            ),
            _grid("predict", "lesson_study/plan_predict", planned_moments, optional=False),
            *_schedule_steps(hooks),
        ),
    )
    schedule = Flow(
        name="ls_schedule",
        command="/lessonstudy",
        done_template="lesson_study/schedule_done",
        complete=hooks.rescheduled,
        done_context=_done_values,
        steps=_schedule_steps(hooks),
    )
    observe = Flow(
        name="ls_observe",
        command="/lessonstudy",
        done_template="lesson_study/observe_done",
        complete=hooks.observed,
        steps=(
            _grid("obs", "lesson_study/observe_moment", observed_moments, optional=True),
            _per_pupil("other", "lesson_study/observe_other", next=END),
        ),
    )
    interview = Flow(
        name="ls_interview",
        command="/lessonstudy",
        done_template="lesson_study/interview_done",
        complete=hooks.interviewed,
        steps=(_per_pupil("talk", "lesson_study/interview_pupil", next=END),),
    )
    discuss = Flow(
        name="ls_discuss",
        command="/lessonstudy",
        done_template="lesson_study/discuss_done",
        done_context=lambda view: {"last": view.context.get("last", False)},
        complete=hooks.discussed,
        steps=(
            Step(
                "compare",
                "lesson_study/discuss_compare",
                FreeText(min_len=2, max_len=3000),
                prompt_context=lambda view: {
                    "comparison": view.context["comparison"],
                    "round": view.context["round"],
                    "teacher": view.context.get("teacher"),
                },
            ),
            Step(
                "changes",
                "lesson_study/discuss_changes",
                ItemList(8),
                prompt_context=lambda view: {
                    "last": view.context.get("last", False),
                    "round": view.context["round"],
                },
            ),
        ),
    )
    account = Flow(
        name="ls_account",
        command="/lessonstudy",
        done_template="lesson_study/account_done",
        complete=hooks.account_written,
        steps=(
            *(
                Step(
                    field,
                    f"lesson_study/account_{field}",
                    Revisable(field),
                    prompt_context=lambda view: {
                        "focus_what": view.context["focus_what"],
                        "focus_who": view.context["focus_who"],
                        "history": view.context.get("history", []),
                        "current": view.context.get("current"),
                        "suggestions": view.context.get("suggestions", []),
                    },
                )
                for field in ("learned", "changed", "advice")
            ),
            # Questions for the researchers, as many as they like up to three: each goes to
            # /questions once the account is agreed (bot/summaries/partnership.py answers).
            Repeat("questions", ACCOUNT_QUESTION, MAX_QUESTIONS, done=_no_more_questions),
            # The author sees the whole account before it goes: sending it is their approval.
            Step(
                "send",
                "lesson_study/account_preview",
                OneOf((Option("send", Label("send_for_agreement")),)),
                prompt_context=_account_preview,
            ),
        ),
    )
    suggest = Flow(
        name="ls_suggest",
        command="/lessonstudy",
        done_template="lesson_study/suggest_done",
        complete=hooks.suggested,
        steps=(Step("suggestion", "lesson_study/suggest_change", NOTE),),
    )
    return (voice, plan, schedule, observe, interview, discuss, account, suggest)


MAX_QUESTIONS = 3
ACCOUNT_QUESTION = SubFlow(
    "account_question", (Step("question", "partnership/question_account", NOTE),)
)


def _no_more_questions(index: int) -> Label:
    return Label("question_none" if index == 0 else "done")


def account_questions(answers: Mapping[str, Any]) -> list[Any]:
    """The questions the account flow collected, as a list of answers (text or voice)."""
    items = answers.get("questions")
    listed = items if isinstance(items, list) else []
    return [i["question"] for i in listed if isinstance(i, dict) and i.get("question") is not None]


def _account_preview(view: View) -> Mapping[str, Any]:
    """The account as the trio will read it, from the answers (a kept part is its text)."""
    a = view.answers
    return {
        "trio": view.context.get("trio", ""),
        "focus_what": view.context["focus_what"],
        "focus_who": view.context["focus_who"],
        "account": {key: a.get(key) for key in ("learned", "changed", "advice")},
        "questions": account_questions(a),
    }


def lesson_study_flows(hooks: Hooks) -> tuple[Flow, ...]:
    return (start_flow(hooks), *stage_flows(hooks))
