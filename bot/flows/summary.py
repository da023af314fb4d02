"""The summary of a trio meeting, as a flow; and the flow to suggest a change to it (the flow
that makes changes is bot/flows/summary_edit.py).

The summary flow walks: focus → the researchers' replies the trio has not discussed yet, each
with "Did you discuss this at the meeting?" (Discussed marks it, when the summary is sent) →
what happened to last time's actions → what each school
shared or tried → evidence → barriers, each tagged within / between / beyond schools and, in
a trio of several schools, with the school it belongs to (bot/summaries/attribution.py) →
actions (what, who, by when; at least one, or an explicit "no actions") → questions for the
researchers → anything else → a preview to send. The repeated parts are `Repeat`s of small
sub-flows: one item per previous action and per school, and barriers and actions until the
person says there are no more. Everything but the focus and the actions can be skipped; text
or a voice note is taken wherever there is free text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.flows.answers import JSON, DateAnswer, OneOf, Option, Rejected, View
from bot.flows.model import Flow, Repeat, Step, StepContext, SubFlow
from bot.flows.summary_answers import (
    LEVEL_OPTIONS,
    STATUS_OPTIONS,
    TEXT,
    SchoolChoice,
    TextOrChoice,
    barrier_schools,
    listed,
    owners,
    trio_schools,
)
from bot.flows.summary_edit import summary_edit_flow
from bot.meetings.researcher_answers import MAX_ASKED, mark_discussed
from bot.people.permissions import may
from bot.summaries.agreement import MORE_DONE, NO_ACTIONS, Agreement
from bot.summaries.attribution import barrier_school
from bot.texts import Label
from storage.db import Transaction
from storage.meetings import MeetingRepo

MAX_PREVIOUS = 6
MAX_SCHOOLS = 3
MAX_BARRIERS = 5
MAX_ACTIONS = 6


# --- options ---------------------------------------------------------------------------------
def _planned(view: View) -> Sequence[Option]:
    planned = view.context.get("planned_focus")
    return [Option(str(planned), Label("use_planned_focus"))] if planned else []


def _end_of_actions(index: int) -> Label:
    """The first action may be "none agreed", an explicit answer; later ones end the list."""
    return Label("no_actions") if index == 0 else Label("no_more_actions")


# --- what prompts show -----------------------------------------------------------------------
def _previous(view: View) -> Mapping[str, Any]:
    _, what, owner, due, status = view.item
    return {"prev": {"what": what, "owner": owner, "due": due, "status": status}}


def _researcher_reply(view: View) -> Mapping[str, Any]:
    return {"researcher_reply": view.item}


def discussed(answers: Mapping[str, JSON], context: Mapping[str, JSON]) -> list[int]:
    """The replies the writer said the trio discussed (the context lists what was asked)."""
    asked = context.get("replies") or []
    assert isinstance(asked, list)
    return [
        int(item["id"])
        for item, answer in zip(asked, listed(answers, "replies"), strict=False)
        if isinstance(item, dict) and answer.get("discussed") == "discussed"
    ]


def _school(view: View) -> Mapping[str, Any]:
    return {"school": view.item[1]}


def _barrier(view: View) -> Mapping[str, Any]:
    """ "Where does that barrier sit?" says which barrier, also when Back returns to it."""
    return {"barrier": view.answers.get("barrier")}


def _after_level(view: View) -> str | None:
    """A barrier's school is asked only when the trio has more than one school."""
    return "school" if len(trio_schools(view)) > 1 else None


def _barrier_school_name(view: View, chosen: JSON) -> str:
    """The name of the school a barrier belongs to (chosen, else the default)."""
    schools = trio_schools(view)
    school = barrier_school(chosen, view.context.get("writer_school"), [i for i, _ in schools])
    return dict(schools).get(school or 0, "")


def _action(view: View) -> Mapping[str, Any]:
    return {"action": view.answers.get("what"), "was_due": None}


def preview(view: View) -> Mapping[str, Any]:
    """The draft as the trio will read it, built from the answers so far."""
    a = view.answers
    names = {str(pid): name for pid, name in view.context.get("members", [])}
    barriers = [
        {"body": b["barrier"], "level": b["level"],
         "school": _barrier_school_name(view, b.get("school"))}
        for b in listed(a, "barriers")
        if b.get("barrier") is not None and b.get("level")
    ]  # fmt: skip
    actions = [
        {"what": x["what"], "owner": names.get(str(x.get("who"))), "due": x["due"],
         "status": "open"}
        for x in listed(a, "actions")
        if "due" in x
    ]  # fmt: skip
    schools = view.context.get("schools", [])
    shared = listed(a, "shared")
    return {
        "trio": view.context.get("trio", ""),
        "focus": a.get("focus"),
        "revision": 1,
        "revised": False,
        "mine": True,
        "many_schools": len(schools) > 1,
        "shared": [
            {"school": name, "body": item["body"]}
            for (_, name), item in zip(schools, shared, strict=False)
            if item.get("body") is not None
        ],
        "evidence": [a["evidence"]] if a.get("evidence") is not None else [],
        "barriers": barriers,
        "actions": actions,
        "no_actions": "actions" in a and not actions,
        "questions": [a["questions"]] if a.get("questions") is not None else [],
        "other": [a["other"]] if a.get("other") is not None else [],
    }


