"""Telegram's send budget kept in the database, for every worker of a deployment at once
(PostgreSQL: migration 0016's `send_budget` table and `send_room` function; README
"Scaling out"). Each call takes room for one message atomically, or says how long to wait."""

from __future__ import annotations

import hashlib
import hmac

from storage import meta
from storage.db import Database
from storage.turns import retry_conflicts


class SendBudgetRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._key: bytes | None = None

    async def chat_bucket(self, chat_id: int) -> str:
        """The bucket of one chat, named by a keyed hash of its id (the deployment's secret,
        the same in every worker): the table never holds a Telegram id, so erasing a person
        leaves nothing of theirs here even when the bot's last reply to them starts a gap."""
        if self._key is None:
            self._key = await retry_conflicts(self._load_key)
        digest = hmac.new(self._key, str(chat_id).encode(), hashlib.sha256).hexdigest()
        return f"chat:{digest[:24]}"

    async def _load_key(self) -> bytes:
        # Several workers starting at once make the key together: all but one conflict.
        async with self.db.transaction() as tx:
            return await meta.secret_key(tx, "send_budget")

    async def room(
        self,
        bucket: str,
        per_second: float,
        capacity: float,
        *,
        keep_free: float = 0.0,
        at: float | None = None,
    ) -> float:
        """0: room for one message was taken in `bucket`; else the seconds until there is
        room (nothing taken). `at`: the time in seconds (None: the server's clock). The
        function's `force` (take room even when there is none) is no longer asked for: a
        reply waits in its chat too, and a 429 is `hold`."""
        wait = await self.db.fetchval(
            "SELECT send_room(?, ?, ?, ?, 0, ?)",
            (bucket, per_second, capacity, keep_free, at),
        )
        return float(wait)

    async def hold(
        self,
        bucket: str,
        seconds: float,
        per_second: float,
        capacity: float,
        at: float | None = None,
    ) -> None:
        """Telegram refused a message into `bucket` for `seconds` (a 429): no worker sends
        into it before then, whatever capacity it asks with (`capacity`: the largest)."""
        await self.db.fetchval(
            "INSERT INTO send_budget AS b (name, free_at)"
            " VALUES (?, COALESCE(?, extract(epoch FROM clock_timestamp())) + ?)"
            " ON CONFLICT (name) DO UPDATE SET free_at = GREATEST(b.free_at, EXCLUDED.free_at)"
            " RETURNING free_at",
            (bucket, at, seconds + (capacity - 1) / per_second),
        )

    async def forget_idle(self, before: float | None = None) -> int:
        """Drop chats' buckets empty for a minute (the overall one stays)."""
        async with self.db.transaction() as tx:
            return await tx.execute(
                "DELETE FROM send_budget WHERE name NOT IN ('all', 'outbox')"
                " AND free_at < COALESCE(?, extract(epoch FROM clock_timestamp())) - 60",
                (before,),
            )
