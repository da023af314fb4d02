"""Summaries of trio meetings, their items, the trio's approvals, and the actions agreed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, to_db_time
from storage.summary_rows import (
    ACTION_STATUSES,
    LEVELS,
    Action,
    ActionChange,
    ActionStatus,
    Summary,
    SummaryItem,
    SummaryStatus,
    dump,
)

__all__ = [
    "ACTION_STATUSES",
    "LEVELS",
    "Action",
    "ActionChange",
    "ActionStatus",
    "Summary",
    "SummaryItem",
    "SummaryRepo",
    "SummaryStatus",
    "dump",
]

_ACTION = (
    "SELECT a.*, p.display_name AS owner_name FROM action a LEFT JOIN person p ON p.id = a.owner_id"
)


class SummaryRepo:
    @staticmethod
    async def get(q: Reader, summary_id: int) -> Summary | None:
        row = await q.fetchone("SELECT * FROM summary WHERE id = ?", (summary_id,))
        return None if row is None else Summary.from_row(row)

    @staticmethod
    async def for_meeting(q: Reader, meeting_id: int) -> Summary | None:
        row = await q.fetchone("SELECT * FROM summary WHERE meeting_id = ?", (meeting_id,))
        return None if row is None else Summary.from_row(row)

    @staticmethod
    async def items(q: Reader, summary_id: int) -> list[SummaryItem]:
        rows = await q.fetchall(
            "SELECT * FROM summary_item WHERE summary_id = ? ORDER BY kind, position, id",
            (summary_id,),
        )
        return [
            SummaryItem(r["id"], r["kind"], r["school_id"], r["level"], json.loads(r["body"]))
            for r in rows
        ]

    @staticmethod
    async def actions(q: Reader, summary_id: int) -> list[Action]:
        rows = await q.fetchall(
            f"{_ACTION} WHERE a.summary_id = ? ORDER BY a.position, a.id", (summary_id,)
        )
        return [Action.from_row(row) for row in rows]

    @staticmethod
    async def action(q: Reader, action_id: int) -> Action | None:
        row = await q.fetchone(f"{_ACTION} WHERE a.id = ?", (action_id,))
        return None if row is None else Action.from_row(row)

    @staticmethod
    async def open_actions(q: Reader, trio_id: int, before_meeting: int) -> list[Action]:
        """Actions from the trio's earlier summaries that are not finished (for the next one)."""
        rows = await q.fetchall(
            f"{_ACTION} JOIN summary s ON s.id = a.summary_id"
            " WHERE a.trio_id = ? AND s.meeting_id != ? AND a.status IN ('open', 'in_progress')"
            " ORDER BY a.due_on, a.id LIMIT 6",
            (trio_id, before_meeting),
        )
        return [Action.from_row(row) for row in rows]

    @staticmethod
    async def create(
        tx: Transaction,
        *,
        meeting_id: int,
        trio_id: int,
        author_id: int,
        focus: Any,
        no_actions: bool,
        agree_by: datetime,
        now: datetime,
    ) -> int:
        """A new draft; a summary written again for the same meeting replaces the old one."""
        stamp = to_db_time(now)
        existing = await tx.fetchone(
            "SELECT id, revision FROM summary WHERE meeting_id = ?", (meeting_id,)
        )
        if existing is not None:
            summary_id = int(existing["id"])
            await tx.execute("DELETE FROM summary_item WHERE summary_id = ?", (summary_id,))
            await tx.execute("DELETE FROM action WHERE summary_id = ?", (summary_id,))
            await tx.execute(
                "UPDATE summary SET author_id = ?, status = 'draft', focus = ?, no_actions = ?,"
                " revision = revision + 1, circulated_at = ?, agreed_at = NULL,"
                " agreed_how = NULL, updated_at = ? WHERE id = ?",
                (author_id, dump(focus), int(no_actions), stamp, stamp, summary_id),
            )
            return summary_id
        return await tx.execute(
            "INSERT INTO summary (meeting_id, trio_id, author_id, focus, no_actions,"
            " circulated_at, agree_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                meeting_id,
                trio_id,
                author_id,
                dump(focus),
                int(no_actions),
                stamp,
                to_db_time(agree_by),
                stamp,
                stamp,
            ),
        )

    @staticmethod
    async def add_item(
        tx: Transaction,
        summary_id: int,
        kind: str,
        body: Any,
        *,
        position: int = 0,
        school_id: int | None = None,
        level: str | None = None,
    ) -> int:
        return await tx.execute(
            "INSERT INTO summary_item (summary_id, kind, school_id, level, body, position)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (summary_id, kind, school_id, level, dump(body), position),
        )

    @staticmethod
    async def add_action(
        tx: Transaction,
        *,
        trio_id: int,
        summary_id: int,
        what: Any,
        owner_id: int | None,
        due_on: str,
        position: int,
        school_id: int | None = None,
    ) -> int:
        now = to_db_time(tx.clock())
        action_id = await tx.execute(
            "INSERT INTO action (trio_id, summary_id, what, owner_id, due_on, position,"
            " school_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (trio_id, summary_id, dump(what), owner_id, due_on, position, school_id, now, now),
        )
        await tx.execute(  # its history starts (migration 0010), written by the summary's author
            "INSERT INTO action_event (action_id, status, changed_by, changed_at, how)"
            " SELECT ?, 'open', author_id, ?, 'created' FROM summary WHERE id = ?",
            (action_id, now, summary_id),
        )
        return action_id

    @staticmethod
    async def set_action_status(
        tx: Transaction,
        action_id: int,
        status: ActionStatus,
        *,
        by: int | None = None,
        how: ActionChange = "marked",
    ) -> None:
        """The new status, and a history row (action_event) when it is a change."""
        now = to_db_time(tx.clock())
        await tx.execute(
            "INSERT INTO action_event (action_id, status, changed_by, changed_at, how)"
            " SELECT id, ?, ?, ?, ? FROM action WHERE id = ? AND status != ?",
            (status, by, now, how, action_id, status),
        )
        await tx.execute(
            "UPDATE action SET status = ?, updated_at = ? WHERE id = ?", (status, now, action_id)
        )

    @staticmethod
    async def edit(tx: Transaction, summary_id: int, section: str, body: Any) -> None:
        """Replace one part of a draft: focus, item:<id>, action:<id>, or a kind to add."""
        now = to_db_time(tx.clock())
        kind, _, ref = section.partition(":")
        if kind == "focus":
            await tx.execute("UPDATE summary SET focus = ? WHERE id = ?", (dump(body), summary_id))
        elif kind == "item":
            await tx.execute(
                "UPDATE summary_item SET body = ? WHERE id = ? AND summary_id = ?",
                (dump(body), int(ref), summary_id),
            )
        elif kind == "action":
            await tx.execute(
                "UPDATE action SET what = ?, updated_at = ? WHERE id = ? AND summary_id = ?",
                (dump(body), now, int(ref), summary_id),
            )
        elif kind in ("evidence", "question", "other"):
            await SummaryRepo.add_item(tx, summary_id, kind, body, position=99)

    @staticmethod
    async def set_item(
        tx: Transaction,
        summary_id: int,
        item_id: int,
        *,
        body: Any = None,
        level: str | None = None,
        school_id: int | None = None,
    ) -> None:
        """A draft's item changed: its text, or (a barrier) where it sits or whose it is;
        None keeps it."""
        if body is not None:
            await tx.execute(
                "UPDATE summary_item SET body = ? WHERE id = ? AND summary_id = ?",
                (dump(body), item_id, summary_id),
            )
        if level is not None:
            await tx.execute(
                "UPDATE summary_item SET level = ? WHERE id = ? AND summary_id = ?",
                (level, item_id, summary_id),
            )
        if school_id is not None:
            await tx.execute(
                "UPDATE summary_item SET school_id = ? WHERE id = ? AND summary_id = ?",
                (school_id, item_id, summary_id),
            )

    @staticmethod
    async def remove_item(tx: Transaction, summary_id: int, item_id: int) -> None:
        await tx.execute(
            "DELETE FROM summary_item WHERE id = ? AND summary_id = ?", (item_id, summary_id)
        )

    @staticmethod
    async def set_action(
        tx: Transaction,
        summary_id: int,
        action_id: int,
        *,
        what: Any = None,
        owner: tuple[int | None] | None = None,
        due_on: str | None = None,
        school: tuple[int | None] | None = None,
    ) -> None:
        """A draft's action changed: what, who (`owner`, a 1-tuple: None is the whole trio),
        by when, or the school it belongs to (`school`, a 1-tuple: None is no school); an
        argument left None keeps its value."""
        now = to_db_time(tx.clock())
        if what is not None:
            await tx.execute(
                "UPDATE action SET what = ?, updated_at = ? WHERE id = ? AND summary_id = ?",
                (dump(what), now, action_id, summary_id),
            )
        if owner is not None:
            await tx.execute(
                "UPDATE action SET owner_id = ?, updated_at = ? WHERE id = ? AND summary_id = ?",
                (owner[0], now, action_id, summary_id),
            )
        if due_on is not None:
            await tx.execute(
                "UPDATE action SET due_on = ?, updated_at = ? WHERE id = ? AND summary_id = ?",
                (due_on, now, action_id, summary_id),
            )
        if school is not None:
            await tx.execute(
                "UPDATE action SET school_id = ?, updated_at = ? WHERE id = ? AND summary_id = ?",
                (school[0], now, action_id, summary_id),
            )

    @staticmethod
    async def remove_action(tx: Transaction, summary_id: int, action_id: int) -> None:
        await tx.execute(
            "DELETE FROM action WHERE id = ? AND summary_id = ?", (action_id, summary_id)
        )

    @staticmethod
    async def set_no_actions(tx: Transaction, summary_id: int, no_actions: bool) -> None:
        await tx.execute(
            "UPDATE summary SET no_actions = ? WHERE id = ?", (int(no_actions), summary_id)
        )

    @staticmethod
    async def recirculate(tx: Transaction, summary_id: int, now: datetime) -> int:
        await tx.execute(
            "UPDATE summary SET revision = revision + 1, circulated_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'draft'",
            (to_db_time(now), to_db_time(now), summary_id),
        )
        return int(await tx.fetchval("SELECT revision FROM summary WHERE id = ?", (summary_id,)))

    # --- agreement -------------------------------------------------------------------------
    @staticmethod
    async def decide(
        tx: Transaction,
        summary_id: int,
        person_id: int,
        revision: int,
        decision: Literal["approved", "suggested"],
        comment: Any = None,
    ) -> None:
        await tx.execute(
            "INSERT INTO summary_approval (summary_id, person_id, revision, decision, comment,"
            " decided_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(summary_id, person_id, revision)"
            " DO UPDATE SET decision = excluded.decision, comment = excluded.comment,"
            " decided_at = excluded.decided_at",
            (
                summary_id,
                person_id,
                revision,
                decision,
                None if comment is None else dump(comment),
                to_db_time(tx.clock()),
            ),
        )

    @staticmethod
    async def approvals(q: Reader, summary_id: int, revision: int) -> set[int]:
        rows = await q.fetchall(
            "SELECT person_id FROM summary_approval WHERE summary_id = ? AND revision = ?"
            " AND decision = 'approved'",
            (summary_id, revision),
        )
        return {int(row[0]) for row in rows}

    @staticmethod
    async def mark_agreed(
        tx: Transaction, summary_id: int, how: Literal["all", "lead"], now: datetime
    ) -> None:
        stamp = to_db_time(now)
        await tx.execute(
            "UPDATE summary SET status = 'agreed', agreed_at = ?, agreed_how = ?, updated_at = ?"
            " WHERE id = ? AND status = 'draft'",
            (stamp, how, stamp, summary_id),
        )
