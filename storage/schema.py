"""The numbered migrations in storage/migrations: the files, their checksums, and the
refusal of a database whose applied history is no longer those files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import aiosqlite


class StorageError(Exception):
    """The database cannot be used as it is; the message is one line for the operator,
    saying what is wrong and what to do (the command line prints it, not a traceback)."""


def migration_scripts(dialect: str = "sqlite") -> list[tuple[int, str, str]]:
    """(number, name, sql) for every file in storage/migrations (SQLite) or
    storage/migrations/postgresql, in order."""
    folder = resources.files("storage") / "migrations"
    if dialect == "postgresql":
        folder = folder / "postgresql"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


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


def pending(
    recorded: Sequence[Sequence[Any]], scripts: Sequence[tuple[int, str, str]]
) -> list[tuple[int, str, str]]:
    """The scripts still to apply to a database whose schema_version rows are `recorded`,
    once check_applied has found its history to be these files (either store)."""
    check_applied(recorded, scripts)
    done = {row[0] for row in recorded}
    return [script for script in scripts if script[0] not in done]


async def record_checksums(
    conn: aiosqlite.Connection, scripts: Sequence[tuple[int, str, str]]
) -> None:
    """Give a schema_version table from before checksums its checksum column, filled in.

    Those migrations were applied before anyone kept a checksum, so what they were is
    unknown: the files installed now are taken as the ones applied (they are, unless
    someone edited one in place — which is what checksums catch from here on). A row
    whose file is missing or renamed keeps NULL, and check_applied reports it.
    """
    if await _checksums_complete(conn):
        return
    await conn.execute("BEGIN IMMEDIATE")
    try:
        # Checked again under the write lock: another process may have just done it.
        columns = await conn.execute_fetchall("PRAGMA table_info(schema_version)")
        if "checksum" not in {column[1] for column in columns}:
            await conn.execute("ALTER TABLE schema_version ADD COLUMN checksum TEXT")
        await conn.executemany(
            "UPDATE schema_version SET checksum = ?"
            " WHERE version = ? AND name = ? AND checksum IS NULL",
            [(migration_checksum(sql), number, name) for number, name, sql in scripts],
        )
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise


async def _checksums_complete(conn: aiosqlite.Connection) -> bool:
    # Read first, without the write lock: on every open but the first nothing is to do.
    columns = await conn.execute_fetchall("PRAGMA table_info(schema_version)")
    if "checksum" not in {column[1] for column in columns}:
        return False
    missing = await conn.execute_fetchall(
        "SELECT COUNT(*) FROM schema_version WHERE checksum IS NULL"
    )
    return int(next(iter(missing))[0]) == 0
