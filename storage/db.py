"""The SQLite database: one aiosqlite connection, WAL, explicit write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite

from storage import private_files
from storage.clock import Clock, utcnow
from storage.schema import migration_checksum, migration_scripts, pending, record_checksums

Params = Sequence[Any] | dict[str, Any]
# How long a write waits for another connection's lock in all, and the pause between its
# tries. SQLite's busy_timeout is kept short (100 ms) and the waiting done here, between
# tries: the connection is free meanwhile, and a stop is not held up by queued writes.
WRITE_PATIENCE = 10.0
BUSY_RETRY_PAUSE = 0.05


Synchronous = Literal["FULL", "NORMAL"]
# In WAL mode either way every COMMIT is in the WAL file before `transaction()` returns (before
# any reply): a crash of the process loses nothing acknowledged, and nothing is ever corrupted.
SYNCHRONOUS: dict[Synchronous, str] = {
    "FULL": "fsync at every COMMIT: a power loss or OS crash loses nothing acknowledged",
    "NORMAL": "fsync at checkpoints: a power loss or OS crash may lose the last commits",
}


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
    """Instants as sortable UTC text (2026-12-03T11:46:24.123456Z); naive ones are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_db_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    # fromisoformat reads the trailing Z (Python 3.11+) and is far faster than strptime.
    return datetime.fromisoformat(text)


class Reader(Protocol):
    """A Database outside a transaction, or a Transaction inside one: reads work on either,
    so a repository's read takes whichever the caller holds."""

    async def fetchone(self, sql: str, params: Params = ...) -> sqlite3.Row | None: ...
    async def fetchall(self, sql: str, params: Params = ...) -> list[sqlite3.Row]: ...
    async def fetchval(self, sql: str, params: Params = ...) -> Any: ...

    dialect: str  # "sqlite" or "postgresql": where the SQL must differ, it asks


