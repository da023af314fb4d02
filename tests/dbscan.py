"""Look at a whole database file from outside the bot: every table, every column."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

Snapshot = dict[str, list[tuple[Any, ...]]]


def tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows]


def snapshot(db_path: Path) -> Snapshot:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
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
