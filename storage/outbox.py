"""The outbox: every message that is not the immediate answer to a person goes through it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Database, Transaction, from_db_time, to_db_time, utcnow

OutboxStatus = Literal["pending", "sent", "failed", "dropped"]

# A reflection prompt counts as delivered when it is queued; if Telegram then never takes it
# (they blocked the bot, or it was refused), `fail` and `person_unreachable` put it back to
# 'due' so digests do not count it. A prompt's outbox row carries `payload.reflection`.


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    chat_id: int
    person_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    not_before: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Outgoing:
        not_before = from_db_time(row["not_before"])
        assert not_before is not None
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            person_id=row["person_id"],
            kind=row["kind"],
            payload=json.loads(row["payload"]),
            attempts=row["attempts"],
            not_before=not_before,
        )


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def enqueue(
        tx: Transaction,
        chat_id: int,
        kind: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        person_id: int | None = None,
        not_before: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> bool:
        added = await tx.execute(
            "INSERT INTO outbox (chat_id, person_id, kind, payload, dedupe_key, not_before,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (
                chat_id,
                person_id,
                kind,
                json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                dedupe_key,
                to_db_time(not_before or now),
                to_db_time(now),
            ),
        )
        return bool(added)

    async def sendable(self, now: datetime, limit: int) -> list[Outgoing]:
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE status = 'pending' AND not_before <= ?"
            " ORDER BY not_before, id LIMIT ?",
            (to_db_time(now), limit),
        )
        return [Outgoing.from_row(row) for row in rows]

    async def next_not_before(self) -> datetime | None:
        text = await self.db.fetchval("SELECT MIN(not_before) FROM outbox WHERE status = 'pending'")
        return from_db_time(text)

    async def mark_sent(self, row_id: int, message_id: int | None, now: datetime) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, telegram_message_id = ?,"
                " attempts = attempts + 1 WHERE id = ?",
                (to_db_time(now), message_id, row_id),
            )

    async def retry_later(self, row_id: int, when: datetime, error: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ?"
                " WHERE id = ?",
                (to_db_time(when), error[:500], row_id),
            )

    async def fail(self, row_id: int, error: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE reflection SET status = 'due', delivered_at = NULL"
                " WHERE status = 'delivered' AND id ="
                " (SELECT json_extract(payload, '$.reflection') FROM outbox"
                "  WHERE id = ? AND kind = 'reflection')",
                (row_id,),
            )
            await tx.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (error[:500], row_id),
            )

    async def person_unreachable(
        self, person_id: int, error: str, now: datetime | None = None
    ) -> int:
        """They blocked the bot (or never started it): stop, and mark them, not retry."""
        now = now or utcnow()
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE person SET status = 'blocked', updated_at = ? WHERE id = ?"
                " AND status != 'erased'",
                (to_db_time(now), person_id),
            )
            await tx.execute(
                "UPDATE reflection SET status = 'due', delivered_at = NULL"
                " WHERE status = 'delivered' AND id IN"
                " (SELECT json_extract(payload, '$.reflection') FROM outbox"
                "  WHERE person_id = ? AND kind = 'reflection' AND status = 'pending')",
                (person_id,),
            )
            return await tx.execute(
                "UPDATE outbox SET status = 'failed', last_error = ?"
                " WHERE person_id = ? AND status = 'pending'",
                (error[:500], person_id),
            )

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {row[0]: row[1] for row in rows}
