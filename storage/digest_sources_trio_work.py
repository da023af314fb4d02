"""Digest sources for trio meetings, summaries, actions and lesson study.

These read tables that other work adds (meetings and summaries; lesson study). Each source
checks the catalogue first and, when its tables are not there, returns an empty frame of the
same shape, so the digest works, with less in it, before that work lands.

The columns read (the contract in the header of storage/migrations/0004_meetings.sql):

    meeting(trio_id, starts_at, status)          status: scheduled | held | cancelled
    summary(id, trio_id, author_id, status, focus, created_at, agreed_at)
                                                 status: draft | agreed
    summary_item(summary_id, kind, level, body, position, school_id)
                                                 kind: shared | evidence | barrier | question |
                                                 other; level (barriers): within | between |
                                                 beyond; body: JSON text or a voice note;
                                                 school_id: whose it is (0009_item_school.sql)
    action(summary_id, trio_id, what, position, status, owner_id, due_on, school_id)
                                                 status: open | in_progress | done | dropped
  The summary's focus and its actions come out as contributions of kinds "focus" and
  "action" beside the items, so the digest reads one long list per summary.
    lesson_study(id, trio_id, focus_what, focus_who, stage, status, stage_since, stalled_at)
    lesson_study_account(lesson_study_id, author_id, learned, changed, advice, status,
                         agreed_at)             (the contract in 0007_lesson_study.sql)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from storage.db import Reader, to_db_time
from storage.digest_sources import (
    attribute,
    empty_contributions,
    frame,
    local_dates,
    local_weeks,
)

SUMMARY_TABLES = frozenset({"summary", "summary_item"})
LESSON_STUDY_TABLES = frozenset({"lesson_study", "lesson_study_account"})


async def meetings(
    reader: Reader, have: frozenset[str], start: datetime, end: datetime, zone: ZoneInfo
) -> pd.DataFrame:
    """Meetings that started in [start, end), not cancelled: trio_id, week, held (0/1)."""
    columns = ("trio_id", "starts_at", "held")
    if "meeting" not in have:
        return frame([], (*columns, "week")).drop(columns="starts_at")
    rows = await reader.fetchall(
        "SELECT trio_id, starts_at, status = 'held' FROM meeting"
        " WHERE status != 'cancelled' AND starts_at >= ? AND starts_at < ?",
        (to_db_time(start), to_db_time(end)),
    )
    found = frame(rows, columns)
    found["week"] = local_weeks(found["starts_at"], zone)
    found["held"] = found["held"].fillna(0).astype(int)
    return found.drop(columns="starts_at")


async def summary_items(
    reader: Reader,
    have: frozenset[str],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    who: pd.DataFrame,
) -> pd.DataFrame:
    """Items of summaries agreed in [start, end), as contributions of the summary's author,
    each filed under the school it belongs to (migration 0009; bot/summaries/attribution.py)
    and that school's local authority — the author's school where an item has none.

    An action's tags carry `summary=N;school=S;owner_id=N;due=YYYY-MM-DD;status=S`
    (owner_id empty for the whole trio); the exports turn owner_id into a pseudonym.
    Drafts never come out of here: only an agreed summary reaches any digest's words.
    """
    if not have >= SUMMARY_TABLES:
        return empty_contributions()
    rows = await reader.fetchall(
        # Text is JSON (a string, or {"voice": file_id, "duration": s}); a voice note's words
        # are not exported, only that it was one and how long. CASE evaluates lazily, so a
        # focus stored as plain text never reaches json_type.
        "WITH agreed AS (SELECT s.id, s.author_id, s.trio_id, s.agreed_at, s.focus"
        "  FROM summary s WHERE s.status = 'agreed' AND s.agreed_at >= ? AND s.agreed_at < ?),"
        " parts AS ("
        # The first part's NULLs are typed: PostgreSQL takes each column's type from it.
        "  SELECT a.id AS sid, 0 AS pos, 'focus' AS kind, CAST(NULL AS TEXT) AS level,"
        "   a.focus AS body, CAST(NULL AS INTEGER) AS school_id,"
        "   CAST(NULL AS INTEGER) AS owner_id, CAST(NULL AS TEXT) AS due_on,"
        "   CAST(NULL AS TEXT) AS status"
        "  FROM agreed a"
        "  UNION ALL SELECT i.summary_id, 1 + i.position, i.kind, i.level, i.body, i.school_id,"
        "   NULL, NULL, NULL"
        "  FROM summary_item i JOIN agreed a ON a.id = i.summary_id"
        "  UNION ALL SELECT x.summary_id, 100000 + x.position, 'action', NULL, x.what,"
        "   x.school_id, x.owner_id, x.due_on, x.status"
        "  FROM action x JOIN agreed a ON a.id = x.summary_id)"
        " SELECT a.author_id, t.ref, t.name, a.agreed_at, p.kind, p.level,"
        "  CASE WHEN NOT json_valid(p.body) THEN p.body"
        "   WHEN json_type(p.body) = 'text' THEN json_extract(p.body, '$')"
        "   ELSE '' END AS text,"
        "  CASE WHEN json_valid(p.body) AND json_type(p.body) = 'object'"
        "   THEN COALESCE(CAST(json_extract(p.body, '$.duration') AS INTEGER), 0) END AS voice,"
        "  a.id, sc.ref, COALESCE(la.name, ''), p.owner_id, p.due_on, p.status"
        " FROM parts p JOIN agreed a ON a.id = p.sid JOIN trio t ON t.id = a.trio_id"
        # The item's school, else the author's: one school and its own local authority.
        " LEFT JOIN person w ON w.id = a.author_id"
        " LEFT JOIN school sc ON sc.id = COALESCE(p.school_id, w.school_id)"
        " LEFT JOIN local_authority la ON la.id = sc.local_authority_id"
        " ORDER BY a.agreed_at, a.id, p.kind = 'action', p.pos",
        (to_db_time(start), to_db_time(end)),
    )
    found = frame(
        rows,
        (
            "person_id",
            "trio",
            "trio_name",
            "agreed_at",
            "kind",
            "arena",
            "text",
            "voice",
            "summary",
            "school",
            "local_authority",
            "owner_id",
            "due",
            "status",
        ),
    )
    if found.empty:
        return empty_contributions()
    summary = "summary=" + found["summary"].astype(str)
    arena = found["arena"].fillna("")
    found["tags"] = summary.where(arena == "", "arena=" + arena + ";" + summary)
    acts = found[found["kind"] == "action"]  # only these carry school, owner, due and status
    owner = acts["owner_id"].map(lambda x: "" if pd.isna(x) else str(int(x)))
    found.loc[acts.index, "tags"] = (
        summary[acts.index]
        + ";school="
        + acts["school"].fillna("")
        + ";owner_id="
        + owner
        + ";due="
        + acts["due"].fillna("")
        + ";status="
        + acts["status"].fillna("")
    )
    voice = found["voice"]
    found["tags"] = found["tags"].where(
        voice.isna(), found["tags"] + ";voice=" + voice.fillna(0).astype(int).astype(str)
    )
    found["date"] = local_dates(found["agreed_at"], zone)
    found["text"] = found["text"].fillna("")
    # A row whose school is known keeps its local authority too, even an empty one.
    found.loc[found["school"].isna(), "local_authority"] = None
    return attribute(found.drop(columns=["owner_id", "due", "status"]), who)


async def drafts(
    reader: Reader, have: frozenset[str], end: datetime, zone: ZoneInfo
) -> pd.DataFrame:
    """Summaries still draft at `end` (created before it): trio, trio_name, since (date)."""
    columns = ("trio", "trio_name", "since")
    if "summary" not in have:
        return frame([], columns)
    rows = await reader.fetchall(
        "SELECT t.ref, t.name, s.created_at FROM summary s JOIN trio t ON t.id = s.trio_id"
        " WHERE s.created_at < ? AND (s.status = 'draft'"
        "  OR (s.status = 'agreed' AND s.agreed_at >= ?)) ORDER BY s.created_at, t.ref",
        (to_db_time(end), to_db_time(end)),
    )
    found = frame(rows, columns)
    found["since"] = local_dates(found["since"], zone)
    return found


async def action_statuses(reader: Reader, have: frozenset[str]) -> pd.DataFrame:
    """Actions of agreed summaries per trio and status: trio, status, count."""
    columns = ("trio", "status", "count")
    if not {"action", "summary"} <= have:
        return frame([], columns)
    rows = await reader.fetchall(
        "SELECT t.ref, a.status, COUNT(*) FROM action a JOIN summary s ON s.id = a.summary_id"
        " JOIN trio t ON t.id = a.trio_id WHERE s.status = 'agreed'"
        " GROUP BY t.ref, a.status ORDER BY t.ref, a.status"
    )
    return frame(rows, columns)


async def lesson_study_accounts(
    reader: Reader,
    have: frozenset[str],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    who: pd.DataFrame,
) -> pd.DataFrame:
    """Accounts of practice agreed in [start, end), as contributions (kind "lesson_study")."""
    if not have >= LESSON_STUDY_TABLES:
        return empty_contributions()
    rows = await reader.fetchall(
        # The three parts are JSON answers (text, or a voice note, whose words are not ours
        # to export); they come out as one text, in the order the trio wrote them.
        # (The blank lines between them are newlines in the literals: both stores read
        # those, where only SQLite has char().)
        "SELECT a.author_id, t.ref, t.name, a.agreed_at,"
        " trim(CASE WHEN json_valid(a.learned) AND json_type(a.learned) = 'text'"
        "   THEN json_extract(a.learned, '$') ELSE '' END || '\n\n' ||"
        "  CASE WHEN json_valid(a.changed) AND json_type(a.changed) = 'text'"
        "   THEN json_extract(a.changed, '$') ELSE '' END || '\n\n' ||"
        "  CASE WHEN json_valid(a.advice) AND json_type(a.advice) = 'text'"
        "   THEN json_extract(a.advice, '$') ELSE '' END, '\n'),"
        " c.id, c.focus_what || ' — ' || c.focus_who"
        " FROM lesson_study_account a JOIN lesson_study c ON c.id = a.lesson_study_id"
        " JOIN trio t ON t.id = c.trio_id"
        " WHERE a.status = 'agreed' AND a.agreed_at >= ? AND a.agreed_at < ?"
        " ORDER BY a.agreed_at, a.id",
        (to_db_time(start), to_db_time(end)),
    )
    found = frame(rows, ("person_id", "trio", "trio_name", "agreed_at", "text", "cycle", "focus"))
    if found.empty:
        return empty_contributions()
    found["kind"] = "lesson_study"
    found["tags"] = "cycle=" + found["cycle"].astype(str) + ";focus=" + found["focus"].fillna("")
    found["date"] = local_dates(found["agreed_at"], zone)
    return attribute(found, who)


async def stalled_cycles(
    reader: Reader, have: frozenset[str], before: datetime, end: datetime, zone: ZoneInfo
) -> pd.DataFrame:
    """Active cycles untouched since `before` (as of `end`): trio, trio_name, stage, since."""
    columns = ("trio", "trio_name", "stage", "since")
    if "lesson_study" not in have:
        return frame([], columns)
    rows = await reader.fetchall(
        # Stalled: flagged by the cycle itself (it prompted the trio), or in one stage since
        # before the digest's own threshold.
        "SELECT t.ref, t.name, c.stage, c.stage_since FROM lesson_study c"
        " JOIN trio t ON t.id = c.trio_id WHERE c.status = 'active'"
        " AND ((c.stalled_at IS NOT NULL AND c.stalled_at < ?) OR c.stage_since < ?)"
        " ORDER BY c.stage_since, t.ref",
        (to_db_time(end), to_db_time(min(before, end))),
    )
    found = frame(rows, columns)
    found["since"] = local_dates(found["since"], zone)
    return found


MEETING_REFLECTION_TABLES = frozenset({"meeting", "meeting_reflection"})
MEETING_PROMPTS = ("take_back", "surprise")


async def meeting_reflections(
    reader: Reader,
    have: frozenset[str],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    who: pd.DataFrame,
) -> pd.DataFrame:
    """Post-meeting reflections answered in [start, end), one contribution per answered
    question (kind "meeting_reflection", tags "meeting=N;prompt=take_back|surprise", and
    ";voice=s" for a voice note, whose words are not ours to export).

    Private to the trio and the researchers: the shared digest never shows them.
    """
    if not have >= MEETING_REFLECTION_TABLES:
        return empty_contributions()
    rows = await reader.fetchall(
        # The two answers are JSON, as in summary_item.body; an unanswered one is NULL.
        "WITH answers AS ("
        "  SELECT meeting_id, person_id, answered_at, 'take_back' AS prompt, take_back AS body"
        "  FROM meeting_reflection WHERE answered_at >= :start AND answered_at < :end"
        "  UNION ALL SELECT meeting_id, person_id, answered_at, 'surprise', surprise"
        "  FROM meeting_reflection WHERE answered_at >= :start AND answered_at < :end)"
        " SELECT a.person_id, t.ref, t.name, a.answered_at, a.meeting_id, a.prompt,"
        "  CASE WHEN NOT json_valid(a.body) THEN a.body"
        "   WHEN json_type(a.body) = 'text' THEN json_extract(a.body, '$')"
        "   ELSE '' END,"
        "  CASE WHEN json_valid(a.body) AND json_type(a.body) = 'object'"
        "   THEN COALESCE(CAST(json_extract(a.body, '$.duration') AS INTEGER), 0) END"
        " FROM answers a JOIN meeting m ON m.id = a.meeting_id JOIN trio t ON t.id = m.trio_id"
        " WHERE a.body IS NOT NULL AND a.body NOT IN ('null', '\"\"')"
        " ORDER BY a.answered_at, a.meeting_id, a.person_id, a.prompt = 'surprise'",
        {"start": to_db_time(start), "end": to_db_time(end)},
    )
    found = frame(
        rows,
        ("person_id", "trio", "trio_name", "answered_at", "meeting", "prompt", "text", "voice"),
    )
    if found.empty:
        return empty_contributions()
    found["kind"] = "meeting_reflection"
    tags = "meeting=" + found["meeting"].astype(str) + ";prompt=" + found["prompt"]
    voice = found["voice"]
    found["tags"] = tags.where(
        voice.isna(), tags + ";voice=" + voice.fillna(0).astype(int).astype(str)
    )
    found["text"] = found["text"].fillna("")
    found["date"] = local_dates(found["answered_at"], zone)
    return attribute(found, who)
