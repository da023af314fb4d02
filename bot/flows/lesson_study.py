"""Lesson study as flows: starting a cycle, then one flow per stage the bot opens in turn.

Each flow only collects; its `complete` hands the answers to the lesson-study service
(`Hooks`), which stores them, moves the cycle on and tells the trio — all in the answer's
transaction. Prompts are templates under prompts/<lang>/lesson_study/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    YesNo,
)
from bot.flows.lesson_study_answers import (
    MAX_MOMENTS,
    MAX_PUPILS,
    ItemList,
    PseudonymAnswer,
    Revisable,
    pseudonym,
    taken_before,
)
from bot.flows.model import END, Flow, NextStep, Step, StepContext
from bot.flows.pseudonyms import looks_like_name, suggested_pseudonym
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


# --- starting a cycle ---------------------------------------------------------------------
def _pupil_steps(position: int) -> tuple[Step, ...]:
    key = f"pupil_{position}"

    def after_pupil(view: View) -> str:
        typed = str(view.answers[key])
        return f"{key}_check" if looks_like_name(typed) else f"{key}_group"

    def check_options(view: View) -> Sequence[Option]:
        typed = str(view.answers[key])
        suggestion = suggested_pseudonym(position, taken_before(view.answers, position))
        return (
            Option(f"use:{typed}", Label("ls_use_pseudonym", {"name": suggestion})),
            Option(f"keep:{typed}", Label("ls_keep_pseudonym", {"name": typed})),
            Option("retype", Label("ls_retype_pseudonym")),
        )

    def after_check(view: View) -> str:
        return key if view.answers[f"{key}_check"] == "retype" else f"{key}_group"

    def after_group(view: View) -> str | None:
        if position < MAX_PUPILS:
            return f"more_{position}"
        return _colleagues_or_end(view)

    def named(view: View) -> Mapping[str, Any]:
        return {
            "position": position,
            "typed": view.answers.get(key),
            "pseudonym": pseudonym(view.answers, position),
            "suggestion": suggested_pseudonym(position, taken_before(view.answers, position)),
        }

    steps = [
        Step(key, "lesson_study/start_pupil", PseudonymAnswer(position), next=after_pupil,
             prompt_context=named),
        Step(f"{key}_check", "lesson_study/start_pupil_check", OneOf(check_options),
             next=after_check, prompt_context=named),
        Step(f"{key}_group", "lesson_study/start_pupil_group",
             FreeText(min_len=3, max_len=200, voice=False), next=after_group,
             prompt_context=named),
    ]  # fmt: skip
    if position < MAX_PUPILS:

        def after_more(view: View) -> str | None:
            if view.answers[f"more_{position}"]:
                return f"pupil_{position + 1}"
            return _colleagues_or_end(view)

        steps.append(
            Step(f"more_{position}", "lesson_study/start_more", YesNo(), next=after_more,
                 prompt_context=named)
        )  # fmt: skip
    return tuple(steps)


def _colleagues_or_end(view: View) -> str | None:
    return "colleagues" if view.context.get("pick") else END


def _colleague_options(view: View) -> Sequence[Option]:
    return tuple(Option(str(pid), Label(text=name)) for pid, name in view.context["others"])


def start_flow(hooks: Hooks) -> Flow:
    return Flow(
        name="ls_start",
        command="/lessonstudy",
        done_template="lesson_study/started",
        done_context=lambda view: {
            "pupils": [
                pseudonym(view.answers, i)
                for i in range(1, MAX_PUPILS + 1)
                if f"pupil_{i}_group" in view.answers
            ]
        },
        complete=hooks.started,
        steps=(
            Step("subject", "lesson_study/start_subject", SHORT),
            Step("class_group", "lesson_study/start_class", SHORT),
            Step("focus_what", "lesson_study/start_focus_what", FOCUS),
            Step("focus_who", "lesson_study/start_focus_who", FOCUS),
            *_pupil_steps(1),
            *_pupil_steps(2),
            *_pupil_steps(3),
            Step(
                "colleagues",
                "lesson_study/start_colleagues",
                ManyOf(_colleague_options, min_picks=2, max_picks=2),
                next=END,
            ),
        ),
    )


# --- a grid of steps: one per key moment and case pupil -----------------------------------
def _grid(
    prefix: str,
    prompt: str,
    moments: Callable[[View], Sequence[str]],
    then: NextStep,
    *,
    optional: bool,
) -> tuple[Step, ...]:
    """Steps `prefix_m_p` for moment m and pupil p; those beyond this cycle's are passed by."""

    def pairs(view: View) -> list[tuple[int, int]]:
        count = len(pupils_of(view))
        return [(m, p) for m in range(len(moments(view))) for p in range(count)]

    def following(m: int, p: int) -> Callable[[View], str | None]:
        def choose(view: View) -> str | None:
            grid = pairs(view)
            position = grid.index((m, p)) if (m, p) in grid else len(grid)
            if position + 1 < len(grid):
                nm, np_ = grid[position + 1]
                return f"{prefix}_{nm}_{np_}"
            return then(view) if callable(then) else then

        return choose

    def shown(m: int, p: int) -> Callable[[View], Mapping[str, Any]]:
        def values(view: View) -> Mapping[str, Any]:
            pupil = pupils_of(view)[p]
            return {"moment": moments(view)[m], "pupil": pupil[1], "typical_of": pupil[2],
                    "moment_number": m + 1}  # fmt: skip

        return values

    return tuple(
        Step(f"{prefix}_{m}_{p}", prompt, NOTE, optional=optional, next=following(m, p),
             prompt_context=shown(m, p))
        for m in range(MAX_MOMENTS)
        for p in range(MAX_PUPILS)
    )  # fmt: skip


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


