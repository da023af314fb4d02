"""The partnership loop's rows: the trios' questions for the researchers, and the answers and
critical-friend comments researchers send back (migration 0013_partnership.sql says what each
column means)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, from_db_time, to_db_time
from storage.summary_rows import dump

QuestionStatus = Literal["open", "answered"]
ReplyKind = Literal["answer", "comment"]


def _time(text: str | None) -> datetime:
    moment = from_db_time(text)
    assert moment is not None
    return moment


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    trio_id: int
    trio_ref: str
    trio_name: str
    summary_id: int | None  # one of summary_id / account_id is set
    account_id: int | None
    position: int
    body: Any  # a string, or {"voice": file_id, "duration": s}
    asked_by: int | None
    asked_at: datetime
    status: QuestionStatus
    routed_to: int | None
    # The context researchers see beside it: the summary's focus (as the trio wrote it: text or
    # voice JSON), or the lesson-study cycle's "how to teach X" focus.
    focus: Any

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Question:
        return cls(
            id=row["id"],
            trio_id=row["trio_id"],
            trio_ref=row["trio_ref"],
            trio_name=row["trio_name"],
            summary_id=row["summary_id"],
            account_id=row["account_id"],
            position=row["position"],
            body=json.loads(row["body"]),
            asked_by=row["asked_by"],
            asked_at=_time(row["asked_at"]),
            status=row["status"],
            routed_to=row["routed_to"],
            focus=json.loads(row["focus"]) if row["summary_id"] is not None else row["focus"],
        )


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    kind: ReplyKind
    trio_id: int
    question_id: int | None
    summary_id: int | None  # comments: what they are on
    account_id: int | None
    author_id: int | None
    author_name: str | None
    body: Any
    shareable: bool
    sent_at: datetime
    discussed_at: datetime | None
    # For an answer, the question it answers (its body), so a listing needs no second read.
    question: Any

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Reply:
        question = row["question_body"]
        return cls(
            id=row["id"],
            kind=row["kind"],
            trio_id=row["trio_id"],
            question_id=row["question_id"],
            summary_id=row["summary_id"],
            account_id=row["account_id"],
            author_id=row["author_id"],
            author_name=row["author_name"],
            body=json.loads(row["body"]),
            shareable=bool(row["shareable"]),
            sent_at=_time(row["sent_at"]),
            discussed_at=from_db_time(row["discussed_at"]),
            question=None if question is None else json.loads(question),
        )


_QUESTION = (
    "SELECT q.*, t.ref AS trio_ref, t.name AS trio_name,"
    " COALESCE(s.focus, ls.focus_what) AS focus"
    " FROM research_question q JOIN trio t ON t.id = q.trio_id"
    " LEFT JOIN summary s ON s.id = q.summary_id"
    " LEFT JOIN lesson_study_account a ON a.id = q.account_id"
    " LEFT JOIN lesson_study ls ON ls.id = a.lesson_study_id"
)
_REPLY = (
    "SELECT r.*, p.display_name AS author_name, q.body AS question_body"
    " FROM research_reply r LEFT JOIN person p ON p.id = r.author_id"
    " LEFT JOIN research_question q ON q.id = r.question_id"
)
# The trios with a school in a local authority: a trio of schools by its schools, a trio of
# teachers by its members' schools.
_IN_AUTHORITY = (
    "q.trio_id IN (SELECT ts.trio_id FROM trio_school ts JOIN school sc ON sc.id = ts.school_id"
    " WHERE sc.local_authority_id = :la"
    " UNION SELECT m.trio_id FROM trio_member m JOIN person pm ON pm.id = m.person_id"
    " JOIN school sc ON sc.id = pm.school_id WHERE sc.local_authority_id = :la)"
)


class QuestionRepo:
    @staticmethod
    async def from_summary(tx: Transaction, summary_id: int, now: datetime) -> list[int]:
        """Copies an agreed summary's questions into research_question (once: agreeing the
        same summary again adds nothing). Returns the new questions' ids."""
        rows = await tx.fetchall(
            "SELECT i.id, i.position, i.body, s.trio_id, s.author_id"
            " FROM summary_item i JOIN summary s ON s.id = i.summary_id"
            " WHERE i.summary_id = ? AND i.kind = 'question'"
            " AND NOT EXISTS (SELECT 1 FROM research_question q WHERE q.summary_item_id = i.id)"
            " ORDER BY i.position, i.id",
            (summary_id,),
        )
        return [
            await tx.execute(
                "INSERT INTO research_question (trio_id, summary_id, summary_item_id, position,"
                " body, asked_by, asked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    r["trio_id"],
                    summary_id,
                    r["id"],
                    r["position"],
                    r["body"],
                    r["author_id"],
                    to_db_time(now),
                ),
            )
            for r in rows
        ]

    @staticmethod
    async def from_account(tx: Transaction, account_id: int, now: datetime) -> list[int]:
        """Copies an agreed lesson-study account's questions (lesson_study_account.questions,
        a JSON list of answers) into research_question, once."""
        row = await tx.fetchone(
            "SELECT a.questions, a.author_id, ls.trio_id FROM lesson_study_account a"
            " JOIN lesson_study ls ON ls.id = a.lesson_study_id WHERE a.id = ?",
            (account_id,),
        )
        if row is None:
            return []
        taken = {
            r["position"]
            for r in await tx.fetchall(
                "SELECT position FROM research_question WHERE account_id = ?", (account_id,)
            )
        }
        return [
            await tx.execute(
                "INSERT INTO research_question (trio_id, account_id, position, body,"
                " asked_by, asked_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row["trio_id"],
                    account_id,
                    position,
                    dump(body),
                    row["author_id"],
                    to_db_time(now),
                ),
            )
            for position, body in enumerate(json.loads(row["questions"] or "[]"))
            if position not in taken
        ]

    @staticmethod
    async def get(q: Reader, question_id: int) -> Question | None:
        row = await q.fetchone(f"{_QUESTION} WHERE q.id = ?", (question_id,))
        return None if row is None else Question.from_row(row)

    @staticmethod
    async def open_for(
        q: Reader,
        person_id: int,
        *,
        trio_id: int | None = None,
        local_authority_id: int | None = None,
        limit: int = 50,
    ) -> list[Question]:
        """Open questions a researcher or coordinator may take, oldest first: not passed on by
        them, and routed to them or to no one in particular."""
        where = [
            "q.status = 'open'",
            "(q.routed_to IS NULL OR q.routed_to = :me)",
            "NOT EXISTS (SELECT 1 FROM question_pass x WHERE x.question_id = q.id"
            " AND x.person_id = :me)",
        ]
        if trio_id is not None:
            where.append("q.trio_id = :trio")
        if local_authority_id is not None:
            where.append(_IN_AUTHORITY)
        rows = await q.fetchall(
            f"{_QUESTION} WHERE {' AND '.join(where)} ORDER BY q.asked_at, q.id LIMIT :limit",
            {"me": person_id, "trio": trio_id, "la": local_authority_id, "limit": limit},
        )
        return [Question.from_row(row) for row in rows]

    @staticmethod
    async def for_trio(q: Reader, trio_id: int) -> list[Question]:
        rows = await q.fetchall(
            f"{_QUESTION} WHERE q.trio_id = ? ORDER BY q.asked_at, q.id", (trio_id,)
        )
        return [Question.from_row(row) for row in rows]

    @staticmethod
    async def pass_on(
        tx: Transaction, question_id: int, person_id: int, to_person: int | None, now: datetime
    ) -> None:
        """ "Not for me": the question is not offered to `person_id` again, and goes to
        `to_person` (None: back to everyone who has not passed it)."""
        await tx.execute(
            "INSERT INTO question_pass (question_id, person_id, passed_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (question_id, person_id, to_db_time(now)),
        )
        await tx.execute(
            "UPDATE research_question SET routed_to = ? WHERE id = ?", (to_person, question_id)
        )

    @staticmethod
    async def passed_by(q: Reader, question_id: int) -> set[int]:
        rows = await q.fetchall(
            "SELECT person_id FROM question_pass WHERE question_id = ?", (question_id,)
        )
        return {r["person_id"] for r in rows}


