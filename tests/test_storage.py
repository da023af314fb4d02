"""The database layer: migrations, transactions, permissions."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from storage import meta
from storage.db import Database, utcnow
from storage.people import PeopleRepo
from storage.reflections import ReflectionRepo
from storage.schedule import ScheduleRepo
from storage.schema import migration_scripts
from storage.store import open_store

pytestmark = pytest.mark.both_stores

# A constraint broken, as each store's driver reports it.
INTEGRITY = (sqlite3.IntegrityError, psycopg.IntegrityError)


async def test_migrations_are_recorded_and_applied_once(db_path: Path, store: str) -> None:
    db = await open_store(db_path)
    versions = [row[0] for row in await db.fetchall("SELECT version FROM schema_version")]
    assert versions == [number for number, _, _ in migration_scripts(store)]
    assert await db.migrate() == []
    await db.close()
    again = await open_store(db_path)
    assert await again.migrate() == []
    await again.close()


@pytest.mark.sqlite_only
async def test_wal_and_foreign_keys_are_on(db: Database) -> None:
    assert await db.fetchval("PRAGMA journal_mode") == "wal"
    assert await db.fetchval("PRAGMA foreign_keys") == 1
    assert await db.fetchval("PRAGMA busy_timeout") == 100


@pytest.mark.sqlite_only
def test_database_file_is_owner_only(db: Database, db_path: Path) -> None:
    mode = stat.S_IMODE(os.stat(db_path).st_mode)
    assert mode == 0o600


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="teacher")
            raise RuntimeError("boom")
    assert await db.fetchval("SELECT COUNT(*) FROM person") == 0


async def test_a_reference_to_nothing_is_refused(db: Database, store: str) -> None:
    """Foreign keys hold on both stores (PRAGMA foreign_keys on SQLite; always on
    PostgreSQL, where every transaction also runs at SERIALIZABLE, on UTC)."""
    if store == "postgresql":
        async with db.transaction() as tx:
            assert await tx.fetchval("SHOW transaction_isolation") == "serializable"
            assert await tx.fetchval("SHOW TimeZone") == "UTC"
    with pytest.raises(INTEGRITY):
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=1, school_id=999, role="teacher")
    assert await db.fetchval("SELECT COUNT(*) FROM person") == 0


async def test_constraints_hold(db: Database) -> None:
    with pytest.raises(INTEGRITY):
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="headmaster")  # type: ignore[arg-type]
    with pytest.raises(INTEGRITY):
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=2, school_id=None, role="teacher")
            await PeopleRepo.create(tx, telegram_id=2, school_id=None, role="teacher")
    assert await db.fetchval("SELECT COUNT(*) FROM person") == 0


async def test_person_update_refuses_unknown_fields(db: Database) -> None:
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(tx, telegram_id=7, school_id=None, role="teacher")
    with pytest.raises(ValueError, match="not a person field"):
        async with db.transaction() as tx:
            await PeopleRepo.update(tx, person_id, **{"status = 'erased' --": "x"})


async def test_a_savepoint_undoes_its_part_alone_and_lets_the_error_through(
    db: Database,
) -> None:
    async with db.transaction() as tx:
        kept = await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="teacher")
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await PeopleRepo.create(tx, telegram_id=2, school_id=None, role="teacher")
                raise RuntimeError("this part fails")
        async with tx.savepoint():
            await PeopleRepo.create(tx, telegram_id=3, school_id=None, role="teacher")
    ids = [row[0] for row in await db.fetchall("SELECT telegram_id FROM person ORDER BY id")]
    assert ids == [1, 3]
    assert await PeopleRepo(db).get(kept) is not None


async def test_a_meta_secret_is_made_once_and_kept(db: Database) -> None:
    async with db.transaction() as tx:
        first = await meta.secret_key(tx, "button_key")
        other = await meta.secret_key(tx, "pseudonym_key")
    async with db.transaction() as tx:
        again = await meta.secret_key(tx, "button_key")
    assert first == again and len(first) == 32
    assert other != first


async def test_a_meta_mark_kept_as_text_comes_back_as_the_same_text(db: Database) -> None:
    async with db.transaction() as tx:
        await meta.keep(tx, "demo_seeded", "1")
        await meta.keep(tx, "note", "caf\u00e9 \\x00 50%")
    assert await meta.value(db, "demo_seeded") == "1"
    assert await meta.value(db, "note") == "caf\u00e9 \\x00 50%"
    assert await meta.value(db, "never_kept") is None


async def test_cancelling_by_prefix_leaves_meeting_12_alone_for_meeting_1(db: Database) -> None:
    later = utcnow() + timedelta(days=1)
    async with db.transaction() as tx:
        for key in ("meeting:1:day", "meeting:1:over", "meeting:12:day"):
            await ScheduleRepo.add(tx, "meeting_reminder_day", later, dedupe_key=key)
        await ScheduleRepo.cancel_prefixed(tx, "meeting:1:", "meeting cancelled")
    rows = await db.fetchall("SELECT dedupe_key, status FROM schedule")
    assert dict(tuple(r) for r in rows) == {
        "meeting:1:day": "cancelled",
        "meeting:1:over": "cancelled",
        "meeting:12:day": "pending",
    }


async def test_reflections_come_back_as_frozen_dataclasses(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(tx, telegram_id=5, school_id=None, role="teacher")
        reflection_id = await ReflectionRepo.delivered(
            tx, person_id, "weekly", "2026-W48", now, None
        )
    found = await ReflectionRepo.get(db, reflection_id)
    assert found is not None
    assert (found.person_id, found.prompt, found.period, found.status) == (
        person_id,
        "weekly",
        "2026-W48",
        "delivered",
    )
    assert found.delivered_at is not None and found.nudged_at is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.status = "answered"  # type: ignore[misc]
    async with db.transaction() as tx:
        assert await ReflectionRepo.answered(tx, person_id + 1, reflection_id, '"x"', now) is None
        assert await ReflectionRepo.answered(tx, person_id, reflection_id, '"x"', now) == found
    opened = await ReflectionRepo.latest_open(db, person_id)
    assert opened is None  # answered now
