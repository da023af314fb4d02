"""The partnership loop's data: what the digests show of the trios' questions and the
researchers' replies, the `questions` and `researcher_replies` exports, and erasure of the
asker, the researcher and the member who marked a reply discussed.

On the seeded programme of tests/digest_programme.py: in WEEK trio TR1's agreed summary
(written by person 1) asked "Is there research on fractions with pictures?" on Thursday at
10:00; researcher 19 answered it, shareable, on Friday at 10:00; the trio's lesson-study
account (also person 1's) asked a spoken question on Thursday at 16:00, still open; and
researcher 20 commented on the summary on Friday at 12:00, not for sharing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bot.digest import questions
from bot.digest.exports import pseudonym
from bot.digest.questions import for_researchers
from bot.people.data_rights import DataRights
from bot.texts import LANGUAGES
from storage.db import Database, to_db_time
from tests.digest_programme import RESEARCHER, research_work, seed
from tests.test_digest import NOW, WEEK, digests

pytestmark = pytest.mark.both_stores

QUESTION = "Is there research on fractions with pictures?"
ANSWER = "Yes: start from the EEF guidance"
COMMENT = "What would show it works for the case pupils?"


async def _programme(db: Database) -> None:
    await seed(db, las=3, schools=6, teachers_per_school=3, weeks=3, trio_work=True)
    await research_work(db, WEEK)


def _page(db: Database, week: object, audience: str, lang: str = "en") -> str:
    rendered = digests(db).render(week, audience, lang)  # type: ignore[arg-type]
    return rendered.html.decode() + "\n".join(rendered.message)


async def test_the_shared_digest_shows_a_shared_answer_with_its_question(db: Database) -> None:
    await _programme(db)
    week = await digests(db).week(WEEK)
    for lang in LANGUAGES:
        page = _page(db, week, "schools", lang)
        assert QUESTION in page and ANSWER in page, lang
        assert COMMENT not in page  # not shared
        assert 'id="research-answers"' in page
    page = _page(db, week, "schools")
    assert "Answers from the researchers" in page and "the research team" in page
    assert "Answers from the researchers this week: 1, in the file below." in page

    async with db.transaction() as tx:  # a researcher with a name is named by it
        await tx.execute("UPDATE person SET display_name = 'Dr Rivera' WHERE id = ?", (RESEARCHER,))
        # and an answer not marked shareable stays out
        await tx.execute("UPDATE research_reply SET shareable = 0 WHERE kind = 'answer'")
    week = await digests(db).week(WEEK)
    assert ANSWER not in _page(db, week, "schools")
    async with db.transaction() as tx:
        await tx.execute("UPDATE research_reply SET shareable = 1 WHERE kind = 'answer'")
    week = await digests(db).week(WEEK)
    assert "<cite>Dr Rivera</cite>" in _page(db, week, "schools")
    assert ANSWER not in _page(db, week, "researchers")  # answers are the trio's news


async def test_the_researcher_digest_shows_open_questions_their_age_and_time_to_answer(
    db: Database,
) -> None:
    await _programme(db)
    service = digests(db)
    week = await service.week(WEEK)
    page = _page(db, week, "researchers")
    assert "Questions waiting for an answer" in page
    # The spoken question from the account, open since Thursday 16:00 (the week ends Monday).
    assert "voice note, 12 s" in page and "open 3 days" in page
    assert QUESTION not in page.split('id="open-questions"')[1]  # answered: not waiting
    assert (
        "❓ Questions for the researchers: 1 open, 1 answered this week;"
        " a median of 1.0 days to an answer. /questions"
    ) in page
    for lang in LANGUAGES:
        assert 'id="open-questions"' in _page(db, week, "researchers", lang)

    values = week.research
    assert values is not None
    seen = for_researchers(values, NOW)
    assert seen["totals"] == {"open": 1, "answered_week": 1, "median_days": 1.0}
    assert [
        (r["trio"], r["open"], r["answered_week"], r["median_days"]) for r in seen["by_trio"]
    ] == [("TR1", 1, 1, 1.0)]
    assert [r["local_authority"] for r in seen["by_la"]] == ["Authority A"]
    assert [(q["ref"], q["voice"], q["withheld"]) for q in seen["open"]] == [("TR1", 12, False)]

    # The week before knew none of it: the digest reads each week as it stood at its end.
    earlier = await service.week("2026-W46")
    assert 'id="open-questions"' in _page(db, earlier, "researchers")
    assert "Questions for the researchers: 0 open, 0 answered this week. /questions" in _page(
        db, earlier, "researchers"
    )


async def test_the_exports_hold_questions_and_replies_with_pseudonyms(db: Database) -> None:
    await _programme(db)
    async with db.transaction() as tx:
        summary = await tx.fetchval("SELECT summary_id FROM research_reply WHERE kind = 'comment'")
        await tx.execute(
            "UPDATE research_reply SET discussed_at = ?, discussed_by = 1 WHERE kind = 'answer'",
            (to_db_time(NOW),),  # after the week: not yet discussed when it ended
        )
    week = await digests(db).week(WEEK)
    tables = week.export_tables()
    key = week.key
    asked = tables["questions"]
    assert asked[
        ["source", "status", "school", "local_authority", "week", "partial"]
    ].values.tolist() == [
        ["summary", "answered", "S1", "Authority A", WEEK, 0],
        ["account", "open", "S1", "Authority A", WEEK, 0],
    ]
    assert list(asked["text"]) == [QUESTION, ""] and list(asked["voice"].astype(object)) == [
        pd.NA,
        12,
    ]
    assert set(asked["asker"]) == {pseudonym(key, 1)}
    assert asked["days_to_answer"].iloc[0] == 1.0 and pd.isna(asked["days_to_answer"].iloc[1])
    assert list(asked["asked_at"]) == ["2026-11-19 10:00", "2026-11-19 16:00"]
    assert asked["answered_at"].iloc[0] == "2026-11-20 10:00"

    sent = tables["researcher_replies"]
    assert sent[["kind", "text", "shareable", "sent_at"]].values.tolist() == [
        ["answer", ANSWER, 1, "2026-11-20 10:00"],
        ["comment", COMMENT, 0, "2026-11-20 12:00"],
    ]
    assert list(sent["author"]) == [pseudonym(key, RESEARCHER), pseudonym(key, RESEARCHER + 1)]
    assert sent["question"].iloc[0] == asked["question"].iloc[0] and pd.isna(
        sent["question"].iloc[1]
    )
    assert sent["summary"].iloc[1] == summary
    assert sent["discussed_at"].isna().all()

    everything = await digests(db).export_everything()
    assert len(everything["questions"]) == 2 and len(everything["researcher_replies"]) == 2
    assert set(everything["researcher_replies"]["discussed_at"].dropna()) == {"2026-11-23 09:00"}


async def test_erasing_the_asker_redacts_their_name_and_keeps_the_question(db: Database) -> None:
    await _programme(db)
    async with db.transaction() as tx:
        await tx.execute("UPDATE person SET display_name = 'Alba Reyes' WHERE id = 1")
        await tx.execute(
            "UPDATE research_question SET body = ? WHERE summary_id IS NOT NULL",
            (json.dumps("Could Alba Reyes try the picture cards with Year 5?"),),
        )
        await tx.execute(
            "UPDATE research_reply SET body = ? WHERE kind = 'comment'",
            (json.dumps("Alba Reyes: what would show it works?"),),
        )
    rights = DataRights(db, db.clock)
    held = json.loads(await rights.export(1))
    assert [q["status"] for q in held["questions_asked"]] == ["answered", "open"]
    assert "Alba Reyes" in held["questions_asked"][0]["body"]

    assert await rights.erase(1)
    rows = await db.fetchall("SELECT body, asked_by, status FROM research_question ORDER BY id")
    first = rows[0]
    assert (json.loads(first[0]), first[1], first[2]) == (
        "Could [erased] try the picture cards with Year 5?",
        None,
        "answered",
    )
    assert all(r[1] is None for r in rows) and len(rows) == 2  # the trio's questions stay
    comment = await db.fetchval("SELECT body FROM research_reply WHERE kind = 'comment'")
    assert json.loads(comment) == "[erased]: what would show it works?"
    week = await digests(db).week(WEEK)
    assert "Could [erased] try" in _page(db, week, "schools")  # the trio's agreed work
    asked = week.export_tables()["questions"]
    assert list(asked["asker"]) == ["", ""] and list(asked["text"]) == ["", ""]


async def test_erasing_a_researcher_deletes_their_replies_and_passes(db: Database) -> None:
    await _programme(db)
    async with db.transaction() as tx:
        open_question = await tx.fetchval("SELECT id FROM research_question WHERE status = 'open'")
        await tx.execute(
            "INSERT INTO question_pass (question_id, person_id, passed_at) VALUES (?, ?, ?)",
            (open_question, RESEARCHER, to_db_time(NOW)),
        )
    rights = DataRights(db, db.clock)
    held = json.loads(await rights.export(RESEARCHER))
    assert [r["body"] for r in held["research_replies_written"]] == [ANSWER]

    assert await rights.erase(RESEARCHER)
    kinds = await db.fetchall("SELECT kind, author_id FROM research_reply")
    assert [tuple(r) for r in kinds] == [("comment", RESEARCHER + 1)]
    assert await db.fetchval("SELECT COUNT(*) FROM question_pass") == 0
    # With its only answer gone the question is open again, for another researcher to take.
    assert (
        await db.fetchval("SELECT status FROM research_question WHERE summary_id IS NOT NULL")
        == "open"
    )
    week = await digests(db).week(WEEK)
    assert ANSWER not in _page(db, week, "schools")
    assert week.export_tables()["questions"]["status"].tolist() == ["open", "open"]


async def test_erasing_who_marked_a_reply_discussed_forgets_who(db: Database) -> None:
    await _programme(db)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE research_reply SET discussed_at = ?, discussed_by = 2 WHERE kind = 'answer'",
            (to_db_time(NOW),),
        )
    rights = DataRights(db, db.clock)
    held = json.loads(await rights.export(2))
    assert len(held["research_replies_marked_discussed"]) == 1

    assert await rights.erase(2)
    row = await db.fetchone(
        "SELECT discussed_at, discussed_by FROM research_reply WHERE kind = 'answer'"
    )
    assert row is not None and row[0] == to_db_time(NOW) and row[1] is None


async def test_the_open_list_is_cut_and_says_how_many_more(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _programme(db)
    week = await digests(db).week(WEEK)
    assert week.research is not None
    monkeypatch.setattr(questions, "MAX_OPEN", 0)
    seen = questions.for_researchers(week.research, NOW)
    assert seen["open"] == [] and seen["open_more"] == 1 and seen["totals"]["open"] == 1
    page = digests(db).render(week, "researchers", "en").html.decode()
    assert "and 1 more in the export" in page