def draft(answers: Mapping[str, JSON]) -> dict[str, JSON]:
    """The answers as `Agreement.save_draft` takes them: one key per item (`shared_0`,
    `barrier_0`, `level_0` and `barrier_school_0`, `action_0_what`…, `prev_0`), and
    `action_0_what` set to NO_ACTIONS when "no actions agreed" ended the list before its
    first item."""
    flat: dict[str, JSON] = {
        key: answers[key] for key in ("focus", "evidence", "questions", "other") if key in answers
    }
    for i, item in enumerate(listed(answers, "previous")):
        flat[f"prev_{i}"] = item.get("status")
    for i, item in enumerate(listed(answers, "shared")):
        flat[f"shared_{i}"] = item.get("body")
    for i, item in enumerate(listed(answers, "barriers")):
        flat[f"barrier_{i}"], flat[f"level_{i}"] = item.get("barrier"), item.get("level")
        flat[f"barrier_school_{i}"] = item.get("school")
    actions = listed(answers, "actions")
    for i, item in enumerate(actions):
        flat[f"action_{i}_what"] = item.get("what")
        flat[f"action_{i}_who"] = item.get("who")
        flat[f"action_{i}_due"] = item.get("due")
    flat[f"action_{len(actions)}_what"] = MORE_DONE if actions else NO_ACTIONS
    return flat


DISCUSSED = (
    Option("discussed", Label("discussed_yes")),
    Option("not_yet", Label("discussed_not_yet")),
)
RESEARCHER_REPLY = SubFlow(
    "researcher_reply",
    (Step("discussed", "partnership/discussed_ask", OneOf(DISCUSSED),
          prompt_context=_researcher_reply),),
)  # fmt: skip
PREVIOUS = SubFlow(
    "previous_action",
    (Step("status", "summary/ask_previous", OneOf(STATUS_OPTIONS), optional=True,
          prompt_context=_previous),),
)  # fmt: skip
SHARED = SubFlow(
    "school_shared",
    (Step("body", "summary/ask_shared", TEXT, optional=True, prompt_context=_school),),
)
BARRIER = SubFlow(
    "barrier",
    (
        Step("barrier", "summary/ask_barrier", TEXT, optional=True),  # Skip: no more
        Step("level", "summary/ask_level", OneOf(LEVEL_OPTIONS), next=_after_level,
             prompt_context=_barrier),
        Step("school", "summary/ask_barrier_school", SchoolChoice(barrier_schools),
             prompt_context=_barrier),
    ),
)  # fmt: skip
ACTION = SubFlow(
    "action",
    (
        Step("what", "summary/ask_action", TEXT),
        Step("who", "summary/ask_owner", OneOf(owners), prompt_context=_action),
        Step("due", "summary/ask_due", DateAnswer(not_past=True), prompt_context=_action),
    ),
)


def _summary_steps() -> tuple[Step | Repeat, ...]:
    return (
        Step("focus", "summary/ask_focus", TextOrChoice(_planned)),
        Repeat("replies", RESEARCHER_REPLY, MAX_ASKED,
               each=lambda view: view.context.get("replies", [])),
        Repeat("previous", PREVIOUS, MAX_PREVIOUS,
               each=lambda view: view.context.get("prev_actions", [])),
        Repeat("shared", SHARED, MAX_SCHOOLS, each=lambda view: view.context.get("schools", [])),
        Step("evidence", "summary/ask_evidence", TEXT, optional=True),
        Repeat("barriers", BARRIER, MAX_BARRIERS, done=None),
        Repeat("actions", ACTION, MAX_ACTIONS, done=_end_of_actions),
        Step("questions", "summary/ask_questions", TEXT, optional=True),
        Step("other", "summary/ask_other", TEXT, optional=True),
        Step(
            "confirm",
            "summary/confirm",
            OneOf((Option("send", Label("send_for_agreement")),)),
            prompt_context=preview,
        ),
    )  # fmt: skip


def summary_flows(agreement: Agreement) -> tuple[Flow, ...]:
    async def save(tx: Transaction, ctx: StepContext) -> Rejected | None:
        meeting = await MeetingRepo.get(tx, int(ctx.context["meeting_id"]))
        if meeting is None:
            return Rejected("meeting_gone")
        lead = await may(tx, ctx.person_id, "summary.run", meeting.trio_id)
        named = meeting.summary_runner_id == ctx.person_id and await may(
            tx, ctx.person_id, "summary.approve", meeting.trio_id
        )
        if not (lead or named):
            return Rejected("not_summary_writer")
        summary_id = await agreement.save_draft(
            tx, ctx.person_id, dict(ctx.context), draft(ctx.answers)
        )
        replies = discussed(ctx.answers, ctx.context)
        await mark_discussed(
            tx, ctx.person_id, meeting.trio_id, summary_id, replies, agreement.clock()
        )
        return None

    async def suggest(tx: Transaction, ctx: StepContext) -> None:
        await agreement.suggest(
            tx,
            ctx.person_id,
            int(ctx.context["summary_id"]),
            int(ctx.context["revision"]),
            ctx.answers["comment"],
        )

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
        summary_edit_flow(agreement),
    )
