"""SQLite's `synchronous` setting, chosen by TRIOBOT_DB_SYNCHRONOUS, and the write path it
changes: each answer committed before the reply, whichever is chosen, and a write that meets
another connection's lock still waits for it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.config import Settings
from storage.db import Database
from storage.people import PeopleRepo


@pytest.mark.parametrize(("setting", "level"), [("FULL", 2), ("NORMAL", 1)])
async def test_each_setting_is_applied_and_a_commit_is_seen_by_another_connection(
    db_path: Path, setting: str, level: int
) -> None:
    db = await Database.open(db_path, synchronous=setting)  # type: ignore[arg-type]
    try:
        assert await db.fetchval("PRAGMA synchronous") == level
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=42, school_id=None, role="teacher")
        # The moment transaction() returns, another reader sees the row: it is committed.
        other = sqlite3.connect(db_path)
        try:
            count = other.execute("SELECT COUNT(*) FROM person WHERE telegram_id = 42")
            assert count.fetchone()[0] == 1
        finally:
            other.close()
    finally:
        await db.close()


async def test_an_unknown_setting_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        await Database.open(db_path, synchronous="OFF")  # type: ignore[arg-type]


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIOBOT_DB_SYNCHRONOUS", raising=False)
    assert Settings(_env_file=None).db_synchronous == "NORMAL"  # type: ignore[call-arg]
    monkeypatch.setenv("TRIOBOT_DB_SYNCHRONOUS", "FULL")
    assert Settings(_env_file=None).db_synchronous == "FULL"  # type: ignore[call-arg]
    monkeypatch.setenv("TRIOBOT_DB_SYNCHRONOUS", "OFF")
    with pytest.raises(ValueError):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("setting", ["FULL", "NORMAL"])
async def test_a_write_waits_for_another_connections_lock_and_then_commits(
    db_path: Path, locker: sqlite3.Connection, setting: str
) -> None:
    """BEGIN is tried directly first; held elsewhere, it waits on aiosqlite's thread, the
    event loop free meanwhile, and goes through once the lock is let go."""
    db = await Database.open(db_path, synchronous=setting)  # type: ignore[arg-type]
    try:
        locker.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.4, locker.rollback)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(tick())
        async with db.transaction() as tx:
            await PeopleRepo.create(tx, telegram_id=7, school_id=None, role="teacher")
        ticking.cancel()
        assert ticks >= 20  # the loop ran on while the write waited ~0.4 s
        assert await db.fetchval("SELECT COUNT(*) FROM person WHERE telegram_id = 7") == 1
        assert await db.fetchval("PRAGMA busy_timeout") == 100  # left as it was
    finally:
        await db.close()
