"""Reflection prompts as stored: one row per person, prompt and period, and its answer.

status: due (scheduled, or put back when Telegram never took the prompt) → delivered →
answered | skipped. A free reflection (/reflect with no prompt open) is stored as prompt
'free', answered at once. The schedule rows that deliver and nudge a prompt are keyed
`deliver:<prompt>:<period>:<person>[:s<n>]` and `nudge:<prompt>:<period>:<person>`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Database, Reader, Transaction, from_db_time, to_db_time
from storage.people import Person

ReflectionStatus = Literal["due", "delivered", "answered", "skipped"]


def deliver_key(prompt: str, period: str, person_id: int) -> str:
    """The dedupe key of a prompt's first delivery; snoozes add `:s<n>`."""
    return f"deliver:{prompt}:{period}:{person_id}"


def nudge_key(prompt: str, period: str, person_id: int) -> str:
    return f"nudge:{prompt}:{period}:{person_id}"


@dataclass(frozen=True, slots=True)
class Reflection:
    id: int
    person_id: int
    prompt: str  # the programme's prompt key, or 'free'
    period: str  # e.g. 2026-W48; the moment it came, for a free reflection
    status: ReflectionStatus
    answer: str | None  # JSON: text, or {"voice": file_id, "duration": s}
    delivered_at: datetime | None
    answered_at: datetime | None
    nudged_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Reflection:
        return cls(
            id=row["id"],
            person_id=row["person_id"],
            prompt=row["prompt"],
            period=row["period"],
            status=row["status"],
            answer=row["answer"],
            delivered_at=from_db_time(row["delivered_at"]),
            answered_at=from_db_time(row["answered_at"]),
            nudged_at=from_db_time(row["nudged_at"]),
        )


@dataclass(frozen=True, slots=True)
class OpenPrompt:
    """A prompt someone has not answered or skipped, and the language to ask it in."""

    reflection_id: int
    prompt: str
    language: str | None


