"""Writes for the roster import: upserts keyed on the roster's own references.

Each write changes a row only when a value differs, so importing the same file twice changes
nothing (not even a timestamp). Callers hold one transaction for a whole file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from storage.db import Transaction, to_db_time
from storage.people import Role
from storage.programme import ProgrammeRepo, TrioKind
from storage.trio_membership import Leaver, Left, leave_trio, members_from_schools, members_not_in


@dataclass(frozen=True, slots=True)
class KnownSchool:
    id: int
    local_authority: str


@dataclass(frozen=True, slots=True)
class KnownTrio:
    id: int
    kind: TrioKind
    schools: tuple[str, ...] = ()  # a school trio's schools, by reference


@dataclass(frozen=True, slots=True)
class PersonWrite:
    """What `upsert_person` wrote, for the import's list of changes."""

    person_id: int
    created: bool
    renamed: bool
    school_moved: bool
    roles_added: tuple[Role, ...]

    @property
    def changed(self) -> bool:
        return self.created or self.renamed or self.school_moved or bool(self.roles_added)


@dataclass(frozen=True, slots=True)
class KnownPerson:
    id: int
    status: str
    school_id: int | None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Departure:
    """A member a trio file took out of a trio, and what that cancelled for them."""

    leaver: Leaver
    left: Left


@dataclass(frozen=True, slots=True)
class Known:
    """What the database already holds, by roster reference: read once per import."""

    schools: dict[str, KnownSchool]
    trios: dict[str, KnownTrio]
    people: dict[str, KnownPerson]


async def _changed(tx: Transaction, sql: str, params: tuple[object, ...]) -> bool:
    """Run a write and say whether it changed a row. (lastrowid cannot tell: it is the
    connection's last insert, even when this INSERT … ON CONFLICT did nothing.)"""
    if tx.dialect == "postgresql":
        # The written row's id (RETURNING), or the rowcount: 0 when nothing changed.
        return bool(await tx.execute(sql, params))
    await tx.execute(sql, params)
    return bool(await tx.fetchval("SELECT changes()"))


async def known(tx: Transaction) -> Known:
    schools = {
        r["ref"]: KnownSchool(r["id"], r["la"])
        for r in await tx.fetchall(
            "SELECT s.id, s.ref, la.name AS la FROM school s"
            " JOIN local_authority la ON la.id = s.local_authority_id"
        )
    }
    trios = {
        r["ref"]: KnownTrio(r["id"], r["kind"], tuple(sorted(json.loads(r["schools"]))))
        for r in await tx.fetchall(
            "SELECT t.id, t.ref, t.kind, (SELECT json_group_array(s.ref) FROM trio_school ts"
            " JOIN school s ON s.id = ts.school_id WHERE ts.trio_id = t.id) AS schools"
            " FROM trio t"
        )
    }
    people = {
        r["ref"]: KnownPerson(r["id"], r["status"], r["school_id"], r["email"])
        for r in await tx.fetchall(
            "SELECT id, ref, status, school_id, email FROM person WHERE ref IS NOT NULL"
        )
    }
    return Known(schools, trios, people)


async def upsert_school(
    tx: Transaction,
    *,
    ref: str,
    name: str,
    local_authority: str,
    phase: str,
    pupils: int | None,
    fsm_pct: float | None,
    prior_attainment: float | None,
) -> bool:
    """True if anything was written."""
    la_id = await ProgrammeRepo.upsert_local_authority(tx, local_authority)
    return await _changed(
        tx,
        "INSERT INTO school (ref, name, local_authority_id, phase, pupils, fsm_pct,"
        " prior_attainment) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(ref) DO UPDATE SET name = excluded.name,"
        " local_authority_id = excluded.local_authority_id, phase = excluded.phase,"
        " pupils = excluded.pupils, fsm_pct = excluded.fsm_pct,"
        " prior_attainment = excluded.prior_attainment"
        # IS DISTINCT FROM: SQLite's `IS NOT` (NULL-aware), in words both stores take.
        " WHERE school.name IS DISTINCT FROM excluded.name"
        " OR school.local_authority_id IS DISTINCT FROM excluded.local_authority_id"
        " OR school.phase IS DISTINCT FROM excluded.phase"
        " OR school.pupils IS DISTINCT FROM excluded.pupils"
        " OR school.fsm_pct IS DISTINCT FROM excluded.fsm_pct"
        " OR school.prior_attainment IS DISTINCT FROM excluded.prior_attainment",
        (ref, name, la_id, phase, pupils, fsm_pct, prior_attainment),
    )


