"""The partnership loop in the weekly digests (README "The partnership loop: what the trio
and the digests show"), as plain data for prompts/digest_partnership.html.j2 and the
message's lines.

- Shared digest: each answer sent this week that its researcher marked shareable, with the
  question it answers. Every question is agreed work of its trio (copied from an agreed
  summary or lesson-study account), so the trio's agreement and the researcher's consent to
  share are both there. The researcher is named as the shared digest names action owners,
  by the name they go by now ("the research team" when they have none; erasing a
  researcher deletes their answers).
- Researcher digest: the questions still open at the week's end, oldest first, with their
  age in days; per trio and per local authority how many are open, how many were answered
  this week, and the median days from question to first answer over every question
  answered so far. A question's words are its asker's: shown only while the asker consents
  to research use (otherwise the row says they are withheld).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from bot.digest import consent
from bot.digest.question_tables import days_between
from bot.digest.research import trio_label
from bot.digest.research_tables import Research
from storage.db import to_db_time

MAX_OPEN = 30  # open questions listed on the page; the rest are in the export
NO_AUTHORITY = "—"


def _said(text: object, voice: object) -> dict[str, Any]:
    seconds = None if pd.isna(voice) else int(voice)  # type: ignore[call-overload]
    return {"text": "" if seconds is not None else str(text), "voice": seconds}


def shared(research: Research) -> list[dict[str, Any]]:
    """This week's shareable answers, oldest first, with their questions."""
    assert research.span is not None
    start = to_db_time(research.span[0])
    sent = research.replies
    sent = sent[(sent["kind"] == "answer") & (sent["shareable"] == 1) & (sent["sent_at"] >= start)]
    questions = research.questions
    # Only the questions answered here: the frame holds every question asked so far.
    questions = questions[questions["question_id"].isin(sent["question_id"])]
    asked = {q.question_id: q for q in questions.itertuples(index=False)}
    rows = []
    for reply in sent.itertuples(index=False):
        question = asked.get(reply.question_id)
        if question is None:
            continue
        rows.append(
            {
                **trio_label(str(reply.trio), reply.trio_name),
                "question": _said(question.text, question.voice),
                "answer": _said(reply.text, reply.voice),
                "by": reply.author_name if isinstance(reply.author_name, str) else None,
            }
        )
    return rows


def _counts(table: pd.DataFrame, by: str) -> list[dict[str, Any]]:
    rows = []
    for value, group in table.groupby(by, sort=True):
        median = group["days"].median()
        rows.append(
            {
                by: str(value),
                "trio_name": group["trio_name"].iloc[0],
                "open": int(group["open"].sum()),
                "answered_week": int(group["answered_week"].sum()),
                "median_days": None if pd.isna(median) else round(float(median), 1),
            }
        )
    return rows


def for_researchers(research: Research, as_of: datetime) -> dict[str, Any]:
    """Open questions with their age, and the per-trio and per-authority table."""
    assert research.span is not None
    start, end = (to_db_time(moment) for moment in research.span)
    asked = consent.questions_for_research(research.questions, research.consenting)
    asked["open"] = asked["first_answer_at"].isna()
    first = asked["first_answer_at"].fillna("")
    asked["answered_week"] = (first >= start) & (first < end)
    asked["days"] = days_between(asked["asked_at"], asked["first_answer_at"])
    asked["local_authority"] = asked["local_authority"].fillna(NO_AUTHORITY)
    waiting = asked[asked["open"]]
    shown = waiting.iloc[:MAX_OPEN]  # oldest first, as read
    ages = days_between(shown["asked_at"], pd.Series(to_db_time(as_of), index=shown.index))
    listed = [
        {
            **trio_label(str(q.trio), q.trio_name),
            "age": int(age),
            "withheld": bool(q.withheld),
            **_said(q.text, q.voice),
        }
        for q, age in zip(shown.itertuples(index=False), ages, strict=True)
    ]
    everything = asked["days"].median()
    by_trio = [
        {**row, **trio_label(row["trio"], row["trio_name"])} for row in _counts(asked, "trio")
    ]
    return {
        "open": listed,
        "open_more": len(waiting) - len(listed),
        "totals": {
            "open": len(waiting),
            "answered_week": int(asked["answered_week"].sum()),
            "median_days": None if pd.isna(everything) else round(float(everything), 1),
        },
        "by_trio": by_trio,
        "by_la": _counts(asked, "local_authority"),
    }


def digest_values(
    research: Research | None, audience: str, as_of: datetime | None
) -> dict[str, Any]:
    """`partnership` for the digest templates: the shared answers, or the researchers' view."""
    if research is None or research.span is None:
        return {}
    if audience == "schools":
        return {"shared": shared(research)}
    return for_researchers(research, as_of or research.span[1])
