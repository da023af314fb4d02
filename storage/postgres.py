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
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg import AsyncClientCursor, AsyncConnection, IsolationLevel
from psycopg.adapt import Dumper, Loader

from storage.clock import Clock, utcnow
from storage.db import Database, Params, StorageUnavailable, Transaction, to_db_time
from storage.pg_locks import person_turn
from storage.schema import StorageError, check_applied, migration_checksum, migration_scripts

Isolation = Literal["serializable", "read committed"]
_ISOLATION = {
    "serializable": IsolationLevel.SERIALIZABLE,
    "read committed": IsolationLevel.READ_COMMITTED,
}
# pg_advisory_xact_lock keys: one number per purpose, the same in every worker.
MIGRATE_LOCK = 7_240_001
URL_SCHEMES = ("postgresql", "postgres")


def safe_url(url: str) -> str:
    """The URL without its password, fit for a log line or an error."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


# --- SQL: the repositories' SQLite-flavoured text, for PostgreSQL --------------------------

_TOKEN = re.compile(
    r"""('(?:[^']|'')*')          # a string literal
      | ("(?:[^"]|"")*")          # a quoted identifier
      | (--[^\n]*)                # a comment
      | (::)                      # a cast, not a parameter
      | (\?)                      # a positional parameter
      | :([A-Za-z_]\w*)           # a named parameter
      | (%)                       # a literal percent sign
      | \b(AS\s+REAL)\b           # SQLite's REAL is 8 bytes
      | \b(NOT\s+LIKE|LIKE)\b     # SQLite's LIKE ignores ASCII case
    """,
    re.VERBOSE | re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> tuple[str, bool]:
    """(the statement for psycopg, whether it takes parameters)."""
    has_params = False

    def swap(m: re.Match[str]) -> str:
        nonlocal has_params
        if m.group(5):
            has_params = True
            return "%s"
        if m.group(6):
            has_params = True
            return f"%({m.group(6)})s"
        if m.group(7):
            return "%%"
        if m.group(1):
            return m.group(1).replace("%", "%%")
        if m.group(8):
            return "AS DOUBLE PRECISION"
        if m.group(9):
            return "NOT ILIKE" if m.group(9).upper().startswith("NOT") else "ILIKE"
        return m.group(0)

    converted = _TOKEN.sub(swap, sql)
    if not has_params:
        converted = converted.replace("%%", "%")
    return converted, has_params


_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


# --- rows and types, as SQLite gives them ----------------------------------------------------


class Row(tuple[Any, ...]):
    """A result row read by position or by column name, like sqlite3.Row."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            index = self._index.get(key)
            if index is None:
                index = self._index.get(key.lower())
                if index is None:
                    raise IndexError(f"No item with that key: {key}")
            return tuple.__getitem__(self, index)
        return tuple.__getitem__(self, key)

    _names: ClassVar[tuple[str, ...]] = ()

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name, position)
        index.setdefault(name.lower(), position)
    return type("Row", (Row,), {"__slots__": (), "_index": index, "_names": names})


def _row_factory(cursor: Any) -> Any:
    description = cursor.description
    if description is None:
        return tuple
    cls = _row_class(tuple(column.name for column in description))
    return cls


class _InstantLoader(Loader):
    """timestamptz, as the sortable UTC text storage/db.py's to_db_time writes."""

    def load(self, data: Any) -> str:
        text = bytes(data).decode()
        day, _, clock = text.partition(" ")
        clock = clock[: clock.rfind("+")] if "+" in clock else clock
        hms, _, fraction = clock.partition(".")
        return f"{day}T{hms}.{fraction.ljust(6, '0')}Z"


class _TextLoader(Loader):
    def load(self, data: Any) -> str:
        return bytes(data).decode()


