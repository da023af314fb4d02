"""Data rights: a person downloads what is held about them, or has it erased, and then no
table or column anywhere holds their name or their Telegram id."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot.people.data_rights import DataRights
from bot.programme.demo import seed_demo
from bot.programme.roster import RosterImport
from storage import personal_data
from storage.clock import utcnow
from storage.db import Database
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.programme import ProgrammeRepo
from storage.schedule import ScheduleRepo
from storage.store import open_store
from tests.conftest import Cli
from tests.dbscan import on_disk, snapshot, tables, traces, tuples_holding
from tests.harness import BotUnderTest, join

pytestmark = pytest.mark.both_stores

BRUNO_ID = 7_310_448_215
BRUNO = "Bruno Quintanilha Araújo"
ALICE_ID = 7_310_448_101


def spellings(name: str) -> list[str]:
    """The name as typed, and as JSON text writes it with non-ASCII letters escaped."""
    return [name, json.dumps(name)[1:-1]]


async def a_trio_at_work(bot: BotUnderTest) -> tuple[int, int]:
    """Alice (lead) and Bruno join the demo trio and write; Bruno has mail and a schedule."""
    bruno = bot.person(BRUNO_ID, "Bruno")
    await join(bruno, "DEMOBRUNO", name=BRUNO)
    await bruno.says("/reflect")
    await bruno.says("Mixed-attainment groups helped my quieter pupils talk.")
    alice = bot.person(ALICE_ID, "Alice")
    await join(alice, "DEMOALICE", name="Alice Lead")
    await alice.says("/reflect")
    await alice.says(f"Planned the research lesson with {BRUNO} and Carmen.")
    bruno_id = int(
        await bot.db.fetchval("SELECT id FROM person WHERE telegram_id = ?", (BRUNO_ID,))
    )
    trio_id = int(await bot.db.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
    async with bot.db.transaction() as tx:
        await OutboxRepo.enqueue(
            tx,
            BRUNO_ID,
            "reminder",
            {"text": f"Hello {BRUNO}"},
            now=bot.clock(),
            person_id=bruno_id,
        )
        await ScheduleRepo.add(
            tx, "nudge", utcnow() + timedelta(days=1), person_id=bruno_id, payload={"n": 1}
        )
        # A trio-wide reminder naming him, due to go to everyone.
        await ScheduleRepo.add(
            tx,
            "trio_note",
            utcnow() + timedelta(days=1),
            trio_id=trio_id,
            payload={"text": f"Next meeting: {BRUNO} teaches"},
        )
    return bruno_id, trio_id


async def test_privacy_download_holds_everything_about_the_person(bot: BotUnderTest) -> None:
    await a_trio_at_work(bot)
    bruno = bot.person(BRUNO_ID, "Bruno")
    await bruno.says("/privacy")
    assert "What I hold about you" in bruno.last_text
    await bruno.taps("Download my data")
    sent = [m for m in bruno.inbox if m.document is not None]
    assert len(sent) == 1
    name, content = sent[0].document or ("", b"")
    assert name.startswith("triobot-my-data-") and name.endswith(".json")
    held = json.loads(content)
    assert held["person"]["display_name"] == BRUNO
    assert held["person"]["telegram_id"] == BRUNO_ID
    assert held["roles"] == ["teacher"]
    assert held["school"]["name"] == "Southgate Primary"
    assert [t["ref"] for t in held["trios"]] == ["DEMO-T1"]
    assert held["consent_history"][0]["given"] == 1
    assert [r["answer"] for r in held["reflections"]] == [
        "Mixed-attainment groups helped my quieter pupils talk."
    ]
    assert {c["flow"] for c in held["conversations"]} >= {"onboarding", "reflection"}
    assert held["invites_used"][0]["code"] == "DEMOBRUNO"
    assert held["messages_queued"][0]["kind"] == "reminder"
    # Nothing about anyone else.
    assert "Alice Lead" not in content.decode()


async def test_erasure_from_privacy_leaves_no_trace_in_any_table(
    bot: BotUnderTest, db_path: Path | str, store: str
) -> None:
    bruno_id, _ = await a_trio_at_work(bot)
    people_before = await bot.db.fetchval("SELECT COUNT(*) FROM person")
    assert traces(db_path, *spellings(BRUNO), BRUNO_ID)  # the scan does find him before

    bruno = bot.person(BRUNO_ID, "Bruno")
    await bruno.says("/privacy")
    await bruno.taps("Erase my data")
    assert "Erase everything about you?" in bruno.last_text
    await bruno.taps("Yes, erase everything")
    assert "erased what I held about you" in bruno.last_text

    assert traces(db_path, *spellings(BRUNO), BRUNO_ID, "Quintanilha") == []
    if store == "sqlite":
        # Not in the file's free pages or the write-ahead log either.
        assert b"Quintanilha" not in on_disk(db_path)

    # The row stays, emptied, so the programme's counts still add up.
    row = await bot.db.fetchone("SELECT * FROM person WHERE id = ?", (bruno_id,))
    assert row is not None and row["status"] == "erased" and row["erased_at"] is not None
    assert (row["display_name"], row["telegram_id"], row["ref"], row["school_id"]) == (None,) * 4
    assert await bot.db.fetchval("SELECT COUNT(*) FROM person") == people_before
    # Alice's reflection, shared work of the trio, keeps its words without his name.
    alice_words = await bot.db.fetchval(
        "SELECT answer FROM reflection r JOIN person p ON p.id = r.person_id"
        " WHERE p.telegram_id = ?",
        (ALICE_ID,),
    )
    assert "with [erased] and Carmen" in alice_words
    trio_note = await bot.db.fetchval("SELECT payload FROM schedule WHERE kind = 'trio_note'")
    assert "[erased] teaches" in trio_note

    # To the bot he is now a stranger.
    await bruno.says("/privacy")
    assert "invite" in bruno.last_text.lower()
    assert traces(db_path, BRUNO_ID) == []
    if store == "postgresql":
        # No old version of any row (a dead tuple) holds his name either: erasure ran VACUUM.
        # Last, as it skips where the server has no pageinspect.
        assert tuples_holding(str(db_path), "Quintanilha") == []


async def test_keeping_the_data_after_all_changes_nothing(bot: BotUnderTest, db_path: Path) -> None:
    await a_trio_at_work(bot)
    bruno = bot.person(BRUNO_ID, "Bruno")
    await bruno.says("/privacy")
    await bruno.taps("Erase my data")
    before = snapshot(db_path)
    await bruno.taps("No, keep it")
    assert "Nothing was erased" in bruno.last_text
    after = snapshot(db_path)
    assert after["person"] == before["person"] and after["reflection"] == before["reflection"]


async def test_a_coordinator_erases_a_person_from_the_command_line(
    bot: BotUnderTest, cli: Cli, db_path: Path
) -> None:
    await a_trio_at_work(bot)
    status, out = await asyncio.to_thread(cli, "person", "erase", str(BRUNO_ID))
    assert status == 1 and f"This would erase {BRUNO}" in out and "--yes" in out
    assert traces(db_path, BRUNO_ID)  # not without --yes

    status, out = await asyncio.to_thread(cli, "person", "erase", str(BRUNO_ID), "--yes")
    assert status == 0, out
    assert traces(db_path, *spellings(BRUNO), BRUNO_ID, "Quintanilha") == []
    status, out = await asyncio.to_thread(cli, "person", "erase", str(BRUNO_ID), "--yes")
    assert status == 1 and "no such person" in out


async def test_an_erased_pre_registered_person_is_not_brought_back_by_the_roster(
    bot: BotUnderTest, cli: Cli, db_path: Path, tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "person_ref,name,school_id,role,trio_id\nq-zed,Zed Quaglino,DEMO-S,teacher,DEMO-T1\n",
        encoding="utf-8",
    )
    assert (await asyncio.to_thread(cli, "roster", "import", str(people)))[0] == 0
    status, out = await asyncio.to_thread(cli, "person", "erase", "q-zed", "--yes")
    assert status == 0, out
    assert traces(db_path, "Quaglino", "q-zed") == []
    report = await RosterImport(bot.db).run(people.read_bytes())
    assert report.imported and report.created == 0
    assert "was erased on request; skipped" in str(report.warnings[0])
    assert traces(db_path, "Quaglino", "q-zed") == []


def test_every_table_that_refers_to_a_person_has_an_erasure_rule(db_path: Path | str) -> None:
    async def rules() -> set[tuple[str, str]]:
        db = await open_store(db_path)
        try:
            return {
                (s.table, s.column) for s in await personal_data.scrubs(db) if s.how != "redact"
            }
        finally:
            await db.close()

    covered = asyncio.run(rules())
    missing = [
        f"{table}.{column}"
        for table, column in references_to_person(db_path)
        if (table, column) not in covered
    ]
    assert missing == [], "register what erasure does to these (storage/personal_data.py)"


def references_to_person(db_path: Path | str) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to person(id), as the schema declares them."""
    if isinstance(db_path, str):
        with psycopg.connect(db_path) as pg:
            rows = pg.execute(
                "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
                " WHERE c.contype = 'f' AND c.confrelid = 'person'::regclass"
                " AND c.conrelid <> 'person'::regclass"
            ).fetchall()
        return [(str(t), str(c)) for t, c in rows]
    with sqlite3.connect(db_path) as conn:
        return [
            (table, fk[3])
            for table in tables(conn)
            if table != "person"
            for fk in conn.execute(f'PRAGMA foreign_key_list("{table}")')
            if fk[2] == "person"
        ]


