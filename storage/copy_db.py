"""`triobot copy-db`: a programme moved from its SQLite file to an empty PostgreSQL database.

What is refused, before anything is written (CopyRefused, one line):
- a SQLite file another triobot holds (its lease): the copy would miss what it writes next;
- a SQLite file or a PostgreSQL database not at this triobot's latest schema version
  (`triobot migrate` first: the copy is of one schema, column for column);
- a PostgreSQL database holding anything but what its migrations put there (schema_version
  and the seed rows of erasure_rule and export_section): the copy is never a merge.

The copy is one PostgreSQL transaction: every table in foreign-key order (COPY … FROM
STDIN, streamed from SQLite row by row), each identity sequence set past its largest id
(so the next row gets a new id), then the row counts of both compared per table. Any
failure or difference rolls it all back: the target is as empty as it was. The seed rows
are the source's (the same migrations wrote them; their ids are kept as they were).

Values: SQLite's UTC instant text becomes timestamptz; text kept in a BYTEA column becomes
its UTF-8 bytes; 0/1 in a boolean column becomes false/true; blobs stay bytes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from storage.lease import LeaseHeld, check_free
from storage.postgres_sql import safe_url
from storage.schema import StorageError, migration_scripts
from storage.store import is_postgres, is_url

# Tables the PostgreSQL migrations fill themselves: replaced by the source's rows.
SEED_TABLES = ("erasure_rule", "export_section")
# Each store keeps its own migration history; the send budget is the running workers' pace
# of the last second, not the programme's (storage/send_budget.py).
NOT_COPIED = ("schema_version", "send_budget")


class CopyRefused(StorageError):
    """The copy was not started: nothing was written anywhere."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    version: int
    counts: tuple[tuple[str, int, int], ...]  # table, rows in SQLite, rows in PostgreSQL

    def lines(self) -> list[str]:
        width = max((len(t) for t, _, _ in self.counts), default=5)
        rows = [f"  {t:<{width}}  {src:>8}  {dst:>8}" for t, src, dst in self.counts]
        total = sum(src for _, src, _ in self.counts)
        same = all(src == dst for _, src, dst in self.counts)
        verified = "row counts equal in every table" if same else "DIFFERENT row counts"
        return [
            f"  {'table':<{width}}  {'sqlite':>8}  {'postgres':>8}",
            *rows,
            f"Copied {total} rows in {len(self.counts)} tables at schema version"
            f" {self.version}; verified: {verified}.",
        ]


def latest_version(dialect: str) -> int:
    return max(number for number, _, _ in migration_scripts(dialect))


def sqlite_versions(path: Path) -> list[int]:
    """The migrations applied to a SQLite file ([] for no file, or no schema yet)."""
    if not path.exists():
        return []
    with contextlib.closing(_read_only(path)) as conn:
        try:
            return [int(r[0]) for r in conn.execute("SELECT version FROM schema_version")]
        except sqlite3.OperationalError:
            return []


def postgres_versions(url: str) -> list[int]:
    """The migrations applied to a PostgreSQL database ([] for no schema yet)."""
    with _connect(url) as conn:
        return _pg_versions(conn)


def copy_database(source: Path, url: str) -> CopyReport:
    """Copy the SQLite programme at `source` into the empty PostgreSQL database at `url`."""
    if not is_postgres(url):
        what = safe_url(url) if is_url(url) else url
        raise CopyRefused(f"{what} is not a PostgreSQL URL: give postgresql://user@host/db")
    if is_url(str(source)) or not source.is_file():
        raise CopyRefused(f"{source}: no SQLite database there")
    try:
        check_free(source)
    except LeaseHeld as exc:
        raise CopyRefused(f"{source}: {exc}") from exc
    version = latest_version("sqlite")
    have = max(sqlite_versions(source), default=0)
    if have != version:
        raise CopyRefused(
            f"{source} is at schema version {have}, this triobot's is {version}: run"
            f" `TRIOBOT_DB={source} triobot migrate` first; nothing was copied"
        )
    with contextlib.closing(_read_only(source)) as lite, _connect(url) as pg:
        target = max(_pg_versions(pg), default=0)
        if target != version or latest_version("postgresql") != version:
            raise CopyRefused(
                f"{safe_url(url)} is at schema version {target}, not {version}: run"
                f" `TRIOBOT_DB={safe_url(url)} triobot migrate` first; nothing was copied"
            )
        tables = _tables_in_order(pg)
        _check_same_tables(lite, pg, tables)
        occupied = [t for t in tables if t not in SEED_TABLES and _has_rows(pg, t)]
        if occupied:
            raise CopyRefused(
                f"{safe_url(url)} is not empty (rows in {', '.join(occupied[:5])}): copy"
                " into a new, freshly migrated database; nothing was copied"
            )
        counts = []
        with pg.transaction():
            for table in SEED_TABLES:
                pg.execute(f'DELETE FROM "{table}"')  # noqa: S608 - names from the schema
            for table in tables:
                copied = _copy_table(lite, pg, table)
                _move_sequences(pg, table)
                there = _count(pg, table)
                counts.append((table, copied, there))
            different = [t for t, src, dst in counts if src != dst]
            if different:
                raise StorageError(f"row counts differ after the copy in {different}: rolled back")
    return CopyReport(version, tuple(counts))


