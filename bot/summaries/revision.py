"""Changing a draft summary after a suggestion: what the author may change (the edit menu,
each item named), applying the changes, and the marks the revised draft carries.

An edit is one item of the summary_edit flow (bot/flows/summary_edit.py): `section` names the part
(`focus`, `item:<id>`, `action:<id>`, or `add:<kind>` for something new) and the other answers
say what became of it: new `text` (or REMOVE), a barrier's `level`, an action's `who` or
`due`, or `part` = "remove". The marks (changed, new, removed) are worked out while the changes
are applied and rendered into the revision that goes round in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.meetings.service import action_view
from bot.summaries.actions import ActionFollowUp
from bot.summaries.attribution import action_school, barrier_school
from storage.db import Reader, Transaction
from storage.meetings import MeetingRepo
from storage.schedule import ScheduleRepo
from storage.summaries import Action, Summary, SummaryItem, SummaryRepo

REMOVE = "__remove__"
WHOLE_TRIO = "trio"
# The order the draft reads in (bot summary/body.j2), which the edit menu follows.
READING_ORDER = ("shared", "evidence", "barrier", "question", "other")
ADDABLE = ("shared", "evidence", "barrier", "action", "question", "other")


@dataclass
class Marks:
    """What a revision changed: `marks` by section key ("changed" or "new"), and the parts
    removed, as the draft shows them (`kind` saying where)."""

    marks: dict[str, str] = field(default_factory=dict)
    removed: list[dict[str, Any]] = field(default_factory=list)

    def of(self, key: str) -> str | None:
        return self.marks.get(key)


def ordered(items: Sequence[SummaryItem]) -> list[SummaryItem]:
    return sorted(
        items, key=lambda i: READING_ORDER.index(i.kind) if i.kind in READING_ORDER else 9
    )


async def edit_context(q: Reader, summary: Summary) -> dict[str, Any]:
    """What the summary_edit flow needs: the menu (each part named, a school's practice by
    its school), what each part says now, the trio's schools and members."""
    schools = dict(await MeetingRepo.schools(q, summary.trio_id))
    members = await MeetingRepo.members(q, summary.trio_id)
    writer = next((m.school_id for m in members if m.person_id == summary.author_id), None)
    sections: list[list[Any]] = []
    current: dict[str, dict[str, Any]] = {}

    def add(key: str, kind: str, body: Any, now: dict[str, Any]) -> None:
        school = now.get("school") or ""
        params = {"kind": kind, "number": len(sections) + 1, "school": school, "body": body}
        sections.append([key, "section_item", params])
        current[key] = {"kind": kind, **now}

    add("focus", "focus", summary.focus, {"body": summary.focus})
    for item in ordered(await SummaryRepo.items(q, summary.id)):
        school = schools.get(item.school_id or 0, "") if item.kind == "shared" else ""
        add(f"item:{item.id}", item.kind, item.body,
            {"body": item.body, "level": item.level, "school": school})  # fmt: skip
    for action in await SummaryRepo.actions(q, summary.id):
        who = WHOLE_TRIO if action.owner_id is None else str(action.owner_id)
        add(f"action:{action.id}", "action", action.what,
            {**action_view(action), "body": action.what, "who": who})  # fmt: skip
    for kind in ADDABLE:
        sections.append([f"add:{kind}", "section_add", {"kind": kind}])
    return {
        "summary_id": summary.id,
        "revision": summary.revision,
        "sections": sections,
        "current": current,
        "schools": [[sid, name] for sid, name in schools.items()],
        "writer_school": writer,
        "members": [[m.person_id, m.name] for m in members],
    }


def _owner(who: Any) -> int | None:
    return None if who in (None, WHOLE_TRIO) else int(who)


