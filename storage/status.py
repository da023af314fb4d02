"""Read-only figures for the coordinator's and the trio lead's /status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time


@dataclass(frozen=True, slots=True)
class Counts:
    schools: int
    local_authorities: int
    trios: int
    joined: int  # onboarded, still with us
    joining: int  # started with an invite, not finished
    invited: int  # pre-registered, not yet started
    blocked: int
    erased: int
    failed_deliveries: int


@dataclass(frozen=True, slots=True)
class QuietTrio:
    ref: str
    name: str
    members: int
    last_activity: datetime | None


@dataclass(frozen=True, slots=True)
class MemberStatus:
    name: str | None
    school: str | None
    status: str
    is_lead: bool


class StatusRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def counts(self) -> Counts:
        row = await self.db.fetchone(
            "SELECT (SELECT COUNT(*) FROM school) AS schools,"
            " (SELECT COUNT(*) FROM local_authority) AS las,"
            " (SELECT COUNT(*) FROM trio) AS trios,"
            " (SELECT COUNT(*) FROM person WHERE status = 'active') AS joined,"
            " (SELECT COUNT(*) FROM person WHERE status = 'joining') AS joining,"
            " (SELECT COUNT(*) FROM person WHERE status = 'invited') AS invited,"
            " (SELECT COUNT(*) FROM person WHERE status = 'blocked') AS blocked,"
            " (SELECT COUNT(*) FROM person WHERE status = 'erased') AS erased,"
            " (SELECT COUNT(*) FROM outbox WHERE status = 'failed') AS failed"
        )
        assert row is not None
        return Counts(*(int(v) for v in row))

    async def quiet_trios(self, since: datetime) -> list[QuietTrio]:
        """Trios where no member has touched any flow since `since` (or ever)."""
        rows = await self.db.fetchall(
            "SELECT t.ref, t.name, COUNT(DISTINCT m.person_id) AS members,"
            " MAX(f.updated_at) AS last FROM trio t"
            " LEFT JOIN trio_member m ON m.trio_id = t.id"
            " LEFT JOIN flow_state f ON f.person_id = m.person_id"
            " GROUP BY t.id HAVING last IS NULL OR last < ? ORDER BY last, t.ref",
            (to_db_time(since),),
        )
        return [
            QuietTrio(r["ref"], r["name"], int(r["members"]), from_db_time(r["last"])) for r in rows
        ]

    async def members(self, trio_id: int) -> list[MemberStatus]:
        rows = await self.db.fetchall(
            "SELECT p.display_name, s.name AS school, p.status, m.is_lead FROM trio_member m"
            " JOIN person p ON p.id = m.person_id LEFT JOIN school s ON s.id = p.school_id"
            " WHERE m.trio_id = ? AND p.status != 'erased'"
            " ORDER BY m.is_lead DESC, p.display_name",
            (trio_id,),
        )
        return [
            MemberStatus(r["display_name"], r["school"], r["status"], bool(r["is_lead"]))
            for r in rows
        ]