# --- the two ends ----------------------------------------------------------------------------


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


@contextlib.contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    try:
        conn = psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC", connect_timeout=10)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CopyRefused(
            f"cannot use the PostgreSQL database at {safe_url(url)}: {reason}"
        ) from exc
    with conn:
        yield conn


def _pg_versions(conn: psycopg.Connection[Any]) -> list[int]:
    if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
        return []
    return [int(r[0]) for r in conn.execute("SELECT version FROM schema_version")]


def _tables_in_order(pg: psycopg.Connection[Any]) -> list[str]:
    """Every table but schema_version, each after the tables its foreign keys name."""
    names = [
        str(r[0])
        for r in pg.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    ]
    parents: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in pg.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
        " WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    ):
        if child in parents and parent != child:
            parents[child].add(parent)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise StorageError(f"foreign keys in a cycle among {sorted(set(names) - set(ordered))}")
        ordered.extend(ready)
    return [t for t in ordered if t not in NOT_COPIED]


def _check_same_tables(
    lite: sqlite3.Connection, pg: psycopg.Connection[Any], tables: list[str]
) -> None:
    found = {
        str(r[0])
        for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    } - set(NOT_COPIED)
    if found != set(tables):
        raise CopyRefused(
            "the two schemas differ in their tables (only in SQLite:"
            f" {sorted(found - set(tables))}; only in PostgreSQL: {sorted(set(tables) - found)})"
        )
    for table in tables:
        lite_columns = {str(r[1]) for r in lite.execute(f'PRAGMA table_info("{table}")')}
        if lite_columns != set(_pg_columns(pg, table)):
            raise CopyRefused(f"the two schemas differ in the columns of {table}")


def _pg_columns(pg: psycopg.Connection[Any], table: str) -> dict[str, str]:
    """Column name → data type, in the table's order."""
    rows = pg.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return {str(name): str(kind) for name, kind in rows}


def _has_rows(pg: psycopg.Connection[Any], table: str) -> bool:
    row = pg.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()  # noqa: S608
    return bool(row and row[0])


def _count(pg: psycopg.Connection[Any], table: str) -> int:
    row = pg.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def _copy_table(lite: sqlite3.Connection, pg: psycopg.Connection[Any], table: str) -> int:
    """Stream the table's rows into COPY; the number of rows read from SQLite."""
    columns = _pg_columns(pg, table)
    names = list(columns)
    convert = [_converter(columns[name]) for name in names]
    quoted = ", ".join(f'"{name}"' for name in names)
    # In the order of the primary key (rowid): a row referring to an earlier one of its own
    # table (none does yet) comes after it. WITHOUT ROWID tables are in key order anyway.
    order = "" if _without_rowid(lite, table) else " ORDER BY rowid"
    read = lite.execute(f'SELECT {quoted} FROM "{table}"{order}')  # noqa: S608
    copied = 0
    with pg.cursor() as cursor, cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
        for row in read:
            copy.write_row([f(value) for f, value in zip(convert, row, strict=True)])
            copied += 1
    return copied


def _without_rowid(lite: sqlite3.Connection, table: str) -> bool:
    sql = lite.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    return "WITHOUT ROWID" in str(sql[0] if sql else "").upper()


def _converter(data_type: str) -> Any:
    if data_type == "bytea":
        return lambda v: v.encode("utf-8") if isinstance(v, str) else v
    if data_type == "boolean":
        return lambda v: v if v is None else bool(v)
    # timestamptz from the UTC text (`…T09:00:00.000000Z`), numbers, text, json: as they are.
    return lambda v: v


def _move_sequences(pg: psycopg.Connection[Any], table: str) -> None:
    """Each identity (or serial) column's sequence past the largest value copied."""
    for (column,) in pg.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = %s AND (is_identity = 'YES'"
        " OR column_default LIKE 'nextval(%%')",
        (table,),
    ).fetchall():
        pg.execute(
            f'SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX("{column}"), 0) + 1,'  # noqa: S608
            f' false) FROM "{table}"',
            (table, column),
        )
