"""What this database holds, from each store's own catalogue: SQLite's sqlite_master and
table_info, PostgreSQL's information_schema (the tables of the schema in use)."""

from __future__ import annotations

from storage.db import Reader

_TABLES_SQLITE = "SELECT name FROM sqlite_master WHERE type = 'table'"
_TABLES_POSTGRESQL = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
)
_COLUMNS_SQLITE = "SELECT name FROM pragma_table_info(?)"
_COLUMNS_POSTGRESQL = (
    "SELECT column_name FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = ?"
)


async def tables(reader: Reader) -> frozenset[str]:
    """The names of the database's tables."""
    sqlite = reader.dialect == "sqlite"
    rows = await reader.fetchall(_TABLES_SQLITE if sqlite else _TABLES_POSTGRESQL)
    return frozenset(str(r[0]) for r in rows)


async def columns(reader: Reader, table: str) -> frozenset[str]:
    """The names of `table`'s columns (none for a table that is not there)."""
    sqlite = reader.dialect == "sqlite"
    rows = await reader.fetchall(_COLUMNS_SQLITE if sqlite else _COLUMNS_POSTGRESQL, (table,))
    return frozenset(str(r[0]) for r in rows)


# --- for erasure (storage/personal_data.py) and the download (storage/personal_export.py):
# they read the schema itself rather than a list kept by hand, so a table a later migration
# adds is covered as soon as it exists.


async def table_columns(q: Reader) -> dict[str, frozenset[str]]:
    """Every table's columns: SQLite's sqlite_master and table_info, PostgreSQL's
    information_schema (the tables of the current schema)."""
    if q.dialect == "postgresql":
        rows = await q.fetchall(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
            " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
            " WHERE c.table_schema = current_schema()"
        )
    else:
        rows = await q.fetchall(
            "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c"
            " WHERE m.type = 'table'"
        )
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(str(table), set()).add(str(column))
    return {table: frozenset(columns) for table, columns in found.items()}


async def column_defaults(q: Reader, table: str) -> list[tuple[str, str | None]]:
    """(column, its default as SQL text, or None) for every column of `table`."""
    if q.dialect == "postgresql":
        rows = await q.fetchall(
            "SELECT column_name, column_default FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = await q.fetchall("SELECT name, dflt_value FROM pragma_table_info(?)", (table,))
    return [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows]


async def row_keys(q: Reader, table: str) -> list[str]:
    """How to name one row of `table` in a WHERE clause.

    SQLite: its rowid, or for a WITHOUT ROWID table (the digest archive's contributions) its
    primary key's columns. PostgreSQL has no rowid: the primary key's columns, or for a
    table without one (none of ours; a test's) `ctid`, the row's place, which stays the same
    within the transaction until the row itself is updated."""
    if q.dialect == "postgresql":
        rows = await q.fetchall(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY (i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (table,),
        )
        return [str(r[0]) for r in rows] or ["ctid"]
    sql = await q.fetchval(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    )
    if "WITHOUT ROWID" not in str(sql).upper():
        return ["rowid"]
    rows = await q.fetchall(
        "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
    )
    return [str(r[0]) for r in rows]
