"""The summary of a trio meeting, as a flow; and the flows to suggest and make changes to it.

The summary flow walks: focus → what happened to last time's actions → what each school
shared or tried → evidence → barriers, each tagged within / between / beyond schools →
actions (what, who, by when; at least one, or an explicit "no actions") → questions for the
researchers → anything else → a preview to send. The repeated parts are `Repeat`s of small
sub-flows: one item per previous action and per school, and barriers and actions until the
person says there are no more. Everything but the focus and the actions can be skipped; text
or a voice note is taken wherever there is free text.
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
)
from bot.flows.model import Flow, Repeat, Step, StepContext, SubFlow
from bot.people.permissions import may
from bot.summaries.agreement import MORE_DONE, NO_ACTIONS, WHOLE_TRIO, Agreement
from bot.summaries.revision import REMOVE
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

    def options(self, view: View) -> Sequence[Option]:
        return self.choices(view)

    def parse(self, given: Input, view: View) -> Parsed:
        if isinstance(given, ChoiceIn):
            options = self.options(view)
            if 0 <= given.index < len(options):
                return Accepted(options[given.index].value)
            return Rejected("stale_button")
        return self.text.parse(given, view)


def _sections(view: View) -> Sequence[Option]:
    return [
        Option(key, Label(label, params)) for key, label, params in view.context.get("sections", [])
    ]


# --- options ---------------------------------------------------------------------------------
def _planned(view: View) -> Sequence[Option]:
    planned = view.context.get("planned_focus")
    return [Option(str(planned), Label("use_planned_focus"))] if planned else []


def _owners(view: View) -> Sequence[Option]:
    members = [Option(str(pid), Label(text=name)) for pid, name in view.context.get("members", [])]
    return [*members, Option(WHOLE_TRIO, Label("whole_trio"))]


def _end_of_actions(index: int) -> Label:
    """The first action may be "none agreed", an explicit answer; later ones end the list."""
    return Label("no_actions") if index == 0 else Label("no_more_actions")


STATUS_OPTIONS = tuple(
    Option(s, Label("action_status", {"status": s}))
    for s in ("done", "in_progress", "dropped", "open")
)
LEVEL_OPTIONS = tuple(Option(level, Label("level", {"level": level})) for level in LEVELS)


# --- what prompts show -----------------------------------------------------------------------
def _previous(view: View) -> Mapping[str, Any]:
    _, what, owner, due, status = view.item
    return {"prev": {"what": what, "owner": owner, "due": due, "status": status}}


def _school(view: View) -> Mapping[str, Any]:
    return {"school": view.item[1]}


def _barrier(view: View) -> Mapping[str, Any]:
    """ "Where does that barrier sit?" says which barrier, also when Back returns to it."""
    return {"barrier": view.answers.get("barrier")}


def _action(view: View) -> Mapping[str, Any]:
    return {"action": view.answers.get("what"), "was_due": None}


def _list(answers: Mapping[str, JSON], key: str) -> list[dict[str, JSON]]:
    found = answers.get(key)
    return [dict(item) for item in found] if isinstance(found, list) else []


def preview(view: View) -> Mapping[str, Any]:
    """The draft as the trio will read it, built from the answers so far."""
    a = view.answers
    names = {str(pid): name for pid, name in view.context.get("members", [])}
    barriers = [
        {"body": b["barrier"], "level": b["level"]}
        for b in _list(a, "barriers")
        if b.get("barrier") is not None and b.get("level")
    ]
    actions = [
        {"what": x["what"], "owner": names.get(str(x.get("who"))), "due": x["due"],
         "status": "open"}
        for x in _list(a, "actions")
        if "due" in x
    ]  # fmt: skip
    schools = view.context.get("schools", [])
    shared = _list(a, "shared")
    return {
        "trio": view.context.get("trio", ""),
        "focus": a.get("focus"),
        "revision": 1,
        "revised": False,
        "mine": True,
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
    `barrier_0` and `level_0`, `action_0_what`…, `prev_0`), and `action_0_what` set to
    NO_ACTIONS when "no actions agreed" ended the list before its first item."""
    flat: dict[str, JSON] = {
        key: answers[key] for key in ("focus", "evidence", "questions", "other") if key in answers
    }
    for i, item in enumerate(_list(answers, "previous")):
        flat[f"prev_{i}"] = item.get("status")
    for i, item in enumerate(_list(answers, "shared")):
        flat[f"shared_{i}"] = item.get("body")
    for i, item in enumerate(_list(answers, "barriers")):
        flat[f"barrier_{i}"], flat[f"level_{i}"] = item.get("barrier"), item.get("level")
    actions = _list(answers, "actions")
    for i, item in enumerate(actions):
        flat[f"action_{i}_what"] = item.get("what")
        flat[f"action_{i}_who"] = item.get("who")
        flat[f"action_{i}_due"] = item.get("due")
    flat[f"action_{len(actions)}_what"] = MORE_DONE if actions else NO_ACTIONS
    return flat


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
        Step("level", "summary/ask_level", OneOf(LEVEL_OPTIONS), prompt_context=_barrier),
    ),
)
ACTION = SubFlow(
    "action",
    (
        Step("what", "summary/ask_action", TEXT),
        Step("who", "summary/ask_owner", OneOf(_owners), prompt_context=_action),
        Step("due", "summary/ask_due", DateAnswer(not_past=True), prompt_context=_action),
    ),
)


