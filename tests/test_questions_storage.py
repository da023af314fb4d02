"""The partnership loop's storage (storage/questions.py, migration 0013): questions copied from
agreed work once, offered to researchers oldest first, passed on, answered, marked discussed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database
from storage.questions import QuestionRepo, ReplyRepo
from tests.digest_programme import agreed_summary, seed

pytestmark = pytest.mark.both_stores

AGREED = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)


async def _trio_and_people(db: Database) -> tuple[int, int, list[int]]:
    seeded = await seed(db, las=3, schools=6, weeks=1)
    trio = await db.fetchval("SELECT MIN(id) FROM trio")
    author = await db.fetchval("SELECT MIN(person_id) FROM trio_member WHERE trio_id = ?", (trio,))
    return trio, author, seeded.researchers


async def _summary_with_questions(db: Database, trio: int, author: int, *texts: str) -> int:
    async with db.transaction() as tx:
        summary = await agreed_summary(tx, trio, author, AGREED, "Exit tickets")
        for position, text in enumerate(texts):
            await tx.execute(
                "INSERT INTO summary_item (summary_id, kind, body, position)"
                " VALUES (?, 'question', ?, ?)",
                (summary, json.dumps(text), position),
            )
    return summary


async def test_an_agreed_summarys_questions_are_copied_once_and_offered_oldest_first(
    db: Database,
) -> None:
    trio, author, researchers = await _trio_and_people(db)
    summary = await _summary_with_questions(db, trio, author, "Does it work for EAL pupils?")
    later = await _summary_with_questions(db, trio, author, "What does the research say?")
    async with db.transaction() as tx:
        first = await QuestionRepo.from_summary(tx, summary, AGREED)
        again = await QuestionRepo.from_summary(tx, summary, AGREED)
        await QuestionRepo.from_summary(tx, later, AGREED + timedelta(days=1))
    assert len(first) == 1 and again == []
    offered = await QuestionRepo.open_for(db, researchers[0])
    assert [q.body for q in offered] == [
        "Does it work for EAL pupils?",
        "What does the research say?",
    ]
    assert offered[0].focus == "Exit tickets" and offered[0].asked_by == author
    assert offered[0].asked_at == AGREED and offered[0].status == "open"


async def test_not_for_me_routes_the_question_to_another_researcher(db: Database) -> None:
    trio, author, researchers = await _trio_and_people(db)
    summary = await _summary_with_questions(db, trio, author, "How many pupils is enough?")
    async with db.transaction() as tx:
        (question,) = await QuestionRepo.from_summary(tx, summary, AGREED)
    me = researchers[0]
    other = await db.fetchval(
        "SELECT person_id FROM person_role WHERE role = 'coordinator' OR "
        "(role = 'researcher' AND person_id != ?) LIMIT 1",
        (me,),
    )
    if other is None:  # the seed made one researcher: make another
        async with db.transaction() as tx:
            other = await tx.execute(
                "INSERT INTO person (display_name, status, created_at, updated_at)"
                " VALUES ('Dr Two', 'active', '2026-01-01', '2026-01-01')"
            )
            await tx.execute(
                "INSERT INTO person_role (person_id, role) VALUES (?, 'researcher')", (other,)
            )
    async with db.transaction() as tx:
        await QuestionRepo.pass_on(tx, question, me, other, AGREED)
    assert await QuestionRepo.open_for(db, me) == []
    assert [q.id for q in await QuestionRepo.open_for(db, other)] == [question]
    assert await QuestionRepo.passed_by(db, question) == {me}


async def test_an_answer_closes_the_question_and_waits_to_be_discussed(db: Database) -> None:
    trio, author, researchers = await _trio_and_people(db)
    summary = await _summary_with_questions(db, trio, author, "Is four weeks long enough?")
    async with db.transaction() as tx:
        (question,) = await QuestionRepo.from_summary(tx, summary, AGREED)
        answer = await ReplyRepo.add(
            tx,
            kind="answer",
            trio_id=trio,
            author_id=researchers[0],
            body={"voice": "VOICE-1", "duration": 40},
            now=AGREED + timedelta(days=2),
            question_id=question,
            shareable=True,
        )
        comment = await ReplyRepo.add(
            tx,
            kind="comment",
            trio_id=trio,
            author_id=researchers[0],
            body="What evidence would show this is working for the case pupils?",
            now=AGREED + timedelta(days=3),
            summary_id=summary,
        )
    assert await QuestionRepo.open_for(db, researchers[0]) == []
    assert (await QuestionRepo.get(db, question)).status == "answered"  # type: ignore[union-attr]
    waiting = await ReplyRepo.undiscussed(db, trio)
    assert [(r.id, r.kind) for r in waiting] == [(answer, "answer"), (comment, "comment")]
    assert waiting[0].question == "Is four weeks long enough?" and waiting[0].shareable
    assert waiting[0].body == {"voice": "VOICE-1", "duration": 40}
    async with db.transaction() as tx:
        assert await ReplyRepo.mark_discussed(tx, answer, author, None, AGREED + timedelta(days=9))
        assert not await ReplyRepo.mark_discussed(tx, answer, author, None, AGREED)
    assert [r.id for r in await ReplyRepo.undiscussed(db, trio)] == [comment]


async def test_an_agreed_accounts_questions_are_copied_once(db: Database) -> None:
    trio, author, _ = await _trio_and_people(db)
    async with db.transaction() as tx:
        cycle = await tx.execute(
            "INSERT INTO lesson_study (trio_id, started_by, subject, class_group, focus_what,"
            " focus_who, stage, stage_since, created_at) VALUES"
            " (?, ?, 'maths', '5B', 'fractions on a number line', 'pupils who struggle',"
            " 'account', '2026-11-01', '2026-11-01')",
            (trio, author),
        )
        account = await tx.execute(
            "INSERT INTO lesson_study_account (lesson_study_id, author_id, learned, changed,"
            " advice, questions, status, created_at, updated_at, agreed_at) VALUES"
            " (?, ?, '[]', '[]', '[]', ?, 'agreed', '2026-11-01', '2026-11-01', '2026-11-01')",
            (cycle, author, json.dumps(["Why do the case pupils stop talking?"])),
        )
        assert len(await QuestionRepo.from_account(tx, account, AGREED)) == 1
        assert await QuestionRepo.from_account(tx, account, AGREED) == []
    (question,) = await QuestionRepo.for_trio(db, trio)
    assert question.account_id == account and question.focus == "fractions on a number line"
