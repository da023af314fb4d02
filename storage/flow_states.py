"""Flow state: which flow each person is in, per chat, with every answer so far."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from storage.db import Database, Reader, Transaction, from_db_time, to_db_time
from storage.json_text import dump_json

FlowStatus = Literal["open", "done", "cancelled", "expired", "discarded"]


# The context key of what a message said when it opened its flow (the engine's
# `answer_with`): "not an answer" keeps it as a free reflection instead.
TAKEN = "_taken"


@dataclass(frozen=True, slots=True)
class FlowState:
    id: int
    person_id: int
    chat_id: int
    flow: str
    step: str
    answers: dict[str, Any]
    trail: list[str]
    context: dict[str, Any]
    seq: int
    status: FlowStatus
    held_input: dict[str, Any] | None
    started_at: datetime
    updated_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> FlowState:
        started, updated, expires = (
            from_db_time(row["started_at"]),
            from_db_time(row["updated_at"]),
            from_db_time(row["expires_at"]),
        )
        assert started and updated and expires
        held = row["held_input"]
        return cls(
            id=row["id"],
            person_id=row["person_id"],
            chat_id=row["chat_id"],
            flow=row["flow"],
            step=row["step"],
            answers=json.loads(row["answers"]),
            trail=json.loads(row["trail"]),
            context=json.loads(row["context"]),
            seq=row["seq"],
            status=row["status"],
            held_input=None if held is None else json.loads(held),
            started_at=started,
            updated_at=updated,
            expires_at=expires,
        )

    def but(self, **changes: Any) -> FlowState:
        return replace(self, **changes)


class FlowStateRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def open_for(q: Reader, person_id: int, chat_id: int) -> FlowState | None:
        row = await q.fetchone(
            "SELECT * FROM flow_state WHERE person_id = ? AND chat_id = ? AND status = 'open'",
            (person_id, chat_id),
        )
        return None if row is None else FlowState.from_row(row)

    @staticmethod
    async def get(q: Reader, state_id: int) -> FlowState | None:
        row = await q.fetchone("SELECT * FROM flow_state WHERE id = ?", (state_id,))
        return None if row is None else FlowState.from_row(row)

    async def take_expiry_notice(self, person_id: int, chat_id: int) -> str | None:
        """The flow that expired unseen in this chat, if any; clears the mark (once only)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT id, flow FROM flow_state WHERE person_id = ? AND chat_id = ?"
                " AND expiry_untold = 1 ORDER BY id DESC LIMIT 1",
                (person_id, chat_id),
            )
            if row is None:
                return None
            await tx.execute(
                "UPDATE flow_state SET expiry_untold = 0 WHERE person_id = ? AND chat_id = ?",
                (person_id, chat_id),
            )
            return str(row["flow"])

    @staticmethod
    async def last_closed(q: Reader, person_id: int, chat_id: int, flow: str) -> FlowState | None:
        """The most recent closed run of `flow` in this chat (done, cancelled, …), if any."""
        row = await q.fetchone(
            "SELECT * FROM flow_state WHERE person_id = ? AND chat_id = ? AND flow = ?"
            " AND status != 'open' ORDER BY id DESC LIMIT 1",
            (person_id, chat_id, flow),
        )
        return None if row is None else FlowState.from_row(row)

    async def count_for(self, person_id: int) -> int:
        """How many flows this person has begun (what /privacy says is held)."""
        found = await self.db.fetchval(
            "SELECT COUNT(*) FROM flow_state WHERE person_id = ?", (person_id,)
        )
        return int(found or 0)

    @staticmethod
    async def insert(tx: Transaction, state: FlowState) -> int:
        return await tx.execute(
            "INSERT INTO flow_state (person_id, chat_id, flow, step, answers, trail, context,"
            " seq, status, held_input, started_at, updated_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
            (
                state.person_id,
                state.chat_id,
                state.flow,
                state.step,
                dump_json(state.answers),
                dump_json(state.trail),
                dump_json(state.context),
                state.seq,
                None if state.held_input is None else dump_json(state.held_input),
                to_db_time(state.started_at),
                to_db_time(state.updated_at),
                to_db_time(state.expires_at),
            ),
        )

    @staticmethod
    async def save(tx: Transaction, state: FlowState) -> None:
        """Write an open state back; refuses (returns quietly) if it was closed meanwhile."""
        await tx.execute(
            "UPDATE flow_state SET step = ?, answers = ?, trail = ?, context = ?, seq = ?,"
            " held_input = ?, updated_at = ?, expires_at = ? WHERE id = ? AND status = 'open'",
            (
                state.step,
                dump_json(state.answers),
                dump_json(state.trail),
                dump_json(state.context),
                state.seq,
                None if state.held_input is None else dump_json(state.held_input),
                to_db_time(state.updated_at),
                to_db_time(state.expires_at),
                state.id,
            ),
        )

    @staticmethod
    async def close(tx: Transaction, state: FlowState, status: FlowStatus, when: datetime) -> None:
        await tx.execute(
            "UPDATE flow_state SET status = ?, answers = ?, seq = seq + 1, held_input = NULL,"
            " updated_at = ?, closed_at = ? WHERE id = ?",
            (status, dump_json(state.answers), to_db_time(when), to_db_time(when), state.id),
        )

    @staticmethod
    async def expire_due(tx: Transaction, now: datetime) -> int:
        return await tx.execute(
            "UPDATE flow_state SET status = 'expired', expiry_untold = 1, closed_at = ?"
            " WHERE status = 'open' AND expires_at <= ?",
            (to_db_time(now), to_db_time(now)),
        )
