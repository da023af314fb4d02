"""Invite codes: they fix a newcomer's role, school and trio."""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, Reader, Transaction, from_db_time, to_db_time
from storage.people import Role

# Unambiguous on a phone keyboard and safe in a t.me deep link (A-Z, a-z, 0-9, _ and -).
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12  # 32**12 = 2**60 codes: unguessable by trying.

InviteProblem = Literal["unknown", "expired", "revoked", "used_up"]


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    role: Role
    school_id: int | None
    trio_id: int | None
    person_id: int | None
    max_uses: int
    uses: int
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Invite:
        return cls(
            code=row["code"],
            role=row["role"],
            school_id=row["school_id"],
            trio_id=row["trio_id"],
            person_id=row["person_id"],
            max_uses=row["max_uses"],
            uses=row["uses"],
            expires_at=from_db_time(row["expires_at"]),
            revoked_at=from_db_time(row["revoked_at"]),
        )

    def problem(self, now: datetime) -> InviteProblem | None:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.uses >= self.max_uses:
            return "used_up"
        return None


class InviteRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def normalise(code: str) -> str:
        return code.strip().upper()

    async def get(self, code: str) -> Invite | None:
        return await self.get_in(self.db, code)

    @staticmethod
    async def get_in(q: Reader, code: str) -> Invite | None:
        """`get`, inside a transaction the caller holds."""
        row = await q.fetchone("SELECT * FROM invite WHERE code = ?", (InviteRepo.normalise(code),))
        return None if row is None else Invite.from_row(row)

    @staticmethod
    async def create(
        tx: Transaction,
        *,
        role: Role,
        school_id: int | None = None,
        trio_id: int | None = None,
        person_id: int | None = None,
        max_uses: int = 1,
        expires_at: datetime | None = None,
        code: str | None = None,
        created_by: int | None = None,
    ) -> str:
        code = code or new_code()
        await tx.execute(
            "INSERT INTO invite (code, role, school_id, trio_id, person_id, max_uses,"
            " expires_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                role,
                school_id,
                trio_id,
                person_id,
                max_uses,
                None if expires_at is None else to_db_time(expires_at),
                to_db_time(tx.clock()),
                created_by,
            ),
        )
        return code

    @staticmethod
    async def claim(tx: Transaction, code: str, person_id: int) -> bool:
        """Count one use, atomically refusing a code that has run out meanwhile."""
        counted = await tx.execute(
            "UPDATE invite SET uses = uses + 1 WHERE code = ? AND uses < max_uses"
            " AND revoked_at IS NULL",
            (code,),
        )
        if not counted:
            return False
        await tx.execute(
            "INSERT INTO invite_use (code, person_id, used_at) VALUES (?, ?, ?)",
            (code, person_id, to_db_time(tx.clock())),
        )
        return True

    @staticmethod
    async def revoke(tx: Transaction, code: str) -> bool:
        return bool(
            await tx.execute(
                "UPDATE invite SET revoked_at = ? WHERE code = ? AND revoked_at IS NULL",
                (to_db_time(tx.clock()), code),
            )
        )

    @staticmethod
    async def with_uses_left(q: Reader, prefix: str) -> list[Invite]:
        """The invites whose code begins with `prefix` and that have uses left, oldest first
        (revocation and expiry are not looked at: the demo's codes have neither)."""
        rows = await q.fetchall(
            "SELECT * FROM invite WHERE code LIKE ? AND uses < max_uses ORDER BY created_at, code",
            (f"{prefix}%",),
        )
        return [Invite.from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class InviteLine:
    """One invite as the coordinator's listing shows it, with references, not ids."""

    code: str
    role: Role
    school: str | None
    trio: str | None
    person: str | None
    uses: int
    max_uses: int
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class Uninvited:
    """A pre-registered person without an invite they could still use."""

    person_id: int
    ref: str
    name: str | None
    school_id: int | None
    school: str | None
    roles: tuple[Role, ...]
    email: str | None = None
    trios: tuple[str, ...] = ()  # their trios' names, school trio first
    trio_refs: tuple[str, ...] = ()  # the same trios' roster references


class InviteAdminRepo:
    """The coordinator's queries over invites (the command line)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def listing(self, now: datetime, *, everything: bool = False) -> list[InviteLine]:
        rows = await self.db.fetchall(
            "SELECT i.*, s.ref AS school, t.ref AS trio, p.ref AS person FROM invite i"
            " LEFT JOIN school s ON s.id = i.school_id LEFT JOIN trio t ON t.id = i.trio_id"
            " LEFT JOIN person p ON p.id = i.person_id"
            " WHERE :everything = 1 OR (i.revoked_at IS NULL AND i.uses < i.max_uses"
            " AND (i.expires_at IS NULL OR i.expires_at > :now))"
            " ORDER BY i.created_at, i.code",
            {"now": to_db_time(now), "everything": int(everything)},
        )
        return [
            InviteLine(
                r["code"],
                r["role"],
                r["school"],
                r["trio"],
                r["person"],
                r["uses"],
                r["max_uses"],
                from_db_time(r["expires_at"]),
                from_db_time(r["revoked_at"]),
                from_db_time(r["created_at"]),
            )
            for r in rows
        ]

    @staticmethod
    async def uninvited(tx: Transaction, now: datetime) -> list[Uninvited]:
        rows = await tx.fetchall(
            "SELECT p.id, p.ref, p.display_name, p.school_id, s.name AS school,"
            " (SELECT group_concat(role) FROM person_role r WHERE r.person_id = p.id) AS roles,"
            " p.email, (SELECT json_group_array(json_array(ref, name)) FROM (SELECT t.ref, t.name"
            "  FROM trio_member m JOIN trio t ON t.id = m.trio_id WHERE m.person_id = p.id"
            "  ORDER BY t.kind, t.ref) AS mine) AS trios"
            " FROM person p LEFT JOIN school s ON s.id = p.school_id"
            " WHERE p.status = 'invited' AND p.telegram_id IS NULL AND p.ref IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM invite i WHERE i.person_id = p.id"
            " AND i.revoked_at IS NULL AND i.uses < i.max_uses"
            " AND (i.expires_at IS NULL OR i.expires_at > ?))"
            " ORDER BY p.ref",
            (to_db_time(now),),
        )
        found = []
        for r in rows:
            trios = json.loads(r["trios"]) if r["trios"] else []
            found.append(
                Uninvited(
                    r["id"],
                    r["ref"],
                    r["display_name"],
                    r["school_id"],
                    r["school"],
                    tuple(sorted(str(r["roles"]).split(","))) if r["roles"] else (),  # type: ignore[arg-type]
                    r["email"],
                    tuple(str(name) for _, name in trios),
                    tuple(str(ref) for ref, _ in trios),
                )
            )
        return found

    async def trio_choices(
        self, trio_ids: list[int] | None, *, limit: int = 8
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
        """Trios to offer as buttons ((ref, name), for these ids or, if few, all) and each
        one's schools ((ref, name)). Empty when there are too many to offer as buttons."""
        if trio_ids is None:
            rows = await self.db.fetchall(
                "SELECT id, ref, name FROM trio ORDER BY ref LIMIT ?", (limit + 1,)
            )
        else:
            marks = ",".join("?" * len(trio_ids))
            rows = await self.db.fetchall(
                f"SELECT id, ref, name FROM trio WHERE id IN ({marks}) ORDER BY ref",  # noqa: S608
                trio_ids,
            )
        if len(rows) > limit:
            return [], {}
        schools: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            found = await self.db.fetchall(
                "SELECT s.ref, s.name FROM trio_school ts JOIN school s ON s.id = ts.school_id"
                " WHERE ts.trio_id = ? ORDER BY s.ref",
                (row["id"],),
            )
            schools[row["ref"]] = [(r["ref"], r["name"]) for r in found]
        return [(r["ref"], r["name"]) for r in rows], schools
