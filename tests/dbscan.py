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
    if _is_url(db_path):
        return _pg_snapshot(str(db_path))
    with sqlite3.connect(db_path) as conn:
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables(conn)
        }


def traces(db_path: Path | str, *needles: str | int) -> list[str]:
    """table.column (and the value) wherever any needle appears: equal to a number, or
    inside text (case-insensitive), in any column of any table."""
    if _is_url(db_path):
        return _pg_traces(str(db_path), *needles)
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


# --- the same looks at a PostgreSQL database, when db_path is its URL -----------------------


def _is_url(db_path: object) -> bool:
    return isinstance(db_path, str) and "://" in db_path


def _pg_tables(conn: Any) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    return [str(r[0]) for r in rows]


def _pg_snapshot(url: str) -> Snapshot:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in _pg_tables(conn)
        }


def _pg_traces(url: str, *needles: str | int) -> list[str]:
    """As `traces`, through SQL: every column read as text, every table of the schema."""
    import psycopg

    found = []
    with psycopg.connect(url) as conn:
        for table in _pg_tables(conn):
            columns = conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            ).fetchall()
            for (column,) in columns:
                for needle in needles:
                    # bytea as its bytes read as text (escape format), so words kept there show.
                    text = (
                        f"encode(\"{column}\"::bytea, 'escape')"
                        if _is_bytea(conn, table, column)
                        else f'"{column}"::text'
                    )
                    rows = conn.execute(
                        f'SELECT "{column}" FROM "{table}" WHERE {text} = %s'
                        f" OR strpos(lower({text}), lower(%s)) > 0",
                        (str(needle), str(needle)),
                    ).fetchall()
                    found.extend(f"{table}.{column} = {r[0]!r}" for r in rows)
    return found


def _is_bytea(conn: Any, table: str, column: str) -> bool:
    row = conn.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s AND column_name = %s",
        (table, column),
    ).fetchone()
    return bool(row and row[0] == "bytea")


def tuples_holding(url: str, needle: str) -> list[str]:
    """Every row version still kept in a table's pages (or its TOAST table's) whose bytes
    hold `needle`, live or dead: what VACUUM has not yet removed (pageinspect, superuser).
    Skips the test where the server has no pageinspect."""
    import psycopg
    import pytest

    found = []
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        except psycopg.Error as exc:
            pytest.skip(f"no pageinspect on this PostgreSQL server: {exc}")
        relations = conn.execute(
            "SELECT c.oid::regclass::text, c.relpages FROM pg_class c"
            " LEFT JOIN pg_class owner ON owner.reltoastrelid = c.oid"
            " WHERE c.relkind IN ('r', 't') AND (c.relnamespace = current_schema()::regnamespace"
            " OR owner.relnamespace = current_schema()::regnamespace)"
        ).fetchall()
        for relation, _ in relations:
            pages = conn.execute(
                "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
                (relation,),
            ).fetchone()
            for block in range(int(pages[0]) if pages else 0):
                rows = conn.execute(
                    "SELECT lp, t_xmax FROM heap_page_items(get_raw_page(%s, %s))"
                    " WHERE position(convert_to(%s, 'UTF8') IN t_data) > 0",
                    (relation, block, needle),
                ).fetchall()
                found.extend(
                    f"{relation} block {block} item {lp} (xmax {xmax})" for lp, xmax in rows
                )
    return found
