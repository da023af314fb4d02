"""Look at a whole database file from outside the bot: every table, every column."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

Snapshot = dict[str, list[tuple[Any, ...]]]


def tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows]


async def _on_postgres(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    from storage.store import open_store

    db = await open_store(url)
    try:
        async with db.transaction() as tx:
            if sql.lstrip().upper().startswith("SELECT"):
                return [tuple(row) for row in await tx.fetchall(sql, params)]
            await tx.execute(sql, params)
            return []
    finally:
        await db.close()


def query(db_path: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement from outside the bot, committed; a SELECT's rows. On either store (a
    PostgreSQL test database's URL: its own event loop, in a thread, so async tests may
    call it too)."""
    if isinstance(db_path, str):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _on_postgres(db_path, sql, params)).result()
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def snapshot(db_path: Path | str) -> Snapshot:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
    if isinstance(db_path, str):
        names = query(
            db_path,
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " ORDER BY table_name",
        )
        return {
            str(t): sorted(query(db_path, f'SELECT * FROM "{t}"'), key=repr) for (t,) in names
        }
    with sqlite3.connect(db_path) as conn:
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables(conn)
        }


def traces(db_path: Path, *needles: str | int) -> list[str]:
    """table.column (and the value) wherever any needle appears: equal to a number, or
    inside text (case-insensitive), in any column of any table."""
    found = []
    with sqlite3.connect(db_path) as conn:
        for table in tables(conn):
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for needle in needles:
                    rows = conn.execute(
                        f'SELECT "{column}" FROM "{table}" WHERE "{column}" = ?'
                        f' OR instr(lower(CAST("{column}" AS TEXT)), lower(?)) > 0',
                        (needle, str(needle)),
                    ).fetchall()
                    found.extend(f"{table}.{column} = {r[0]!r}" for r in rows)
    return found


def on_disk(db_path: Path) -> bytes:
    """The database file and its write-ahead log, byte for byte (free pages included)."""
    wal = Path(f"{db_path}-wal")
    return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
