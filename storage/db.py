"""The SQLite database: one aiosqlite connection, WAL, explicit write transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage import private_files

Params = Sequence[Any] | dict[str, Any]


_clock_override: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """Now, in UTC; a simulation may swap the source (`use_clock`), nothing else does."""
    if _clock_override is not None:
        return _clock_override()
    return datetime.now(UTC)


def use_clock(clock: Callable[[], datetime] | None) -> None:
    """Make `utcnow` return `clock()` in this process (None: real time again).

    Only `bot.sim_clock` calls this, when TRIOBOT_SIM_CLOCK is set, so a simulated term can
    run the real bot process on an accelerated clock.
    """
    global _clock_override
    _clock_override = clock


def to_db_time(moment: datetime) -> str:
    """Store instants as sortable UTC text; naive datetimes are refused, not guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    # fromisoformat reads the trailing Z (Python 3.11+) and is far faster than strptime.
    return datetime.fromisoformat(text)


def migration_scripts() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every file in storage/migrations, in order."""
    folder = resources.files("storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """Shared by every repository. Writes go through `transaction()` (BEGIN IMMEDIATE).

    One connection serves the whole bot; an asyncio lock keeps two tasks from interleaving
    statements inside one transaction on it.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """The connection, for this task alone. Asking for it again from inside a transaction
        would wait forever on ourselves, so that is an error, raised at once."""
        me = asyncio.current_task()
        if me is not None and me is self._holder:
            raise RuntimeError("database used inside an open transaction: pass the tx along")
        async with self._lock:
            self._holder = me
            try:
                yield
            finally:
                self._holder = None

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        path = Path(path)
        if str(path) != ":memory:":
            private_files.make_folder(path.parent)
            # Owner-only from the first byte: the file holds people's words. SQLite gives
            # the -wal and -shm files it creates the database file's mode; ones left by an
            # older version with a looser mode are tightened.
            private_files.touch(path)
            for suffix in ("-wal", "-shm", "-journal"):
                private_files.tighten(path.with_name(path.name + suffix))
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "PRAGMA journal_mode = WAL",
            # NORMAL in WAL mode survives a crash of the process (not of the OS) without an
            # fsync per commit; that is the durability the bot promises.
            "PRAGMA synchronous = NORMAL",
            "PRAGMA busy_timeout = 5000",
            "PRAGMA foreign_keys = ON",
            # Deleted and overwritten content is zeroed, not left in free pages: erasing a
            # person (storage/personal_data.py) must leave no copy of their words in the file.
            "PRAGMA secure_delete = ON",
        ):
            await conn.execute(pragma)
        db = cls(conn)
        await db.migrate()
        return db

    async def close(self) -> None:
        async with self._locked():
            await self._conn.close()

    async def migrate(self) -> list[int]:
        """Apply pending numbered migrations, each atomically with its version row."""
        applied: list[int] = []
        async with self._locked():
            await self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            cursor = await self._conn.execute("SELECT version FROM schema_version")
            done = {row[0] for row in await cursor.fetchall()}
            for number, name, sql in migration_scripts():
                if number in done:
                    continue
                try:
                    # The script is a migration file shipped in the package, never input.
                    # executescript takes no parameters and does not commit at its end, so the
                    # version row is a separate, parameterised statement in the same transaction.
                    await self._conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n")
                    await self._conn.execute(
                        "INSERT INTO schema_version VALUES (?, ?, ?)",
                        (number, name, to_db_time(utcnow())),
                    )
                    await self._conn.execute("COMMIT")
                except sqlite3.Error:
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                    raise
                applied.append(number)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction: commits on success, rolls back on any exception."""
        async with self._locked():
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it (after an erasure: the WAL
        still holds the pages as they were before)."""
        async with self._locked():
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # Each aiosqlite call is a hop to its thread (~70 µs here), so reads use
    # execute_fetchall: one hop instead of execute + fetch + close.
    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._locked():
            rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._locked():
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class Transaction:
    """Statements inside one open write transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns lastrowid (for INSERT) or the rowcount.

        The cursor is left to the garbage collector: closing it would cost another hop.
        """
        cursor = await self._conn.execute(sql, params)
        result = cursor.lastrowid if sql.lstrip().upper().startswith("INSERT") else None
        return int(result) if result else cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
