"""The partnership loop's rows as the digests and the research exports read them: the trios'
questions for the researchers and the replies researchers sent (migration 0013).

Each function returns a DataFrame of the shape documented on its columns, with raw person
ids (bot/digest/question_tables.py and bot/digest/questions.py apply consent and pseudonyms)
and UTC times as stored (text). Nothing recorded at or after `end` is read, and the status of
a question is the one it had at `end`: answered once an answer was sent before it. Answers
stored as JSON come out as `text` and `voice` (seconds), as in storage/research_exports.py.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from storage.db import Reader, to_db_time
from storage.digest_sources import frame
from storage.research_exports import answer

QUESTION_TABLES = frozenset({"research_question", "research_reply"})
QUESTION_COLUMNS = (
    "question_id",
    "trio",
    "trio_name",
    "school",  # the school the question was raised for (the summary item's), else the asker's
    "local_authority",
    "source",  # summary | account
    "source_id",  # the summary's or the lesson-study account's id
    "asked_by",  # the author of the summary or account (None once erased)
    "asked_at",
    "text",
    "voice",
    "first_answer_at",  # the first answer sent before `end`, or None: open at `end`
)
REPLY_COLUMNS = (
    "reply_id",
    "kind",  # answer | comment
    "question_id",  # answers
    "summary_id",  # comments: the agreed summary or account commented on
    "account_id",
    "trio",
    "trio_name",
    "author_id",  # the researcher or coordinator (None once erased)
    "author_name",  # their name now (the shared digest names them)
    "text",
    "voice",
    "shareable",  # 1: the researcher let the question and this answer into the shared digest
    "sent_at",
    "discussed_at",  # when the trio marked it discussed, if before `end`
)

QUESTIONS_SQL = (
    "SELECT q.id, t.ref, t.name, sc.ref, la.name,"
    " CASE WHEN q.summary_id IS NULL THEN 'account' ELSE 'summary' END,"
    " COALESCE(q.summary_id, q.account_id), q.asked_by, q.asked_at, q.body,"
    " (SELECT MIN(r.sent_at) FROM research_reply r WHERE r.question_id = q.id"
    "  AND r.kind = 'answer' AND r.sent_at < :end)"
    " FROM research_question q JOIN trio t ON t.id = q.trio_id"
    " LEFT JOIN summary_item i ON i.id = q.summary_item_id"
    " LEFT JOIN person p ON p.id = q.asked_by"
    " LEFT JOIN school sc ON sc.id = COALESCE(i.school_id, p.school_id)"
    " LEFT JOIN local_authority la ON la.id = sc.local_authority_id"
    " WHERE q.asked_at < :end ORDER BY q.asked_at, q.id"
)
REPLIES_SQL = (
    "SELECT r.id, r.kind, r.question_id, r.summary_id, r.account_id, t.ref, t.name,"
    " r.author_id, p.display_name, r.body, r.shareable, r.sent_at,"
    " CASE WHEN r.discussed_at < :end THEN r.discussed_at END"
    " FROM research_reply r JOIN trio t ON t.id = r.trio_id"
    " LEFT JOIN person p ON p.id = r.author_id AND p.status != 'erased'"
    " WHERE r.sent_at < :end ORDER BY r.sent_at, r.id"
)


def _split(rows: list[tuple[object, ...]], body: int, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows whose column `body` is a stored JSON answer, as `text` and `voice` there."""
    answers = [answer(str(r[body])) for r in rows]
    found = frame([(*r[:body], "", None, *r[body + 1 :]) for r in rows], columns)
    found["text"] = [text for text, _ in answers]
    found["voice"] = pd.array([voice for _, voice in answers], dtype="Int64")
    return found


async def questions(reader: Reader, have: frozenset[str], end: datetime) -> pd.DataFrame:
    """Every question the trios agreed before `end`, oldest first (QUESTION_COLUMNS)."""
    if not have >= QUESTION_TABLES:
        return frame([], QUESTION_COLUMNS)
    rows = await reader.fetchall(QUESTIONS_SQL, {"end": to_db_time(end)})
    return _split([tuple(r) for r in rows], 9, QUESTION_COLUMNS)


async def replies(reader: Reader, have: frozenset[str], end: datetime) -> pd.DataFrame:
    """Every answer and comment sent before `end`, oldest first (REPLY_COLUMNS)."""
    if not have >= QUESTION_TABLES:
        return frame([], REPLY_COLUMNS)
    rows = await reader.fetchall(REPLIES_SQL, {"end": to_db_time(end)})
    return _split([tuple(r) for r in rows], 9, REPLY_COLUMNS)
