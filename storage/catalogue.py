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