async def test_a_later_table_registers_its_own_scrubbing(db: Database) -> None:
    """What the meetings work will do for agreed summaries, in its own migration."""
    await seed_demo(db)
    async with db.transaction() as tx:
        for statement in (
            "CREATE TABLE xsummary (id INTEGER PRIMARY KEY, trio_id INTEGER, body TEXT)",
            "CREATE TABLE xsummary_agreement (summary_id INTEGER,"
            " person_id INTEGER REFERENCES person(id), decision TEXT)",
            "INSERT INTO erasure_rule (table_name, column_name, how, where_sql) VALUES"
            " ('xsummary', 'body', 'redact', 'trio_id IN (SELECT trio_id FROM trio_member"
            " WHERE person_id = :person_id)')",
            "INSERT INTO erasure_rule (table_name, column_name, how)"
            " VALUES ('xsummary_agreement', 'person_id', 'delete')",
            "INSERT INTO export_section (name, query) VALUES ('summaries_agreed',"
            " 'SELECT summary_id, decision FROM xsummary_agreement WHERE person_id = :person_id')",
        ):
            await tx.execute(statement)
        trio_id = int(await tx.fetchval("SELECT id FROM trio WHERE ref = 'DEMO-T1'"))
        people = []
        for name, tid in (("Alice Lead", 1), (BRUNO, 2)):
            person_id = await PeopleRepo.create(
                tx, telegram_id=tid, school_id=None, role="teacher", display_name=name
            )
            await ProgrammeRepo.add_member(tx, trio_id, person_id, lead=False)
            people.append(person_id)
        await tx.execute(
            "INSERT INTO xsummary (id, trio_id, body) VALUES (1, ?, ?)",
            (trio_id, f"Agreed by Alice Lead and {BRUNO}: try talk partners."),
        )
        for person_id in people:
            await tx.execute(
                "INSERT INTO xsummary_agreement VALUES (1, ?, 'approved')", (person_id,)
            )
    rights = DataRights(db, db.clock)
    held = json.loads(await rights.export(people[1]))
    assert held["summaries_agreed"] == [{"summary_id": 1, "decision": "approved"}]

    assert await rights.erase(people[1])
    body = await db.fetchval("SELECT body FROM xsummary")
    assert body == "Agreed by Alice Lead and [erased]: try talk partners."
    agreed = await db.fetchall("SELECT person_id FROM xsummary_agreement")
    assert [r[0] for r in agreed] == [people[0]]