class ReplyRepo:
    @staticmethod
    async def add(
        tx: Transaction,
        *,
        kind: ReplyKind,
        trio_id: int,
        author_id: int,
        body: Any,
        now: datetime,
        question_id: int | None = None,
        summary_id: int | None = None,
        account_id: int | None = None,
        shareable: bool = False,
    ) -> int:
        """Records an answer (the question becomes 'answered') or a comment; returns its id."""
        reply_id = await tx.execute(
            "INSERT INTO research_reply (kind, trio_id, question_id, summary_id, account_id,"
            " author_id, body, shareable, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                trio_id,
                question_id,
                summary_id,
                account_id,
                author_id,
                dump(body),
                int(shareable),
                to_db_time(now),
            ),
        )
        if question_id is not None:
            await tx.execute(
                "UPDATE research_question SET status = 'answered' WHERE id = ?", (question_id,)
            )
        return reply_id

    @staticmethod
    async def get(q: Reader, reply_id: int) -> Reply | None:
        row = await q.fetchone(f"{_REPLY} WHERE r.id = ?", (reply_id,))
        return None if row is None else Reply.from_row(row)

    @staticmethod
    async def for_question(q: Reader, question_id: int) -> list[Reply]:
        rows = await q.fetchall(
            f"{_REPLY} WHERE r.question_id = ? ORDER BY r.sent_at, r.id", (question_id,)
        )
        return [Reply.from_row(row) for row in rows]

    @staticmethod
    async def undiscussed(q: Reader, trio_id: int) -> list[Reply]:
        """What researchers sent the trio that it has not yet marked discussed, oldest first
        (the next meeting's invitation and the start of the next summary list these)."""
        rows = await q.fetchall(
            f"{_REPLY} WHERE r.trio_id = ? AND r.discussed_at IS NULL ORDER BY r.sent_at, r.id",
            (trio_id,),
        )
        return [Reply.from_row(row) for row in rows]

    @staticmethod
    async def mark_discussed(
        tx: Transaction, reply_id: int, person_id: int, summary_id: int | None, now: datetime
    ) -> bool:
        """Marks a reply discussed; False when it already was (a second tap changes nothing)."""
        changed = await tx.execute(
            "UPDATE research_reply SET discussed_at = ?, discussed_by = ?, discussed_in = ?"
            " WHERE id = ? AND discussed_at IS NULL",
            (to_db_time(now), person_id, summary_id, reply_id),
        )
        return changed > 0


# --- the trio side (README "The partnership loop: what the trio and the digests show") -------
async def comment_subjects(q: Reader, trio_id: int) -> dict[int, Any]:
    """What each of the trio's undiscussed comments is on, by reply id: the commented summary's
    focus (text or voice JSON, as the trio wrote it) or the lesson study's "how to teach" focus."""
    rows = await q.fetchall(
        "SELECT r.id, r.summary_id, s.focus AS summary_focus, ls.focus_what"
        " FROM research_reply r LEFT JOIN summary s ON s.id = r.summary_id"
        " LEFT JOIN lesson_study_account a ON a.id = r.account_id"
        " LEFT JOIN lesson_study ls ON ls.id = a.lesson_study_id"
        " WHERE r.trio_id = ? AND r.kind = 'comment' AND r.discussed_at IS NULL",
        (trio_id,),
    )
    return {
        r["id"]: json.loads(r["summary_focus"]) if r["summary_id"] is not None else r["focus_what"]
        for r in rows
    }
