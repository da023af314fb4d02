"""Invite codes: they fix a newcomer's role, school and trio."""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, Transaction, from_db_time, to_db_time, utcnow
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
        row = await self.db.fetchone("SELECT * FROM invite WHERE code = ?", (self.normalise(code),))
        return None if row is None else Invite.from_row(row)

    async def used_by(self, code: str, person_id: int) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM invite_use WHERE code = ? AND person_id = ?",
            (self.normalise(code), person_id),
        )
        return found is not None

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
    ) -> str:
        code = code or new_code()
        await tx.execute(
            "INSERT INTO invite (code, role, school_id, trio_id, person_id, max_uses,"
            " expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                role,
                school_id,
                trio_id,
                person_id,
                max_uses,
                None if expires_at is None else to_db_time(expires_at),
                to_db_time(utcnow()),
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
            (code, person_id, to_db_time(utcnow())),
        )
        return True

    @staticmethod
    async def revoke(tx: Transaction, code: str) -> bool:
        return bool(
            await tx.execute(
                "UPDATE invite SET revoked_at = ? WHERE code = ? AND revoked_at IS NULL",
                (to_db_time(utcnow()), code),
            )
        )
