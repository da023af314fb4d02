"""Migrations are recorded with their file's checksum; a database whose applied migrations
are no longer the files it applied is refused, and the operator is told in one line."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from bot.cli.main import main
from storage import db as db_module
from storage import postgres as postgres_module
from storage.db import Database
from storage.schema import MigrationChanged, MigrationMissing, StorageError, migration_scripts
from storage.store import open_store
from tests.conftest import Cli

pytestmark = pytest.mark.both_stores

ROOT = Path(__file__).resolve().parent.parent
REAL = migration_scripts()


def recorded(path: Path | str) -> list[tuple[int, str, str | None]]:
    query = "SELECT version, name, checksum FROM schema_version ORDER BY version"
    if isinstance(path, str):  # a PostgreSQL test database's URL
        with psycopg.connect(path) as pg:
            return [(int(v), str(n), c) for v, n, c in pg.execute(query)]
    conn = sqlite3.connect(path)
    try:
        return [(int(v), str(n), c) for v, n, c in conn.execute(query)]
    finally:
        conn.close()


def use_scripts(monkeypatch: pytest.MonkeyPatch, scripts: list[tuple[int, str, str]]) -> None:
    """This installation's migration files are `scripts`, on either store."""
    monkeypatch.setattr(db_module, "migration_scripts", lambda *_: scripts)
    monkeypatch.setattr(postgres_module, "migration_scripts", lambda *_: scripts)


def with_changed(number: int, sql: str) -> list[tuple[int, str, str]]:
    return [(n, name, sql if n == number else text) for n, name, text in REAL]


async def test_each_migration_is_recorded_with_the_sha256_of_its_file(
    db_path: Path, store: str
) -> None:
    db = await open_store(db_path)
    await db.close()
    assert recorded(db_path) == [
        (number, name, hashlib.sha256(sql.encode()).hexdigest())
        for number, name, sql in migration_scripts(store)
    ]
    folder = ROOT / "storage" / "migrations"
    files = sorted((folder / "postgresql" if store == "postgresql" else folder).glob("*.sql"))
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == [
        c for _, _, c in recorded(db_path)
    ]


