"""The meetings, summaries and lesson-study sources, on a fixture of the tables that work adds:
a draft never reaches the shared digest; the researcher digest lists it; figures add up."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.digest.compile import week_bounds
from bot.digest.render import digest_values
from storage import personal_data
from storage.catalogue import tables
from storage.db import Database, to_db_time
from storage.digest_sources_trio_work import SUMMARY_TABLES
from tests.digest_programme import ZONE, seed
from tests.test_digest import WEEK, digests

pytestmark = pytest.mark.both_stores

DRAFT_WORDS = "Unagreed draft wording about setting by ability"


async def _fixture(db: Database) -> None:
    await seed(db, las=3, schools=9, teachers_per_school=2, weeks=3)
    start, _ = week_bounds(WEEK, ZONE)
    thursday = start + timedelta(days=3, hours=16)
    t = to_db_time
    async with db.transaction() as tx:
        w = t(thursday)
        await tx.executemany(
            "INSERT INTO meeting (id, trio_id, starts_at, time_zone, focus, status, created_at,"
            " updated_at) VALUES (?, ?, ?, 'Europe/London', ?, ?, ?, ?)",
            [(1, 1, w, "Oracy", "held", w, w), (2, 2, w, "x", "held", w, w),
             (3, 3, w, "y", "scheduled", w, w), (4, 3, w, "z", "cancelled", w, w)],
        )  # fmt: skip
        # Trio 1 agreed its summary (lead: person 1); trio 2's is still a draft.
        await tx.executemany(
            "INSERT INTO summary (id, meeting_id, trio_id, author_id, status, focus,"
            " circulated_at, agree_by, agreed_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(1, 1, 1, 1, "agreed", "Oracy in year 5", w, w,
              t(thursday + timedelta(hours=5)), w, w),
             (2, 2, 2, 7, "draft", DRAFT_WORDS, w, w, None, w, w)],
        )  # fmt: skip
        said = json.dumps
        await tx.executemany(
            "INSERT INTO summary_item (summary_id, kind, level, body, position)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (1, "shared", None, said("Talk partners before writing"), 0),
                (1, "barrier", "within", said("Setting by ability in maths"), 1),
                (1, "barrier", "beyond", said("Families working two jobs"), 2),
                (
                    1,
                    "question",
                    None,
                    said("Is there evidence on talk partners for EAL pupils?"),
                    3,
                ),
                (1, "other", None, said({"voice": "file-1", "duration": 21}), 4),
                (2, "barrier", "between", said(DRAFT_WORDS), 0),
            ],
        )
        await tx.execute(
            "INSERT INTO action (trio_id, summary_id, what, due_on, status, created_at,"
            " updated_at) VALUES (1, 1, ?, '2026-12-04', 'open', ?, ?)",
            (said("Each school tries talk partners by 4 December"), w, w),
        )
        cycle = (
            "INSERT INTO lesson_study (id, trio_id, subject, class_group, focus_what, focus_who,"
            " stage, status, stage_since, stalled_at, created_at, agreed_at)"
            " VALUES (?, ?, 'Maths', 'Year 5', ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        long_ago = t(start - timedelta(weeks=5))
        await tx.execute(
            cycle,
            (1, 3, "Fractions", "Pupil A", "plan", "active", long_ago, long_ago, long_ago, None),
        )
        await tx.execute(
            cycle,
            (2, 1, "Reading", "Pupil B", "agreed", "agreed", w, None, long_ago, w),
        )
        await tx.execute(
            "INSERT INTO lesson_study_account (lesson_study_id, author_id, learned, changed,"
            " advice, status, created_at, updated_at, agreed_at)"
            " VALUES (2, 1, ?, ?, ?, 'agreed', ?, ?, ?)",
            (
                said("Pupil B read more when we pre-taught vocabulary."),
                said({"voice": "file-2", "duration": 40}),
                said("Pre-teach the words."),
                w,
                w,
                w,
            ),
        )


async def test_sources_activate_when_their_tables_exist(db: Database) -> None:
    await seed(db, weeks=2)
    week = await digests(db).week(WEEK)
    assert set(week.contributions["kind"]) == {"reflection"}
    assert week.compiled.figure("drafts").empty and week.compiled.figure("stalled").empty
    assert (
        await tables(db) >= SUMMARY_TABLES
    )  # the meetings migration made them; they are just empty


async def test_a_draft_never_appears_in_the_shared_digest(db: Database) -> None:
    await _fixture(db)
    service = digests(db)
    week = await service.week(WEEK)
    for lang in ("en", "es", "pt"):
        shared = service.render(week, "schools", lang)
        assert DRAFT_WORDS.encode() not in shared.html
        assert all(DRAFT_WORDS not in part for part in shared.message)
        assert b"Oracy in year 5" in shared.html and b"Setting by ability" in shared.html
        assert b"Pupil B read more" in shared.html
        # Questions for the researchers are for the researchers.
        assert b"evidence on talk partners" not in shared.html
    researchers = service.render(week, "researchers", "en")
    assert DRAFT_WORDS.encode() not in researchers.html  # listed, not quoted
    values = digest_values(week.compiled, week.contributions, week.key, "researchers")
    assert [d["trio"] for d in values["drafts"]] == ["TR2"]
    assert [q["text"] for q in values["questions"]] == [
        "Is there evidence on talk partners for EAL pupils?"
    ]
    assert b"evidence on talk partners" in researchers.html
    assert values["barrier_counts"] == {"within": 1, "between": 0, "beyond": 1}
    assert [s["trio"] for s in values["stalled"]] == ["TR3"]
    assert values["actions_status"] == [{"trio": "TR1", "status": "open", "count": 1}]


async def test_meetings_held_and_scheduled_equal_an_independent_count(db: Database) -> None:
    await _fixture(db)
    values = digest_values(*_parts(await digests(db).week(WEEK)), "researchers")
    start, end = week_bounds(WEEK, ZONE)
    held, scheduled = await db.fetchone(
        "SELECT SUM(CASE WHEN status = 'held' THEN 1 ELSE 0 END), COUNT(*) FROM meeting"
        " WHERE status != 'cancelled'"
        " AND starts_at >= ? AND starts_at < ?",
        (to_db_time(start), to_db_time(end)),
    ) or (0, 0)
    totals = values["totals"]
    assert (totals["meetings_held"], totals["meetings_scheduled"]) == (held, scheduled) == (2, 3)
    # A trio's meeting counts for each of its three local authorities.
    las = {r["name"]: r for r in values["participation_las"]}
    assert sum(r["meetings_scheduled"] for r in las.values()) == 3 * scheduled
    assert values["totals"]["summaries"] == 1 and values["totals"]["accounts"] == 1


async def test_a_withdrawn_lead_keeps_the_agreed_summary_for_schools_only(db: Database) -> None:
    await _fixture(db)
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO consent (person_id, given, version, recorded_at)"
            " VALUES (1, 0, '1', '2026-11-23T00:00:00.000000Z')"
        )
    service = digests(db)
    week = await service.week(WEEK)
    # The trio agreed to share it (tests/test_consent_policy.py has the whole policy)…
    html = service.render(week, "schools", "en").html
    assert b"Oracy in year 5" in html and b"Pupil B read more" in html
    # …but the lead wrote both, and their words are out of research use.
    html = service.render(week, "researchers", "en").html
    assert b"Oracy in year 5" not in html and b"Pupil B read more" not in html


def _parts(week):  # type: ignore[no-untyped-def]
    return week.compiled, week.contributions, week.key


async def test_erasing_the_author_of_an_agreed_summary_keeps_the_digest_building(
    db: Database,
) -> None:
    await _fixture(db)
    async with db.transaction() as tx:  # person 1 wrote both the summary and the account
        assert await personal_data.erase(tx, 1)
    assert await db.fetchval("SELECT author_id FROM summary WHERE id = 1") is None
    service = digests(db)
    week = await service.week(WEEK)
    # Erasure deletes the person's consent, so their words leave the research outputs; the
    # trio's agreed work stays in the shared digest, with no author.
    assert set(week.contributions["kind"]) == {"reflection"}
    assert week.contributions["person_id"].notna().all()
    assert week.shared["person_id"].isna().all() and len(week.shared)
    html = service.render(week, "researchers", "en").html
    assert b"Oracy in year 5" not in html and b"Pupil B read more" not in html
    html = service.render(week, "schools", "en").html
    assert b"Oracy in year 5" in html and b"Pupil B read more" in html
    again = await service.week(WEEK)  # and from the archive
    assert again.contributions.equals(week.contributions)
    assert list(again.shared["text"]) == list(week.shared["text"])
