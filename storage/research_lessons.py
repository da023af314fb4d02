"""A lesson-study cycle's research lessons (one a round), the notes taken about them
(student voice, predictions, observations, interviews) and the tasks members have done."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, from_db_time, to_db_time
from storage.json_text import dump_json

NoteKind = Literal["student_voice", "prediction", "observation", "interview", "late"]

Task = Literal["observe", "interview"]


@dataclass(frozen=True, slots=True)
class Lesson:
    id: int
    round: int
    teacher_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    outline: Any
    moments: list[str]
    carried: list[str]
    discussion: Any
    changes: list[str] | None
    status: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Lesson:
        return cls(
            id=row["id"],
            round=row["round"],
            teacher_id=row["teacher_id"],
            starts_at=from_db_time(row["starts_at"]),
            ends_at=from_db_time(row["ends_at"]),
            outline=json.loads(row["outline"]) if row["outline"] else None,
            moments=json.loads(row["moments"]),
            carried=json.loads(row["carried_changes"]),
            discussion=json.loads(row["discussion"]) if row["discussion"] else None,
            changes=json.loads(row["changes"]) if row["changes"] is not None else None,
            status=row["status"],
        )


@dataclass(frozen=True, slots=True)
class Note:
    round: int
    kind: NoteKind
    person_id: int | None
    author: str | None
    pupil_id: int | None
    moment: int | None
    body: Any


class ResearchLessonRepo:
    """Reads take a Database or a Transaction; writes take the Transaction."""

    @staticmethod
    async def open_lesson(tx: Transaction, cycle_id: int, round_: int, carried: list[str]) -> None:
        await tx.execute(
            "INSERT INTO research_lesson (lesson_study_id, round, carried_changes)"
            " VALUES (?, ?, ?) ON CONFLICT (lesson_study_id, round) DO NOTHING",
            (cycle_id, round_, dump_json(carried)),
        )

    @staticmethod
    async def lessons(q: Reader, cycle_id: int) -> list[Lesson]:
        rows = await q.fetchall(
            "SELECT * FROM research_lesson WHERE lesson_study_id = ? ORDER BY round",
            (cycle_id,),
        )
        return [Lesson.from_row(row) for row in rows]

    @staticmethod
    async def lesson(q: Reader, cycle_id: int, round_: int) -> Lesson | None:
        row = await q.fetchone(
            "SELECT * FROM research_lesson WHERE lesson_study_id = ? AND round = ?",
            (cycle_id, round_),
        )
        return None if row is None else Lesson.from_row(row)

    @staticmethod
    async def set_plan(tx: Transaction, lesson_id: int, outline: Any, moments: list[str]) -> None:
        await tx.execute(
            "UPDATE research_lesson SET outline = ?, moments = ? WHERE id = ?",
            (dump_json(outline), dump_json(moments), lesson_id),
        )

    @staticmethod
    async def set_schedule(
        tx: Transaction, lesson_id: int, teacher_id: int, starts_at: datetime, ends_at: datetime
    ) -> None:
        await tx.execute(
            "UPDATE research_lesson SET teacher_id = ?, starts_at = ?, ends_at = ?,"
            " status = 'scheduled' WHERE id = ?",
            (teacher_id, to_db_time(starts_at), to_db_time(ends_at), lesson_id),
        )

    @staticmethod
    async def set_status(tx: Transaction, lesson_id: int, status: str) -> None:
        await tx.execute("UPDATE research_lesson SET status = ? WHERE id = ?", (status, lesson_id))

    @staticmethod
    async def set_discussion(
        tx: Transaction, lesson_id: int, discussion: Any, changes: list[str]
    ) -> None:
        await tx.execute(
            "UPDATE research_lesson SET discussion = ?, changes = ?, status = 'discussed'"
            " WHERE id = ?",
            (dump_json(discussion), dump_json(changes), lesson_id),
        )

    @staticmethod
    async def add_note(
        tx: Transaction,
        cycle_id: int,
        round_: int,
        kind: NoteKind,
        person_id: int,
        body: Any,
        now: datetime,
        *,
        pupil_id: int | None = None,
        moment: int | None = None,
    ) -> None:
        await tx.execute(
            "INSERT INTO lesson_study_note (lesson_study_id, round, kind, person_id, pupil_id,"
            " moment, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (cycle_id, round_, kind, person_id, pupil_id, moment, dump_json(body), to_db_time(now)),
        )

    @staticmethod
    async def clear_notes(tx: Transaction, cycle_id: int, round_: int, kind: NoteKind) -> None:
        await tx.execute(
            "DELETE FROM lesson_study_note WHERE lesson_study_id = ? AND round = ? AND kind = ?",
            (cycle_id, round_, kind),
        )

    @staticmethod
    async def notes(q: Reader, cycle_id: int, round_: int | None = None) -> list[Note]:
        rows = await q.fetchall(
            "SELECT n.*, p.display_name AS author FROM lesson_study_note n"
            " LEFT JOIN person p ON p.id = n.person_id WHERE n.lesson_study_id = ?"
            " AND (? IS NULL OR n.round = ?) ORDER BY n.id",
            (cycle_id, round_, round_),
        )
        return [
            Note(
                r["round"],
                r["kind"],
                r["person_id"],
                r["author"],
                r["pupil_id"],
                r["moment"],
                json.loads(r["body"]),
            )
            for r in rows
        ]

    @staticmethod
    async def task_done(
        tx: Transaction, cycle_id: int, round_: int, task: Task, person_id: int, now: datetime
    ) -> bool:
        added = await tx.execute(
            "INSERT INTO lesson_study_task (lesson_study_id, round, task, person_id, done_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (cycle_id, round_, task, person_id, to_db_time(now)),
        )
        return added > 0

    @staticmethod
    async def done_by(q: Reader, cycle_id: int, round_: int, task: Task) -> set[int]:
        rows = await q.fetchall(
            "SELECT person_id FROM lesson_study_task WHERE lesson_study_id = ? AND round = ?"
            " AND task = ?",
            (cycle_id, round_, task),
        )
        return {int(r["person_id"]) for r in rows}
