"""The database layer: migrations, transactions, permissions."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from storage.db import Database, migration_scripts
from storage.people import PeopleRepo


async def test_migrations_are_recorded_and_applied_once(db_path: Path) -> None:
    db = await Database.open(db_path)
    versions = [row[0] for row in await db.fetchall("SELECT version FROM schema_version")]
    assert versions == [number for number, _, _ in migration_scripts()]
    assert await db.migrate() == []
    await db.close()
    again = await Database.open(db_path)
    assert await again.migrate() == []
    await again.close()


async def test_wal_and_foreign_keys_are_on(db: Database) -> None:
    assert await db.fetchval("PRAGMA journal_mode") == "wal"
    assert await db.fetchval("PRAGMA foreign_keys") == 1
    assert await db.fetchval("PRAGMA busy_timeout") == 100


def test_database_file_is_owner_only(db: Database, db_path: Path) -> None:
    mode = stat.S_IMODE(os.stat(db_path).st_mode)
    assert mode == 0o600


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="teacher")
            raise RuntimeError("boom")
    assert await db.fetchval("SELECT COUNT(*) FROM person") == 0


async def test_constraints_hold(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="headmaster")  # type: ignore[arg-type]


async def test_person_update_refuses_unknown_fields(db: Database) -> None:
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(tx, telegram_id=7, school_id=None, role="teacher")
    with pytest.raises(ValueError, match="not a person field"):
        async with db.transaction() as tx:
            await PeopleRepo.update(tx, person_id, **{"status = 'erased' --": "x"})