class Database:
    """Shared by every repository. Writes go through `transaction()` (BEGIN IMMEDIATE).

    One connection serves the whole bot; an asyncio lock keeps two tasks from interleaving
    statements inside one transaction on it.

    A call through aiosqlite is a hop to its thread and back (~70 µs, more than most
    statements take): only what may wait or take long goes there — a BEGIN that meets another
    connection's lock, `fetchall` outside a transaction (digests', exports' reads), a COMMIT
    under synchronous=FULL, migrations, checkpoints. The rest runs on the same connection
    directly: in WAL mode, once BEGIN IMMEDIATE holds the write lock nothing waits for a
    lock, and readers never do. The asyncio lock serialises every use, on either thread.
    """

    dialect = "sqlite"  # PostgresDatabase (storage/postgres.py): "postgresql"

    def __init__(self, conn: aiosqlite.Connection, raw: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self._raw = raw  # the same connection, used directly (see above)
        # Repositories stamp rows (created_at, used_at, …) with this clock, the process's one.
        self.clock = clock
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self.write_patience = WRITE_PATIENCE
        self.stopping = False  # set at a stop: a write that would wait gives up at once
        # synchronous=FULL: a COMMIT waits for an fsync, on aiosqlite's thread (see above).
        self.commit_waits = False
        # The connection's busy_timeout once open, known here so a BEGIN need not read it
        # (a test that sets another with PRAGMA says so here too).
        self.busy_timeout_ms = 100

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
    async def open(
        cls, path: Path | str, *, clock: Clock = utcnow, synchronous: Synchronous = "NORMAL"
    ) -> Database:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {sorted(SYNCHRONOUS)}")
        if "://" in str(path):  # a URL is never taken for a file (storage/store.py opens it)
            raise ValueError(f"not a SQLite file but a URL: {str(path).split('://')[0]}://…")
        path = Path(path)
        if str(path) != ":memory:":
            private_files.make_folder(path.parent)
            # Owner-only from the first byte: the file holds people's words. SQLite gives
            # the -wal and -shm files it creates the database file's mode; ones left by an
            # older version with a looser mode are tightened.
            private_files.touch(path)
            for suffix in ("-wal", "-shm", "-journal"):
                private_files.tighten(path.with_name(path.name + suffix))
        opened: list[sqlite3.Connection] = []

        def connector() -> sqlite3.Connection:
            # Used from aiosqlite's thread and, directly, from the event loop (never both
            # at once: Database's lock); SQLite itself is built thread-safe (serialized).
            raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            opened.append(raw)
            return raw

        conn = await aiosqlite.Connection(connector, iter_chunk_size=64)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL" if synchronous == "FULL" else "PRAGMA synchronous = NORMAL",
            # Migrating (rare, at an upgrade) waits like any SQLite client; after it,
            # transaction() does the waiting (see WRITE_PATIENCE).
            "PRAGMA busy_timeout = 5000",
            "PRAGMA foreign_keys = ON",
            # Deleted and overwritten content is zeroed, not left in free pages: erasing a
            # person (storage/personal_data.py) must leave no copy of their words in the file.
            "PRAGMA secure_delete = ON",
        ):
            await conn.execute(pragma)
        db = cls(conn, opened[0], clock)
        db.commit_waits = synchronous == "FULL"
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
            await record_checksums(self._conn, scripts)
            cursor = await self._conn.execute(
                "SELECT version, name, applied_at, checksum FROM schema_version ORDER BY version"
            )
            recorded = list(await cursor.fetchall())
            for number, name, sql in pending(recorded, scripts):
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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction: commits on success, rolls back on any exception.

        Another connection may hold the write lock longer than busy_timeout (an operator's
        long query, a backup step, a second process): BEGIN is tried again, the connection
        free for reads between tries, for up to `write_patience` seconds. Then, or when the
        disk is full, StorageUnavailable says so: the caller's work was not saved.
        """
        deadline = time.monotonic() + self.write_patience
        # Statements run directly never wait, so let other tasks take their turn first.
        await asyncio.sleep(0)
        while True:
            async with self._locked():
                try:
                    await self._begin()
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline or self.stopping:
                        raise StorageUnavailable(str(exc)) from exc
                else:
                    try:
                        yield Transaction(self._raw, self.clock)
                    except BaseException as exc:
                        self._rollback()
                        if isinstance(exc, sqlite3.OperationalError) and is_transient(exc):
                            raise StorageUnavailable(str(exc)) from exc
                        raise
                    try:
                        # In the WAL when this returns: before any reply is sent.
                        await self._commit()
                    except sqlite3.OperationalError as exc:
                        self._rollback()
                        raise StorageUnavailable(str(exc)) from exc
                    return
            await asyncio.sleep(BUSY_RETRY_PAUSE)

    async def _begin(self) -> None:
        if not self._begin_now():
            # Another connection holds the write lock: wait for it on aiosqlite's thread
            # (busy_timeout), the event loop free meanwhile.
            await self._on_thread("BEGIN IMMEDIATE")

    async def _commit(self) -> None:
        if self.commit_waits:
            await self._on_thread("COMMIT")
        else:
            self._raw.execute("COMMIT")

    async def _on_thread(self, sql: str) -> None:
        # aiosqlite runs the statement on its thread even if this task is cancelled while
        # waiting: wait for it anyway and undo what is left open (a BEGIN, a failed COMMIT),
        # or the connection would stay inside a transaction holding the write lock.
        running = asyncio.ensure_future(self._conn.execute(sql))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await running
            self._rollback()
            raise

    def _begin_now(self) -> bool:
        """BEGIN IMMEDIATE directly, not waiting: False, nothing changed, if it cannot."""
        raw = self._raw
        if self.busy_timeout_ms != 100:
            return False  # waiting set otherwise (a test): on the thread, as set
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                return False
            raise
        finally:
            raw.execute("PRAGMA busy_timeout = 100")  # as Database.open leaves it
        return True

    def _rollback(self) -> None:
        # SQLite may have rolled back by itself (SQLITE_FULL does): nothing left to undo.
        if self._raw.in_transaction:
            self._raw.execute("ROLLBACK")

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

    # One row is a short read: directly. Many rows may be a long one (a digest's, an
    # export's): on aiosqlite's thread, in one hop (execute_fetchall), the loop free meanwhile.
    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._locked():
            return self._raw.execute(sql, params).fetchone()  # type: ignore[no-any-return]

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._locked():
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class Transaction:
    """Statements inside one open write transaction, and the database's clock.

    They run on the connection directly (see Database): the transaction holds the write
    lock, so none of them waits for another connection."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self.clock = clock

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns lastrowid (for INSERT) or the rowcount."""
        cursor = self._conn.execute(sql, params)
        result = cursor.lastrowid if sql.lstrip().upper().startswith("INSERT") else None
        return int(result) if result else cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._conn.executemany(sql, rows)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction that an exception undoes alone: the exception still
        propagates, and what the transaction did before the savepoint stays."""
        self._conn.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            # SQLite may have rolled the whole transaction back itself (SQLITE_FULL does),
            # taking the savepoint with it: then there is nothing left to undo here, and the
            # exception that says why is the one to raise.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK TO part")
                self._conn.execute("RELEASE part")
            raise
        self._conn.execute("RELEASE part")

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return self._conn.execute(sql, params).fetchone()  # type: ignore[no-any-return]

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
