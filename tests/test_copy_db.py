"""`triobot copy-db FILE URL`: a programme run on SQLite moves to PostgreSQL whole — every
table, every row, the same values read back through the same Database interface — and new
rows there get ids past the copied ones. What is not safe to copy is refused untouched."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from storage import meta, personal_data
from storage.copy_db import NOT_COPIED, latest_version
from storage.db import Database, Reader, to_db_time
from storage.digests import DigestArchive
from storage.invites import InviteRepo
from storage.lease import Lease
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.postgres import PostgresDatabase
from storage.schedule import ScheduleRepo
from tests.conftest import Cli
from tests.dbscan import tables
from tests.digest_programme import research_work, seed
from tests.postgres import drop_database, fresh_database, server_url, with_database

WEEK = "2026-W47"
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def target() -> Iterator[str]:
    """A fresh, migrated, empty PostgreSQL database (the test skips without a server)."""
    url = fresh_database()
    yield url
    drop_database(url)


async def a_programme_in_every_table(path: Path) -> None:
    """A term's programme on SQLite: the digest fixture's schools, trios, reflections,
    meetings, summaries, lesson study and partnership, and one of each remaining kind."""
    db = await Database.open(path)
    try:
        await seed(db, trio_work=True, last_week=WEEK)
        await research_work(db, WEEK)
        at = to_db_time(AT)
        async with db.transaction() as tx:
            code = await InviteRepo.create(tx, role="teacher", school_id=1, created_by=1)
            gone = await PeopleRepo.create(
                tx, telegram_id=5_550_001, school_id=1, role="teacher", display_name="Zed Q"
            )
            await tx.execute("UPDATE person SET ref = 'q-zed' WHERE id = ?", (gone,))
            await tx.execute(
                "INSERT INTO invite_use (code, person_id, used_at) VALUES (?, 2, ?)", (code, at)
            )
            await OutboxRepo.enqueue(tx, 1001, "reminder", {"text": "Ça va ?"}, now=AT, person_id=1)
            await ScheduleRepo.add(tx, "nudge", AT + timedelta(days=1), person_id=1)
            await meta.secret_key(tx, "button_key")  # bytes
            await meta.keep(tx, "moved_from", "sqlite")  # text
            await tx.execute(
                "INSERT INTO flow_state (person_id, chat_id, flow, step, answers, started_at,"
                " updated_at, expires_at) VALUES (1, 1001, 'reflection', 'answer',"
                ' \'{"q": "Talk partners"}\', ?, ?, ?)',
                (at, at, to_db_time(AT + timedelta(days=2))),
            )
            await tx.execute(
                "INSERT INTO term_day (kind, starts_on, ends_on, name)"
                " VALUES ('term', '2026-09-03', '2026-12-18', 'Autumn')"
            )
            await tx.execute(
                "INSERT INTO trio_chat (trio_id, chat_id, linked_by, linked_at)"
                " VALUES (1, -100777, 1, ?)",
                (at,),
            )
            meeting = await tx.fetchval("SELECT MIN(id) FROM meeting")
            await tx.execute(
                "INSERT INTO meeting_reflection (meeting_id, person_id, take_back, answered_at)"
                " VALUES (?, 2, '\"Exit tickets\"', ?)",
                (meeting, at),
            )
            summary = await tx.fetchval("SELECT MIN(id) FROM summary")
            await tx.execute(
                "INSERT INTO summary_approval (summary_id, person_id, revision, decision,"
                " decided_at) VALUES (?, 2, 1, 'approved', ?)",
                (summary, at),
            )
            account, cycle = await tx.fetchone(
                "SELECT id, lesson_study_id FROM lesson_study_account ORDER BY id LIMIT 1"
            ) or (None, None)
            await tx.execute(
                "INSERT INTO lesson_study_approval (account_id, person_id, revision, decision,"
                " decided_at) VALUES (?, 2, 1, 'approved', ?)",
                (account, at),
            )
            await tx.execute(
                "INSERT INTO lesson_study_task (lesson_study_id, round, task, person_id, done_at)"
                " VALUES (?, 1, 'observe', 2, ?)",
                (cycle, at),
            )
            question = await tx.fetchval("SELECT MIN(id) FROM research_question")
            await tx.execute(
                "INSERT INTO question_pass (question_id, person_id, passed_at) VALUES (?, 3, ?)",
                (question, at),
            )
            await DigestArchive.save(
                tx,
                WEEK,
                AT,
                {"people": 3},
                [(1, "teacher", "S1", "LA1", "T1", "Trio 1", "2026-11-18", "reflection", "", "Hi")],
            )
            digest = await DigestArchive.digest_id(tx, WEEK)
            assert digest is not None
            await DigestArchive.store_file(tx, digest, "schools", "en", "w47.pdf", b"%PDF\x00\xff")
            assert await personal_data.erase(tx, gone)  # an erased_ref row
        # Expired a minute ago: a leftover of a bot that stopped, not one running.
        await Lease(db).acquire(datetime.now(UTC) - timedelta(seconds=61))
    finally:
        await db.close()


async def rows_of(q: Reader, table: str) -> list[tuple[Any, ...]]:
    """Every row, as the repositories read it, in an order both stores agree on."""
    rows = await q.fetchall(f'SELECT * FROM "{table}"')
    named = [tuple(sorted(zip(r.keys(), tuple(r), strict=True))) for r in rows]
    if table == "meta":
        # One BLOB-or-TEXT column on SQLite, BYTEA on PostgreSQL: text kept there
        # (meta.keep) is its UTF-8 bytes on PostgreSQL.
        named = [tuple((k, v.encode() if isinstance(v, str) else v) for k, v in r) for r in named]
    return sorted(named, key=repr)


LATEST = latest_version("sqlite")


def all_tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [t for t in tables(conn) if t not in NOT_COPIED]


def test_a_programme_moves_whole_and_new_ids_follow_the_copied_ones(
    tmp_path: Path, target: str, cli: Cli
) -> None:
    source = tmp_path / "programme.db"
    asyncio.run(a_programme_in_every_table(source))
    names = all_tables(source)
    with sqlite3.connect(source) as conn:
        empty = [t for t in names if not conn.execute(f'SELECT 1 FROM "{t}"').fetchone()]
    assert empty == []  # every kind of row is there to be copied

    status, out = cli("copy-db", str(source), target)
    assert status == 0, out
    assert "verified: row counts equal in every table" in out
    assert f"rows in {len(names)} tables at schema version {LATEST}" in out
    with sqlite3.connect(source) as conn:
        people = conn.execute("SELECT COUNT(*) FROM person").fetchone()[0]
    assert ["person", str(people), str(people)] in [line.split() for line in out.splitlines()]

    async def compare() -> tuple[dict[str, Any], dict[str, Any], int, int]:
        lite = await Database.open(source)
        pg = await PostgresDatabase.open(target)
        try:
            before = {t: await rows_of(lite, t) for t in names}
            after = {t: await rows_of(pg, t) for t in names}
            async with pg.transaction() as tx:
                new_id = await PeopleRepo.create(
                    tx, telegram_id=5_550_002, school_id=1, role="teacher", display_name="New"
                )
            return before, after, new_id, int(await lite.fetchval("SELECT MAX(id) FROM person"))
        finally:
            await lite.close()
            await pg.close()

    before, after, new_id, copied_max = asyncio.run(compare())
    differing = [t for t in names if before[t] != after[t]]
    assert differing == [], {t: (before[t][:2], after[t][:2]) for t in differing}
    assert new_id == copied_max + 1
    # And so for every table with an identity: its next id is past the largest copied.
    with psycopg.connect(target) as pg:
        sequences = pg.execute(
            "SELECT table_name, pg_get_serial_sequence(table_name, 'id')"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND column_name = 'id' AND is_identity = 'YES'"
        ).fetchall()
        behind = []
        for table, sequence in sequences:
            next_id, largest = pg.execute(
                f"SELECT (SELECT last_value + is_called::int FROM {sequence}),"
                f' (SELECT MAX(id) FROM "{table}")'
            ).fetchone() or (None, None)
            if largest is not None and next_id <= largest:
                behind.append(table)
    assert len(sequences) > 20 and behind == []


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What `triobot …` said when it refused: one line, exit status 2."""
    from bot.cli.main import main

    capsys.readouterr()
    status = main(list(argv))
    said = capsys.readouterr()
    assert status == 2 and len(said.err.strip().splitlines()) == 1 and said.out == "", said
    return said.err.strip()


