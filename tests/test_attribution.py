"""Attribution: every practice, barrier and action of a summary belongs to a school, and the
digests and research data file it under that school and its local authority — not under the
school of the lead who typed it (issue 19, "Every summary row in the exports carries the
author's school and local authority").

The demo trio: Northfield Primary (DEMO-N, Oldham: Alice, the lead), Southgate Primary
(DEMO-S, Stockport: Bruno) and Westbrook Primary (DEMO-W, Wigan: Carmen).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.people.data_rights import DataRights
from bot.summaries.attribution import action_school, barrier_default, barrier_school
from storage import db as db_module
from storage import digest_sources as src
from storage.db import Database
from storage.digest_sources_trio_work import summary_items
from storage.schema import migration_scripts
from tests.conftest import FakeClock
from tests.harness import BotUnderTest, join
from tests.meeting_script import Trio, at, newest, run_schedule, utc
from tests.test_meeting_cycle import schedule_first_meeting

pytestmark = pytest.mark.both_stores

LONDON = ZoneInfo("Europe/London")


async def three_schools(bot: BotUnderTest, clock: FakeClock) -> Trio:
    """The three join, the meeting is held, and Alice starts its summary."""
    # Fran (a second Northfield teacher) is not invited: the trio is one person per school.
    trio = Trio(
        bot.person(801, "Alice"),
        bot.person(802, "Bruno"),
        bot.person(803, "Carmen"),
        bot.person(804, "Fran"),
    )
    await join(trio.alice, "DEMOALICE")
    await join(trio.bruno, "DEMOBRUNO")
    await join(trio.carmen, "DEMOCARMEN")
    await schedule_first_meeting(bot, trio)
    at(clock, utc(2026, 12, 1, 17, 0))
    await run_schedule(bot, clock)
    alice = trio.alice
    await alice.taps("Record attendance", message=newest(alice, "Who took part?"))
    for name in ("Alice", "Bruno", "Carmen"):
        await alice.taps(name)
    await alice.taps("Done")
    await run_schedule(bot, clock)
    await alice.taps("write it now", message=newest(alice, "who will write up the summary"))
    await alice.taps("Keep the planned focus")
    return trio


async def school_ids(bot: BotUnderTest) -> dict[str, int]:
    rows = await bot.db.fetchall("SELECT ref, id FROM school")
    return {str(r[0]): int(r[1]) for r in rows}


async def test_a_three_school_trio_says_whose_each_barrier_is(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await three_schools(bot, clock)
    alice = trio.alice
    await alice.says("Exit tickets in Year 5")  # Northfield
    await alice.says("Talk partners before writing")  # Southgate: Bruno's school's practice
    await alice.taps("Skip")  # Westbrook
    await alice.taps("Skip")  # evidence

    # Barrier 1: Westbrook's, by a tap. The writer's own school is the first button.
    await alice.says("No cover to release teachers for visits")
    await alice.taps("within school")
    question = alice.inbox[-1]
    assert "Which school does it belong to?" in question.plain_text
    assert "No cover to release teachers for visits" in question.plain_text
    schools = [text for row in question.buttons for text, _ in row][:3]
    assert schools == ["Northfield Primary", "Southgate Primary", "Westbrook Primary"]
    await alice.taps("Westbrook Primary")

    # Barrier 2: typed, by a part of the name only one school has.
    await alice.says("Buses between our sites stop at 4pm")
    await alice.taps("between schools")
    await alice.says("southgate")
    assert "Barrier 3" in alice.last_text

    # Barrier 3: a school that is not the trio's is refused, naming the trio's; then by number.
    await alice.says("Families working two jobs")
    await alice.taps("beyond schools")
    replies = await alice.says("Eastfield Academy")
    said_back = "\n".join(m.plain_text for m in replies)
    assert "isn’t one of this trio’s schools" in said_back
    assert "Northfield Primary, Southgate Primary, Westbrook Primary" in said_back
    assert "Which school does it belong to?" in alice.last_text  # asked again, nothing lost
    assert "Families working two jobs" in alice.last_text
    await alice.says("1")  # the first button: her own school
    await alice.taps("Skip")  # no more barriers

    await alice.says("Try talk partners in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/12/2026")
    await alice.says("Share the feedback survey")
    await alice.taps("the whole trio")
    await alice.says("18/12/2026")
    await alice.taps("That's all")
    await alice.taps("Skip")  # questions
    await alice.taps("Skip")  # anything else
    preview = alice.last_text
    assert "Westbrook Primary: No cover to release teachers for visits" in preview
    assert "Southgate Primary: Buses between our sites stop at 4pm" in preview
    assert "Northfield Primary: Families working two jobs" in preview
    await alice.taps("Send to the trio")
    assert "Sent to the trio for agreement" in alice.last_text

    ids = await school_ids(bot)
    items = await bot.db.fetchall(
        "SELECT kind, json_extract(body, '$'), school_id FROM summary_item ORDER BY kind, id"
    )
    assert [(r[0], r[1], r[2]) for r in items] == [
        ("barrier", "No cover to release teachers for visits", ids["DEMO-W"]),
        ("barrier", "Buses between our sites stop at 4pm", ids["DEMO-S"]),
        ("barrier", "Families working two jobs", ids["DEMO-N"]),
        ("shared", "Exit tickets in Year 5", ids["DEMO-N"]),
        ("shared", "Talk partners before writing", ids["DEMO-S"]),
    ]
    actions = await bot.db.fetchall("SELECT json_extract(what, '$'), school_id FROM action")
    assert [(r[0], r[1]) for r in actions] == [
        ("Try talk partners in Year 5", ids["DEMO-S"]),  # Bruno's school
        ("Share the feedback survey", ids["DEMO-N"]),  # the whole trio: the writer's
    ]

    # The draft the trio reads says whose each barrier is too.
    await run_schedule(bot, clock)
    draft = newest(trio.bruno, "Draft summary for your agreement").plain_text
    assert "Westbrook Primary: No cover to release teachers for visits (within school)" in draft

    # Agreed, the research data files each row under its own school and local authority.
    for person in (trio.bruno, trio.carmen):
        await person.taps("Approve", message=newest(person, "Draft summary"))
    assert await bot.db.fetchval("SELECT status FROM summary") == "agreed"
    found = await contributions(bot)
    rows = found[found["kind"].isin(["shared", "barrier", "action"])]
    seen = [(r.kind, r.text, r.school, r.local_authority) for r in rows.itertuples()]
    assert ("shared", "Talk partners before writing", "DEMO-S", "Stockport") in seen
    assert ("shared", "Exit tickets in Year 5", "DEMO-N", "Oldham") in seen
    assert ("barrier", "No cover to release teachers for visits", "DEMO-W", "Wigan") in seen
    assert ("barrier", "Buses between our sites stop at 4pm", "DEMO-S", "Stockport") in seen
    assert ("action", "Try talk partners in Year 5", "DEMO-S", "Stockport") in seen
    assert ("action", "Share the feedback survey", "DEMO-N", "Oldham") in seen
    # Still the writer's words, as research use of them goes by her consent.
    alice_id = await bot.db.fetchval("SELECT id FROM person WHERE display_name = 'Alice'")
    assert set(rows["person_id"]) == {alice_id}
    bruno_id = await bot.db.fetchval("SELECT id FROM person WHERE display_name = 'Bruno'")
    tags = dict(zip(rows["text"], rows["tags"], strict=True))
    summary_id = await bot.db.fetchval("SELECT id FROM summary")
    assert tags["Try talk partners in Year 5"] == (
        f"summary={summary_id};school=DEMO-S;owner_id={bruno_id};due=2026-12-15;status=open"
    )
    assert tags["Share the feedback survey"] == (
        f"summary={summary_id};school=DEMO-N;owner_id=;due=2026-12-18;status=open"
    )
    assert tags["Buses between our sites stop at 4pm"] == f"arena=between;summary={summary_id}"


async def contributions(bot: BotUnderTest) -> pd.DataFrame:
    """The summary rows of the week of 30 Nov 2026, as the digests and exports compile them."""
    start = datetime(2026, 11, 30, tzinfo=UTC)
    async with bot.db.transaction() as tx:
        have = await src.tables(tx)
        return await summary_items(
            tx, have, start, start + timedelta(days=7), LONDON, await src.people(tx)
        )


async def test_a_one_school_trio_is_not_asked_whose_a_barrier_is(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    ids = await school_ids(bot)
    async with bot.db.transaction() as tx:  # the trio is Northfield alone
        await tx.execute("DELETE FROM trio_school WHERE school_id != ?", (ids["DEMO-N"],))
    trio = await three_schools(bot, clock)
    alice = trio.alice
    await alice.says("Exit tickets in Year 5")  # the one school's practice
    await alice.taps("Skip")  # evidence
    await alice.says("No cover to release teachers for visits")
    await alice.taps("within school")
    assert "Barrier 2" in alice.last_text  # no question about the school
    assert not any("Which school does it belong" in m.plain_text for m in alice.inbox)
    await alice.taps("Skip")
    await alice.says("Try talk partners in Year 5")
    await alice.taps("Carmen")  # a member from another school: the action is hers
    await alice.says("15/12/2026")
    await alice.taps("That's all")
    await alice.taps("Skip")
    await alice.taps("Skip")
    preview = alice.last_text
    assert "• No cover to release teachers for visits (within school)" in preview
    await alice.taps("Send to the trio")
    barrier = await bot.db.fetchval("SELECT school_id FROM summary_item WHERE kind = 'barrier'")
    assert barrier == ids["DEMO-N"]
    assert await bot.db.fetchval("SELECT school_id FROM action") == ids["DEMO-W"]


async def test_editing_a_draft_keeps_each_items_school(bot: BotUnderTest, clock: FakeClock) -> None:
    trio = await three_schools(bot, clock)
    alice = trio.alice
    for _ in range(3):
        await alice.taps("Skip")  # no practices
    await alice.taps("Skip")  # evidence
    await alice.says("No cover to release teachers for visits")
    await alice.taps("within school")
    await alice.taps("Westbrook Primary")
    await alice.says("Buses between our sites stop at 4pm")
    await alice.taps("between schools")
    await alice.taps("Southgate Primary")
    await alice.taps("Skip")
    await alice.says("Try talk partners in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/12/2026")
    await alice.taps("That's all")
    await alice.taps("Skip")
    await alice.taps("Skip")
    await alice.taps("Send to the trio")
    await run_schedule(bot, clock)
    carmen = trio.carmen
    await carmen.taps("Suggest a change", message=newest(carmen, "Draft summary"))
    await carmen.says("Say it is for a whole morning, and Carmen will try it")
    await run_schedule(bot, clock)
    await alice.taps("Edit the summary", message=newest(alice, "suggests a change"))
    await alice.taps("Barrier: No cover")
    await alice.taps("What it says")
    await alice.says("No cover to release teachers for a whole morning")
    await alice.taps("Add another")
    await alice.taps("Barrier: Buses")  # it was filed under the wrong school
    await alice.taps("Whose it is")
    assert "Buses between our sites stop at 4pm" in alice.last_text
    await alice.says("north")
    await alice.taps("Add another")
    await alice.taps("Action")
    await alice.taps("Who does it")
    await alice.taps("Carmen")
    await alice.taps("Done ✓")
    assert "revised summary has gone" in alice.last_text
    ids = await school_ids(bot)
    barriers = await bot.db.fetchall(
        "SELECT json_extract(body, '$'), school_id FROM summary_item WHERE kind = 'barrier'"
        " ORDER BY position"
    )
    assert [tuple(r) for r in barriers] == [
        ("No cover to release teachers for a whole morning", ids["DEMO-W"]),  # kept
        ("Buses between our sites stop at 4pm", ids["DEMO-N"]),  # moved
    ]
    await run_schedule(bot, clock)
    revised = newest(trio.bruno, "Revised draft").plain_text
    assert "Northfield Primary: Buses between our sites stop at 4pm (between schools) ✏️" in revised
    # A new owner: the action is now her school's.
    assert await bot.db.fetchval("SELECT school_id FROM action") == ids["DEMO-W"]


async def test_erasing_the_owner_keeps_the_actions_school(
    bot: BotUnderTest, clock: FakeClock
) -> None:
    trio = await three_schools(bot, clock)
    alice = trio.alice
    for _ in range(4):
        await alice.taps("Skip")  # practices, evidence
    await alice.taps("Skip")  # no barriers
    await alice.says("Try talk partners in Year 5")
    await alice.taps("Bruno")
    await alice.says("15/12/2026")
    await alice.taps("That's all")
    await alice.taps("Skip")
    await alice.taps("Skip")
    await alice.taps("Send to the trio")
    bruno_id = int(await bot.db.fetchval("SELECT id FROM person WHERE display_name = 'Bruno'"))
    assert await DataRights(bot.db, clock).erase(bruno_id)
    row = await bot.db.fetchone("SELECT owner_id, school_id FROM action")
    assert row is not None
    ids = await school_ids(bot)
    # Who it was goes; which school it was for (no person's data) stays.
    assert (row["owner_id"], row["school_id"]) == (None, ids["DEMO-S"])


# --- the rules, without Telegram ---------------------------------------------------------
def test_the_attribution_rules() -> None:
    assert barrier_default(2, [1, 2, 3]) == 2
    assert barrier_default(9, [1, 2, 3]) == 1  # a writer from outside the trio's schools
    assert barrier_default(None, [4]) == 4
    assert barrier_default(5, []) == 5
    assert barrier_school("3", 2, [1, 2, 3]) == 3
    assert barrier_school(None, 2, [1, 2, 3]) == 2  # not asked: one school, or an old draft
    assert barrier_school("7", 2, [1, 2, 3]) == 2  # no school of the trio
    schools_of = {10: 1, 11: 2, 12: None}
    assert action_school(11, 10, schools_of) == 2
    assert action_school(None, 10, schools_of) == 1  # the whole trio: the writer's
    assert action_school(12, 10, schools_of) == 1  # an owner without a school
    assert action_school(None, None, schools_of) is None


# --- migration 0009 on a database that has rows ------------------------------------------
async def test_migration_0009_fills_in_the_schools_as_far_as_the_data_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    ours = next(n for n, name, _ in migration_scripts() if name.endswith("_item_school.sql"))
    before = [m for m in migration_scripts() if m[0] < ours]  # as built before attribution
    monkeypatch.setattr(db_module, "migration_scripts", lambda: before)
    db = await Database.open(path)
    await db.close()
    monkeypatch.undo()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    said, now = json.dumps, "2026-11-20T10:00:00+00:00"
    conn.executescript(
        "INSERT INTO local_authority (id, name) VALUES (1, 'Oldham'), (2, 'Stockport'),"
        " (3, 'Wigan');"
    )
    for sid, ref, la in ((1, "S03", 1), (2, "S01", 2), (3, "S02", 3)):  # ids not in ref order
        conn.execute(
            "INSERT INTO school (id, ref, name, local_authority_id, phase)"
            " VALUES (?, ?, ?, ?, 'primary')",
            (sid, ref, f"School {ref}", la),
        )
    conn.execute(
        "INSERT INTO trio (id, ref, kind, name, created_at) VALUES (1, 'T1', 'schools', 'T', ?)",
        (now,),
    )
    conn.executemany(
        "INSERT INTO trio_school (trio_id, school_id) VALUES (1, ?)", [(1,), (2,), (3,)]
    )
    conn.executemany(
        "INSERT INTO person (id, display_name, school_id, status, created_at, updated_at)"
        " VALUES (?, ?, ?, 'active', ?, ?)",
        [(1, "Lead at S03", 1, now, now), (2, "Teacher at S01", 2, now, now)],
    )
    conn.executemany(
        "INSERT INTO meeting (id, trio_id, starts_at, time_zone, focus, status, created_at,"
        " updated_at) VALUES (?, 1, ?, 'Europe/London', 'F', 'held', ?, ?)",
        [(m, now, now, now) for m in (1, 2, 3, 4)],
    )
    conn.executemany(
        "INSERT INTO summary (id, meeting_id, trio_id, author_id, focus, circulated_at,"
        " agree_by, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
        [
            (s, s, author, said("F"), now, now, now, now)
            for s, author in ((1, 1), (2, 1), (3, None), (4, 1))
        ],
    )
    item = (
        "INSERT INTO summary_item (id, summary_id, kind, school_id, level, body, position)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    conn.executemany(
        item,
        [
            # Summary 1: a practice for each of the three schools, stored without a school.
            (1, 1, "shared", None, None, said("first, S01's"), 0),
            (2, 1, "shared", None, None, said("second, S02's"), 0),
            (3, 1, "shared", None, None, said("third, S03's"), 0),
            (4, 1, "barrier", None, "within", said("a barrier"), 0),
            (5, 1, "question", None, None, said("a question"), 0),
            # Summary 2: one school skipped: which said what cannot be known.
            (6, 2, "shared", None, None, said("one of two"), 0),
            (7, 2, "shared", None, None, said("two of two"), 0),
            # Summary 4: one practice has its school, two not: not guessed either.
            (8, 4, "shared", 3, None, said("already attributed"), 0),
            (10, 4, "shared", None, None, said("unattributed"), 0),
            (11, 4, "shared", None, None, said("unattributed too"), 0),
            # Summary 3: its author was erased.
            (9, 3, "barrier", None, "beyond", said("nobody's school"), 0),
        ],
    )
    action = (
        "INSERT INTO action (id, trio_id, summary_id, what, owner_id, due_on, created_at,"
        " updated_at) VALUES (?, 1, ?, ?, ?, '2026-12-01', ?, ?)"
    )
    conn.executemany(
        action,
        [
            (1, 1, said("Bruno's"), 2, now, now),
            (2, 1, said("the whole trio's"), None, now, now),
            (3, 3, said("nobody's"), None, now, now),
        ],
    )
    # A week already archived, its rows filed under the author's school (S03, Oldham).
    conn.execute(
        "INSERT INTO digest (id, week, built_at, figures) VALUES (1, '2026-W47', ?, '{}')", (now,)
    )
    archived = [
        ("shared", "summary=1", "first, S01's"),
        ("barrier", "arena=within;summary=1", "a barrier"),
        ("action", "summary=1", "Bruno's"),
        ("shared", "summary=2", "one of two"),  # its school cannot be known
        ("shared", "summary=1", "worded otherwise"),  # matches no item
        ("reflection", "prompt=practice", "first, S01's"),  # no summary's
    ]
    conn.executemany(
        "INSERT INTO digest_contribution (digest_id, seq, person_id, role, school,"
        " local_authority, trio, trio_name, date, kind, tags, text)"
        " VALUES (1, ?, 1, 'trio_lead', 'S03', 'Oldham', 'T1', 'T', '2026-11-20', ?, ?, ?)",
        [(seq, kind, tags, text) for seq, (kind, tags, text) in enumerate(archived)],
    )
    conn.close()

    db = await Database.open(path)
    try:
        versions = await db.fetchall("SELECT version FROM schema_version")
        assert ours in [int(r[0]) for r in versions]
        items = {
            int(r[0]): r[1] for r in await db.fetchall("SELECT id, school_id FROM summary_item")
        }
        assert items == {
            **{1: 2, 2: 3, 3: 1},  # S01, S02, S03 in reference order, whatever their ids
            **{4: 1, 5: 1},  # the author's school
            **{6: None, 7: None, 8: 3, 10: None, 11: None, 9: None},
        }
        actions = {int(r[0]): r[1] for r in await db.fetchall("SELECT id, school_id FROM action")}
        assert actions == {1: 2, 2: 1, 3: None}
        rows = await db.fetchall(
            "SELECT school, local_authority FROM digest_contribution ORDER BY seq"
        )
        assert [tuple(r) for r in rows] == [
            ("S01", "Stockport"),  # re-filed under the school whose practice it was
            ("S03", "Oldham"),  # the author's, as before
            ("S01", "Stockport"),  # its owner's school
            ("S03", "Oldham"),
            ("S03", "Oldham"),
            ("S03", "Oldham"),
        ]
    finally:
        await db.close()
