"""The summary of a trio meeting, as a flow; and the flows to suggest and make changes to it.

The summary flow walks: focus → what happened to last time's actions → what each school
shared or tried → evidence → barriers, each tagged within / between / beyond schools →
actions (what, who, by when; at least one, or an explicit "no actions") → questions for the
researchers → anything else → a preview to send. Repeated parts are numbered slots
(`barrier_0`, `level_0`, `barrier_1`…) because the engine keys answers by step; each slot's
`next` ends the run when the person says there are no more. Everything but the focus and the
actions can be skipped; text or a voice note is taken wherever there is free text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.flows.answers import (
    JSON,
    Accepted,
    ChoiceIn,
    DateAnswer,
    FreeText,
    Input,
    OneOf,
    Option,
    Parsed,
    Rejected,
    View,
    YesNo,
)
from bot.flows.model import END, Flow, Step, StepContext
from bot.people.permissions import may
from bot.summaries.agreement import MORE_DONE, NO_ACTIONS, WHOLE_TRIO, Agreement
from bot.texts import Label
from storage.db import Transaction
from storage.meetings import MeetingRepo
from storage.summaries import LEVELS

MAX_PREVIOUS = 6
MAX_SCHOOLS = 3
MAX_BARRIERS = 5
MAX_ACTIONS = 6
MAX_EDITS = 4
TEXT = FreeText(min_len=2, max_len=1500)


@dataclass(frozen=True)
class TextOrChoice:
    """Free text (or a voice note), or one of a few buttons such as "no actions agreed"."""

    choices: Callable[[View], Sequence[Option]]
    text: FreeText = field(default_factory=lambda: TEXT)
    kind: str = "text"

    def options(self, view: View) -> Sequence[Option]:
        return self.choices(view)

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn):
            options = self.options(view)
            if 0 <= given.index < len(options):
                return Accepted(options[given.index].value)
            return Rejected("stale_button")
        return self.text.parse(given, view)


# --- where each slot leads -----------------------------------------------------------------
def _count(view: View, key: str) -> int:
    return len(view.context.get(key, []))


def _after_previous(view: View) -> str:
    return "shared_0" if _count(view, "schools") else "evidence"


def _after_focus(view: View) -> str:
    return "prev_0" if _count(view, "prev_actions") else _after_previous(view)


def _next_prev(i: int) -> Callable[[View], str]:
    return lambda view: (
        f"prev_{i + 1}" if i + 1 < _count(view, "prev_actions") else (_after_previous(view))
    )


def _next_shared(i: int) -> Callable[[View], str]:
    return lambda view: f"shared_{i + 1}" if i + 1 < _count(view, "schools") else "evidence"


def _next_barrier(i: int) -> Callable[[View], str]:
    return lambda view: (
        "action_0_what" if view.answers.get(f"barrier_{i}") is None else f"level_{i}"
    )


def _next_action(i: int) -> Callable[[View], str]:
    return lambda view: (
        "questions"
        if view.answers.get(f"action_{i}_what") in (NO_ACTIONS, MORE_DONE)
        else f"action_{i}_who"
    )


# --- options ---------------------------------------------------------------------------------
def _planned(view: View) -> Sequence[Option]:
    planned = view.context.get("planned_focus")
    return [Option(str(planned), Label("use_planned_focus"))] if planned else []


def _action_end(i: int) -> Callable[[View], Sequence[Option]]:
    if i == 0:
        return lambda view: [Option(NO_ACTIONS, Label("no_actions"))]
    return lambda view: [Option(MORE_DONE, Label("no_more_actions"))]


def _owners(view: View) -> Sequence[Option]:
    members = [Option(str(pid), Label(text=name)) for pid, name in view.context.get("members", [])]
    return [*members, Option(WHOLE_TRIO, Label("whole_trio"))]


STATUS_OPTIONS = tuple(
    Option(s, Label("action_status", {"status": s}))
    for s in ("done", "in_progress", "dropped", "open")
)
LEVEL_OPTIONS = tuple(Option(level, Label("level", {"level": level})) for level in LEVELS)


# --- what prompts show -----------------------------------------------------------------------
def _previous(i: int) -> Callable[[View], Mapping[str, Any]]:
    def values(view: View) -> Mapping[str, Any]:
        _, what, owner, due, status = view.context["prev_actions"][i]
        return {
            "prev": {"what": what, "owner": owner, "due": due, "status": status},
            "number": i + 1,
            "total": _count(view, "prev_actions"),
        }

    return values


def _school(i: int) -> Callable[[View], Mapping[str, Any]]:
    return lambda view: {"school": view.context["schools"][i][1]}


def _numbered(i: int) -> Callable[[View], Mapping[str, Any]]:
    return lambda view: {"number": i + 1}


def preview(view: View) -> Mapping[str, Any]:
    """The draft as the trio will read it, built from the answers so far."""
    a = view.answers
    names = {str(pid): name for pid, name in view.context.get("members", [])}
    barriers, actions = [], []
    for i in range(MAX_BARRIERS):
        if a.get(f"barrier_{i}") is not None and a.get(f"level_{i}"):
            barriers.append({"body": a[f"barrier_{i}"], "level": a[f"level_{i}"]})
    for i in range(MAX_ACTIONS):
        what = a.get(f"action_{i}_what")
        if what in (None, NO_ACTIONS, MORE_DONE) or f"action_{i}_due" not in a:
            break
        who = a.get(f"action_{i}_who")
        actions.append(
            {
                "what": what,
                "owner": names.get(str(who)),
                "due": a[f"action_{i}_due"],
                "status": "open",
            }
        )
    schools = view.context.get("schools", [])
    return {
        "trio": view.context.get("trio", ""),
        "focus": a.get("focus"),
        "revision": 1,
        "revised": False,
        "mine": True,
        "shared": [
            {"school": name, "body": a[f"shared_{i}"]}
            for i, (_, name) in enumerate(schools)
            if a.get(f"shared_{i}") is not None
        ],
        "evidence": [a["evidence"]] if a.get("evidence") is not None else [],
        "barriers": barriers,
        "actions": actions,
        "no_actions": a.get("action_0_what") == NO_ACTIONS,
        "questions": [a["questions"]] if a.get("questions") is not None else [],
        "other": [a["other"]] if a.get("other") is not None else [],
    }


def _summary_steps() -> tuple[Step, ...]:
    steps: list[Step] = [
        Step("focus", "summary/ask_focus", TextOrChoice(_planned), next=_after_focus),
    ]
    steps += [
        Step(
            f"prev_{i}",
            "summary/ask_previous",
            OneOf(STATUS_OPTIONS),
            optional=True,
            next=_next_prev(i),
            prompt_context=_previous(i),
        )
        for i in range(MAX_PREVIOUS)
    ]
    steps += [
        Step(
            f"shared_{i}",
            "summary/ask_shared",
            TEXT,
            optional=True,
            next=_next_shared(i),
            prompt_context=_school(i),
        )
        for i in range(MAX_SCHOOLS)
    ]
    steps.append(Step("evidence", "summary/ask_evidence", TEXT, optional=True, next="barrier_0"))
    for i in range(MAX_BARRIERS):
        after = f"barrier_{i + 1}" if i + 1 < MAX_BARRIERS else "action_0_what"
        steps += [
            Step(
                f"barrier_{i}",
                "summary/ask_barrier",
                TEXT,
                optional=True,
                next=_next_barrier(i),
                prompt_context=_numbered(i),
            ),
            Step(f"level_{i}", "summary/ask_level", OneOf(LEVEL_OPTIONS), next=after),
        ]
    for i in range(MAX_ACTIONS):
        after = f"action_{i + 1}_what" if i + 1 < MAX_ACTIONS else "questions"
        steps += [
            Step(
                f"action_{i}_what",
                "summary/ask_action",
                TextOrChoice(_action_end(i)),
                next=_next_action(i),
                prompt_context=_numbered(i),
            ),
            Step(f"action_{i}_who", "summary/ask_owner", OneOf(_owners)),
            Step(f"action_{i}_due", "summary/ask_due", DateAnswer(not_past=True), next=after),
        ]
    steps += [
        Step("questions", "summary/ask_questions", TEXT, optional=True),
        Step("other", "summary/ask_other", TEXT, optional=True),
        Step(
            "confirm",
            "summary/confirm",
            OneOf((Option("send", Label("send_for_agreement")),)),
            prompt_context=preview,
        ),
    ]
    return tuple(steps)


def _next_edit(i: int) -> Callable[[View], str | None]:
    return lambda view: (
        f"section_{i + 1}" if view.answers.get(f"more_{i}") and (i + 1 < MAX_EDITS) else END
    )


def _sections(view: View) -> Sequence[Option]:
    return [
        Option(key, Label(label, params)) for key, label, params in view.context.get("sections", [])
    ]


def summary_flows(agreement: Agreement) -> tuple[Flow, ...]:
    async def save(tx: Transaction, ctx: StepContext) -> None:
        meeting = await MeetingRepo.get(tx, int(ctx.context["meeting_id"]))
        if meeting is None:
            raise PermissionError("meeting gone")
        lead = await may(tx, ctx.person_id, "summary.run", meeting.trio_id)
        named = meeting.summary_runner_id == ctx.person_id and await may(
            tx, ctx.person_id, "summary.approve", meeting.trio_id
        )
        if not (lead or named):
            raise PermissionError("not this meeting's summary writer")
        await agreement.save_draft(tx, ctx.person_id, dict(ctx.context), dict(ctx.answers))

    async def suggest(tx: Transaction, ctx: StepContext) -> None:
        await agreement.suggest(
            tx,
            ctx.person_id,
            int(ctx.context["summary_id"]),
            int(ctx.context["revision"]),
            ctx.answers["comment"],
        )

    async def edit(tx: Transaction, ctx: StepContext) -> None:
        edits: list[tuple[str, JSON]] = []
        for i in range(MAX_EDITS):
            if f"section_{i}" in ctx.answers and f"text_{i}" in ctx.answers:
                edits.append((str(ctx.answers[f"section_{i}"]), ctx.answers[f"text_{i}"]))
        if not await agreement.edit(tx, ctx.person_id, int(ctx.context["summary_id"]), edits):
            raise PermissionError("not the author, or the summary is no longer a draft")

    edit_steps: list[Step] = []
    for i in range(MAX_EDITS):
        edit_steps += [
            Step(f"section_{i}", "summary/ask_section", OneOf(_sections)),
            Step(f"text_{i}", "summary/ask_new_text", TEXT),
            Step(f"more_{i}", "summary/ask_more_edits", YesNo(), next=_next_edit(i)),
        ]
    return (
        Flow(
            name="summary",
            command="/summary",
            done_template="summary/sent",
            complete=save,
            steps=_summary_steps(),
        ),
        Flow(
            name="summary_suggest",
            command="/summary",
            done_template="summary/suggestion_sent",
            complete=suggest,
            steps=(Step("comment", "summary/ask_suggestion", TEXT),),
        ),
        Flow(
            name="summary_edit",
            command="/summary",
            done_template="summary/recirculated",
            complete=edit,
            steps=tuple(edit_steps),
        ),
    )
