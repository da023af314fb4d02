"""Telegram's send budget kept in the database, for every worker of a deployment at once
(PostgreSQL: migration 0016's `send_budget` table and `send_room` function; README
"Scaling out"). Each call takes room for one message atomically, or says how long to wait."""

from __future__ import annotations

import hashlib
import hmac

from storage import meta
from storage.db import Database


class SendBudgetRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._key: bytes | None = None

    async def chat_bucket(self, chat_id: int) -> str:
        """The bucket of one chat, named by a keyed hash of its id (the deployment's secret,
        the same in every worker): the table never holds a Telegram id, so erasing a person
        leaves nothing of theirs here even when the bot's last reply to them starts a gap."""
        if self._key is None:
            async with self.db.transaction() as tx:
                self._key = await meta.secret_key(tx, "send_budget")
        digest = hmac.new(self._key, str(chat_id).encode(), hashlib.sha256).hexdigest()
        return f"chat:{digest[:24]}"

    async def room(
        self,
        bucket: str,
        per_second: float,
        capacity: float,
        *,
        keep_free: float = 0.0,
        force: bool = False,
        at: float | None = None,
    ) -> float:
        """0: room for one message was taken in `bucket`; else the seconds until there is
        room (nothing taken). `at`: the time in seconds (None: the server's clock)."""
        wait = await self.db.fetchval(
            "SELECT send_room(?, ?, ?, ?, ?, ?)",
            (bucket, per_second, capacity, keep_free, int(force), at),
        )
        return float(wait)

    async def forget_idle(self, before: float | None = None) -> int:
        """Drop chats' buckets empty for a minute (the overall one stays)."""
        async with self.db.transaction() as tx:
            return await tx.execute(
                "DELETE FROM send_budget WHERE name NOT IN ('all', 'outbox')"
                " AND free_at < COALESCE(?, extract(epoch FROM clock_timestamp())) - 60",
                (before,),
            )
