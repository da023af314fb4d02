"""People, their roles and their consent records."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, Reader, Transaction, from_db_time, to_db_time

Role = Literal["teacher", "trio_lead", "researcher", "coordinator"]
ROLES: tuple[Role, ...] = ("teacher", "trio_lead", "researcher", "coordinator")
PersonStatus = Literal["invited", "joining", "active", "blocked", "erased"]
SETTABLE = frozenset(
    {
        "display_name",
        "language",
        "time_zone",
        "quiet_start",
        "quiet_end",
        "reminder_time",
        "away_until",
        "digest_choice",
    }
)
# Every column `PeopleRepo.update` may set. The SQL it builds splices names from this tuple
# only (never a caller's keyword), so no text from a person or a CSV can reach the statement.
_UPDATABLE = (*sorted(SETTABLE), "status", "telegram_id", "school_id")


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    ref: str | None
    telegram_id: int | None
    display_name: str | None
    language: str | None
    time_zone: str | None
    quiet_start: str
    quiet_end: str
    reminder_time: str
    school_id: int | None
    status: PersonStatus
    onboarded_at: datetime | None
    away_until: str | None = None  # a local date: nothing scheduled reaches them before it
    # The weekly shared digest: True / False as they chose in /settings, None if they never
    # chose (then their roles decide: storage/digests.py DIGEST_BY_DEFAULT; migration 0011).
    digest_choice: bool | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Person:
        return cls(
            id=row["id"],
            ref=row["ref"],
            telegram_id=row["telegram_id"],
            display_name=row["display_name"],
            language=row["language"],
            time_zone=row["time_zone"],
            quiet_start=row["quiet_start"],
            quiet_end=row["quiet_end"],
            reminder_time=row["reminder_time"],
            school_id=row["school_id"],
            status=row["status"],
            onboarded_at=from_db_time(row["onboarded_at"]),
            away_until=row["away_until"],
            digest_choice=None if row["digest_choice"] is None else row["digest_choice"] == "on",
        )

    @property
    def onboarded(self) -> bool:
        return self.onboarded_at is not None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    given: bool
    version: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Grants:
    """What the permission table looks at for one person: their roles, and their trios as
    {trio_id: is_lead} (a lead's rights hold only in a trio they lead)."""

    roles: frozenset[Role]
    trios: Mapping[int, bool]


class PeopleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_telegram_id(self, telegram_id: int) -> Person | None:
        return await self.by_telegram_id_in(self.db, telegram_id)

    @staticmethod
    async def by_telegram_id_in(q: Reader, telegram_id: int) -> Person | None:
        """`by_telegram_id`, inside a transaction the caller holds."""
        row = await q.fetchone("SELECT * FROM person WHERE telegram_id = ?", (telegram_id,))
        return None if row is None else Person.from_row(row)

    async def by_ref(self, ref: str) -> Person | None:
        """The person with this roster reference."""
        row = await self.db.fetchone("SELECT * FROM person WHERE ref = ?", (ref,))
        return None if row is None else Person.from_row(row)

    async def get(self, person_id: int) -> Person | None:
        row = await self.db.fetchone("SELECT * FROM person WHERE id = ?", (person_id,))
        return None if row is None else Person.from_row(row)

    @staticmethod
    async def get_in(tx: Transaction, person_id: int) -> Person | None:
        """`get`, inside a transaction the caller holds."""
        row = await tx.fetchone("SELECT * FROM person WHERE id = ?", (person_id,))
        return None if row is None else Person.from_row(row)

    async def with_roles(self, telegram_id: int) -> tuple[Person, frozenset[Role]] | None:
        """The person and their roles in one query: this runs on every update."""
        row = await self.db.fetchone(
            "SELECT p.*, (SELECT group_concat(role) FROM person_role r WHERE r.person_id = p.id)"
            " AS roles FROM person p WHERE p.telegram_id = ?",
            (telegram_id,),
        )
        if row is None:
            return None
        roles = frozenset((row["roles"] or "").split(",")) - {""}
        return Person.from_row(row), roles

    @staticmethod
    async def grants(q: Reader, person_id: int) -> Grants:
        """Read afresh, in the caller's transaction if it holds one: roles and trios may
        have changed since the update (or the flow) began."""
        # One row, one read (a few roles and trios each, comma-separated: "3:1,5:0").
        row = await q.fetchone(
            "SELECT (SELECT group_concat(role) FROM person_role WHERE person_id = ?),"
            " (SELECT group_concat(trio_id || ':' || is_lead) FROM trio_member"
            " WHERE person_id = ?)",
            (person_id, person_id),
        )
        roles, trios = (row[0], row[1]) if row is not None else (None, None)
        pairs = (pair.split(":") for pair in (trios or "").split(",") if pair)
        return Grants(
            roles=frozenset((roles or "").split(",")) - {""},
            trios={int(trio): lead == "1" for trio, lead in pairs},
        )

    async def consent(self, person_id: int) -> ConsentRecord | None:
        row = await self.db.fetchone(
            "SELECT given, version, recorded_at FROM consent WHERE person_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (person_id,),
        )
        if row is None:
            return None
        recorded = from_db_time(row["recorded_at"])
        assert recorded is not None
        return ConsentRecord(bool(row["given"]), row["version"], recorded)

    @staticmethod
    async def create(
        tx: Transaction,
        *,
        telegram_id: int | None,
        school_id: int | None,
        role: Role,
        ref: str | None = None,
        display_name: str | None = None,
        status: PersonStatus = "joining",
    ) -> int:
        now = to_db_time(tx.clock())
        person_id = await tx.execute(
            "INSERT INTO person (ref, telegram_id, display_name, school_id, status,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ref, telegram_id, display_name, school_id, status, now, now),
        )
        await PeopleRepo.add_role(tx, person_id, role)
        return person_id

    @staticmethod
    async def add_role(tx: Transaction, person_id: int, role: Role) -> None:
        await tx.execute(
            # ON CONFLICT, not OR IGNORE: OR IGNORE would also swallow a CHECK violation.
            "INSERT INTO person_role (person_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (person_id, role),
        )

    @staticmethod
    async def update(tx: Transaction, person_id: int, **fields: str | int | None) -> None:
        """Change settable fields; the names are checked against a fixed list, never spliced."""
        unknown = set(fields) - set(_UPDATABLE)
        if unknown:
            raise ValueError(f"not a person field: {sorted(unknown)}")
        # Column names come from the constant _UPDATABLE, values travel as parameters.
        columns = [column for column in _UPDATABLE if column in fields]
        assignments = "".join(f"{column} = ?, " for column in columns)
        await tx.execute(
            f"UPDATE person SET {assignments}updated_at = ? WHERE id = ?",  # noqa: S608
            (*(fields[column] for column in columns), to_db_time(tx.clock()), person_id),
        )

    @staticmethod
    async def mark_onboarded(tx: Transaction, person_id: int) -> None:
        now = to_db_time(tx.clock())
        await tx.execute(
            "UPDATE person SET status = 'active', onboarded_at = COALESCE(onboarded_at, ?),"
            " updated_at = ? WHERE id = ?",
            (now, now, person_id),
        )

    @staticmethod
    async def record_consent(tx: Transaction, person_id: int, *, given: bool, version: str) -> None:
        await tx.execute(
            "INSERT INTO consent (person_id, given, version, recorded_at) VALUES (?, ?, ?, ?)",
            (person_id, int(given), version, to_db_time(tx.clock())),
        )

    @staticmethod
    async def set_status(tx: Transaction, person_id: int, status: PersonStatus) -> None:
        await tx.execute(
            "UPDATE person SET status = ?, updated_at = ? WHERE id = ?",
            (status, to_db_time(tx.clock()), person_id),
        )