@pytest.mark.sqlite_only  # PostgreSQL's schema_version has had checksums from the start
async def test_a_database_from_before_checksums_gets_them_from_the_files(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()
    # schema_version as every database made before checksums has it.
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.executescript(
        "BEGIN;"
        "CREATE TABLE old_versions (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL);"
        "INSERT INTO old_versions SELECT version, name, applied_at FROM schema_version;"
        "DROP TABLE schema_version;"
        "ALTER TABLE old_versions RENAME TO schema_version;"
        "COMMIT;"
    )
    conn.close()
    db = await Database.open(db_path)
    assert await db.migrate() == []
    await db.close()
    assert [c for _, _, c in recorded(db_path)] == [
        hashlib.sha256(sql.encode()).hexdigest() for _, _, sql in REAL
    ]


@pytest.mark.sqlite_only  # PostgreSQL's form: tests/test_postgres_schema.py
async def test_an_applied_migration_that_changed_is_refused_by_name(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await Database.open(db_path)
    await db.close()
    before = recorded(db_path)
    number, name, sql = REAL[2]
    monkeypatch.setattr(db_module, "migration_scripts", lambda: with_changed(number, sql + "--"))
    with pytest.raises(MigrationChanged) as caught:
        await Database.open(db_path)
    message = str(caught.value)
    assert isinstance(caught.value, StorageError)
    assert f"storage/migrations/{name} has changed" in message
    assert f"a new migration, {REAL[-1][0] + 1:04d}_" in message  # what to do instead
    assert "\n" not in message
    assert recorded(db_path) == before  # nothing was changed


@pytest.mark.sqlite_only  # PostgreSQL's form: tests/test_postgres_schema.py
async def test_no_later_migration_is_applied_past_a_changed_one(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check comes first: a new migration is not applied to a schema that is in doubt."""
    monkeypatch.setattr(db_module, "migration_scripts", lambda: REAL[:-1])
    db = await Database.open(db_path)
    await db.close()
    changed = with_changed(REAL[0][0], REAL[0][2] + "\n")
    monkeypatch.setattr(db_module, "migration_scripts", lambda: changed)
    with pytest.raises(MigrationChanged, match=REAL[0][1]):
        await Database.open(db_path)
    assert [v for v, _, _ in recorded(db_path)] == [n for n, _, _ in REAL[:-1]]


async def test_an_applied_migration_missing_from_the_package_is_reported(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    real = migration_scripts(store)
    db = await open_store(db_path)
    await db.close()
    # An older triobot (without the newest file) opening a database a newer one migrated.
    use_scripts(monkeypatch, real[:-1])
    with pytest.raises(MigrationMissing) as caught:
        await open_store(db_path)
    message = str(caught.value)
    assert f"migration {real[-1][1]} was applied to this database on" in message
    assert "no such file" in message and "\n" not in message


@pytest.mark.sqlite_only  # PostgreSQL's form: tests/test_postgres_schema.py
async def test_a_renamed_migration_is_reported_with_both_names(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await Database.open(db_path)
    await db.close()
    number, name, _ = REAL[1]
    renamed = [(n, "0002_renamed.sql" if n == number else x, s) for n, x, s in REAL]
    monkeypatch.setattr(db_module, "migration_scripts", lambda: renamed)
    with pytest.raises(MigrationChanged, match=f"as {name}, but the file is now .*0002_renamed"):
        await Database.open(db_path)


@pytest.mark.sqlite_only  # a second sqlite3 connection holding the write lock
async def test_opening_a_checked_database_needs_no_write_lock(db_path: Path) -> None:
    """A `triobot status` while the bot is in the middle of a write goes straight ahead."""
    db = await Database.open(db_path)
    await db.close()
    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        db = await Database.open(db_path)
        await db.close()
        # Had it needed the write lock, it would have waited out busy_timeout and failed.
        assert time.monotonic() - started < 1
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@pytest.mark.parametrize(
    "argv",
    [["invite", "list"], ["status"], ["deliveries"], ["person", "erase", "T1", "--yes"]],
)
def test_every_command_prints_the_refusal_as_one_line(
    cli: Cli,
    db_path: Path,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store: str,
) -> None:
    assert cli("status")[0] == 0  # the database, as this version made it
    real = migration_scripts(store)
    number, name, sql = real[-1]
    changed = [(n, x, sql + "-- edited in place\n" if n == number else s) for n, x, s in real]
    use_scripts(monkeypatch, changed)
    capsys.readouterr()
    status = main(argv)  # not through `cli`, which keeps only what went to stdout
    err = capsys.readouterr().err
    assert status == 2
    assert err == err.splitlines()[0] + "\n"
    assert err.startswith(f"triobot: storage/migrations/{name} has changed")
    assert "Traceback" not in err


def test_triobot_run_refuses_before_reaching_telegram(tmp_path: Path) -> None:
    """The real process: its recorded checksum differs from the file (as if the file had
    been edited since), and `triobot run` says so in one line and stops."""
    db_path = tmp_path / "triobot.db"
    env = {
        **os.environ,
        "TRIOBOT_DB": str(db_path),
        "TELEGRAM_BOT_TOKEN": "123456789:AAHsecretsecretsecretsecretsecret0",
        "TELEGRAM_API_URL": "https://api.telegram.org",
        "PYTHONPATH": str(ROOT),
    }
    made = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "status"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE schema_version SET checksum = 'not what was applied' WHERE version = 4")
    conn.commit()
    conn.close()
    ran = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "run"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 2
    assert "Traceback" not in ran.stderr
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith(f"triobot: storage/migrations/{REAL[3][1]} has changed")