class _NumberLoader(Loader):
    """numeric (SUM and AVG of integers), as SQLite gives it: an int when whole."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if "." in text or "e" in text.lower() or "N" in text else int(text)


class _FlagLoader(Loader):
    """boolean results (`x IS NULL`, EXISTS) as SQLite gives them: 1 or 0."""

    def load(self, data: Any) -> int:
        return 1 if bytes(data) == b"t" else 0


class _FlagDumper(Dumper):
    """True and False as 1 and 0: flags are INTEGER columns on both stores."""

    oid = psycopg.adapters.types["int4"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"

    def quote(self, obj: Any) -> bytes:
        return self.dump(obj)


async def _configure(conn: AsyncConnection[Any]) -> None:
    _register_types(conn)


def _register_types(conn: AsyncConnection[Any] | psycopg.Connection[Any]) -> None:
    types = psycopg.adapters.types
    conn.adapters.register_loader(types["timestamptz"].oid, _InstantLoader)
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(types[name].oid, _TextLoader)
    conn.adapters.register_loader(types["numeric"].oid, _NumberLoader)
    conn.adapters.register_loader(types["bool"].oid, _FlagLoader)
    conn.adapters.register_dumper(bool, _FlagDumper)


# PostgreSQL's SQLSTATE classes of the database's situation rather than of the statement:
# connection (08), insufficient resources (53: disk or memory full), operator intervention
# (57: shutdown, cancel), and transaction rollback (40: serialization failure, deadlock).
_TRANSIENT_CLASSES = ("08", "53", "57", "40", "55P03")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return any(state.startswith(prefix) for prefix in _TRANSIENT_CLASSES)


# --- the database ----------------------------------------------------------------------------


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
        inserting = _INSERT_INTO.match(sql)
        if inserting and inserting.group(1) in self._id_tables and not _RETURNING.search(sql):
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

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

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
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
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
                "row_factory": _row_factory,
                "options": "-c TimeZone=UTC -c DateStyle=ISO",
            },
            configure=_configure,
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
            check_applied(recorded, scripts)
            done = {row[0] for row in recorded}
            for number, name, sql in scripts:
                if number in done:
                    continue
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
    async def _turn(self) -> AsyncIterator[None]:
        me = asyncio.current_task()
        if me is not None and me is self._holder:
            raise RuntimeError("database used inside an open transaction: pass the tx along")
        async with self._lock:
            self._holder = me
            try:
                yield
            finally:
                self._holder = None

    @asynccontextmanager
    async def transaction(
        self, isolation: Isolation = "serializable", *, person: int | None = None
    ) -> AsyncIterator[PostgresTransaction]:
        """A transaction: commits on success, rolls back on any exception. A failure of the
        database's situation (connection lost, server full, a conflict with another worker)
        raises StorageUnavailable: nothing of the work was kept.

        `person`: the transaction is this person's turn across every worker (their updates
        one at a time, storage/turns.py)."""
        async with self._turn():
            try:
                async with (
                    self._pool.connection(timeout=self.write_patience) as conn,
                    person_turn(conn, person),
                ):
                    conn_tx = conn.transaction()
                    await conn.set_isolation_level(_ISOLATION[isolation])
                    async with conn_tx:
                        yield PostgresTransaction(conn, self.clock, self._id_tables)
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                if is_transient(exc):
                    raise StorageUnavailable(str(exc).strip()) from exc
                raise

    async def checkpoint(self) -> bool:
        """Nothing to copy: PostgreSQL's erased rows go with VACUUM (autovacuum)."""
        return True

    async def _read(self, sql: str, params: Params) -> list[Any]:
        text, takes = to_postgres(sql)
        me = asyncio.current_task()
        if me is not None and me is self._holder:
            raise RuntimeError("database used inside an open transaction: pass the tx along")
        try:
            async with self._pool.connection(timeout=self.write_patience) as conn:
                cursor = await conn.execute(text, params if takes else None)
                return list(await cursor.fetchall())
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            if is_transient(exc):
                raise StorageUnavailable(str(exc).strip()) from exc
            raise

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        rows = await self._read(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        return await self._read(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


def connect_reader(url: str) -> psycopg.Connection[Any]:
    """A blocking autocommit connection that reads rows as the store does (by name or
    position; instants as UTC text; JSON as text; flags as 0/1): for tools outside the bot,
    such as the benches' ledgers. Pass its SQL through to_postgres."""
    conn = psycopg.connect(
        url,
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
        row_factory=_row_factory,
        options="-c TimeZone=UTC -c DateStyle=ISO",
    )
    _register_types(conn)
    return conn
