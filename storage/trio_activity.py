"""What a trio lead's /status shows from the schedule: what is coming, who has been answering."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time


@dataclass(frozen=True, slots=True)
class Upcoming:
    kind: str
    due_at: datetime
    person: str | None  # None: for the whole trio
    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class Responses:
    """Reflection prompts delivered to the trio's members, and how many were answered."""

    period: str
    asked: int
    answered: int
    skipped: int

    @property
    def rate(self) -> float | None:
        return None if self.asked == 0 else self.answered / self.asked


class TrioActivityRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upcoming(self, trio_id: int, now: datetime, limit: int = 8) -> list[Upcoming]:
        """Pending schedule rows for the trio or any of its members, soonest first."""
        rows = await self.db.fetchall(
            "SELECT s.kind, s.due_at, s.payload, p.display_name FROM schedule s"
            " LEFT JOIN person p ON p.id = s.person_id"
            " WHERE s.status = 'pending' AND s.due_at >= ? AND (s.trio_id = ? OR s.person_id IN"
            " (SELECT person_id FROM trio_member WHERE trio_id = ?))"
            " ORDER BY s.due_at LIMIT ?",
            (to_db_time(now), trio_id, trio_id, limit),
        )
        found = []
        for row in rows:
            due = from_db_time(row["due_at"])
            assert due is not None
            found.append(
                Upcoming(row["kind"], due, row["display_name"], json.loads(row["payload"]))
            )
        return found

    async def responses(self, trio_id: int, periods: int = 4) -> list[Responses]:
        """The last `periods` prompt periods with anything asked, newest first."""
        rows = await self.db.fetchall(
            "SELECT r.period, COUNT(*) AS asked,"
            " SUM(CASE WHEN r.status = 'answered' THEN 1 ELSE 0 END) AS answered,"
            " SUM(CASE WHEN r.status = 'skipped' THEN 1 ELSE 0 END) AS skipped"
            " FROM reflection r JOIN trio_member m ON m.person_id = r.person_id"
            " WHERE m.trio_id = ? AND r.prompt != 'free'"
            " GROUP BY r.period ORDER BY r.period DESC LIMIT ?",
            (trio_id, periods),
        )
        return [
            Responses(r["period"], int(r["asked"]), int(r["answered"]), int(r["skipped"]))
            for r in rows
        ]