async def upsert_trio(tx: Transaction, *, ref: str, kind: TrioKind) -> int:
    """The trio's id; a new trio is named by its reference until someone names it."""
    await tx.execute(
        "INSERT INTO trio (ref, kind, name, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(ref) DO NOTHING",
        (ref, kind, ref, to_db_time(tx.clock())),
    )
    return int(await tx.fetchval("SELECT id FROM trio WHERE ref = ?", (ref,)))


async def set_trio_schools(
    tx: Transaction, trio_id: int, school_ids: list[int], *, now: datetime, reason: str
) -> tuple[int, list[Departure]]:
    """Make the trio's schools exactly these: how many rows changed, and the members who
    left with a school that is no longer in it (storage/trio_membership.py says how)."""
    before = {
        int(r[0])
        for r in await tx.fetchall(
            "SELECT school_id FROM trio_school WHERE trio_id = ?", (trio_id,)
        )
    }
    marks = ",".join("?" * len(school_ids))
    removed = await tx.execute(
        f"DELETE FROM trio_school WHERE trio_id = ? AND school_id NOT IN ({marks})",  # noqa: S608
        (trio_id, *school_ids),
    )
    added = 0
    for school_id in school_ids:
        added += await _changed(
            tx,
            "INSERT INTO trio_school (trio_id, school_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (trio_id, school_id),
        )
    gone = sorted(before - set(school_ids))
    departures = [
        Departure(leaver, await leave_trio(tx, leaver.person_id, trio_id, now, reason))
        for leaver in await members_from_schools(tx, trio_id, gone)
    ]
    return removed + added, departures


async def set_trio_members(
    tx: Transaction, trio_id: int, person_ids: list[int], *, now: datetime, reason: str
) -> tuple[int, list[Departure]]:
    """Make a teacher trio's members exactly these people: how many rows changed, and who
    left (with everything of the trio's still pending for them)."""
    departures = [
        Departure(leaver, await leave_trio(tx, leaver.person_id, trio_id, now, reason))
        for leaver in await members_not_in(tx, trio_id, person_ids)
    ]
    added = 0
    for person_id in person_ids:
        added += await add_member(tx, trio_id, person_id, lead=False)
    return len(departures) + added, departures


async def add_member(tx: Transaction, trio_id: int, person_id: int, *, lead: bool) -> int:
    before = await tx.fetchval(
        "SELECT is_lead FROM trio_member WHERE trio_id = ? AND person_id = ?",
        (trio_id, person_id),
    )
    if before is not None and (bool(before) or not lead):
        return 0
    await ProgrammeRepo.add_member(tx, trio_id, person_id, lead=lead)
    return 1


async def upsert_person(
    tx: Transaction,
    *,
    ref: str,
    name: str,
    school_id: int | None,
    roles: tuple[Role, ...],
    existing: KnownPerson | None,
) -> PersonWrite:
    """Create or update one person; a pre-registered person is `invited`.

    Someone who has already joined keeps the name they chose; the roster still moves their
    school and adds roles (it never removes one: that is a decision, not an import).
    """
    now = to_db_time(tx.clock())
    renamed = moved = False
    if existing is None:
        person_id = await tx.execute(
            "INSERT INTO person (ref, telegram_id, display_name, school_id, status,"
            " created_at, updated_at) VALUES (?, NULL, ?, ?, 'invited', ?, ?)",
            (ref, name, school_id, now, now),
        )
    else:
        person_id = existing.id
        moved = existing.school_id != school_id
        if existing.status == "invited":
            renamed = bool(
                await tx.execute(
                    "UPDATE person SET display_name = ?, updated_at = ?"
                    " WHERE id = ? AND display_name IS DISTINCT FROM ?",
                    (name, now, person_id, name),
                )
            )
        if moved:
            await tx.execute(
                "UPDATE person SET school_id = ?, updated_at = ? WHERE id = ?",
                (school_id, now, person_id),
            )
    added: list[Role] = []
    for role in roles:
        if await _changed(
            tx,
            "INSERT INTO person_role (person_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (person_id, role),
        ):
            added.append(role)
    return PersonWrite(person_id, existing is None, renamed, moved, tuple(added))


async def set_email(tx: Transaction, person_id: int, email: str | None) -> bool:
    """The people file's address for them (None: the file leaves the cell empty)."""
    return bool(
        await tx.execute(
            "UPDATE person SET email = ? WHERE id = ? AND email IS DISTINCT FROM ?",
            (email, person_id, email),
        )
    )
