"""What the partnership loop's researcher side reads beyond the questions themselves: who a
question can be passed to, the trio or local authority a filter names, the agreed work a
researcher may comment on; and the lesson-study account flow's questions (migration
0013_partnership.sql; the questions and replies are storage/questions.py)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, to_db_time
from storage.questions import _IN_AUTHORITY, _time
from storage.summary_rows import dump


@dataclass(frozen=True, slots=True)
class Taker:
    """A researcher or coordinator who may be handed a question ("Not for me")."""

    person_id: int
    chat_id: int
    name: str
    language: str
    routed: int  # open questions already routed to them


@dataclass(frozen=True, slots=True)
class Scope:
    """What a /questions or /comment filter named: one trio, or one local authority."""

    kind: Literal["trio", "authority"]
    id: int
    name: str
    ref: str = ""


@dataclass(frozen=True, slots=True)
class AgreedWork:
    """An agreed summary or lesson-study account a researcher may comment on."""

    kind: Literal["summary", "account"]
    id: int
    trio_id: int
    trio_ref: str
    trio_name: str
    agreed_at: datetime
    focus: Any  # a summary's focus (text or voice JSON), or the cycle's "how to teach X"
    # An account's three parts (JSON answers); None for a summary (its items are read apart).
    account: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AgreedWork:
        kind = row["kind"]
        return cls(
            kind=kind,
            id=row["id"],
            trio_id=row["trio_id"],
            trio_ref=row["trio_ref"],
            trio_name=row["trio_name"],
            agreed_at=_time(row["agreed_at"]),
            focus=json.loads(row["focus"]) if kind == "summary" else row["focus"],
            account=(
                None
                if kind == "summary"
                else {k: json.loads(row[k]) for k in ("learned", "changed", "advice")}
            ),
        )


_AGREED = (
    "SELECT * FROM (SELECT 'summary' AS kind, s.id, s.trio_id, t.ref AS trio_ref,"
    " t.name AS trio_name, s.agreed_at, s.focus, NULL AS learned, NULL AS changed,"
    " NULL AS advice FROM summary s JOIN trio t ON t.id = s.trio_id WHERE s.status = 'agreed'"
    " UNION ALL SELECT 'account', a.id, ls.trio_id, t.ref, t.name, a.agreed_at, ls.focus_what,"
    " a.learned, a.changed, a.advice FROM lesson_study_account a"
    " JOIN lesson_study ls ON ls.id = a.lesson_study_id JOIN trio t ON t.id = ls.trio_id"
    " WHERE a.status = 'agreed') q"
)


class PartnershipRepo:
    """The researcher side's other reads, and the account flow's questions."""

    @staticmethod
    async def takers(q: Reader, question_id: int) -> list[Taker]:
        """Researchers and coordinators who can be reached and have not passed this question,
        fewest open questions routed to them first, then by id."""
        rows = await q.fetchall(
            "SELECT p.id, p.telegram_id, p.display_name, p.language,"
            " (SELECT COUNT(*) FROM research_question r WHERE r.routed_to = p.id"
            "  AND r.status = 'open') AS routed"
            " FROM person p WHERE p.status = 'active' AND p.telegram_id IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM person_role pr WHERE pr.person_id = p.id"
            "  AND pr.role IN ('researcher', 'coordinator'))"
            " AND NOT EXISTS (SELECT 1 FROM question_pass x WHERE x.question_id = ?"
            "  AND x.person_id = p.id)"
            " ORDER BY routed, p.id",
            (question_id,),
        )
        return [
            Taker(r["id"], r["telegram_id"], r["display_name"] or "?", r["language"] or "en",
                  r["routed"])
            for r in rows
        ]  # fmt: skip

    @staticmethod
    async def answered_count(q: Reader) -> int:
        value = await q.fetchval("SELECT COUNT(*) FROM research_question WHERE status = 'answered'")
        return int(value or 0)

    @staticmethod
    async def find_scope(q: Reader, text: str) -> Scope | None:
        """The trio whose ref or name is `text` (case aside), else the local authority so
        named, else a trio whose name contains it (when only one does)."""
        wanted = text.strip()
        row = await q.fetchone(
            "SELECT id, ref, name FROM trio WHERE lower(ref) = lower(?)"
            " OR lower(name) = lower(?) ORDER BY id LIMIT 1",
            (wanted, wanted),
        )
        if row is not None:
            return Scope("trio", row["id"], row["name"], row["ref"])
        row = await q.fetchone(
            "SELECT id, name FROM local_authority WHERE lower(name) = lower(?)", (wanted,)
        )
        if row is not None:
            return Scope("authority", row["id"], row["name"])
        rows = await q.fetchall(
            "SELECT id, ref, name FROM trio WHERE instr(lower(name), lower(?)) > 0"
            " ORDER BY id LIMIT 2",
            (wanted,),
        )
        if len(rows) == 1:
            return Scope("trio", rows[0]["id"], rows[0]["name"], rows[0]["ref"])
        return None

    @staticmethod
    async def scopes_with_open(q: Reader) -> tuple[list[Scope], list[Scope]]:
        """The trios and local authorities with open questions: what a filter that matched
        nothing could have named."""
        trios = await q.fetchall(
            "SELECT DISTINCT t.id, t.ref, t.name FROM research_question r"
            " JOIN trio t ON t.id = r.trio_id WHERE r.status = 'open' ORDER BY t.name, t.ref"
        )
        authorities = await q.fetchall(
            "SELECT la.id, la.name FROM research_question r"
            " JOIN trio_school ts ON ts.trio_id = r.trio_id JOIN school sc ON sc.id = ts.school_id"
            " JOIN local_authority la ON la.id = sc.local_authority_id WHERE r.status = 'open'"
            " UNION SELECT la.id, la.name FROM research_question r"
            " JOIN trio_member m ON m.trio_id = r.trio_id JOIN person pm ON pm.id = m.person_id"
            " JOIN school sc ON sc.id = pm.school_id"
            " JOIN local_authority la ON la.id = sc.local_authority_id WHERE r.status = 'open'"
            " ORDER BY 2"
        )
        return (
            [Scope("trio", r["id"], r["name"], r["ref"]) for r in trios],
            [Scope("authority", r["id"], r["name"]) for r in authorities],
        )

    @staticmethod
    async def agreed_since(
        q: Reader,
        since: datetime,
        *,
        trio_id: int | None = None,
        local_authority_id: int | None = None,
        limit: int = 50,
    ) -> list[AgreedWork]:
        """Summaries and accounts agreed since `since`, newest first."""
        where = ["q.agreed_at >= :since"]
        if trio_id is not None:
            where.append("q.trio_id = :trio")
        if local_authority_id is not None:
            where.append(_IN_AUTHORITY)
        rows = await q.fetchall(
            f"{_AGREED} WHERE {' AND '.join(where)} ORDER BY q.agreed_at DESC, q.kind, q.id DESC"
            " LIMIT :limit",
            {"since": to_db_time(since), "trio": trio_id, "la": local_authority_id, "limit": limit},
        )
        return [AgreedWork.from_row(row) for row in rows]

    @staticmethod
    async def agreed(
        q: Reader, kind: Literal["summary", "account"], work_id: int
    ) -> AgreedWork | None:
        """One agreed summary or account (None when gone or not agreed)."""
        row = await q.fetchone(f"{_AGREED} WHERE q.kind = ? AND q.id = ?", (kind, work_id))
        return None if row is None else AgreedWork.from_row(row)

    @staticmethod
    async def set_account_questions(tx: Transaction, account_id: int, questions: list[Any]) -> None:
        """The account flow's questions for the researchers (copied when it is agreed)."""
        await tx.execute(
            "UPDATE lesson_study_account SET questions = ? WHERE id = ?",
            (dump(questions), account_id),
        )

    @staticmethod
    async def scope_by_id(q: Reader, kind: Literal["trio", "authority"], ref: int) -> Scope | None:
        """A filter carried on a button (`t12`, `a3`), read back with its name."""
        if kind == "trio":
            row = await q.fetchone("SELECT id, ref, name FROM trio WHERE id = ?", (ref,))
            return None if row is None else Scope("trio", row["id"], row["name"], row["ref"])
        row = await q.fetchone("SELECT id, name FROM local_authority WHERE id = ?", (ref,))
        return None if row is None else Scope("authority", row["id"], row["name"])

    @staticmethod
    async def trio_name(q: Reader, trio_id: int) -> str | None:
        value = await q.fetchval("SELECT name FROM trio WHERE id = ?", (trio_id,))
        return None if value is None else str(value)

    @staticmethod
    async def last_reply_by(q: Reader, person_id: int) -> int | None:
        """The id of the latest answer or comment this person sent."""
        value = await q.fetchval(
            "SELECT MAX(id) FROM research_reply WHERE author_id = ?", (person_id,)
        )
        return None if value is None else int(value)
