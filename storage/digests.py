"""The digest archive: each compiled week kept, so building it again gives the same digest.

The week's contributions are kept as rows (with person_id, so erasure deletes a person's rows
and withdrawn consent is applied again at every rendering); the figures, which name trios and
local authorities but no person, as JSON. Built HTML files are kept for the outbox to send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage import meta
from storage.db import Database, Reader, Transaction, from_db_time, to_db_time
from storage.digest_sources import CONTRIBUTION_COLUMNS
from storage.people import Role

_COLUMNS = ", ".join(CONTRIBUTION_COLUMNS)


@dataclass(frozen=True, slots=True)
class ArchivedWeek:
    week: str
    built_at: datetime
    figures: dict[str, Any]
    contributions: list[tuple[Any, ...]]  # in CONTRIBUTION_COLUMNS order


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: int
    filename: str
    content: bytes
    telegram_file_id: str | None


class DigestArchive:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def load(reader: Reader, week: str) -> ArchivedWeek | None:
        rows = await reader.fetchall(
            "SELECT id, built_at, figures FROM digest WHERE week = ?", (week,)
        )
        if not rows:
            return None
        digest_id, built_at, figures = rows[0]
        contributions = await reader.fetchall(
            f"SELECT {_COLUMNS} FROM digest_contribution WHERE digest_id = ?"  # noqa: S608
            " ORDER BY seq",
            (digest_id,),
        )
        moment = from_db_time(built_at)
        assert moment is not None
        return ArchivedWeek(week, moment, json.loads(figures), [tuple(r) for r in contributions])

    @staticmethod
    async def save(
        tx: Transaction,
        week: str,
        built_at: datetime,
        figures: dict[str, Any],
        contributions: list[tuple[Any, ...]],
    ) -> int:
        """Archive a week once; a week already archived is left as it is."""
        existing = await tx.fetchval("SELECT id FROM digest WHERE week = ?", (week,))
        if existing is not None:
            return int(existing)
        digest_id = await tx.execute(
            "INSERT INTO digest (week, built_at, figures) VALUES (?, ?, ?)",
            (week, to_db_time(built_at), json.dumps(figures, ensure_ascii=False)),
        )
        marks = ", ".join("?" for _ in CONTRIBUTION_COLUMNS)
        await tx.executemany(
            f"INSERT INTO digest_contribution (digest_id, seq, {_COLUMNS})"  # noqa: S608
            f" VALUES (?, ?, {marks})",
            [(digest_id, seq, *row) for seq, row in enumerate(contributions)],
        )
        return digest_id

    @staticmethod
    async def latest_week(reader: Reader) -> str | None:
        rows = await reader.fetchall("SELECT MAX(week) FROM digest")
        return str(rows[0][0]) if rows and rows[0][0] else None

    @staticmethod
    async def digest_id(reader: Reader, week: str) -> int | None:
        rows = await reader.fetchall("SELECT id FROM digest WHERE week = ?", (week,))
        return int(rows[0][0]) if rows else None

    @staticmethod
    async def store_file(
        tx: Transaction,
        digest_id: int,
        audience: str,
        language: str,
        filename: str,
        content: bytes,
    ) -> int:
        """Keep a built file for the outbox; rebuilding replaces it (and forgets the file id)."""
        await tx.execute(
            "INSERT INTO digest_file (digest_id, audience, language, filename, content)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest_id, audience, language) DO UPDATE"
            " SET filename = excluded.filename, content = excluded.content,"
            " telegram_file_id = NULL",
            (digest_id, audience, language, filename, content),
        )
        return int(
            await tx.fetchval(
                "SELECT id FROM digest_file WHERE digest_id = ? AND audience = ? AND language = ?",
                (digest_id, audience, language),
            )
        )

    async def file(self, file_id: int) -> StoredFile | None:
        row = await self.db.fetchone(
            "SELECT id, filename, content, telegram_file_id FROM digest_file WHERE id = ?",
            (file_id,),
        )
        return None if row is None else StoredFile(row[0], row[1], bytes(row[2]), row[3])

    async def remember_file_id(self, file_id: int, telegram_file_id: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE digest_file SET telegram_file_id = ? WHERE id = ?",
                (telegram_file_id, file_id),
            )


async def pseudonym_key(tx: Transaction) -> bytes:
    """The key of the pseudonymous ids: made once, kept in meta, never exported."""
    return await meta.secret_key(tx, "pseudonym_key")


# Who gets the shared digest without asking (migration 0011): a person with no choice of
# their own gets it when they hold one of these roles; a choice in /settings wins either way
# (bot/digest/delivery.py wants_shared_digest says the same for /settings).
DIGEST_BY_DEFAULT: tuple[Role, ...] = ("teacher", "trio_lead")


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone the weekly digest goes to, with the times they may be reached."""

    audience: Literal["researchers", "schools"]
    person_id: int
    chat_id: int
    language: str
    time_zone: str | None
    reminder_time: str
    quiet_start: str
    quiet_end: str
    away_until: str | None


async def recipients(q: Reader) -> list[Recipient]:
    """Researchers get the researcher digest (always); the shared one goes to everyone who
    asked for it, and to teachers and trio leads who never chose (on by default). A person
    who turned it off in /settings gets nothing. Coordinators, like everyone else outside
    those roles, only if they asked."""
    rows = await q.fetchall(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM person_role r WHERE r.person_id = p.id"
        "  AND r.role = 'researcher') THEN 'researchers' ELSE 'schools' END AS audience,"
        " p.id, p.telegram_id, COALESCE(p.language, 'en'), p.time_zone,"
        " p.reminder_time, p.quiet_start, p.quiet_end, p.away_until FROM person p"
        " WHERE p.status = 'active' AND p.telegram_id IS NOT NULL AND ("
        "  EXISTS (SELECT 1 FROM person_role r WHERE r.person_id = p.id"
        "   AND r.role = 'researcher')"
        "  OR p.digest_choice = 'on'"
        "  OR (p.digest_choice IS NULL AND EXISTS (SELECT 1 FROM person_role r"
        "   WHERE r.person_id = p.id AND r.role IN (SELECT value FROM json_each(?)))))"
        " ORDER BY p.id",
        (json.dumps(DIGEST_BY_DEFAULT),),
    )
    return [Recipient(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class GroupRecipient:
    """A trio's linked Telegram group, which gets the shared digest in its own language."""

    trio_id: int
    chat_id: int
    language: str


async def group_recipients(q: Reader) -> list[GroupRecipient]:
    """Every linked trio group (a group that left or migrated has been unlinked or moved by
    the outbox: storage/outbox.py), in trio order."""
    rows = await q.fetchall("SELECT trio_id, chat_id, language FROM trio_chat ORDER BY trio_id")
    return [GroupRecipient(int(r[0]), int(r[1]), str(r[2])) for r in rows]


async def first_delivered_reflection(q: Reader) -> datetime | None:
    """When the earliest reflection prompt went out: where an export of everything begins."""
    return from_db_time(
        await q.fetchval("SELECT MIN(delivered_at) FROM reflection WHERE delivered_at IS NOT NULL")
    )


async def programme_began(q: Reader) -> datetime | None:
    """When the programme's first trio or person was recorded (a roster import, an invite
    used) or, from imported history, its first reflection prompt went out: the earliest week
    a digest is built for. None while the programme is empty."""
    return from_db_time(
        await q.fetchval(
            "SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM trio"
            " UNION ALL SELECT MIN(created_at) FROM person"
            " UNION ALL SELECT MIN(delivered_at) FROM reflection) AS firsts"
        )
    )
