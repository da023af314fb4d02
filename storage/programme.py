"""Local authorities, schools and trios: the programme's structure."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from storage.db import Database, Reader, Transaction, to_db_time

TrioKind = Literal["schools", "teachers"]


@dataclass(frozen=True, slots=True)
class School:
    id: int
    ref: str
    name: str
    local_authority: str
    phase: str
    pupils: int | None
    fsm_pct: float | None
    prior_attainment: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> School:
        return cls(
            id=row["id"],
            ref=row["ref"],
            name=row["name"],
            local_authority=row["local_authority"],
            phase=row["phase"],
            pupils=row["pupils"],
            fsm_pct=row["fsm_pct"],
            prior_attainment=row["prior_attainment"],
        )


@dataclass(frozen=True, slots=True)
class Trio:
    id: int
    ref: str
    kind: TrioKind
    name: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Trio:
        return cls(id=row["id"], ref=row["ref"], kind=row["kind"], name=row["name"])


@dataclass(frozen=True, slots=True)
class Membership:
    trio: Trio
    is_lead: bool


_SCHOOL_SELECT = (
    "SELECT s.*, la.name AS local_authority FROM school s"
    " JOIN local_authority la ON la.id = s.local_authority_id"
)


class ProgrammeRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def school(self, school_id: int) -> School | None:
        row = await self.db.fetchone(f"{_SCHOOL_SELECT} WHERE s.id = ?", (school_id,))
        return None if row is None else School.from_row(row)

    async def schools(self) -> list[School]:
        rows = await self.db.fetchall(f"{_SCHOOL_SELECT} ORDER BY s.ref")
        return [School.from_row(row) for row in rows]

    async def trio(self, trio_id: int) -> Trio | None:
        row = await self.db.fetchone("SELECT * FROM trio WHERE id = ?", (trio_id,))
        return None if row is None else Trio.from_row(row)

    async def memberships(self, person_id: int) -> list[Membership]:
        rows = await self.db.fetchall(
            "SELECT t.*, m.is_lead FROM trio_member m JOIN trio t ON t.id = m.trio_id"
            " WHERE m.person_id = ? ORDER BY t.ref",
            (person_id,),
        )
        return [Membership(Trio.from_row(row), bool(row["is_lead"])) for row in rows]

    @staticmethod
    async def school_name(q: Reader, school_id: int) -> str | None:
        name = await q.fetchval("SELECT name FROM school WHERE id = ?", (school_id,))
        return None if name is None else str(name)

    @staticmethod
    async def trio_name(q: Reader, trio_id: int) -> str | None:
        name = await q.fetchval("SELECT name FROM trio WHERE id = ?", (trio_id,))
        return None if name is None else str(name)

    @staticmethod
    async def school_id(q: Reader, ref: str) -> int | None:
        """The school with this roster reference, if there is one."""
        row = await q.fetchone("SELECT id FROM school WHERE ref = ?", (ref,))
        return None if row is None else int(row[0])

    @staticmethod
    async def upsert_local_authority(tx: Transaction, name: str) -> int:
        await tx.execute(
            "INSERT INTO local_authority (name) VALUES (?) ON CONFLICT DO NOTHING", (name,)
        )
        la_id = await tx.fetchval("SELECT id FROM local_authority WHERE name = ?", (name,))
        return int(la_id)

    @staticmethod
    async def upsert_school(
        tx: Transaction,
        *,
        ref: str,
        name: str,
        local_authority: str,
        phase: str,
        pupils: int | None = None,
        fsm_pct: float | None = None,
        prior_attainment: float | None = None,
    ) -> int:
        la_id = await ProgrammeRepo.upsert_local_authority(tx, local_authority)
        await tx.execute(
            "INSERT INTO school (ref, name, local_authority_id, phase, pupils, fsm_pct,"
            " prior_attainment) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(ref) DO UPDATE SET name = excluded.name,"
            " local_authority_id = excluded.local_authority_id, phase = excluded.phase,"
            " pupils = excluded.pupils, fsm_pct = excluded.fsm_pct,"
            " prior_attainment = excluded.prior_attainment",
            (ref, name, la_id, phase, pupils, fsm_pct, prior_attainment),
        )
        return int(await tx.fetchval("SELECT id FROM school WHERE ref = ?", (ref,)))

    @staticmethod
    async def upsert_trio(tx: Transaction, *, ref: str, kind: TrioKind, name: str) -> int:
        await tx.execute(
            "INSERT INTO trio (ref, kind, name, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(ref) DO UPDATE SET kind = excluded.kind, name = excluded.name",
            (ref, kind, name, to_db_time(tx.clock())),
        )
        return int(await tx.fetchval("SELECT id FROM trio WHERE ref = ?", (ref,)))

    @staticmethod
    async def add_trio_school(tx: Transaction, trio_id: int, school_id: int) -> None:
        await tx.execute(
            "INSERT INTO trio_school (trio_id, school_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (trio_id, school_id),
        )

    @staticmethod
    async def add_member(tx: Transaction, trio_id: int, person_id: int, *, lead: bool) -> None:
        await tx.execute(
            "INSERT INTO trio_member (trio_id, person_id, is_lead, joined_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(trio_id, person_id)"
            " DO UPDATE SET is_lead = CASE WHEN excluded.is_lead > trio_member.is_lead"
            "  THEN excluded.is_lead ELSE trio_member.is_lead END",
            (trio_id, person_id, int(lead), to_db_time(tx.clock())),
        )