# --- editing a draft (bot/summaries/revision.py applies the edits) ---------------------------
def _section(view: View) -> tuple[str, str]:
    """The kind of part this edit is about (focus, shared, barrier, action, …) and whether
    it is new ("add") or there already ("edit")."""
    key = str(view.answers.get("section", ""))
    if key.startswith("add:"):
        return key[4:], "add"
    was = view.context.get("current", {}).get(key)
    return (str(was["kind"]) if was else "focus"), "edit"


def _was(view: View) -> Mapping[str, Any] | None:
    """What the part being edited says now (None for a new one)."""
    found = view.context.get("current", {}).get(str(view.answers.get("section", "")))
    return found if isinstance(found, dict) else None


def _parts(view: View) -> Sequence[Option]:
    kind, _ = _section(view)
    parts = ("text", "level", "remove") if kind == "barrier" else ("text", "who", "due", "remove")
    return [Option(p, Label("edit_part", {"part": p, "kind": kind})) for p in parts]


def _schools(view: View) -> Sequence[Option]:
    return [Option(str(sid), Label(text=name)) for sid, name in view.context.get("schools", [])]


def _removable(view: View) -> Sequence[Option]:
    kind, how = _section(view)
    if how == "add" or kind in ("focus", "barrier", "action"):
        return []
    return [Option(REMOVE, Label("remove_it"))]


def _menu(view: View) -> Sequence[Option]:
    """The edit menu, without the parts an earlier edit of this round removed."""
    earlier = _list(view.outer.answers, "edits")[: view.index] if view.outer else []
    gone = {
        e.get("section") for e in earlier if e.get("text") == REMOVE or e.get("part") == "remove"
    }
    return [option for option in _sections(view) if option.value not in gone]


def _after_section(view: View) -> str:
    kind, how = _section(view)
    if how == "add":
        return "school" if kind == "shared" else "text"
    return "part" if kind in ("barrier", "action") else "text"


def _after_part(view: View) -> str | None:
    part = str(view.answers.get("part"))
    return part if part in ("text", "level", "who", "due") else None  # remove: done


def _after_text(view: View) -> str | None:
    kind, how = _section(view)
    if how != "add":
        return None
    return {"barrier": "level", "action": "who"}.get(kind)


def _after_who(view: View) -> str | None:
    return "due" if _section(view) == ("action", "add") else None


def _editing(view: View) -> Mapping[str, Any]:
    """What each question of an edit shows: the part and what it says now (quoted), so a
    question asked again after Back still says what it is about."""
    kind, how = _section(view)
    was = _was(view)
    new_text = view.answers.get("text") if how == "add" else None
    body = new_text if how == "add" else (was or {}).get("body")
    school = (was or {}).get("school") or next(
        (n for sid, n in view.context.get("schools", []) if str(sid) == view.answers.get("school")),
        "",
    )
    return {
        "kind": kind,
        "adding": how == "add",
        "was": was,
        "school": school,
        "barrier": body if kind == "barrier" else None,
        "action": body if kind == "action" else None,
        "was_due": (was or {}).get("due"),
    }


EDIT = SubFlow(
    "edit",
    (
        Step("section", "summary/ask_section", OneOf(_menu), next=_after_section),
        Step("part", "summary/ask_part", OneOf(_parts), next=_after_part,
             prompt_context=_editing),
        Step("school", "summary/ask_school", OneOf(_schools), next="text",
             prompt_context=_editing),
        Step("text", "summary/ask_new_text", TextOrChoice(_removable), next=_after_text,
             prompt_context=_editing),
        Step("level", "summary/ask_level", OneOf(LEVEL_OPTIONS), next=None,
             prompt_context=_editing),
        Step("who", "summary/ask_owner", OneOf(_owners), next=_after_who,
             prompt_context=_editing),
        Step("due", "summary/ask_due", DateAnswer(not_past=True), next=None,
             prompt_context=_editing),
    ),
)  # fmt: skip


def _summary_steps() -> tuple[Step | Repeat, ...]:
    return (
        Step("focus", "summary/ask_focus", TextOrChoice(_planned)),
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
        await agreement.save_draft(tx, ctx.person_id, dict(ctx.context), draft(ctx.answers))
        return None

    async def suggest(tx: Transaction, ctx: StepContext) -> None:
        await agreement.suggest(
            tx,
            ctx.person_id,
            int(ctx.context["summary_id"]),
            int(ctx.context["revision"]),
            ctx.answers["comment"],
        )

    async def edit(tx: Transaction, ctx: StepContext) -> Rejected | None:
        edits = [item for item in _list(ctx.answers, "edits") if "section" in item]
        if not await agreement.edit(tx, ctx.person_id, int(ctx.context["summary_id"]), edits):
            return Rejected("summary_not_editable")
        return None

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
            steps=(Repeat("edits", EDIT, MAX_EDITS, min_items=1, more="summary/ask_more_edits"),),
        ),
    )
