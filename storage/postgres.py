"""PostgreSQL as the store: the same Database and Transaction interface as storage/db.py
(SQLite), so the same repositories and the same frozen dataclasses serve both.

The repositories' SQL is written once. What differs is bridged here, in one place:
- placeholders: `?` and `:name` become psycopg's `%s` and `%(name)s` (quoted text,
  identifiers and comments are left alone; a literal `%` is doubled);
- `CAST(… AS REAL)` means an 8-byte float, as in SQLite, and LIKE is case-insensitive, as
  SQLite's is for ASCII;
- instants are `timestamptz` columns, read back as the same sortable UTC text SQLite keeps
  (`2026-11-23T09:00:00.000000Z`), so from_db_time and every comparison work unchanged;
- JSON and numeric results come back as SQLite gives them (text; int or float);
- Python booleans are stored as 0/1, as the schema's flag columns are INTEGER on both;
- `execute` of an INSERT returns the new row's id, as SQLite's lastrowid does.
Parameters are bound client-side (psycopg's ClientCursor): each is sent as a quoted literal
whose type PostgreSQL takes from where it stands, as SQLite's dynamic typing does — a text
instant compared with a timestamptz column, `? IS NULL`, a number in a CASE.

Transactions run at SERIALIZABLE: what SQLite's single writer gives (no lost update, no
write skew) PostgreSQL gives across workers, a conflict failing one transaction with
StorageUnavailable, nothing of it kept. Within one process transactions take turns, as
on SQLite. Claims of scheduled and outbox rows choose READ COMMITTED with
`FOR UPDATE SKIP LOCKED` (`transaction(isolation="read committed")`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
from psycopg import AsyncClientCursor, AsyncConnection, IsolationLevel

from storage.clock import Clock, utcnow
from storage.db import Database, Params, StorageUnavailable, Transaction, to_db_time
from storage.pg_locks import person_turn
from storage.postgres_sql import (
    INSERT_INTO,
    RETURNING,
    URL_SCHEMES,
    configure,
    is_transient,
    row_factory,
    safe_url,
    to_postgres,
)
from storage.schema import StorageError, migration_checksum, migration_scripts, pending

Isolation = Literal["serializable", "read committed"]
_ISOLATION = {
    "serializable": IsolationLevel.SERIALIZABLE,
    "read committed": IsolationLevel.READ_COMMITTED,
}
# pg_advisory_xact_lock keys: one number per purpose, the same in every worker.
MIGRATE_LOCK = 7_240_001
# While another worker holds a person's turn, this one looks again after these pauses
# (doubling): a turn lasts milliseconds, so the first look usually finds it free.
PERSON_PAUSE = 0.002
PERSON_PAUSE_MAX = 0.05

# --- the database ----------------------------------------------------------------------------


@contextmanager
def _situation() -> Iterator[None]:
    """A failure of the database's situation (connection lost, server full, a conflict with
    another worker) as StorageUnavailable: nothing of the work was kept."""
    try:
        yield
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        if is_transient(exc):
            raise StorageUnavailable(str(exc).strip()) from exc
        raise


class PostgresTransaction(Transaction):
    """Statements inside one open transaction on one pooled connection."""

    dialect = "postgresql"

    def __init__(self, conn: AsyncConnection[Any], clock: Clock, id_tables: frozenset[str]):
        self._pg = conn
        self.clock = clock
        self._id_tables = id_tables

    async def _run(self, sql: str, params: Params) -> Any:
        text, takes = to_postgres(sql)
        return await self._pg.execute(text, params if takes else None)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the new row's id (for INSERT) or the rowcount."""
        inserting = INSERT_INTO.match(sql)
        if inserting and inserting.group(1) in self._id_tables and not RETURNING.search(sql):
            cursor = await self._run(f"{sql} RETURNING id", params)
            row = await cursor.fetchone()
            return int(row[0]) if row else int(cursor.rowcount)
        cursor = await self._run(sql, params)
        return int(cursor.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        text, _ = to_postgres(sql)
        async with self._pg.cursor() as cursor:
            await cursor.executemany(text, list(rows))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self._pg.transaction():
            yield

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        cursor = await self._run(sql, params)
        return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        cursor = await self._run(sql, params)
        return list(await cursor.fetchall())

    async def advisory_lock(self, key: int) -> None:
        """Hold the transaction-scoped advisory lock `key` until it ends (every worker)."""
        await self._pg.execute("SELECT pg_advisory_xact_lock(%s)", (key,))


class PostgresDatabase(Database):
    """The store on a PostgreSQL server: a small psycopg pool per worker process."""

    dialect = "postgresql"

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], url: str, clock: Clock):
        self._pool = pool
        self.url = url
        self.clock = clock
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self.write_patience = 10.0
        self.stopping = False
        self.commit_waits = False
        self._id_tables: frozenset[str] = frozenset()

    @classmethod
    async def open(  # type: ignore[override]
        cls, url: str, *, clock: Clock = utcnow, pool_size: int = 4, **_: Any
    ) -> PostgresDatabase:
        if urlsplit(url).scheme not in URL_SCHEMES:
            raise StorageError(f"not a PostgreSQL URL: {safe_url(url)}")
        try:
            # One plain connection first: a wrong host, port, user or database name ends
            # start-up with PostgreSQL's own one-line reason, not a pool timing out.
            probe = await AsyncConnection.connect(url, connect_timeout=10)
            await probe.close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(
                f"cannot use the PostgreSQL database at {safe_url(url)}: {reason}"
            ) from exc
        pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max(pool_size, 2),
            kwargs={
                "autocommit": True,
                "cursor_factory": AsyncClientCursor,
                "row_factory": row_factory,
                "options": "-c TimeZone=UTC -c DateStyle=ISO",
            },
            configure=configure,
            open=False,
            name="triobot",
        )
        await pool.open(wait=True, timeout=10)
        db = cls(pool, url, clock)
        try:
            await db.migrate()
            rows = await db.fetchall(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND column_name = 'id'"
            )
            db._id_tables = frozenset(str(row[0]) for row in rows)
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        await self._pool.close()

    async def migrate(self) -> list[int]:
        """Apply pending PostgreSQL migrations, all in one transaction under an advisory
        lock: workers starting together apply each once, and none starts on half a schema."""
        scripts = migration_scripts("postgresql")
        applied: list[int] = []
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL, checksum TEXT)"
            )
            cursor = await conn.execute(
                "SELECT version, name, applied_at, checksum FROM schema_version ORDER BY version"
            )
            recorded = list(await cursor.fetchall())
            for number, name, sql in pending(recorded, scripts):
                # A migration file shipped in the package, never input; no parameters, so
                # psycopg sends it as it is, every statement in it.
                await conn.execute(sql.encode("utf-8"))
                await conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at, checksum)"
                    " VALUES (%s, %s, %s, %s)",
                    (number, name, to_db_time(self.clock()), migration_checksum(sql)),
                )
                applied.append(number)
        return applied

    @asynccontextmanager
    async def transaction(
        self, isolation: Isolation = "serializable", *, person: int | None = None
    ) -> AsyncIterator[PostgresTransaction]:
        """A transaction: commits on success, rolls back on any exception. A failure of the
        database's situation (connection lost, server full, a conflict with another worker)
        raises StorageUnavailable: nothing of the work was kept.

        `person`: the transaction is this person's turn across every worker (their updates
        one at a time, storage/turns.py)."""
        deadline = time.monotonic() + self.write_patience
        pause = PERSON_PAUSE
        while True:
            async with self._locked():  # transactions take turns in a process, as on SQLite
                with _situation():
                    async with (
                        self._pool.connection(timeout=self.write_patience) as conn,
                        person_turn(conn, person) as held,
                    ):
                        if held:
                            conn_tx = conn.transaction()
                            await conn.set_isolation_level(_ISOLATION[isolation])
                            async with conn_tx:
                                yield PostgresTransaction(conn, self.clock, self._id_tables)
                            return
            # Another worker is handling this person: wait outside this process's turn, so
            # everyone else's transactions here go on meanwhile.
            if time.monotonic() + pause > deadline:
                raise StorageUnavailable("another worker kept this person's turn too long")
            await asyncio.sleep(pause)
            pause = min(pause * 2, PERSON_PAUSE_MAX)

    async def checkpoint(self) -> bool:
        """Nothing to copy: PostgreSQL's erased rows go with VACUUM (autovacuum)."""
        return True

    async def _read(self, sql: str, params: Params) -> list[Any]:
        text, takes = to_postgres(sql)
        me = asyncio.current_task()
        if me is not None and me is self._holder:
            raise RuntimeError("database used inside an open transaction: pass the tx along")
        with _situation():
            async with self._pool.connection(timeout=self.write_patience) as conn:
                cursor = await conn.execute(text, params if takes else None)
                return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        rows = await self._read(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        return await self._read(sql, params)
