"""Read-only figures for the coordinator's and the trio lead's /status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    """A trio with no activity since a given time; `last_activity` None: never any."""

    ref: str
    name: str
    members: int
    last_activity: datetime | None
    joined: int = 0  # members who have finished joining


@dataclass(frozen=True, slots=True)
class NotJoined:
    """Someone on the roster (or part-way through joining) who has not finished joining,
    with their newest personal invite and when they first used a code, if they did."""

    ref: str | None
    name: str | None
    status: str  # invited (pre-registered) or joining (started, not finished)
    school: str | None
    trios: tuple[str, ...]  # roster references, school trio first
    invited_at: datetime | None
    invite_expires: datetime | None
    invite_revoked: datetime | None
    code_used_at: datetime | None
    code_used: str | None = None  # the first code they started with


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
            " COUNT(DISTINCT CASE WHEN p.status = 'active' THEN p.id END) AS joined,"
            " MAX(f.updated_at) AS last FROM trio t"
            " LEFT JOIN trio_member m ON m.trio_id = t.id"
            " LEFT JOIN person p ON p.id = m.person_id"
            " LEFT JOIN flow_state f ON f.person_id = m.person_id"
            " GROUP BY t.id HAVING MAX(f.updated_at) IS NULL OR MAX(f.updated_at) < ?"
            " ORDER BY last NULLS FIRST, t.ref",
            (to_db_time(since),),
        )
        return [
            QuietTrio(
                r["ref"], r["name"], int(r["members"]), from_db_time(r["last"]), int(r["joined"])
            )
            for r in rows
        ]

    async def not_joined(self) -> list[NotJoined]:
        """Everyone pre-registered or part-way through joining, by school and reference."""
        # One row per person and trio, their trios gathered here (both stores alike).
        rows = await self.db.fetchall(
            "SELECT p.id, p.ref, p.display_name, p.status, s.name AS school, t.ref AS trio,"
            " i.created_at AS invited_at, i.expires_at, i.revoked_at,"
            " u.used_at, u.code AS used_code"
            " FROM person p LEFT JOIN school s ON s.id = p.school_id"
            # Their newest personal invite, if they have one.
            " LEFT JOIN invite i ON i.code = (SELECT n.code FROM invite n"
            "  WHERE n.person_id = p.id ORDER BY n.created_at DESC, n.code LIMIT 1)"
            # The first code they used, if they used one.
            " LEFT JOIN invite_use u ON u.person_id = p.id AND u.code = (SELECT f.code"
            "  FROM invite_use f WHERE f.person_id = p.id ORDER BY f.used_at, f.code LIMIT 1)"
            " LEFT JOIN trio_member m ON m.person_id = p.id LEFT JOIN trio t ON t.id = m.trio_id"
            " WHERE p.status IN ('invited', 'joining')"
            " ORDER BY s.name IS NULL, s.name, p.ref IS NULL, p.ref, p.id, t.kind, t.ref"
        )
        trios: dict[int, list[str]] = {}
        first: dict[int, Any] = {}
        for r in rows:
            first.setdefault(r["id"], r)
            found = trios.setdefault(r["id"], [])
            if r["trio"] is not None:
                found.append(r["trio"])
        return [
            NotJoined(
                r["ref"],
                r["display_name"],
                r["status"],
                r["school"],
                tuple(trios[person]),
                from_db_time(r["invited_at"]),
                from_db_time(r["expires_at"]),
                from_db_time(r["revoked_at"]),
                from_db_time(r["used_at"]),
                r["used_code"],
            )
            for person, r in first.items()
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
