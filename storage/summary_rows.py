"""The rows of summaries and actions as the repositories return them (storage/summaries.py)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import from_db_time

SummaryStatus = Literal["draft", "agreed"]
ActionStatus = Literal["open", "in_progress", "done", "dropped"]
ACTION_STATUSES: tuple[ActionStatus, ...] = ("open", "in_progress", "done", "dropped")
ActionChange = Literal["marked", "reviewed"]  # action_event.how (migration 0010)
LEVELS = ("within", "between", "beyond")


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Summary:
    id: int
    meeting_id: int
    trio_id: int
    author_id: int | None
    status: SummaryStatus
    focus: Any
    no_actions: bool
    revision: int
    agree_by: datetime
    agreed_how: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Summary:
        agree_by = from_db_time(row["agree_by"])
        assert agree_by is not None
        return cls(
            id=row["id"],
            meeting_id=row["meeting_id"],
            trio_id=row["trio_id"],
            author_id=row["author_id"],
            status=row["status"],
            focus=json.loads(row["focus"]),
            no_actions=bool(row["no_actions"]),
            revision=row["revision"],
            agree_by=agree_by,
            agreed_how=row["agreed_how"],
        )


@dataclass(frozen=True, slots=True)
class SummaryItem:
    id: int
    kind: str
    school_id: int | None
    level: str | None
    body: Any


@dataclass(frozen=True, slots=True)
class Action:
    id: int
    trio_id: int
    summary_id: int
    what: Any
    owner_id: int | None
    owner_name: str | None
    due_on: str
    status: ActionStatus
    school_id: int | None = None  # the school it belongs to: the owner's, else the author's

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Action:
        return cls(
            id=row["id"],
            trio_id=row["trio_id"],
            summary_id=row["summary_id"],
            what=json.loads(row["what"]),
            owner_id=row["owner_id"],
            owner_name=row["owner_name"],
            due_on=row["due_on"],
            status=row["status"],
            school_id=row["school_id"],
        )
