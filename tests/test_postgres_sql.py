"""The repositories' SQL, as PostgreSQL is given it, and what comes back: the same values as
SQLite gives (storage/postgres.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.db import Database, to_db_time
from storage.postgres_sql import to_postgres

pytestmark = pytest.mark.both_stores


@pytest.mark.parametrize(
    ("sqlite", "postgres", "takes"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s", True),
        ("DELETE FROM t WHERE id = :person_id", "DELETE FROM t WHERE id = %(person_id)s", True),
        # Inside quotes nothing is a parameter; a literal % is doubled once parameters come.
        (
            "SELECT '?', 'a:b', x FROM t WHERE y LIKE '%z%' AND w = ?",
            "SELECT '?', 'a:b', x FROM t WHERE y ILIKE '%%z%%' AND w = %s",
            True,
        ),
        ("SELECT x FROM t WHERE y LIKE '%z%'", "SELECT x FROM t WHERE y ILIKE '%z%'", False),
        (
            "SELECT CAST(x AS REAL), y::text FROM t -- why? :not_this\n",
            "SELECT CAST(x AS DOUBLE PRECISION), y::text FROM t -- why? :not_this\n",
            False,
        ),
        (
            'SELECT "odd?name" FROM t WHERE a NOT LIKE ?',
            'SELECT "odd?name" FROM t WHERE a NOT ILIKE %s',
            True,
        ),
        ("SELECT 'it''s ?' WHERE a = ?", "SELECT 'it''s ?' WHERE a = %s", True),
    ],
)
def test_statements_are_translated_outside_quotes_and_comments(
    sqlite: str, postgres: str, takes: bool
) -> None:
    assert to_postgres(sqlite) == (postgres, takes)


async def test_values_come_back_as_sqlite_gives_them(db: Database) -> None:
    moment = datetime(2026, 11, 23, 9, 0, 5, 120, tzinfo=UTC)
    whole = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with db.transaction() as tx:
        pid = await tx.execute(
            "INSERT INTO person (ref, display_name, telegram_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ("P-1", "Ana 100% sure", 7_000_000_001, to_db_time(moment), to_db_time(whole)),
        )
        second = await tx.execute(
            "INSERT INTO person (ref, created_at, updated_at) VALUES (?, ?, ?)",
            ("P-2", to_db_time(whole), to_db_time(whole)),
        )
        await tx.execute(
            "INSERT INTO trio (ref, kind, name, created_at) VALUES ('T1', 'teachers', 'T', ?)",
            (to_db_time(whole),),
        )
        await tx.execute(
            "INSERT INTO trio_member (trio_id, person_id, is_lead, joined_at)"
            " SELECT id, ?, ?, ? FROM trio",
            (pid, True, to_db_time(whole)),
        )
    assert second == pid + 1  # execute(INSERT) gives the new id, as lastrowid does
    row = await db.fetchone(
        "SELECT p.created_at, p.updated_at, p.telegram_id, m.is_lead, p.display_name,"
        " (SELECT COUNT(*) FROM person) AS people, (SELECT SUM(is_lead) FROM trio_member) AS leads,"
        " (SELECT AVG(id) FROM person) AS mean, p.away_until IS NULL AS away"
        " FROM person p JOIN trio_member m ON m.person_id = p.id WHERE p.display_name LIKE ?",
        ("%ANA 100%",),
    )
    assert row is not None
    assert row["created_at"] == to_db_time(moment) == "2026-11-23T09:00:05.000120Z"
    assert row["UPDATED_AT"] == to_db_time(whole)  # names read in any case, as sqlite3.Row
    assert (row["telegram_id"], row["is_lead"], row["display_name"]) == (
        7_000_000_001,
        1,
        "Ana 100% sure",
    )
    assert (row["people"], row["leads"], row["away"]) == (2, 1, 1)
    assert isinstance(row["leads"], int) and row["mean"] == pid + 0.5
    assert row.keys()[:2] == ["created_at", "updated_at"]
    # Instants compare with the text the repositories pass, on both stores.
    later = await db.fetchval(
        "SELECT COUNT(*) FROM person WHERE created_at > ?", (to_db_time(whole),)
    )
    assert later == 1
    assert await db.fetchval("SELECT ? IS NULL", (None,)) == 1
