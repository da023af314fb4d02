"""The research exports' tables of the partnership loop: `questions` (what the trios asked
the researchers, and how long an answer took) and `researcher_replies` (the answers and
critical-friend comments sent back). README "Data dictionary" documents their columns.

Consent (README "Consent and what each output holds", applied by bot/digest/consent.py): a
question is the trio's agreed work, so its row stays; its words are the asker's own and are
blank, like an action's, unless the asker consents now, and so is the asker's pseudonym. A
researcher's answers and comments are that researcher's own words: the row stays (when it was
sent, whether it was shared and discussed), its text and the author's pseudonym only while
the author consents.
"""

from __future__ import annotations

import pandas as pd

from bot.digest import consent
from bot.digest.research_tables import Names, Research, local_times
from storage import digest_sources as src
from storage.db import to_db_time

QUESTIONS = (
    "question",
    "trio",
    "trio_name",
    "school",
    "local_authority",
    "source",
    "source_id",
    "asker",
    "asked_at",
    "text",
    "voice",
    "status",
    "answered_at",
    "days_to_answer",
    "week",
    "partial",
)
RESEARCHER_REPLIES = (
    "reply",
    "kind",
    "question",
    "summary",
    "account",
    "trio",
    "trio_name",
    "author",
    "sent_at",
    "text",
    "voice",
    "shareable",
    "discussed_at",
    "week",
    "partial",
)
DAY = pd.Timedelta(days=1)


def days_between(earlier: pd.Series, later: pd.Series) -> pd.Series:
    """Days (one decimal) from each UTC text time to the other; NaN where either is missing."""
    start = pd.to_datetime(earlier, utc=True, format="ISO8601")
    end = pd.to_datetime(later, utc=True, format="ISO8601")
    return ((end - start) / DAY).round(1)


def tables(research: Research, key: bytes) -> dict[str, pd.DataFrame]:
    """Both tables for the span `research` was read for (questions asked, replies sent in it)."""
    start = research.span[0] if research.span else None

    # Consent has left only consenting people's ids (bot/digest/consent.py).
    name = Names(key, research.consenting)

    def finish(table: pd.DataFrame, at: pd.Series, columns: tuple[str, ...]) -> pd.DataFrame:
        return research.finish(table, src.local_weeks(at, research.zone), columns)

    found = consent.questions_for_research(research.questions, research.consenting)
    if start is not None:
        found = found[found["asked_at"] >= to_db_time(start)]
    answered = found["first_answer_at"].notna()
    questions = pd.DataFrame(
        {
            "question": found["question_id"],
            "trio": found["trio"],
            "trio_name": found["trio_name"],
            "school": found["school"],
            "local_authority": found["local_authority"],
            "source": found["source"],
            "source_id": found["source_id"],
            "asker": found["asked_by"].map(name),
            "asked_at": local_times(found["asked_at"], research.zone),
            "text": found["text"],
            "voice": found["voice"],
            "status": answered.map({True: "answered", False: "open"}),
            "answered_at": local_times(found["first_answer_at"].dropna(), research.zone),
            "days_to_answer": days_between(found["asked_at"], found["first_answer_at"]),
        }
    )
    sent = consent.replies_for_research(research.replies, research.consenting)
    if start is not None:
        sent = sent[sent["sent_at"] >= to_db_time(start)]
    replies = pd.DataFrame(
        {
            "reply": sent["reply_id"],
            "kind": sent["kind"],
            "question": sent["question_id"].astype("Int64"),
            "summary": sent["summary_id"].astype("Int64"),
            "account": sent["account_id"].astype("Int64"),
            "trio": sent["trio"],
            "trio_name": sent["trio_name"],
            "author": sent["author_id"].map(name),
            "sent_at": local_times(sent["sent_at"], research.zone),
            "text": sent["text"],
            "voice": sent["voice"],
            "shareable": sent["shareable"].astype("int64"),
            "discussed_at": local_times(sent["discussed_at"].dropna(), research.zone),
        }
    )
    return {
        "questions": finish(questions, found["asked_at"], QUESTIONS),
        "researcher_replies": finish(replies, sent["sent_at"], RESEARCHER_REPLIES),
    }
