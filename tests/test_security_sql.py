"""SQL injection: every statement is constant text with parameters, and the few that must
splice an identifier take it from a fixed list or from the schema (SECURITY.md)."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest

from bot.programme.demo import seed_demo
from storage import db as db_module
from storage import personal_data
from storage.db import Database
from storage.people import PeopleRepo
from tests.sqlscan import ROOT, scan

# The only statements not built from constant text, and why each is safe. A new one fails
# the test below until it is made constant or added here with its reason.
SPLICED = {
    ("storage/db.py", "Database.migrate"): "the migration files shipped in the package",
    (
        "storage/personal_export.py",
        "collect",
    ): "EXPORT queries and export_section rows (migrations)",
    ("storage/personal_data.py", "erase"): "table and column checked against the schema",
    ("storage/personal_data.py", "_redact"): "table and column checked against the schema",
    ("storage/personal_data.py", "after_erasure"): "VACUUM of tables erasure just touched",
    # PostgreSQL: the caller's statement as translated (to_postgres), checked at its call.
    ("storage/postgres.py", "PostgresTransaction._run"): "the caller's statement, translated",
    ("storage/postgres.py", "PostgresTransaction.executemany"): "the caller's, translated",
    ("storage/postgres.py", "PostgresDatabase._read"): "the caller's statement, translated",
    ("storage/postgres.py", "PostgresDatabase.migrate"): "the migration files shipped",
    # copy-db: every table and column name read from the two stores' own catalogues.
    ("storage/copy_db.py", "copy_database"): "tables from the catalogue",
    ("storage/copy_db.py", "_check_same_tables"): "tables from the catalogue",
    ("storage/copy_db.py", "_has_rows"): "tables from the catalogue",
    ("storage/copy_db.py", "_count"): "tables from the catalogue",
    ("storage/copy_db.py", "_copy_table"): "tables and columns from the catalogue",
    ("storage/copy_db.py", "_move_sequences"): "identity columns from the catalogue",
    ("bench/scratch_db.py", "scratch_database"): "a database name the bench makes (pid)",
    ("bench/term_world.py", "Ledger.query"): "the ledger's own constant statements, translated",
}


def sources() -> list[Path]:
    return [
        p for folder in ("bot", "storage", "bench") for p in sorted((ROOT / folder).rglob("*.py"))
    ]


def test_no_statement_is_assembled_from_anything_but_constants() -> None:
    found = {(f.path, f.function) for f in scan(sources())}
    unexplained = sorted(
        f"{f.path}:{f.line} {f.function}: {f.call}({f.statement})"
        for f in scan(sources())
        if (f.path, f.function) not in SPLICED
    )
    assert unexplained == [], "use ? parameters, or splice only from a constant list"
    assert found == set(SPLICED), "an entry in SPLICED no longer splices anything: remove it"


def test_the_scanner_flags_input_reaching_a_statement(tmp_path: Path) -> None:
    module = tmp_path / "repo_example.py"
    module.write_text(
        textwrap.dedent(
            """
            COLUMNS = ("a", "b")
            TABLE = "person"
            SELECT = "SELECT * FROM " + TABLE

            async def constant(tx, ids):
                marks = ",".join("?" * len(ids))
                sql = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE id IN ({marks})"
                if ids:
                    sql += " AND a = ?"
                parts = ["SELECT 1"]
                parts.append("SELECT 2")
                await tx.fetchall(sql, ids)
                await tx.fetchall(" UNION ".join(parts))
                await tx.execute(f"{SELECT} WHERE id = ?", (1,))
                for column in COLUMNS:
                    await tx.execute(f"UPDATE t SET {column} = NULL")

            async def helper(tx, statement, params):
                await tx.execute(statement, params)

            async def bad_param(tx, name):
                await tx.execute(f"SELECT * FROM person WHERE name = '{name}'")

            async def bad_helper_call(tx, name):
                await helper(tx, "DELETE FROM person WHERE ref = " + name, ())

            async def bad_loop(tx, rows):
                for row in rows:
                    await tx.fetchone(f"SELECT {row['column']} FROM person")

            async def bad_keys(tx, **fields):
                sets = ", ".join(f"{k} = ?" for k in fields)
                await tx.execute(f"UPDATE person SET {sets}", tuple(fields.values()))

            async def bad_percent(db, ref):
                await db.fetchval("SELECT id FROM person WHERE ref = '%s'" % ref)
            """
        )
    )
    flagged = sorted(f.function for f in scan([module]))
    assert flagged == ["bad_helper_call", "bad_keys", "bad_loop", "bad_param", "bad_percent"]


async def test_person_update_refuses_names_that_are_not_columns(db: Database) -> None:
    await seed_demo(db)
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(tx, telegram_id=1, school_id=None, role="teacher")
    hostile = "display_name = 'x', status"
    with pytest.raises(ValueError, match="not a person field"):
        async with db.transaction() as tx:
            await PeopleRepo.update(tx, person_id, **{hostile: "erased"})
    name = "Robert'); DROP TABLE person;--"
    async with db.transaction() as tx:
        await PeopleRepo.update(tx, person_id, language="es", display_name=name)
    row = await db.fetchone(
        "SELECT display_name, language, status FROM person WHERE id = ?", (person_id,)
    )
    assert row is not None
    assert tuple(row) == (name, "es", "joining")


async def test_an_erasure_rule_naming_no_real_column_stops_the_erasure(db: Database) -> None:
    await seed_demo(db)
    async with db.transaction() as tx:
        person_id = await PeopleRepo.create(
            tx, telegram_id=5, school_id=None, role="teacher", display_name="Dora Example"
        )
        await tx.execute(
            "INSERT INTO erasure_rule (table_name, column_name, how)"
            " VALUES ('person', 'id = id; DROP TABLE trio; --', 'null')"
        )
    with pytest.raises(ValueError, match="no such column"):
        async with db.transaction() as tx:
            await personal_data.erase(tx, person_id)
    # Rolled back: nothing erased, nothing dropped.
    assert await db.fetchval("SELECT display_name FROM person WHERE id = ?", (person_id,)) == (
        "Dora Example"
    )
    assert await db.fetchval("SELECT COUNT(*) FROM trio") > 0


async def test_a_failing_migration_leaves_neither_its_tables_nor_its_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = db_module.migration_scripts()
    broken = (
        real[-1][0] + 1,
        "9999_it's_broken.sql",
        "CREATE TABLE half_made (id INTEGER);\nSELECT * FROM no_such_table;",
    )
    monkeypatch.setattr(db_module, "migration_scripts", lambda: [*real, broken])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await Database.open(db_path)
    monkeypatch.setattr(db_module, "migration_scripts", lambda: real)
    db = await Database.open(db_path)
    try:
        assert await db.fetchval("SELECT MAX(version) FROM schema_version") == real[-1][0]
        assert await db.fetchval("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_made'") == 0
    finally:
        await db.close()
