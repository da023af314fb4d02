"""A lesson-study cycle's closing account, its revisions, and each member's decision on one."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, to_db_time
from storage.json_text import dump_json


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    cycle_id: int
    author_id: int | None
    learned: Any
    changed: Any
    advice: Any
    revision: int
    status: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Account:
        return cls(
            id=row["id"],
            cycle_id=row["lesson_study_id"],
            author_id=row["author_id"],
            learned=json.loads(row["learned"]),
            changed=json.loads(row["changed"]),
            advice=json.loads(row["advice"]),
            revision=row["revision"],
            status=row["status"],
        )


class LessonAccountRepo:
    """Reads take a Database or a Transaction; writes take the Transaction."""

    @staticmethod
    async def get(q: Reader, cycle_id: int) -> Account | None:
        row = await q.fetchone(
            "SELECT * FROM lesson_study_account WHERE lesson_study_id = ?", (cycle_id,)
        )
        return None if row is None else Account.from_row(row)

    @staticmethod
    async def write(
        tx: Transaction,
        cycle_id: int,
        author_id: int,
        learned: Any,
        changed: Any,
        advice: Any,
        now: datetime,
    ) -> Account:
        """Create the account, or store a new revision of it (approvals start afresh)."""
        stamp = to_db_time(now)
        await tx.execute(
            "INSERT INTO lesson_study_account (lesson_study_id, author_id, learned, changed,"
            " advice, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (lesson_study_id) DO UPDATE SET author_id = excluded.author_id,"
            " learned = excluded.learned, changed = excluded.changed, advice = excluded.advice,"
            " revision = lesson_study_account.revision + 1, updated_at = excluded.updated_at",
            (
                cycle_id,
                author_id,
                dump_json(learned),
                dump_json(changed),
                dump_json(advice),
                stamp,
                stamp,
            ),
        )
        account = await LessonAccountRepo.get(tx, cycle_id)
        assert account is not None
        return account

    @staticmethod
    async def decide(
        tx: Transaction,
        account_id: int,
        person_id: int,
        revision: int,
        decision: Literal["approved", "suggested"],
        now: datetime,
        suggestion: Any = None,
    ) -> None:
        await tx.execute(
            "INSERT INTO lesson_study_approval (account_id, person_id, revision, decision,"
            " suggestion, decided_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account_id, person_id, revision) DO UPDATE SET"
            " decision = excluded.decision, suggestion = excluded.suggestion,"
            " decided_at = excluded.decided_at",
            (
                account_id,
                person_id,
                revision,
                decision,
                None if suggestion is None else dump_json(suggestion),
                to_db_time(now),
            ),
        )

    @staticmethod
    async def decisions(q: Reader, account_id: int, revision: int) -> dict[int, str]:
        rows = await q.fetchall(
            "SELECT person_id, decision FROM lesson_study_approval"
            " WHERE account_id = ? AND revision = ?",
            (account_id, revision),
        )
        return {int(r["person_id"]): r["decision"] for r in rows}

    @staticmethod
    async def suggestions(q: Reader, account_id: int, revision: int) -> list[tuple[str, Any]]:
        rows = await q.fetchall(
            "SELECT p.display_name, a.suggestion FROM lesson_study_approval a"
            " JOIN person p ON p.id = a.person_id WHERE a.account_id = ? AND a.revision = ?"
            " AND a.decision = 'suggested' ORDER BY a.decided_at",
            (account_id, revision),
        )
        return [(r["display_name"] or "—", json.loads(r["suggestion"])) for r in rows]

    @staticmethod
    async def agree(tx: Transaction, account_id: int, now: datetime) -> None:
        await tx.execute(
            "UPDATE lesson_study_account SET status = 'agreed', agreed_at = ? WHERE id = ?",
            (to_db_time(now), account_id),
        )
