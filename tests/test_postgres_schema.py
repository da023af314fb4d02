"""PostgreSQL next to SQLite: the same schema from both dialects' migrations, a TRIOBOT_DB
that names no usable store refused in one line, and workers starting together on a new
database migrating it once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

from bot.cli.main import main
from storage.db import Database
from storage.postgres import PostgresDatabase
from storage.schema import migration_scripts
from tests.conftest import Cli
from tests.postgres import drop_database, fresh_database, server_url, with_database

# Deliberate differences between the two schemas (table → columns only one side has).
# None so far: a migration that needs one names it here, with why.
ONLY_SQLITE: dict[str, set[str]] = {}
ONLY_POSTGRESQL: dict[str, set[str]] = {}


def sqlite_columns(path: Path) -> dict[str, set[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: {str(c[1]) for c in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}
    finally:
        conn.close()


def postgres_columns(url: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    with psycopg.connect(url) as pg:
        for table, column in pg.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
            " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
            " WHERE c.table_schema = current_schema()"
        ):
            found.setdefault(str(table), set()).add(str(column))
    return found


def without(columns: dict[str, set[str]], exceptions: dict[str, set[str]]) -> dict[str, set[str]]:
    return {t: cols - exceptions.get(t, set()) for t, cols in columns.items()}


async def test_both_dialects_migrate_to_the_same_tables_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "triobot.db"
    await (await Database.open(path)).close()
    url = await asyncio.to_thread(fresh_database)  # it runs its own event loop
    try:
        lite = without(sqlite_columns(path), ONLY_SQLITE)
        pg = without(postgres_columns(url), ONLY_POSTGRESQL)
    finally:
        drop_database(url)
    assert sorted(lite) == sorted(pg)
    for table in lite:
        assert lite[table] == pg[table], table


def test_a_new_migration_comes_as_a_pair() -> None:
    """Both dialects end at the same version: a migration added to one alone fails here."""
    assert migration_scripts()[-1][0] == migration_scripts("postgresql")[-1][0]


def _refused(cli: Cli, monkeypatch: pytest.MonkeyPatch, target: str) -> tuple[int, str]:
    monkeypatch.setenv("TRIOBOT_DB", target)
    cli.capsys.readouterr()
    status = main(["status"])
    captured = cli.capsys.readouterr()
    return status, captured.err


def test_a_url_of_another_database_stops_status_in_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, err = _refused(cli, monkeypatch, "mysql://x")
    assert status != 0
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "TRIOBOT_DB=mysql://x is a URL but not a PostgreSQL one" in err
    assert list(tmp_path.iterdir()) == []  # no file or folder named like the URL


@pytest.mark.parametrize("wrong", ["port", "database"])
def test_a_postgresql_url_that_reaches_no_database_stops_status_in_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wrong: str
) -> None:
    server = server_url()
    if server is None:
        pytest.skip("no PostgreSQL server for the tests: set TRIOBOT_TEST_POSTGRES")
    if wrong == "port":
        target = "postgresql://postgres@127.0.0.1:1/postgres"
    else:
        target = with_database(server, "triobot_no_such_database")
    status, err = _refused(cli, monkeypatch, target)
    assert status != 0
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot use the PostgreSQL database at {target}" in err
    assert list(tmp_path.iterdir()) == []


async def test_two_workers_opening_a_new_database_at_once_migrate_it_once() -> None:
    server = server_url()
    if server is None:
        pytest.skip("no PostgreSQL server for the tests: set TRIOBOT_TEST_POSTGRES")
    name = "triobot_fresh_a_pair"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    try:
        first, second = await asyncio.gather(PostgresDatabase.open(url), PostgresDatabase.open(url))
        try:
            versions = await first.fetchall("SELECT version FROM schema_version")
            expected = [number for number, _, _ in migration_scripts("postgresql")]
            assert [row[0] for row in versions] == expected
            assert await second.fetchval("SELECT COUNT(*) FROM erasure_rule") > 0
            # Seed rows went in once, not once per worker.
            rules = await first.fetchval("SELECT COUNT(*) FROM erasure_rule")
            distinct = await first.fetchval(
                "SELECT COUNT(*) FROM (SELECT DISTINCT * FROM erasure_rule) AS d"
            )
            assert rules == distinct
            assert await first.migrate() == [] and await second.migrate() == []
        finally:
            await first.close()
            await second.close()
    finally:
        drop_database(url)