def test_a_target_with_a_programme_in_it_is_refused(
    tmp_path: Path, target: str, cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "programme.db"
    asyncio.run(a_programme_in_every_table(source))
    assert cli("copy-db", str(source), target)[0] == 0
    said = refused(capsys, "copy-db", str(source), target)
    assert "is not empty (rows in " in said and "nothing was copied" in said


def test_a_target_without_the_schema_is_refused(
    tmp_path: Path, cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "programme.db"
    asyncio.run(a_programme_in_every_table(source))
    blank = f"triobot_blank_{os.getpid()}"
    server = server_url() or pytest.skip("no PostgreSQL server for the tests")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{blank}"')
    url = with_database(server, blank)
    try:
        said = refused(capsys, "copy-db", str(source), url)
        assert f"is at schema version 0, not {LATEST}" in said and "triobot migrate" in said
        with psycopg.connect(url) as conn:  # nothing was created there
            assert conn.execute("SELECT to_regclass('person')").fetchone() == (None,)
    finally:
        drop_database(url)


def test_refusals_say_why_in_one_line_and_write_nothing(
    tmp_path: Path, target: str, cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "programme.db"
    asyncio.run(a_programme_in_every_table(source))

    def said(*argv: str) -> str:
        return refused(capsys, *argv)

    with sqlite3.connect(source) as conn:  # a file from before the latest migration
        latest = conn.execute(
            "SELECT * FROM schema_version WHERE version = ?", (LATEST,)
        ).fetchone()
        conn.execute("DELETE FROM schema_version WHERE version = ?", (LATEST,))
    older = f"at schema version {LATEST - 1}, this triobot's is {LATEST}"
    assert older in said("copy-db", str(source), target)
    assert "triobot migrate" in said("copy-db", str(source), target)
    with sqlite3.connect(source) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, ?, ?, ?)", latest)

    assert "not a PostgreSQL URL" in said("copy-db", str(source), "mysql://me@db/triobot")
    assert "no SQLite database" in said("copy-db", str(tmp_path / "none.db"), target)
    wrong_port = target.replace(":55432/", ":1/") if ":55432/" in target else target + "x"
    assert "cannot use the PostgreSQL database" in said("copy-db", str(source), wrong_port)

    # A bot running on the file: its next writes would be left behind.
    async def take_lease() -> None:
        db = await Database.open(source)
        await Lease(db).acquire()
        await db.close()

    asyncio.run(take_lease())
    assert "another triobot holds this database" in said("copy-db", str(source), target)

    async def count_people() -> int:
        pg = await PostgresDatabase.open(target)
        try:
            return int(await pg.fetchval("SELECT COUNT(*) FROM person"))
        finally:
            await pg.close()

    assert asyncio.run(count_people()) == 0
