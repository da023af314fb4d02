"""Lesson-study cycles: the cycle and its stage, its members and its case pupils.

A cycle's research lessons, notes and tasks are in storage/research_lessons.py; its closing
account and the members' approvals of it in storage/lesson_study_accounts.py.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Reader, Transaction, from_db_time, to_db_time

Stage = Literal[
    "student_voice", "plan", "lesson", "observe", "discuss", "account", "agreement", "agreed"
]
ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Cycle:
    id: int
    trio_id: int
    subject: str
    class_group: str
    focus_what: str
    focus_who: str
    stage: Stage
    round: int
    status: str
    stage_seq: int
    stage_since: datetime
    stalled_at: datetime | None
    agreed_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Cycle:
        since = from_db_time(row["stage_since"])
        assert since is not None
        return cls(
            id=row["id"],
            trio_id=row["trio_id"],
            subject=row["subject"],
            class_group=row["class_group"],
            focus_what=row["focus_what"],
            focus_who=row["focus_who"],
            stage=row["stage"],
            round=row["round"],
            status=row["status"],
            stage_seq=row["stage_seq"],
            stage_since=since,
            stalled_at=from_db_time(row["stalled_at"]),
            agreed_at=from_db_time(row["agreed_at"]),
        )


@dataclass(frozen=True, slots=True)
class Member:
    person_id: int
    position: int
    name: str
    chat_id: int | None
    language: str
    status: str
    row: sqlite3.Row  # the person row: zone, quiet hours, reminder time, away


@dataclass(frozen=True, slots=True)
class Colleague:
    """A teacher of the trio who could join a new cycle."""

    person_id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class Pupil:
    id: int
    position: int
    pseudonym: str
    typical_of: str


class LessonStudyRepo:
    """Reads take a Database or a Transaction; writes take the Transaction."""

    # --- cycles -----------------------------------------------------------------------------
    @staticmethod
    async def get(q: Reader, cycle_id: int) -> Cycle | None:
        row = await q.fetchone("SELECT * FROM lesson_study WHERE id = ?", (cycle_id,))
        return None if row is None else Cycle.from_row(row)

    @staticmethod
    async def active_for_trio(q: Reader, trio_id: int) -> Cycle | None:
        row = await q.fetchone(
            "SELECT * FROM lesson_study WHERE trio_id = ? AND status = 'active'", (trio_id,)
        )
        return None if row is None else Cycle.from_row(row)

    @staticmethod
    async def for_trios(q: Reader, trio_ids: list[int]) -> list[Cycle]:
        rows = await q.fetchall(
            "SELECT * FROM lesson_study"
            " WHERE trio_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))"
            " ORDER BY status = 'active' DESC, id DESC",
            (json.dumps(trio_ids),),
        )
        return [Cycle.from_row(row) for row in rows]

    @staticmethod
    async def stalled(q: Reader) -> list[tuple[Cycle, str]]:
        """Active cycles flagged as stalled, with their trio's name."""
        rows = await q.fetchall(
            "SELECT c.*, t.name AS trio_name FROM lesson_study c JOIN trio t ON t.id = c.trio_id"
            " WHERE c.status = 'active' AND c.stalled_at IS NOT NULL ORDER BY c.stalled_at"
        )
        return [(Cycle.from_row(row), row["trio_name"]) for row in rows]

    @staticmethod
    async def create(
        tx: Transaction,
        *,
        trio_id: int,
        started_by: int,
        subject: str,
        class_group: str,
        focus_what: str,
        focus_who: str,
        now: datetime,
    ) -> int:
        stamp = to_db_time(now)
        return await tx.execute(
            "INSERT INTO lesson_study (trio_id, started_by, subject, class_group, focus_what,"
            " focus_who, stage, stage_since, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'student_voice', ?, ?)",
            (trio_id, started_by, subject, class_group, focus_what, focus_who, stamp, stamp),
        )

    @staticmethod
    async def move(tx: Transaction, cycle_id: int, stage: Stage, round_: int, now: datetime) -> int:
        """Enter a new stage; the stalled flag is cleared. Returns the new stage_seq."""
        await tx.execute(
            "UPDATE lesson_study SET stage = ?, round = ?, stage_seq = stage_seq + 1,"
            " stage_since = ?, stalled_at = NULL,"
            " status = CASE WHEN ? = 'agreed' THEN 'agreed' ELSE status END,"
            " agreed_at = CASE WHEN ? = 'agreed' THEN ? ELSE agreed_at END WHERE id = ?",
            (stage, round_, to_db_time(now), stage, stage, to_db_time(now), cycle_id),
        )
        return int(
            await tx.fetchval("SELECT stage_seq FROM lesson_study WHERE id = ?", (cycle_id,))
        )

    @staticmethod
    async def mark_stalled(tx: Transaction, cycle_id: int, stage_seq: int, now: datetime) -> bool:
        """Flag a cycle still in the stage numbered `stage_seq`; False if it moved on."""
        changed = await tx.execute(
            "UPDATE lesson_study SET stalled_at = ? WHERE id = ? AND stage_seq = ?"
            " AND status = 'active' AND stalled_at IS NULL",
            (to_db_time(now), cycle_id, stage_seq),
        )
        return changed > 0

    # --- members and case pupils ----------------------------------------------------------
    @staticmethod
    async def add_member(tx: Transaction, cycle_id: int, person_id: int, position: int) -> None:
        await tx.execute(
            "INSERT INTO lesson_study_member (lesson_study_id, person_id, position)"
            " VALUES (?, ?, ?)",
            (cycle_id, person_id, position),
        )

    @staticmethod
    async def members(q: Reader, cycle_id: int) -> list[Member]:
        rows = await q.fetchall(
            "SELECT m.position, p.* FROM lesson_study_member m JOIN person p"
            " ON p.id = m.person_id WHERE m.lesson_study_id = ? ORDER BY m.position",
            (cycle_id,),
        )
        return [
            Member(
                person_id=row["id"],
                position=row["position"],
                name=row["display_name"] or "—",
                chat_id=row["telegram_id"],
                language=row["language"] or "en",
                status=row["status"],
                row=row,
            )
            for row in rows
        ]

    @staticmethod
    async def colleagues(q: Reader, trio_id: int, person_id: int) -> list[Colleague]:
        """The trio's other teachers (leads first) who have joined and are active."""
        rows = await q.fetchall(
            "SELECT p.id, p.display_name FROM trio_member m JOIN person p ON p.id = m.person_id"
            " WHERE m.trio_id = ? AND p.id != ? AND p.status = 'active'"
            " AND p.onboarded_at IS NOT NULL AND EXISTS (SELECT 1 FROM person_role r"
            " WHERE r.person_id = p.id AND r.role IN ('teacher', 'trio_lead'))"
            " ORDER BY m.is_lead DESC, p.display_name NULLS FIRST, p.id",
            (trio_id, person_id),
        )
        return [Colleague(int(r["id"]), r["display_name"]) for r in rows]

    @staticmethod
    async def add_pupil(
        tx: Transaction, cycle_id: int, position: int, pseudonym: str, typical_of: str
    ) -> None:
        await tx.execute(
            "INSERT INTO lesson_study_pupil (lesson_study_id, position, pseudonym, typical_of)"
            " VALUES (?, ?, ?, ?)",
            (cycle_id, position, pseudonym, typical_of),
        )

    @staticmethod
    async def pupils(q: Reader, cycle_id: int) -> list[Pupil]:
        rows = await q.fetchall(
            "SELECT * FROM lesson_study_pupil WHERE lesson_study_id = ? ORDER BY position",
            (cycle_id,),
        )
        return [Pupil(r["id"], r["position"], r["pseudonym"], r["typical_of"]) for r in rows]