def _per_pupil_next(prefix: str, p: int) -> Callable[[View], str | None]:
    """After pupil p's step: the next pupil's, or the end."""
    return lambda view: f"{prefix}_{p + 1}" if p + 1 < len(pupils_of(view)) else END


def _pupil_shown(p: int) -> Callable[[View], Mapping[str, Any]]:
    return lambda view: {"pupil": pupils_of(view)[p][1], "round": view.context.get("round")}


def _stage_values(view: View) -> Mapping[str, Any]:
    return {"round": view.context.get("round"), "pupils": pupils_of(view)}


# --- the stages ---------------------------------------------------------------------------
def stage_flows(hooks: Hooks) -> tuple[Flow, ...]:
    def first_grid_key(prefix: str, then: str) -> Callable[[View], str]:
        return lambda view: f"{prefix}_0_0" if pupils_of(view) else then

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
                next=first_grid_key("predict", "teacher"),
                prompt_context=lambda view: {"previous": view.context.get("prev_moments", [])},
            ),
            *_grid(
                "predict", "lesson_study/plan_predict", planned_moments, "teacher", optional=False
            ),
            *_schedule_steps(hooks),
        ),
    )
    schedule = Flow(
        name="ls_schedule",
        command="/lessonstudy",
        done_template="lesson_study/schedule_done",
        complete=hooks.rescheduled,
        steps=_schedule_steps(hooks),
    )
    observe = Flow(
        name="ls_observe",
        command="/lessonstudy",
        done_template="lesson_study/observe_done",
        complete=hooks.observed,
        steps=(
            *_grid(
                "obs",
                "lesson_study/observe_moment",
                observed_moments,
                lambda view: "other_0" if pupils_of(view) else END,
                optional=True,
            ),
            *(
                Step(
                    f"other_{p}",
                    "lesson_study/observe_other",
                    NOTE,
                    optional=True,
                    next=_per_pupil_next("other", p),
                    prompt_context=_pupil_shown(p),
                )
                for p in range(MAX_PUPILS)
            ),
        ),
    )
    interview = Flow(
        name="ls_interview",
        command="/lessonstudy",
        done_template="lesson_study/interview_done",
        complete=hooks.interviewed,
        steps=tuple(
            Step(
                f"talk_{p}",
                "lesson_study/interview_pupil",
                NOTE,
                optional=True,
                next=_per_pupil_next("talk", p),
                prompt_context=_pupil_shown(p),
            )
            for p in range(MAX_PUPILS)
        ),
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
        steps=tuple(
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
    )
    suggest = Flow(
        name="ls_suggest",
        command="/lessonstudy",
        done_template="lesson_study/suggest_done",
        complete=hooks.suggested,
        steps=(Step("suggestion", "lesson_study/suggest_change", NOTE),),
    )
    return (voice, plan, schedule, observe, interview, discuss, account, suggest)


def lesson_study_flows(hooks: Hooks) -> tuple[Flow, ...]:
    return (start_flow(hooks), *stage_flows(hooks))
