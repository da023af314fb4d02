"""What PostgreSQL is given and what it gives back, shaped as SQLite's (storage/postgres.py
says why): the repositories' SQL translated, result rows read by name or position, and the
types — instants as UTC text, JSON as text, numeric as int or float, flags as 0/1."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg import AsyncConnection
from psycopg.adapt import Dumper, Loader

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


INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


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


def row_factory(cursor: Any) -> Any:
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


async def configure(conn: AsyncConnection[Any]) -> None:
    register_types(conn)


def register_types(conn: AsyncConnection[Any] | psycopg.Connection[Any]) -> None:
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


def connect_reader(url: str) -> psycopg.Connection[Any]:
    """A blocking autocommit connection that reads rows as the store does (by name or
    position; instants as UTC text; JSON as text; flags as 0/1): for tools outside the bot,
    such as the benches' ledgers. Pass its SQL through to_postgres."""
    conn = psycopg.connect(
        url,
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
        row_factory=row_factory,
        options="-c TimeZone=UTC -c DateStyle=ISO",
    )
    register_types(conn)
    return conn
