"""The SQLite database: one aiosqlite connection, WAL, explicit write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage import private_files
from storage.clock import Clock, utcnow

Params = Sequence[Any] | dict[str, Any]
# How long a write waits for another connection's lock in all, and the pause between its
# tries. SQLite's own busy_timeout is kept short (100 ms) and the waiting is done here,
# between tries, so the one connection (and its thread) is free meanwhile for reads and
# other tasks, and a stop is not held up by writes queued behind a lock.
WRITE_PATIENCE = 10.0
BUSY_RETRY_PAUSE = 0.05


class StorageUnavailable(Exception):
    """The database could not take a write now (locked too long, disk full, I/O error).

    Nothing of the failed transaction was kept; the same work can be tried again later.
    """


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF  # extended codes keep it in the low byte


def is_busy(exc: sqlite3.Error) -> bool:
    return _primary_code(exc) in _BUSY or "locked" in str(exc)


def is_transient(exc: sqlite3.Error) -> bool:
    """Errors of the database's situation, not of the statement: they pass with time."""
    return _primary_code(exc) in _TRANSIENT or is_busy(exc) or "disk is full" in str(exc)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` is the database's situation (locked, full), to be waited out, rather
    than something wrong with the work itself."""
    return isinstance(exc, StorageUnavailable) or (
        isinstance(exc, sqlite3.Error) and is_transient(exc)
    )


_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_TRANSIENT = _BUSY | {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}


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


class StorageError(Exception):
    """The database cannot be used as it is; the message is one line for the operator,
    saying what is wrong and what to do (the command line prints it, not a traceback)."""


class MigrationChanged(StorageError):
    """A migration this database has applied is no longer the file it applied."""


class MigrationMissing(StorageError):
    """A migration this database has applied is not among this installation's files."""


def migration_checksum(sql: str) -> str:
    # Of the text as read (universal newlines): a checkout that turns LF into CRLF is not a
    # change, an edited statement is.
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def check_applied(
    recorded: Iterable[Sequence[Any]], scripts: Sequence[tuple[int, str, str]]
) -> None:
    """Refuse a database whose applied migrations (version, name, applied_at, checksum)
    differ from the files: the schema it has would not be the schema the code expects."""
    files = {number: (name, migration_checksum(sql)) for number, name, sql in scripts}
    following = f"{max(files, default=0) + 1:04d}"
    for version, name, applied_at, checksum in recorded:
        when = str(applied_at)[:10]
        if version not in files:
            raise MigrationMissing(
                f"migration {name} was applied to this database on {when} but this triobot"
                " has no such file in storage/migrations: run the version of triobot that"
                " applied it (or a newer one); nothing was changed"
            )
        file_name, file_checksum = files[version]
        if file_name != name:
            raise MigrationChanged(
                f"migration {version} was applied to this database on {when} as {name}, but"
                f" the file is now storage/migrations/{file_name}: give it back its old name;"
                " nothing was changed"
            )
        if checksum != file_checksum:
            raise MigrationChanged(
                f"storage/migrations/{name} has changed since it was applied to this database"
                f" on {when}: put the file back as it was and make the change in a new"
                f" migration, {following}_<what it does>.sql; nothing was changed"
            )


class Database:
    """Shared by every repository. Writes go through `transaction()` (BEGIN IMMEDIATE).

    One connection serves the whole bot; an asyncio lock keeps two tasks from interleaving
    statements inside one transaction on it.
    """

    def __init__(self, conn: aiosqlite.Connection, clock: Clock) -> None:
        self._conn = conn
        # Repositories stamp rows (created_at, used_at, …) with this clock, the process's one.
        self.clock = clock
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self.write_patience = WRITE_PATIENCE
        self.stopping = False  # set at a stop: a write that would wait gives up at once

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
    async def open(cls, path: Path | str, *, clock: Clock = utcnow) -> Database:
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
            # Migrating (rare, at an upgrade) waits like any SQLite client; after it,
            # transaction() does the waiting (see WRITE_PATIENCE).
            "PRAGMA busy_timeout = 5000",
            "PRAGMA foreign_keys = ON",
            # Deleted and overwritten content is zeroed, not left in free pages: erasing a
            # person (storage/personal_data.py) must leave no copy of their words in the file.
            "PRAGMA secure_delete = ON",
        ):
            await conn.execute(pragma)
        db = cls(conn, clock)
        try:
            await db.migrate()
            await conn.execute("PRAGMA busy_timeout = 100")
        except BaseException:
            # A refused or failed migration ends the command; an open connection's thread
            # would keep the process from exiting.
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        async with self._locked():
            await self._conn.close()

    async def migrate(self) -> list[int]:
        """Apply pending numbered migrations, each atomically with its version row and its
        file's checksum; first refuse (MigrationChanged, MigrationMissing) if a migration
        applied before is not the file it was."""
        applied: list[int] = []
        scripts = migration_scripts()
        async with self._locked():
            await self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL,"
                " checksum TEXT)"
            )
            await self._record_checksums(scripts)
            cursor = await self._conn.execute(
                "SELECT version, name, applied_at, checksum FROM schema_version ORDER BY version"
            )
            recorded = list(await cursor.fetchall())
            check_applied(recorded, scripts)
            done = {row[0] for row in recorded}
            for number, name, sql in scripts:
                if number in done:
                    continue
                try:
                    # The script is a migration file shipped in the package, never input.
                    # executescript takes no parameters and does not commit at its end, so the
                    # version row is a separate, parameterised statement in the same transaction.
                    await self._conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n")
                    await self._conn.execute(
                        "INSERT INTO schema_version (version, name, applied_at, checksum)"
                        " VALUES (?, ?, ?, ?)",
                        (number, name, to_db_time(self.clock()), migration_checksum(sql)),
                    )
                    await self._conn.execute("COMMIT")
                except sqlite3.Error:
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                    if await self._applied(number):
                        continue  # another process opening the database applied it first
                    raise
                applied.append(number)
        return applied

    async def _record_checksums(self, scripts: Sequence[tuple[int, str, str]]) -> None:
        """Give a schema_version table from before checksums its checksum column, filled in.

        Those migrations were applied before anyone kept a checksum, so what they were is
        unknown: the files installed now are taken as the ones applied (they are, unless
        someone edited one in place — which is what checksums catch from here on). A row
        whose file is missing or renamed keeps NULL, and check_applied reports it.
        """
        if await self._checksums_complete():
            return
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            # Checked again under the write lock: another process may have just done it.
            columns = await self._conn.execute_fetchall("PRAGMA table_info(schema_version)")
            if "checksum" not in {column[1] for column in columns}:
                await self._conn.execute("ALTER TABLE schema_version ADD COLUMN checksum TEXT")
            await self._conn.executemany(
                "UPDATE schema_version SET checksum = ?"
                " WHERE version = ? AND name = ? AND checksum IS NULL",
                [(migration_checksum(sql), number, name) for number, name, sql in scripts],
            )
            await self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            raise

    async def _checksums_complete(self) -> bool:
        # Read first, without the write lock: on every open but the first nothing is to do.
        columns = await self._conn.execute_fetchall("PRAGMA table_info(schema_version)")
        if "checksum" not in {column[1] for column in columns}:
            return False
        missing = await self._conn.execute_fetchall(
            "SELECT COUNT(*) FROM schema_version WHERE checksum IS NULL"
        )
        return int(next(iter(missing))[0]) == 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction: commits on success, rolls back on any exception.

        Another connection may hold the write lock longer than busy_timeout (an operator's
        long query, a backup step, a second process): BEGIN is tried again, the connection
        free for reads between tries, for up to `write_patience` seconds. Then, or when the
        disk is full, StorageUnavailable says so: the caller's work was not saved.
        """
        deadline = time.monotonic() + self.write_patience
        while True:
            async with self._locked():
                try:
                    await self._begin()
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline or self.stopping:
                        raise StorageUnavailable(str(exc)) from exc
                else:
                    try:
                        yield Transaction(self._conn, self.clock)
                    except BaseException as exc:
                        await self._rollback()
                        if isinstance(exc, sqlite3.OperationalError) and is_transient(exc):
                            raise StorageUnavailable(str(exc)) from exc
                        raise
                    try:
                        await self._conn.execute("COMMIT")
                    except sqlite3.OperationalError as exc:
                        await self._rollback()
                        raise StorageUnavailable(str(exc)) from exc
                    return
            await asyncio.sleep(BUSY_RETRY_PAUSE)

    async def _begin(self) -> None:
        # aiosqlite runs the statement on its thread even if this task is cancelled while
        # waiting: wait for it anyway and undo it, or the connection would stay inside a
        # transaction, holding the write lock, and every later BEGIN would fail.
        begin = asyncio.ensure_future(self._conn.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await begin
            await self._rollback()
            raise

    async def _rollback(self) -> None:
        # SQLite may have rolled back by itself (SQLITE_FULL does): nothing left to undo.
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")

    async def _applied(self, number: int) -> bool:
        rows = await self._conn.execute_fetchall(
            "SELECT 1 FROM schema_version WHERE version = ?", (number,)
        )
        return bool(list(rows))

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and empty it (after an erasure: the WAL
        still holds the pages as they were before). Another connection reading may hold it
        up: tried again for up to the write patience; True once it went through."""
        deadline = time.monotonic() + self.write_patience
        while True:
            async with self._locked():
                rows = await self._conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = next(iter(rows), (1,))[0]
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(BUSY_RETRY_PAUSE)

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
    """Statements inside one open write transaction, and the database's clock."""

    def __init__(self, conn: aiosqlite.Connection, clock: Clock) -> None:
        self._conn = conn
        self.clock = clock

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
