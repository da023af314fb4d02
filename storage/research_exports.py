"""The research exports' sources beyond the contributions: actions and their history, lesson
study's working notes, discussions and accounts, and meeting attendance.

Each function reads one span [start, end) and returns a DataFrame of the shape documented on
it, with raw person ids (bot/digest/research_tables.py applies consent and pseudonyms) and
UTC times as stored (text, storage.db.to_db_time). Like the digest's sources, a function
whose tables are not in this database returns an empty frame of the right shape, and nothing
recorded at or after `end` is read. Answers stored as JSON (text, a list of choices, or a
voice note {"voice": file_id, "duration": s}) come out as `text` and `voice` (seconds; None
for written words): a voice note's words are not ours, and its file id is never read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd

from storage.catalogue import columns
from storage.db import Reader, from_db_time, to_db_time
from storage.digest_sources import frame

ACTION_COLUMNS = (
    "action_id",
    "summary_id",
    "trio",
    "trio_name",
    "school",  # the action's school (ref); see `actions`
    "local_authority",
    "owner_id",  # None: the whole trio
    "author_id",  # the summary's author, whose words `what` are
    "what",
    "voice",
    "due_on",  # local date, YYYY-MM-DD
    "status",  # as it stood at `end`
    "created_at",
    "agreed_at",
)
EVENT_COLUMNS = ("event_id", "action_id", "trio", "status", "changed_by", "how", "changed_at")
LESSON_STUDY_COLUMNS = (
    "cycle",
    "trio",
    "trio_name",
    "subject",
    "focus",
    "round",
    "kind",  # a note's kind | discussion | account
    "part",  # account: learned | changed | advice; discussion: compare | changes; else ""
    "person_id",  # None for a discussion (the trio's together)
    "pupil",  # the case pupil's position 1-3 (never the name the trio gave them), or None
    "moment",  # index of the key moment in the lesson's plan, or None
    "at",
    "text",
    "voice",
)
ATTENDANCE_COLUMNS = ("meeting_id", "trio", "trio_name", "starts_at", "person_id", "attended")

ACTION_TABLES = frozenset({"action", "summary"})
LESSON_TABLES = frozenset({"lesson_study", "lesson_study_note", "research_lesson"})

# The action's school: its own (migration 0009's action.school_id, where that has landed),
# else its owner's, else the summary author's.
_ACTION = (
    "SELECT x.id, x.summary_id, t.ref, t.name, sc.ref, la.name, x.owner_id, s.author_id,"
    " x.what, x.due_on, "
)
_STATUS_AT_END = (
    "COALESCE((SELECT e.status FROM action_event e WHERE e.action_id = x.id"
    " AND e.changed_at < :end ORDER BY e.changed_at DESC, e.id DESC LIMIT 1), x.status)"
)
_ACTION_FROM = (
    ", x.created_at, s.agreed_at"
    " FROM action x JOIN summary s ON s.id = x.summary_id JOIN trio t ON t.id = x.trio_id"
    " LEFT JOIN person o ON o.id = x.owner_id LEFT JOIN person w ON w.id = s.author_id"
    " LEFT JOIN school sc ON sc.id = COALESCE("
)
_ACTION_WHERE = (
    "o.school_id, w.school_id)"
    " LEFT JOIN local_authority la ON la.id = sc.local_authority_id"
    " WHERE s.status = 'agreed' AND s.agreed_at >= :start AND s.agreed_at < :end"
    " ORDER BY s.agreed_at, x.summary_id, x.position, x.id"
)
ACTIONS_SQL = f"{_ACTION}{_STATUS_AT_END}{_ACTION_FROM}{_ACTION_WHERE}"
ACTIONS_OWN_SCHOOL_SQL = f"{_ACTION}{_STATUS_AT_END}{_ACTION_FROM}x.school_id, {_ACTION_WHERE}"
ACTIONS_NO_HISTORY_SQL = f"{_ACTION}x.status{_ACTION_FROM}{_ACTION_WHERE}"
ACTIONS_NO_HISTORY_OWN_SCHOOL_SQL = f"{_ACTION}x.status{_ACTION_FROM}x.school_id, {_ACTION_WHERE}"

_CYCLE = "c.id, t.ref, t.name, c.subject, c.focus_what || ' — ' || c.focus_who"
_CYCLE_FROM = "FROM lesson_study c JOIN trio t ON t.id = c.trio_id"
NOTES_SQL = (
    f"SELECT {_CYCLE}, n.round, n.kind, '', n.person_id, u.position, n.moment, n.created_at,"
    f" n.body {_CYCLE_FROM} JOIN lesson_study_note n ON n.lesson_study_id = c.id"
    " LEFT JOIN lesson_study_pupil u ON u.id = n.pupil_id"
    " WHERE n.created_at >= :start AND n.created_at < :end ORDER BY n.created_at, n.id"
)
DISCUSSIONS_SQL = (
    f"SELECT {_CYCLE}, r.round, r.discussion, r.changes, r.ends_at"
    f" {_CYCLE_FROM} JOIN research_lesson r ON r.lesson_study_id = c.id"
    " WHERE r.discussion IS NOT NULL AND r.ends_at >= :start AND r.ends_at < :end"
    " ORDER BY r.ends_at, r.id"
)
ACCOUNTS_SQL = (
    f"SELECT {_CYCLE}, c.round, a.author_id, a.agreed_at, a.learned, a.changed, a.advice"
    f" {_CYCLE_FROM} JOIN lesson_study_account a ON a.lesson_study_id = c.id"
    " WHERE a.status = 'agreed' AND a.agreed_at >= :start AND a.agreed_at < :end"
    " ORDER BY a.agreed_at, a.id"
)


async def actions(
    reader: Reader, have: frozenset[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """Actions of the summaries agreed in [start, end), one row each (ACTION_COLUMNS); the
    status is the last one recorded before `end` (action_event), or the current one where
    no history was recorded."""
    if not have >= ACTION_TABLES:
        return frame([], ACTION_COLUMNS)
    own_school = "school_id" in await columns(reader, "action")
    if "action_event" in have:
        sql = ACTIONS_OWN_SCHOOL_SQL if own_school else ACTIONS_SQL
    else:
        sql = ACTIONS_NO_HISTORY_OWN_SCHOOL_SQL if own_school else ACTIONS_NO_HISTORY_SQL
    rows = await reader.fetchall(sql, {"start": to_db_time(start), "end": to_db_time(end)})
    found = frame([(*r[:8], None, None, *r[9:]) for r in rows], ACTION_COLUMNS)
    answers = [answer(r[8]) for r in rows]
    found["what"] = [text for text, _ in answers]
    found["voice"] = pd.array([voice for _, voice in answers], dtype="Int64")
    return found


async def action_events(
    reader: Reader, have: frozenset[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """Each status change recorded in [start, end) of an action whose summary was agreed
    before `end` (EVENT_COLUMNS), in the order they happened."""
    if not have >= ACTION_TABLES | {"action_event"}:
        return frame([], EVENT_COLUMNS)
    rows = await reader.fetchall(
        "SELECT e.id, e.action_id, t.ref, e.status, e.changed_by, e.how, e.changed_at"
        " FROM action_event e JOIN action x ON x.id = e.action_id"
        " JOIN summary s ON s.id = x.summary_id JOIN trio t ON t.id = x.trio_id"
        " WHERE s.status = 'agreed' AND s.agreed_at < :end"
        " AND e.changed_at >= :start AND e.changed_at < :end"
        " ORDER BY e.changed_at, e.id",
        {"start": to_db_time(start), "end": to_db_time(end)},
    )
    return frame(rows, EVENT_COLUMNS)


async def lesson_study(
    reader: Reader, have: frozenset[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """Lesson study's words in [start, end) (LESSON_STUDY_COLUMNS): every note (student
    voice, prediction, observation, interview, late) by its writing time; each post-lesson
    discussion by the end of its research lesson (when it was held is not recorded), as
    two parts, the comparison and the changes it agreed; each agreed account's three parts
    by the time it was agreed."""
    if not have >= LESSON_TABLES:
        return frame([], LESSON_STUDY_COLUMNS)
    span = {"start": to_db_time(start), "end": to_db_time(end)}
    notes = await reader.fetchall(NOTES_SQL, span)
    talks = await reader.fetchall(DISCUSSIONS_SQL, span)
    rows: list[tuple[Any, ...]] = [tuple(r[:12]) for r in notes]
    bodies = [r[12] for r in notes]
    for r in talks:
        for part, body in (("compare", r[6]), ("changes", r[7])):
            rows.append((*r[:5], r[5], "discussion", part, None, None, None, r[8]))
            bodies.append(body)
    if "lesson_study_account" in have:
        accounts = await reader.fetchall(ACCOUNTS_SQL, span)
        for r in accounts:
            for part, body in (("learned", r[8]), ("changed", r[9]), ("advice", r[10])):
                rows.append((*r[:5], r[5], "account", part, r[6], None, None, r[7]))
                bodies.append(body)
    found = frame([(*r, None, None) for r in rows], LESSON_STUDY_COLUMNS)
    answers = [answer(body) for body in bodies]
    found["text"] = [text for text, _ in answers]
    found["voice"] = pd.array([voice for _, voice in answers], dtype="Int64")
    return found.sort_values(["at", "cycle"], kind="stable").reset_index(drop=True)


async def cycle_members(reader: Reader, have: frozenset[str]) -> pd.DataFrame:
    """Who takes part in each lesson-study cycle: cycle, person_id."""
    if "lesson_study_member" not in have:
        return frame([], ("cycle", "person_id"))
    rows = await reader.fetchall("SELECT lesson_study_id, person_id FROM lesson_study_member")
    return frame(rows, ("cycle", "person_id"))


async def attendance(
    reader: Reader, have: frozenset[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """Who attended each meeting that started in [start, end) (ATTENDANCE_COLUMNS), as
    recorded once the meeting was held (attended 1, or 0 for a member who was not there)."""
    if not have >= {"meeting", "meeting_attendance"}:
        return frame([], ATTENDANCE_COLUMNS)
    rows = await reader.fetchall(
        "SELECT m.id, t.ref, t.name, m.starts_at, a.person_id, a.attended"
        " FROM meeting_attendance a JOIN meeting m ON m.id = a.meeting_id"
        " JOIN trio t ON t.id = m.trio_id"
        " WHERE m.starts_at >= ? AND m.starts_at < ? AND a.recorded_at < ?"
        " ORDER BY m.starts_at, m.id, a.person_id",
        (to_db_time(start), to_db_time(end), to_db_time(end)),
    )
    return frame(rows, ATTENDANCE_COLUMNS)


FIRST_TABLES = frozenset(
    {"meeting", "summary", "action_event", "lesson_study_note", "research_lesson",
     "lesson_study_account"}
)  # fmt: skip


async def first_recorded(reader: Reader, have: frozenset[str]) -> datetime | None:
    """The earliest instant any of these tables' exported rows are dated (meetings, agreed
    summaries, action changes, lesson study): with the first prompt delivered, where an
    export of everything begins. None before the migrations that add them (0004, 0007, 0010)."""
    if not have >= FIRST_TABLES:
        return None
    first = await reader.fetchval(
        "SELECT MIN(x) FROM ("
        " SELECT MIN(starts_at) AS x FROM meeting WHERE status != 'cancelled'"
        " UNION ALL SELECT MIN(agreed_at) FROM summary WHERE status = 'agreed'"
        " UNION ALL SELECT MIN(changed_at) FROM action_event"
        " UNION ALL SELECT MIN(created_at) FROM lesson_study_note"
        " UNION ALL SELECT MIN(ends_at) FROM research_lesson WHERE discussion IS NOT NULL"
        " UNION ALL SELECT MIN(agreed_at) FROM lesson_study_account WHERE status = 'agreed')"
        " AS firsts"
    )
    return from_db_time(None if first is None else str(first))


def answer(raw: str | None) -> tuple[str, int | None]:
    """A stored JSON answer as (text, voice seconds): a list's choices joined by "; ", a voice
    note as ("", its length); text that is not JSON is taken as it is."""
    if raw is None:
        return "", None
    try:
        value = json.loads(raw)
    except ValueError:
        return str(raw), None
    if isinstance(value, dict):
        return "", int(value.get("duration") or 0) if "voice" in value else None
    if isinstance(value, list):
        return "; ".join(str(v) for v in value), None
    return ("" if value is None else str(value)), None
