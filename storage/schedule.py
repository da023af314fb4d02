"""The durable schedule: what the bot must do later, for whom, and when (UTC)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Database, Transaction, from_db_time, to_db_time
from storage.turns import claim_transaction

ScheduleStatus = Literal["pending", "done", "dropped", "cancelled", "failed"]


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    kind: str
    person_id: int | None
    trio_id: int | None
    payload: dict[str, Any]
    due_at: datetime
    attempts: int
    dedupe_key: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Due:
        due_at = from_db_time(row["due_at"])
        assert due_at is not None
        return cls(
            id=row["id"],
            kind=row["kind"],
            person_id=row["person_id"],
            trio_id=row["trio_id"],
            payload=json.loads(row["payload"]),
            due_at=due_at,
            attempts=row["attempts"],
            dedupe_key=row["dedupe_key"],
        )


class ScheduleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def add(
        tx: Transaction,
        kind: str,
        due_at: datetime,
        *,
        person_id: int | None = None,
        trio_id: int | None = None,
        payload: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
    ) -> bool:
        """Schedule something; False if an event with this dedupe key already exists."""
        added = await tx.execute(
            "INSERT INTO schedule (kind, person_id, trio_id, payload, due_at, dedupe_key,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (
                kind,
                person_id,
                trio_id,
                json.dumps(payload or {}, separators=(",", ":")),
                to_db_time(due_at),
                dedupe_key,
                to_db_time(tx.clock()),
            ),
        )
        return bool(added)

    @staticmethod
    async def add_many(tx: Transaction, rows: list[tuple[Any, ...]]) -> None:
        """Bulk insert of (kind, person_id, trio_id, payload_json, due_at_text, dedupe_key)."""
        now = to_db_time(tx.clock())
        await tx.executemany(
            "INSERT INTO schedule (kind, person_id, trio_id, payload, due_at, dedupe_key,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            [(*row, now) for row in rows],
        )

    @staticmethod
    async def due(tx: Transaction, now: datetime, limit: int) -> list[Due]:
        rows = await tx.fetchall(
            "SELECT * FROM schedule WHERE status = 'pending' AND due_at <= ?"
            " ORDER BY due_at, id LIMIT ?",
            (to_db_time(now), limit),
        )
        return [Due.from_row(row) for row in rows]

    async def claim_due(
        self, now: datetime, limit: int, owner: str, until: datetime, real_now: datetime
    ) -> list[Due]:
        """Several workers (PostgreSQL): take up to `limit` due rows for `owner` until `until`
        (real time, as leases), skipping rows another worker is claiming or holds unexpired.
        The claim commits at once; the rows are fired in a transaction of their own."""
        async with claim_transaction(self.db) as tx:
            rows = await tx.fetchall(
                "UPDATE schedule SET claimed_by = ?, claim_expires_at = ? WHERE id IN"
                " (SELECT id FROM schedule WHERE status = 'pending' AND due_at <= ?"
                "  AND (claimed_by IS NULL OR claim_expires_at <= ?)"
                "  ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
                (owner, to_db_time(until), to_db_time(now), to_db_time(real_now), limit),
            )
        return sorted((Due.from_row(row) for row in rows), key=lambda due: (due.due_at, due.id))

    @staticmethod
    async def still_claimed(tx: Transaction, row_ids: list[int], owner: str) -> set[int]:
        """Of these rows, those still pending and claimed by `owner` (a claim that expired
        while its worker stalled may have been taken and fired by another)."""
        rows = await tx.fetchall(
            "SELECT id FROM schedule WHERE status = 'pending' AND claimed_by = ?"
            " AND id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
            (owner, json.dumps(row_ids)),
        )
        return {int(row[0]) for row in rows}

    @staticmethod
    async def unclaim(tx: Transaction, row_ids: list[int], owner: str) -> None:
        """Let go of `owner`'s claims on these rows (fired, postponed or given back)."""
        await tx.execute(
            "UPDATE schedule SET claimed_by = NULL, claim_expires_at = NULL WHERE claimed_by = ?"
            " AND id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
            (owner, json.dumps(row_ids)),
        )

    async def give_back(self, row_ids: list[int], owner: str) -> None:
        """A fire transaction that failed (a conflict, the database away): its rows are free
        again at once rather than when the claims expire."""
        async with claim_transaction(self.db) as tx:
            await self.unclaim(tx, row_ids, owner)

    @staticmethod
    async def finish(
        tx: Transaction, row_id: int, status: ScheduleStatus, now: datetime, note: str | None
    ) -> None:
        await tx.execute(
            "UPDATE schedule SET status = ?, fired_at = ?, note = ?, attempts = attempts + 1"
            " WHERE id = ? AND status = 'pending'",
            (status, to_db_time(now), note, row_id),
        )

    @staticmethod
    async def postpone(tx: Transaction, row_id: int, until: datetime, note: str) -> None:
        await tx.execute(
            "UPDATE schedule SET due_at = ?, note = ? WHERE id = ? AND status = 'pending'",
            (to_db_time(until), note, row_id),
        )

    @staticmethod
    async def failed_attempt(tx: Transaction, row_id: int, note: str) -> int:
        await tx.execute(
            "UPDATE schedule SET attempts = attempts + 1, note = ? WHERE id = ?", (note, row_id)
        )
        return int(await tx.fetchval("SELECT attempts FROM schedule WHERE id = ?", (row_id,)))

    @staticmethod
    async def move(tx: Transaction, dedupe_key: str, due_at: datetime) -> bool:
        return bool(
            await tx.execute(
                "UPDATE schedule SET due_at = ? WHERE dedupe_key = ? AND status = 'pending'",
                (to_db_time(due_at), dedupe_key),
            )
        )

    @staticmethod
    async def cancel(tx: Transaction, dedupe_key: str, note: str) -> bool:
        return bool(
            await tx.execute(
                "UPDATE schedule SET status = 'cancelled', note = ?"
                " WHERE dedupe_key = ? AND status = 'pending'",
                (note, dedupe_key),
            )
        )

    @staticmethod
    async def cancel_keys(tx: Transaction, dedupe_keys: list[str], note: str) -> None:
        """Cancel the pending rows with these dedupe keys."""
        await tx.execute(
            "UPDATE schedule SET status = 'cancelled', note = ?"
            " WHERE status = 'pending' AND dedupe_key IN (SELECT value FROM json_each(?))",
            (note, json.dumps(dedupe_keys)),
        )

    @staticmethod
    async def cancel_prefixed(tx: Transaction, prefix: str, note: str) -> None:
        """Cancel every pending row whose dedupe key begins with `prefix` (all that was armed
        for one meeting, say: the prefix ends with a colon, so meeting 1 is not meeting 12)."""
        await tx.execute(
            "UPDATE schedule SET status = 'cancelled', note = ?"
            " WHERE status = 'pending' AND dedupe_key LIKE ?",
            (note, f"{prefix}%"),
        )

    async def next_due(self) -> datetime | None:
        text = await self.db.fetchval("SELECT MIN(due_at) FROM schedule WHERE status = 'pending'")
        return from_db_time(text)
