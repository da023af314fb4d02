"""Trio meetings, who attended, members' reflections on them, and a trio's linked group."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Reader, Transaction, from_db_time, to_db_time

MeetingStatus = Literal["scheduled", "held", "cancelled"]


@dataclass(frozen=True, slots=True)
class ReflectionAsked:
    """A held meeting someone attended and has not yet reflected on (they were asked when
    attendance was taken)."""

    meeting_id: int
    trio_name: str
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class Meeting:
    id: int
    trio_id: int
    trio_name: str
    starts_at: datetime
    duration_minutes: int
    time_zone: str
    link: str | None
    focus: str
    status: MeetingStatus
    version: int
    summary_runner_id: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Meeting:
        starts = from_db_time(row["starts_at"])
        assert starts is not None
        return cls(
            id=row["id"],
            trio_id=row["trio_id"],
            trio_name=row["trio_name"],
            starts_at=starts,
            duration_minutes=row["duration_minutes"],
            time_zone=row["time_zone"],
            link=row["link"],
            focus=row["focus"],
            status=row["status"],
            version=row["version"],
            summary_runner_id=row["summary_runner_id"],
        )


@dataclass(frozen=True, slots=True)
class Member:
    """A trio member the bot can reach (joined, not blocked or erased)."""

    person_id: int
    chat_id: int
    name: str
    language: str
    time_zone: str | None
    school_id: int | None
    is_lead: bool


_MEETING = "SELECT m.*, t.name AS trio_name FROM meeting m JOIN trio t ON t.id = m.trio_id"


class MeetingRepo:
    @staticmethod
    async def get(q: Reader, meeting_id: int) -> Meeting | None:
        row = await q.fetchone(f"{_MEETING} WHERE m.id = ?", (meeting_id,))
        return None if row is None else Meeting.from_row(row)

    @staticmethod
    async def upcoming(q: Reader, trio_ids: list[int], now: datetime) -> list[Meeting]:
        rows = await q.fetchall(
            f"{_MEETING} WHERE m.trio_id IN"  # noqa: S608
            " (SELECT CAST(value AS INTEGER) FROM json_each(?))"
            " AND m.status = 'scheduled' AND m.starts_at > ? ORDER BY m.starts_at LIMIT 20",
            (json.dumps(trio_ids), to_db_time(now)),
        )
        return [Meeting.from_row(row) for row in rows]

    @staticmethod
    async def upcoming_of(q: Reader, person_id: int, now: datetime) -> list[Meeting]:
        """Meetings still to come of every trio this person belongs to (a newcomer's)."""
        rows = await q.fetchall(
            f"{_MEETING} WHERE m.trio_id IN (SELECT trio_id FROM trio_member"  # noqa: S608
            " WHERE person_id = ?) AND m.status = 'scheduled' AND m.starts_at > ?"
            " ORDER BY m.starts_at LIMIT 20",
            (person_id, to_db_time(now)),
        )
        return [Meeting.from_row(row) for row in rows]

    @staticmethod
    async def latest_held(q: Reader, trio_id: int) -> Meeting | None:
        row = await q.fetchone(
            f"{_MEETING} WHERE m.trio_id = ? AND m.status = 'held'"
            " ORDER BY m.starts_at DESC LIMIT 1",
            (trio_id,),
        )
        return None if row is None else Meeting.from_row(row)

    @staticmethod
    async def create(
        tx: Transaction,
        *,
        trio_id: int,
        starts_at: datetime,
        time_zone: str,
        link: str | None,
        focus: str,
        created_by: int,
    ) -> int:
        now = to_db_time(tx.clock())
        return await tx.execute(
            "INSERT INTO meeting (trio_id, starts_at, time_zone, link, focus, created_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (trio_id, to_db_time(starts_at), time_zone, link, focus, created_by, now, now),
        )

    @staticmethod
    async def move(tx: Transaction, meeting_id: int, starts_at: datetime) -> None:
        await tx.execute(
            "UPDATE meeting SET starts_at = ?, version = version + 1, updated_at = ?"
            " WHERE id = ? AND status = 'scheduled'",
            (to_db_time(starts_at), to_db_time(tx.clock()), meeting_id),
        )

    @staticmethod
    async def set_status(tx: Transaction, meeting_id: int, status: MeetingStatus) -> None:
        # A cancellation bumps the version too, so nothing armed before it can fire.
        await tx.execute(
            "UPDATE meeting SET status = ?, updated_at = ?,"
            " version = version + (CASE WHEN ? = 'cancelled' THEN 1 ELSE 0 END) WHERE id = ?",
            (status, to_db_time(tx.clock()), status, meeting_id),
        )

    @staticmethod
    async def name_runner(tx: Transaction, meeting_id: int, person_id: int | None) -> None:
        await tx.execute(
            "UPDATE meeting SET summary_runner_id = ?, updated_at = ? WHERE id = ?",
            (person_id, to_db_time(tx.clock()), meeting_id),
        )

    # --- the trio ------------------------------------------------------------------------
    @staticmethod
    async def members(q: Reader, trio_id: int) -> list[Member]:
        rows = await q.fetchall(
            "SELECT p.id, p.telegram_id, p.display_name, p.language, p.time_zone, p.school_id,"
            " m.is_lead FROM trio_member m JOIN person p ON p.id = m.person_id"
            " WHERE m.trio_id = ? AND p.status = 'active' AND p.telegram_id IS NOT NULL"
            " ORDER BY m.is_lead DESC, p.display_name NULLS FIRST, p.id",
            (trio_id,),
        )
        return [
            Member(
                person_id=row["id"],
                chat_id=row["telegram_id"],
                name=row["display_name"] or "?",
                language=row["language"] or "en",
                time_zone=row["time_zone"],
                school_id=row["school_id"],
                is_lead=bool(row["is_lead"]),
            )
            for row in rows
        ]

    @staticmethod
    async def schools(q: Reader, trio_id: int) -> list[tuple[int, str]]:
        rows = await q.fetchall(
            "SELECT s.id, s.name FROM trio_school ts JOIN school s ON s.id = ts.school_id"
            " WHERE ts.trio_id = ? ORDER BY s.ref",
            (trio_id,),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    # --- attendance and reflections --------------------------------------------------------
    @staticmethod
    async def record_attendance(
        tx: Transaction, meeting_id: int, present: set[int], everyone: list[int]
    ) -> None:
        now = to_db_time(tx.clock())
        await tx.executemany(
            "INSERT INTO meeting_attendance (meeting_id, person_id, attended, recorded_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(meeting_id, person_id)"
            " DO UPDATE SET attended = excluded.attended, recorded_at = excluded.recorded_at",
            [(meeting_id, pid, int(pid in present), now) for pid in everyone],
        )

    @staticmethod
    async def attended(q: Reader, meeting_id: int, person_id: int) -> bool:
        row = await q.fetchone(
            "SELECT attended FROM meeting_attendance WHERE meeting_id = ? AND person_id = ?",
            (meeting_id, person_id),
        )
        return row is not None and bool(row[0])

    @staticmethod
    async def reflection_waiting(
        q: Reader, person_id: int, since: datetime, meeting_id: int | None = None
    ) -> ReflectionAsked | None:
        """The latest meeting (or meeting `meeting_id`) this person attended, asked about
        since `since`, with no reflection of theirs yet."""
        row = await q.fetchone(
            "SELECT m.id, t.name, a.recorded_at FROM meeting_attendance a"
            " JOIN meeting m ON m.id = a.meeting_id JOIN trio t ON t.id = m.trio_id"
            " WHERE a.person_id = ? AND a.attended = 1 AND m.status = 'held'"
            " AND a.recorded_at >= ? AND (? IS NULL OR m.id = ?) AND NOT EXISTS"
            " (SELECT 1 FROM meeting_reflection r WHERE r.meeting_id = m.id"
            "  AND r.person_id = a.person_id) ORDER BY a.recorded_at DESC LIMIT 1",
            (person_id, to_db_time(since), meeting_id, meeting_id),
        )
        if row is None:
            return None
        asked = from_db_time(row[2])
        assert asked is not None
        return ReflectionAsked(int(row[0]), str(row[1]), asked)

    @staticmethod
    async def save_reflection(
        tx: Transaction, meeting_id: int, person_id: int, take_back: Any, surprise: Any
    ) -> None:
        await tx.execute(
            "INSERT INTO meeting_reflection (meeting_id, person_id, take_back, surprise,"
            " answered_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(meeting_id, person_id) DO UPDATE"
            " SET take_back = excluded.take_back, surprise = excluded.surprise,"
            " answered_at = excluded.answered_at",
            (
                meeting_id,
                person_id,
                json.dumps(take_back, ensure_ascii=False),
                json.dumps(surprise, ensure_ascii=False),
                to_db_time(tx.clock()),
            ),
        )

    # --- the trio's group ------------------------------------------------------------------
    @staticmethod
    async def group_of(q: Reader, trio_id: int) -> tuple[int, str] | None:
        row = await q.fetchone(
            "SELECT chat_id, language FROM trio_chat WHERE trio_id = ?", (trio_id,)
        )
        return None if row is None else (int(row[0]), str(row[1]))

    @staticmethod
    async def trio_of_group(q: Reader, chat_id: int) -> int | None:
        row = await q.fetchone("SELECT trio_id FROM trio_chat WHERE chat_id = ?", (chat_id,))
        return None if row is None else int(row[0])

    @staticmethod
    async def link_group(
        tx: Transaction, trio_id: int, chat_id: int, language: str, person_id: int
    ) -> None:
        # A group serves one trio; linking it again (or a new group) replaces the old link.
        # Whether the group's current trio may lose it is the caller's check, made in `tx`.
        await tx.execute(
            "DELETE FROM trio_chat WHERE chat_id = ? OR trio_id = ?", (chat_id, trio_id)
        )
        await tx.execute(
            "INSERT INTO trio_chat (trio_id, chat_id, language, linked_by, linked_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (trio_id, chat_id, language, person_id, to_db_time(tx.clock())),
        )
