"""The store's own commands. `triobot migrate`, as the operator runs it before an upgrade's
first start: it applies what is pending and names each migration; a store whose history
differs from the files is refused in one line, nothing changed. `triobot backup` copies a
SQLite file and, on PostgreSQL, says what to use instead."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.cli.main import main
from storage.db import Database
from storage.lease import Lease
from storage.schema import migration_scripts
from storage.store import open_store
from tests.postgres import drop_database, server_url, with_database

pytestmark = pytest.mark.both_stores


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(argv))
    said = capsys.readouterr()
    return status, said.out, said.err


async def _execute(target: Path | str, sql: str) -> None:
    db = await open_store(target)
    try:
        async with db.transaction() as tx:
            await tx.execute(sql)
    finally:
        await db.close()


@pytest.fixture
def blank(store: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TRIOBOT_DB names a store with nothing in it yet (a new SQLite file is that already;
    the PostgreSQL test databases come migrated, so a new database without the template)."""
    if store == "sqlite":
        yield
        return
    server = server_url()
    assert server is not None
    name = f"triobot_blank_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    monkeypatch.setenv("TRIOBOT_DB", url)
    yield
    drop_database(url)


def test_migrate_names_what_it_applied_then_has_nothing_to_do(
    cli: object, blank: None, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "migrate")
    assert status == 0, err
    files = [name for _, name, _ in migration_scripts(store)]
    assert [line.removeprefix("applied ") for line in out.splitlines()[:-1]] == files
    latest = migration_scripts(store)[-1][0]
    assert out.splitlines()[-1].endswith(
        f"{len(files)} migration(s) applied; schema version {latest}."
    )
    if store == "sqlite":
        assert "0001_initial.sql" in out
    else:
        assert "0015_baseline.sql" in out

    status, out, err = run(capsys, "migrate")
    assert (status, err) == (0, "")
    assert out.strip().endswith(f"up to date at schema version {latest}; nothing applied.")


def test_a_changed_migration_is_refused_in_one_line(
    cli: object, db_path: Path | str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "migrate")[0] == 0
    asyncio.run(
        _execute(db_path, "UPDATE schema_version SET checksum = 'edited' WHERE version = 15")
    )
    status, out, err = run(capsys, "migrate")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "has changed since it was applied" in err and "nothing was changed" in err


@pytest.mark.sqlite_only  # one bot per SQLite file; on PostgreSQL workers share the database
def test_migrate_waits_for_the_running_bot_on_a_sqlite_file(
    cli: object, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def start_a_bot() -> None:
        db = await Database.open(db_path)
        await Lease(db).acquire()
        await db.close()

    asyncio.run(start_a_bot())
    status, out, err = run(capsys, "migrate")
    assert status == 2 and out == ""
    assert err.startswith("triobot: not migrating: another triobot holds this database")


def test_backup_copies_a_sqlite_file_and_sends_postgresql_to_pg_dump(
    cli: object, db_path: Path | str, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "backup.db"
    assert run(capsys, "migrate")[0] == 0
    status, out, err = run(capsys, "backup", str(target))
    if store == "sqlite":
        assert status == 0 and out.startswith(f"{target}: ") and target.exists()
        return
    assert (status, out) == (2, "")
    assert err.strip() == (
        "triobot backup copies a SQLite file; for PostgreSQL use pg_dump"
        " (README: Backups on PostgreSQL)"
    )
    assert not target.exists()