class Revision:
    """Applies one author's edits to a draft, inside the transaction that re-circulates it."""

    def __init__(self, follow_up: ActionFollowUp) -> None:
        self.follow_up = follow_up

    async def apply(
        self, tx: Transaction, summary: Summary, edits: Sequence[Mapping[str, Any]]
    ) -> Marks:
        marks = Marks()
        schools = dict(await MeetingRepo.schools(tx, summary.trio_id))
        schools_of = {
            m.person_id: m.school_id for m in await MeetingRepo.members(tx, summary.trio_id)
        }
        items = {i.id: i for i in await SummaryRepo.items(tx, summary.id)}
        actions = {a.id: a for a in await SummaryRepo.actions(tx, summary.id)}
        gone: set[str] = set()
        for edit in edits:
            section = str(edit.get("section", ""))
            kind, _, ref = section.partition(":")
            if section in gone:
                continue
            if kind == "focus" and edit.get("text") not in (None, REMOVE):
                await SummaryRepo.edit(tx, summary.id, "focus", edit["text"])
                marks.marks.setdefault("focus", "changed")
            elif kind == "item" and ref.isdigit() and int(ref) in items:
                await self._item(tx, summary, items[int(ref)], edit, marks, schools, gone)
            elif kind == "action" and ref.isdigit() and int(ref) in actions:
                await self._action(tx, summary, actions[int(ref)], edit, marks, gone, schools_of)
            elif kind == "add":
                await self._add(tx, summary, ref, edit, marks, list(schools), schools_of)
        left = await SummaryRepo.actions(tx, summary.id)
        await SummaryRepo.set_no_actions(tx, summary.id, not left)
        return marks

    async def _item(
        self,
        tx: Transaction,
        summary: Summary,
        item: SummaryItem,
        edit: Mapping[str, Any],
        marks: Marks,
        schools: dict[int, str],
        gone: set[str],
    ) -> None:
        key = f"item:{item.id}"
        if edit.get("text") == REMOVE or edit.get("part") == "remove":
            await SummaryRepo.remove_item(tx, summary.id, item.id)
            gone.add(key)
            marks.marks.pop(key, None)
            school = schools.get(item.school_id or 0, "?" if item.kind == "shared" else "")
            marks.removed.append(
                {"kind": item.kind, "body": item.body, "level": item.level, "school": school}
            )
            return
        level = edit.get("level") if edit.get("part") == "level" else None
        whose = None
        if edit.get("part") == "school" and str(edit.get("barrier_school")).isdigit():
            whose = int(str(edit["barrier_school"]))
            if whose not in schools:
                return
        await SummaryRepo.set_item(
            tx, summary.id, item.id, body=edit.get("text"), level=level, school_id=whose
        )
        marks.marks.setdefault(key, "changed")

    async def _action(
        self,
        tx: Transaction,
        summary: Summary,
        action: Action,
        edit: Mapping[str, Any],
        marks: Marks,
        gone: set[str],
        schools_of: Mapping[int, int | None],
    ) -> None:
        key, part = f"action:{action.id}", edit.get("part")
        if part == "remove":
            await SummaryRepo.remove_action(tx, summary.id, action.id)
            await ScheduleRepo.cancel(tx, f"action:{action.id}:due", "removed from the summary")
            gone.add(key)
            marks.marks.pop(key, None)
            marks.removed.append({"kind": "action", **action_view(action)})
            return
        if part == "text" and edit.get("text") is not None:
            await SummaryRepo.set_action(tx, summary.id, action.id, what=edit["text"])
        elif part == "who" and "who" in edit:  # a new owner: the action is their school's
            owner = _owner(edit["who"])
            school = action_school(owner, summary.author_id, schools_of)
            await SummaryRepo.set_action(
                tx, summary.id, action.id, owner=(owner,), school=(school,)
            )
        elif part == "due" and edit.get("due"):
            await SummaryRepo.set_action(tx, summary.id, action.id, due_on=str(edit["due"]))
        else:
            return
        now = await SummaryRepo.action(tx, action.id)
        if now is not None and part in ("who", "due"):
            await self.follow_up.rearm(tx, action.id, now.owner_id, now.due_on)
        marks.marks.setdefault(key, "changed")

    async def _add(
        self,
        tx: Transaction,
        summary: Summary,
        kind: str,
        edit: Mapping[str, Any],
        marks: Marks,
        trio_schools: list[int],
        schools_of: Mapping[int, int | None],
    ) -> None:
        """A part added in an edit belongs to a school as one written in the summary flow
        does (bot/summaries/attribution.py): a barrier to the school chosen for it."""
        text = edit.get("text")
        writer_school = schools_of.get(summary.author_id or 0)
        if text is None or text == REMOVE:
            return
        if kind == "action" and edit.get("due"):
            owner = _owner(edit.get("who"))
            action_id = await SummaryRepo.add_action(
                tx, trio_id=summary.trio_id, summary_id=summary.id, what=text, owner_id=owner,
                due_on=str(edit["due"]), position=99,
                school_id=action_school(owner, summary.author_id, schools_of),
            )  # fmt: skip
            await self.follow_up.arm(tx, action_id, owner, str(edit["due"]))
            marks.marks[f"action:{action_id}"] = "new"
            return
        if kind == "shared" and edit.get("school") is not None:
            item_id = await SummaryRepo.add_item(
                tx, summary.id, "shared", text, position=99, school_id=int(edit["school"])
            )
        elif kind == "barrier" and edit.get("level"):
            item_id = await SummaryRepo.add_item(
                tx, summary.id, "barrier", text, position=99, level=str(edit["level"]),
                school_id=barrier_school(edit.get("barrier_school"), writer_school, trio_schools),
            )  # fmt: skip
        elif kind in ("evidence", "question", "other"):
            item_id = await SummaryRepo.add_item(
                tx, summary.id, kind, text, position=99, school_id=writer_school
            )
        else:
            return
        marks.marks[f"item:{item_id}"] = "new"
