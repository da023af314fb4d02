"""The coordinator's view of what the bot will send and what it could not: schedule + outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, from_db_time, to_db_time

Which = Literal["due", "failed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    source: str  # "schedule" (to be done) or "outbox" (a message to send)
    id: int
    kind: str
    when: datetime
    status: str
    attempts: int
    person: str  # roster reference, display name, or "—"
    note: str


class DeliveriesRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def listing(self, which: Which, *, until: datetime, limit: int) -> list[Delivery]:
        """Due: pending rows up to `until` (overdue first). Failed: the most recent failures."""
        if which == "due":
            sql = (
                "SELECT * FROM ("
                " SELECT 'schedule' AS source, s.id, s.kind, s.due_at AS at, s.status,"
                " s.attempts, COALESCE(p.ref, p.display_name, '—') AS who,"
                " COALESCE(s.note, '') AS note"
                " FROM schedule s LEFT JOIN person p ON p.id = s.person_id"
                " WHERE s.status = 'pending' AND s.due_at <= ?"
                " UNION ALL"
                " SELECT 'outbox', o.id, o.kind, o.not_before, o.status, o.attempts,"
                " COALESCE(p.ref, p.display_name, '—'), COALESCE(o.last_error, '')"
                " FROM outbox o LEFT JOIN person p ON p.id = o.person_id"
                " WHERE o.status IN ('pending', 'sending') AND o.not_before <= ?"
                ") ORDER BY at LIMIT ?"
            )
            params: tuple[object, ...] = (to_db_time(until), to_db_time(until), limit)
        else:
            sql = (
                "SELECT * FROM ("
                " SELECT 'schedule' AS source, s.id, s.kind,"
                " COALESCE(s.fired_at, s.due_at) AS at, s.status, s.attempts,"
                " COALESCE(p.ref, p.display_name, '—') AS who, COALESCE(s.note, '') AS note"
                " FROM schedule s LEFT JOIN person p ON p.id = s.person_id"
                " WHERE s.status = 'failed'"
                " UNION ALL"
                " SELECT 'outbox', o.id, o.kind, o.not_before, o.status, o.attempts,"
                " COALESCE(p.ref, p.display_name, '—'), COALESCE(o.last_error, '')"
                " FROM outbox o LEFT JOIN person p ON p.id = o.person_id"
                " WHERE o.status = 'failed'"
                ") ORDER BY at DESC LIMIT ?"
            )
            params = (limit,)
        rows = await self.db.fetchall(sql, params)
        found = []
        for row in rows:
            when = from_db_time(row["at"])
            assert when is not None
            found.append(
                Delivery(
                    row["source"],
                    row["id"],
                    row["kind"],
                    when,
                    row["status"],
                    row["attempts"],
                    row["who"],
                    row["note"],
                )
            )
        return found

    async def totals(self) -> dict[tuple[str, str], int]:
        """(source, status) → count, for the summary line."""
        rows = await self.db.fetchall(
            "SELECT 'schedule', status, COUNT(*) FROM schedule GROUP BY status"
            " UNION ALL SELECT 'outbox', status, COUNT(*) FROM outbox GROUP BY status"
        )
        return {(r[0], r[1]): r[2] for r in rows}