class ReflectionRepo:
    @staticmethod
    async def eligible(
        q: Reader, roles: Iterable[str], trios: Iterable[str], person_id: int | None = None
    ) -> list[Person]:
        """Active, onboarded people with one of `roles` (in one of `trios`, if any given);
        with `person_id`, only that person, if they are."""
        # Lists travel as one JSON parameter (json_each), so no SQL is ever assembled. One
        # person is looked up by id: "(? IS NULL OR p.id = ?)" would scan everyone (SQLite
        # plans it once for both cases), ~0.6 ms a call at 10,000 people, twice per joiner.
        sql = (
            "SELECT DISTINCT p.* FROM person p JOIN person_role r ON r.person_id = p.id"
            " WHERE p.status = 'active' AND p.onboarded_at IS NOT NULL"
            " AND r.role IN (SELECT value FROM json_each(?))"
        )
        params: list[Any] = [json.dumps(sorted(roles))]
        if person_id is not None:
            sql += " AND p.id = ?"
            params.append(person_id)
        trio_refs = sorted(trios)
        if trio_refs:
            sql += (
                " AND p.id IN (SELECT m.person_id FROM trio_member m JOIN trio t"
                " ON t.id = m.trio_id WHERE t.ref IN (SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(trio_refs))
        return [Person.from_row(row) for row in await q.fetchall(sql, params)]

    @staticmethod
    async def get(q: Reader, reflection_id: int) -> Reflection | None:
        row = await q.fetchone("SELECT * FROM reflection WHERE id = ?", (reflection_id,))
        return None if row is None else Reflection.from_row(row)

    @staticmethod
    async def find(q: Reader, person_id: int, prompt: str, period: str) -> Reflection | None:
        row = await q.fetchone(
            "SELECT * FROM reflection WHERE person_id = ? AND prompt = ? AND period = ?",
            (person_id, prompt, period),
        )
        return None if row is None else Reflection.from_row(row)

    @staticmethod
    async def delivered(
        tx: Transaction,
        person_id: int,
        prompt: str,
        period: str,
        now: datetime,
        reflection_id: int | None,
    ) -> int:
        """Mark the prompt delivered now (creating its row if it has none); its id."""
        if reflection_id is None:
            return await tx.execute(
                "INSERT INTO reflection (person_id, prompt, period, status, delivered_at)"
                " VALUES (?, ?, ?, 'delivered', ?)",
                (person_id, prompt, period, to_db_time(now)),
            )
        await tx.execute(
            "UPDATE reflection SET status = 'delivered', delivered_at = ? WHERE id = ?",
            (to_db_time(now), reflection_id),
        )
        return reflection_id

    @staticmethod
    async def nudged(tx: Transaction, reflection_id: int, now: datetime) -> None:
        await tx.execute(
            "UPDATE reflection SET nudged_at = ? WHERE id = ?", (to_db_time(now), reflection_id)
        )

    @staticmethod
    async def skipped(tx: Transaction, reflection_id: int, now: datetime) -> None:
        await tx.execute(
            "UPDATE reflection SET status = 'skipped', answered_at = ? WHERE id = ?",
            (to_db_time(now), reflection_id),
        )

    @staticmethod
    async def snoozed(tx: Transaction, reflection_id: int) -> None:
        """Due again: delivered later, when the snooze ends."""
        await tx.execute("UPDATE reflection SET status = 'due' WHERE id = ?", (reflection_id,))

    @staticmethod
    async def deliveries(tx: Transaction, person_id: int, prompt: str, period: str) -> int:
        """How many delivery rows (first and snoozed) this prompt has had for this person."""
        count = await tx.fetchval(
            "SELECT COUNT(*) FROM schedule WHERE kind = 'reflection_deliver'"
            " AND person_id = ? AND dedupe_key LIKE ?",
            (person_id, deliver_key(prompt, period, person_id) + "%"),
        )
        return int(count)

    @staticmethod
    async def save_free(tx: Transaction, person_id: int, answer: str, now: datetime) -> None:
        """A reflection nobody prompted: stored answered, its period the moment it came."""
        stamp = to_db_time(now)
        await tx.execute(
            "INSERT INTO reflection (person_id, prompt, period, status, answer, answered_at)"
            " VALUES (?, 'free', ?, 'answered', ?, ?)",
            (person_id, stamp, answer, stamp),
        )

    @staticmethod
    async def answered(
        tx: Transaction, person_id: int, reflection_id: int, answer: str, now: datetime
    ) -> Reflection | None:
        """Store the answer to a prompt of this person's; the reflection as it was (None: not
        theirs, nothing stored). Deliveries still waiting for it are cancelled."""
        found = await ReflectionRepo.get(tx, reflection_id)
        if found is None or found.person_id != person_id:
            return None
        await tx.execute(
            "UPDATE reflection SET status = 'answered', answer = ?, answered_at = ? WHERE id = ?",
            (answer, to_db_time(now), reflection_id),
        )
        await tx.execute(
            "UPDATE schedule SET status = 'cancelled', note = 'answered' WHERE status = 'pending'"
            " AND kind = 'reflection_deliver' AND person_id = ? AND dedupe_key LIKE ?",
            (person_id, deliver_key(found.prompt, found.period, person_id) + "%"),
        )
        return found

    @staticmethod
    async def latest_open(db: Database, person_id: int) -> OpenPrompt | None:
        """The most recent prompt this person has not answered or skipped, if any."""
        row = await db.fetchone(
            "SELECT r.id, r.prompt, p.language FROM reflection r JOIN person p"
            " ON p.id = r.person_id WHERE r.person_id = ? AND r.status IN ('delivered', 'due')"
            " AND r.prompt != 'free' ORDER BY r.delivered_at DESC NULLS LAST LIMIT 1",
            (person_id,),
        )
        return None if row is None else OpenPrompt(row["id"], row["prompt"], row["language"])

    @staticmethod
    async def prompted_by(q: Reader, chat_id: int, message_id: int) -> int | None:
        """The reflection whose prompt (or nudge) was sent as Telegram message `message_id`
        in this chat, if it was one: the outbox keeps the id of every message it sent."""
        found = await q.fetchval(
            "SELECT json_extract(payload, '$.reflection') FROM outbox WHERE chat_id = ?"
            " AND telegram_message_id = ? AND kind IN ('reflection', 'nudge')"
            " AND status = 'sent' ORDER BY id DESC LIMIT 1",
            (chat_id, message_id),
        )
        return None if found is None else int(found)

    @staticmethod
    async def as_free(tx: Transaction, person_id: int, reflection_id: int, now: datetime) -> bool:
        """Move a prompt's answer to a free reflection of its own; the prompt waits again.
        False when it is not this person's answered prompt (nothing changes)."""
        found = await ReflectionRepo.get(tx, reflection_id)
        if found is None or found.person_id != person_id or found.status != "answered":
            return False
        if found.prompt == "free" or found.answer is None:
            return False
        await ReflectionRepo.save_free(tx, person_id, found.answer, now)
        await tx.execute(
            "UPDATE reflection SET status = 'delivered', answer = NULL, answered_at = NULL"
            " WHERE id = ?",
            (reflection_id,),
        )
        return True
