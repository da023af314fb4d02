"""Everything held about one person, collected for them to download (/privacy, the command
line). What each section holds is registered here in `EXPORT`, and by later migrations in
`export_section` rows (see storage/personal_data.py's docstring for where personal data is
registered, and what erasure does to it)."""

from __future__ import annotations

import json
import re
from typing import Any

from storage.catalogue import table_columns
from storage.db import Database, Reader

# Sections of the download: (name, query with :person_id). Rows become JSON objects.
EXPORT: tuple[tuple[str, str], ...] = (
    (
        "person",
        "SELECT id, ref, telegram_id, display_name, language, time_zone, quiet_start,"
        " quiet_end, reminder_time, status, onboarded_at, created_at, updated_at"
        " FROM person WHERE id = :person_id",
    ),
    ("roles", "SELECT role FROM person_role WHERE person_id = :person_id ORDER BY role"),
    (
        "school",
        "SELECT s.ref, s.name, la.name AS local_authority, s.phase FROM person p"
        " JOIN school s ON s.id = p.school_id JOIN local_authority la"
        " ON la.id = s.local_authority_id WHERE p.id = :person_id",
    ),
    (
        "trios",
        "SELECT t.ref, t.name, t.kind, m.is_lead, m.joined_at FROM trio_member m"
        " JOIN trio t ON t.id = m.trio_id WHERE m.person_id = :person_id ORDER BY t.ref",
    ),
    (
        "consent_history",
        "SELECT given, version, recorded_at FROM consent WHERE person_id = :person_id ORDER BY id",
    ),
    (
        "conversations",
        "SELECT flow, step, status, answers, context, started_at, updated_at, closed_at"
        " FROM flow_state WHERE person_id = :person_id ORDER BY id",
    ),
    (
        "invites_used",
        "SELECT u.code, i.role, u.used_at FROM invite_use u JOIN invite i ON i.code = u.code"
        " WHERE u.person_id = :person_id ORDER BY u.used_at",
    ),
    (
        "invites_created",
        "SELECT code, role, max_uses, uses, created_at, revoked_at FROM invite"
        " WHERE created_by = :person_id ORDER BY created_at",
    ),
    (
        "reflections",
        "SELECT prompt, period, status, answer, delivered_at, answered_at FROM reflection"
        " WHERE person_id = :person_id ORDER BY id",
    ),
    (
        "meeting_reflections",
        "SELECT meeting_id, take_back, surprise, answered_at FROM meeting_reflection"
        " WHERE person_id = :person_id ORDER BY answered_at",
    ),
    (
        "meetings_attended",
        "SELECT meeting_id, attended, recorded_at FROM meeting_attendance"
        " WHERE person_id = :person_id ORDER BY recorded_at",
    ),
    (
        "summary_decisions",
        "SELECT summary_id, revision, decision, comment, decided_at FROM summary_approval"
        " WHERE person_id = :person_id ORDER BY decided_at",
    ),
    (
        "actions_owned",
        "SELECT what, due_on, status FROM action WHERE owner_id = :person_id ORDER BY id",
    ),
    (
        "lesson_study_notes",
        "SELECT lesson_study_id, round, kind, body, created_at FROM lesson_study_note"
        " WHERE person_id = :person_id ORDER BY id",
    ),
    (
        "lesson_study_decisions",
        "SELECT account_id, revision, decision, suggestion, decided_at FROM lesson_study_approval"
        " WHERE person_id = :person_id ORDER BY decided_at",
    ),
    (
        "messages_queued",
        "SELECT kind, status, created_at, sent_at FROM outbox WHERE person_id = :person_id"
        " ORDER BY id",
    ),
)
_JSON_COLUMNS = frozenset(
    {
        "answers",
        "context",
        "answer",
        "take_back",
        "surprise",
        "comment",
        "what",
        "body",
        "suggestion",
    }
)


async def sections(q: Reader) -> tuple[tuple[str, str], ...]:
    rows = await q.fetchall("SELECT name, query FROM export_section ORDER BY name")
    return (*EXPORT, *((r[0], r[1]) for r in rows))


async def collect(db: Database, person_id: int) -> dict[str, Any]:
    """Every export section for one person, JSON-ready."""
    held: dict[str, Any] = {}
    tables = (await table_columns(db)).keys()
    # Each query is text from this module (EXPORT) or an export_section row, which only the
    # migration files shipped with the bot write; the person is a named parameter.
    for section, sql in await sections(db):
        if not _tables_in(sql) <= tables:
            continue  # registered ahead of its migration
        rows = await db.fetchall(sql, {"person_id": person_id})
        items = [
            {k: json.loads(r[k]) if k in _JSON_COLUMNS and r[k] else r[k] for k in r.keys()}  # noqa: SIM118
            for r in rows
        ]
        if section in ("person", "school"):
            held[section] = items[0] if items else None
        elif section == "roles":
            held[section] = [item["role"] for item in items]
        else:
            held[section] = items
    return held


def _tables_in(sql: str) -> set[str]:
    return set(re.findall(r"(?:FROM|JOIN)\s+(\w+)", sql))
