"""Lesson-study cycles: the cycle and its stage, members, case pupils, lessons, notes, account."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, from_db_time, to_db_time

Stage = Literal[
    "student_voice", "plan", "lesson", "observe", "discuss", "account", "agreement", "agreed"
]
NoteKind = Literal["student_voice", "prediction", "observation", "interview", "late"]
Task = Literal["observe", "interview"]
ROUNDS = 3


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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
class Pupil:
    id: int
    position: int
    pseudonym: str
    typical_of: str


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
    async def for_person(q: Reader, person_id: int) -> list[Cycle]:
        """Cycles this person is a member of: running ones first, then the latest agreed."""
        rows = await q.fetchall(
            "SELECT c.* FROM lesson_study c JOIN lesson_study_member m"
            " ON m.lesson_study_id = c.id WHERE m.person_id = ?"
            " ORDER BY c.status = 'active' DESC, c.id DESC",
            (person_id,),
        )
        return [Cycle.from_row(row) for row in rows]

    @staticmethod
    async def for_trios(q: Reader, trio_ids: list[int]) -> list[Cycle]:
        rows = await q.fetchall(
            "SELECT * FROM lesson_study WHERE trio_id IN (SELECT value FROM json_each(?))"
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

    # --- research lessons -----------------------------------------------------------------
    @staticmethod
    async def open_lesson(tx: Transaction, cycle_id: int, round_: int, carried: list[str]) -> None:
        await tx.execute(
            "INSERT INTO research_lesson (lesson_study_id, round, carried_changes)"
            " VALUES (?, ?, ?) ON CONFLICT (lesson_study_id, round) DO NOTHING",
            (cycle_id, round_, _json(carried)),
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
            (_json(outline), _json(moments), lesson_id),
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
            (_json(discussion), _json(changes), lesson_id),
        )

    # --- notes and tasks ------------------------------------------------------------------
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
            (cycle_id, round_, kind, person_id, pupil_id, moment, _json(body), to_db_time(now)),
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

    # --- the closing account and its agreement --------------------------------------------
    @staticmethod
    async def account(q: Reader, cycle_id: int) -> Account | None:
        row = await q.fetchone(
            "SELECT * FROM lesson_study_account WHERE lesson_study_id = ?", (cycle_id,)
        )
        return None if row is None else Account.from_row(row)

    @staticmethod
    async def account_by_id(q: Reader, account_id: int) -> Account | None:
        row = await q.fetchone("SELECT * FROM lesson_study_account WHERE id = ?", (account_id,))
        return None if row is None else Account.from_row(row)

    @staticmethod
    async def write_account(
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
            " revision = revision + 1, updated_at = excluded.updated_at",
            (cycle_id, author_id, _json(learned), _json(changed), _json(advice), stamp, stamp),
        )
        account = await LessonStudyRepo.account(tx, cycle_id)
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
                None if suggestion is None else _json(suggestion),
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
