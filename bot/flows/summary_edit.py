"""The flow that edits a draft summary after a suggestion, declared as data.

Each edit is one item of a `Repeat`: the menu (`section`, every part named, a school's
practice by its school, and "+ Add …" for something new), then only the questions that part
needs — for a barrier or an action, which of its parts (`part`: the text, where it sits,
whose it is, who, by when, or remove it); for a new school's practice, which school; for a new
barrier, whose it is — each showing what the part says now. bot/summaries/revision.py applies
the edits and marks them in the new revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.flows.answers import DateAnswer, OneOf, Option, Rejected, View
from bot.flows.model import Flow, Repeat, Step, StepContext, SubFlow
from bot.flows.summary_answers import (
    LEVEL_OPTIONS,
    SchoolChoice,
    TextOrChoice,
    barrier_schools,
    listed,
    owners,
    trio_schools,
)
from bot.summaries.agreement import Agreement
from bot.summaries.revision import REMOVE
from bot.texts import Label
from storage.db import Transaction

MAX_EDITS = 4


def _sections(view: View) -> Sequence[Option]:
    """The menu stored when the flow opened. An edit opened before parts were named (its
    menu said "Action 2") still opens: its entries are named by kind and number."""
    found = []
    for number, (key, label, params) in enumerate(view.context.get("sections", []), start=1):
        if key in ("evidence", "question", "other"):  # the old spelling of "add:<kind>"
            key, label, params = f"add:{key}", "section_add", {"kind": key}
        elif label != "section_add":
            kind = key.partition(":")[0] if key != "focus" else "focus"
            params = {"kind": "action" if kind == "action" else "focus", "number": number,
                      "school": "", "body": "", **params}  # fmt: skip
            label = "section_item"
        found.append(Option(key, Label(label, params)))
    return found


def _section(view: View) -> tuple[str, str]:
    """The kind of part this edit is about (focus, shared, barrier, action, …) and whether
    it is new ("add") or there already ("edit")."""
    key = str(view.answers.get("section", ""))
    if key.startswith("add:"):
        return key[4:], "add"
    was = view.context.get("current", {}).get(key)
    return (str(was["kind"]) if was else key.partition(":")[0] or "focus"), "edit"


def _was(view: View) -> Mapping[str, Any] | None:
    """What the part being edited says now (None for a new one)."""
    found = view.context.get("current", {}).get(str(view.answers.get("section", "")))
    return found if isinstance(found, dict) else None


def _parts(view: View) -> Sequence[Option]:
    kind, _ = _section(view)
    parts = ("text", "level", "remove") if kind == "barrier" else ("text", "who", "due", "remove")
    found = [Option(p, Label("edit_part", {"part": p, "kind": kind})) for p in parts]
    if kind == "barrier" and len(trio_schools(view)) > 1:  # whose it is, before "remove"
        found.insert(2, Option("school", Label("edit_part_school")))
    return found


def _schools(view: View) -> Sequence[Option]:
    return [Option(str(sid), Label(text=name)) for sid, name in view.context.get("schools", [])]


def _removable(view: View) -> Sequence[Option]:
    kind, how = _section(view)
    if how == "add" or kind in ("focus", "barrier", "action"):
        return []
    return [Option(REMOVE, Label("remove_it"))]


def _menu(view: View) -> Sequence[Option]:
    """The edit menu, without the parts an earlier edit of this round removed."""
    earlier = listed(view.outer.answers, "edits")[: view.index] if view.outer else []
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
    if part == "school":
        return "barrier_school"
    return part if part in ("text", "level", "who", "due") else None  # remove: done


def _after_level(view: View) -> str | None:
    """A new barrier, in a trio of several schools: whose it is, as when writing one."""
    adding = _section(view) == ("barrier", "add")
    return "barrier_school" if adding and len(trio_schools(view)) > 1 else None


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
        Step("level", "summary/ask_level", OneOf(LEVEL_OPTIONS), next=_after_level,
             prompt_context=_editing),
        Step("barrier_school", "summary/ask_barrier_school", SchoolChoice(barrier_schools),
             next=None, prompt_context=_editing),
        Step("who", "summary/ask_owner", OneOf(owners), next=_after_who,
             prompt_context=_editing),
        Step("due", "summary/ask_due", DateAnswer(not_past=True), next=None,
             prompt_context=_editing),
    ),
)  # fmt: skip


def summary_edit_flow(agreement: Agreement) -> Flow:
    async def edit(tx: Transaction, ctx: StepContext) -> Rejected | None:
        edits = [item for item in listed(ctx.answers, "edits") if "section" in item]
        if not await agreement.edit(tx, ctx.person_id, int(ctx.context["summary_id"]), edits):
            return Rejected("summary_not_editable")
        return None

    return Flow(
        name="summary_edit",
        command="/summary",
        done_template="summary/recirculated",
        complete=edit,
        steps=(Repeat("edits", EDIT, MAX_EDITS, min_items=1, more="summary/ask_more_edits"),),
    )
