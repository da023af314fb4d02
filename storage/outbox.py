"""The outbox: every message that is not the immediate answer to a person goes through it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from storage.db import Database, Reader, Transaction, from_db_time, to_db_time
from storage.json_text import dump_json
from storage.turns import claim_transaction

OutboxStatus = Literal["pending", "sent", "failed", "dropped"]

# A reflection prompt counts as delivered when it is queued; if Telegram then never takes it
# (they blocked the bot, or it was refused), `fail` and `person_unreachable` put it back to
# 'due' so digests do not count it. A prompt's outbox row carries `payload.reflection`.


@dataclass(frozen=True, slots=True)
class SenderHealth:
    last_sent_at: datetime | None
    overdue: int  # waiting longer than the threshold asked for
    waiting: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    chat_id: int
    person_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    not_before: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Outgoing:
        not_before = from_db_time(row["not_before"])
        assert not_before is not None
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            person_id=row["person_id"],
            kind=row["kind"],
            payload=json.loads(row["payload"]),
            attempts=row["attempts"],
            not_before=not_before,
        )


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def enqueue(
        tx: Transaction,
        chat_id: int,
        kind: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        person_id: int | None = None,
        not_before: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> bool:
        added = await tx.execute(
            "INSERT INTO outbox (chat_id, person_id, kind, payload, dedupe_key, not_before,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (
                chat_id,
                person_id,
                kind,
                dump_json(payload),
                dedupe_key,
                to_db_time(not_before or now),
                to_db_time(now),
            ),
        )
        return bool(added)

    @staticmethod
    async def told(q: Reader, person_id: int, key_prefix: str) -> bool:
        """Whether any message under `key_prefix` was ever queued for this person (a
        newcomer already told of a meeting is not invited to it again)."""
        # A range over the unique dedupe_key's index: every key that starts with the prefix.
        after = key_prefix[:-1] + chr(ord(key_prefix[-1]) + 1)
        found = await q.fetchval(
            "SELECT 1 FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ? AND person_id = ?"
            " LIMIT 1",
            (key_prefix, after, person_id),
        )
        return found is not None

    async def sendable(self, now: datetime, limit: int) -> list[Outgoing]:
        """Rows that may go now: pending, or claimed by a sender whose claim has expired.

        A reply Telegram refused three times (bot/telegram/replier.py) comes first: someone
        is waiting for it, and it must not wait behind a fan-out queued before it."""
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE status = 'pending' AND not_before <= ?"
            " ORDER BY kind <> 'reply', not_before, id LIMIT ?",
            (to_db_time(now), limit),
        )
        return [Outgoing.from_row(row) for row in rows]

    @staticmethod
    async def sent_as(q: Reader, chat_id: int, message_id: int) -> str | None:
        """The dedupe key of the outbox message Telegram took as `message_id` in this chat:
        what a reply to one of our messages was a reply to."""
        found = await q.fetchval(
            "SELECT dedupe_key FROM outbox WHERE chat_id = ? AND telegram_message_id = ?"
            " AND status = 'sent' ORDER BY id DESC LIMIT 1",
            (chat_id, message_id),
        )
        return None if found is None else str(found)

    async def claim(self, row_id: int, owner: str, until: datetime, now: datetime) -> bool:
        """Take one row for sending; False if another sender has it (or it is done).

        Only the claimer sends it; a claim is cleared when the row is sent, failed or put
        back, and one whose owner died is put back by `release_stale`. `until` is real time
        (claims say whether a process is alive); `now` the bot's clock, as not_before is.
        Several workers (PostgreSQL): a row another sender is claiming is skipped, not
        waited for (FOR UPDATE SKIP LOCKED, READ COMMITTED; SQLite: the write lock).
        """
        async with claim_transaction(self.db) as tx:
            if tx.dialect == "postgresql" and not await tx.fetchval(
                "SELECT id FROM outbox WHERE id = ? AND status = 'pending' FOR UPDATE SKIP LOCKED",
                (row_id,),
            ):
                return False
            changed = await tx.execute(
                "UPDATE outbox SET status = 'sending', claimed_by = ?, claim_expires_at = ?"
                " WHERE id = ? AND status = 'pending' AND not_before <= ?",
                (owner, to_db_time(until), row_id, to_db_time(now)),
            )
        return changed == 1

    async def release_stale(self, real_now: datetime, *, dead_here: tuple[str, ...] = ()) -> int:
        """Put back rows whose claim expired (claims run on real time, like leases: they say
        whether a process is alive), and those claimed by `dead_here`: senders of this host
        whose process is gone (a SIGKILL before a restart), so they need not wait out it."""
        async with claim_transaction(self.db) as tx:
            released = await tx.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL, claim_expires_at = NULL"
                " WHERE status = 'sending' AND (claim_expires_at <= ? OR claimed_by IS NULL)",
                (to_db_time(real_now),),
            )
            for owner in dead_here:
                released += await tx.execute(
                    "UPDATE outbox SET status = 'pending', claimed_by = NULL,"
                    " claim_expires_at = NULL WHERE status = 'sending' AND claimed_by = ?",
                    (owner,),
                )
        return released

    async def claim_owners(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'sending'"
            " AND claimed_by IS NOT NULL"
        )
        return [row[0] for row in rows]

    async def unclaim(self, row_id: int) -> None:
        """Put a claimed row back as it was (a 429 pause, or stopping before it went)."""
        async with claim_transaction(self.db) as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL, claim_expires_at = NULL"
                " WHERE id = ? AND status = 'sending'",
                (row_id,),
            )

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        """A group became a supergroup: its trio link and every unsent row follow it."""
        async with self.db.transaction() as tx:
            # The supergroup may be linked already (someone ran /link in it): then the old
            # link simply goes.
            await tx.execute(
                "UPDATE trio_chat SET chat_id = ? WHERE chat_id = ?"
                " AND NOT EXISTS (SELECT 1 FROM trio_chat WHERE chat_id = ?)",
                (new_chat_id, old_chat_id, new_chat_id),
            )
            await tx.execute("DELETE FROM trio_chat WHERE chat_id = ?", (old_chat_id,))
            return await tx.execute(
                "UPDATE outbox SET chat_id = ?, status = 'pending', claimed_by = NULL,"
                " claim_expires_at = NULL WHERE chat_id = ? AND status IN ('pending', 'sending')",
                (new_chat_id, old_chat_id),
            )

    async def health(self, now: datetime, overdue_after: timedelta) -> SenderHealth:
        """When the outbox last sent, and how many rows have waited past `overdue_after`."""
        row = await self.db.fetchone(
            "SELECT (SELECT MAX(sent_at) FROM outbox WHERE status = 'sent') AS last_sent,"
            " (SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
            "  AND not_before <= ?) AS overdue,"
            " (SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')) AS waiting",
            (to_db_time(now - overdue_after),),
        )
        assert row is not None
        return SenderHealth(from_db_time(row["last_sent"]), row["overdue"], row["waiting"])

    async def next_not_before(self) -> datetime | None:
        text = await self.db.fetchval("SELECT MIN(not_before) FROM outbox WHERE status = 'pending'")
        return from_db_time(text)

    # A sender passes its `owner` id: its update then applies only while the row is still its
    # claim, so a sender that stalled past its claim cannot undo what another has done since.
    # Each is one conditional UPDATE of the claimed row (PostgreSQL: READ COMMITTED, as the
    # claim: SERIALIZABLE would fail senders of other rows on a shared page's conflict).
    async def mark_sent(
        self, row_id: int, message_id: int | None, now: datetime, owner: str | None = None
    ) -> None:
        async with claim_transaction(self.db) as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'sent', sent_at = :now,"
                " telegram_message_id = :message, attempts = attempts + 1, claimed_by = NULL,"
                " claim_expires_at = NULL WHERE id = :id"
                " AND (:owner IS NULL OR (status = 'sending' AND claimed_by = :owner))",
                {"now": to_db_time(now), "message": message_id, "id": row_id, "owner": owner},
            )

    async def retry_later(
        self,
        row_id: int,
        when: datetime,
        error: str,
        owner: str | None = None,
        *,
        count: bool = True,
    ) -> None:
        """Back to the queue until `when`; `count`: this try counts against the row (not
        when the Bot API as a whole was away)."""
        async with claim_transaction(self.db) as tx:
            await tx.execute(
                "UPDATE outbox SET attempts = attempts + :count, not_before = :when,"
                " last_error = :error, status = 'pending', claimed_by = NULL,"
                " claim_expires_at = NULL WHERE id = :id"
                " AND (:owner IS NULL OR (status = 'sending' AND claimed_by = :owner))",
                {
                    "count": int(count),
                    "when": to_db_time(when),
                    "error": error[:500],
                    "id": row_id,
                    "owner": owner,
                },
            )

    async def fail(self, row_id: int, error: str, owner: str | None = None) -> None:
        async with claim_transaction(self.db) as tx:
            changed = await tx.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1,"
                " last_error = :error, claimed_by = NULL, claim_expires_at = NULL WHERE id = :id"
                " AND (:owner IS NULL OR (status = 'sending' AND claimed_by = :owner))",
                {"error": error[:500], "id": row_id, "owner": owner},
            )
            if changed:
                await tx.execute(
                    "UPDATE reflection SET status = 'due', delivered_at = NULL"
                    " WHERE status = 'delivered' AND id ="
                    " (SELECT CAST(json_extract(payload, '$.reflection') AS INTEGER) FROM outbox"
                    "  WHERE id = ? AND kind = 'reflection')",
                    (row_id,),
                )

    async def person_unreachable(self, person_id: int, error: str, now: datetime) -> int:
        """They blocked the bot (or never started it): stop, and mark them, not retry."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE person SET status = 'blocked', updated_at = ? WHERE id = ?"
                " AND status != 'erased'",
                (to_db_time(now), person_id),
            )
            await tx.execute(
                "UPDATE reflection SET status = 'due', delivered_at = NULL"
                " WHERE status = 'delivered' AND id IN"
                " (SELECT CAST(json_extract(payload, '$.reflection') AS INTEGER) FROM outbox"
                "  WHERE person_id = ? AND kind = 'reflection'"
                "  AND status IN ('pending', 'sending'))",
                (person_id,),
            )
            return await tx.execute(
                "UPDATE outbox SET status = 'failed', last_error = ?, claimed_by = NULL,"
                " claim_expires_at = NULL WHERE person_id = ? AND status IN ('pending', 'sending')",
                (error[:500], person_id),
            )

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {row[0]: row[1] for row in rows}
